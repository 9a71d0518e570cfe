/*!
 * Evidence lines: a bounded reservoir of handshake lines with their text, so every finding can cite
 * its first and last occurrence and a varied few in between. Lines are kept per class (protocol ×
 * status × flags × COARSE duration bin, plus named classes for key findings): the first few and the
 * last. Counts never come from here (core/counts.ts); what a finding is, is decided elsewhere.
 */

export interface EvidenceRow {
  input: number;
  line: number;
  client: string;
  protocol: number;
  status: number;
  flags: number;
  /** -1 when not logged. */
  durationMs: number;
  /** NaN when the line has no time. */
  endMs: number;
  text: string;
}

/** Classes for lines that key findings cite. */
export const KEY_CLASS = { hidden: -1, reused: -2 } as const;

interface Slot {
  first: EvidenceRow[];
  /**
   * The last line so far, rewritten in place: its numbers in `last`, its text as bytes in
   * `lastText` (grown when a longer line comes). A new string per line would outlive the young
   * generation and pile up in the old one until a full collection (measured: 217 vs 146 MiB).
   */
  last: EvidenceRow | null;
  lastText: Buffer;
  lastBytes: number;
}

const MAX_TEXT = 2000;

export class EvidenceReservoir {
  private readonly slots = new Map<number, Slot>();
  private rows = 0;

  /**
   * `perClass`: first lines kept per class (at least the evidence asked for per finding);
   * `budget`: lines kept in all, past which a class keeps only its first line and its last.
   */
  constructor(readonly perClass: number, private readonly budget: number) {}

  static classOf(protocol: number, status: number, flags: number, coarseBin: number): number {
    return ((protocol * 256 + flags) * 1000 + status) * 65536 + (coarseBin + 1);
  }

  /** A line of class `cls`: kept as one of its first, else as its last so far. */
  offer(cls: number, row: EvidenceRow): void {
    let s = this.slots.get(cls);
    if (s === undefined) {
      s = { first: [], last: null, lastText: EMPTY, lastBytes: 0 };
      this.slots.set(cls, s);
    }
    const room = this.rows < this.budget ? this.perClass : 1;
    if (s.first.length < room) {
      s.first.push(keep(row));
      this.rows++;
      return;
    }
    if (s.last === null) {
      this.rows++;
      s.last = newRow();
    }
    copyFields(s.last, row);
    const text = row.text.length > MAX_TEXT ? row.text.slice(0, MAX_TEXT) : row.text;
    const need = Buffer.byteLength(text, 'utf8');
    if (need > s.lastText.length) s.lastText = Buffer.allocUnsafe(Math.max(need, 256));
    s.lastBytes = s.lastText.write(text, 'utf8');
  }

  /** True when a class already holds all the first lines it keeps. */
  full(cls: number): boolean {
    return (this.slots.get(cls)?.first.length ?? 0) >= this.perClass;
  }

  /** Lines of the classes `wanted` accepts: each class's first lines then its last. */
  candidates(wanted: (cls: number) => boolean): EvidenceRow[] {
    const out: EvidenceRow[] = [];
    for (const [cls, s] of this.slots) {
      if (!wanted(cls)) continue;
      out.push(...s.first);
      if (s.last !== null) out.push(lastOf(s));
    }
    return out;
  }

  /** Adds `o`'s lines as if they had been offered after these. */
  merge(o: EvidenceReservoir): void {
    for (const [cls, s] of o.slots) {
      for (const r of s.first) this.offer(cls, r);
      if (s.last !== null) this.offer(cls, lastOf(s));
    }
  }
}

const EMPTY = Buffer.alloc(0);

function lastOf(s: Slot): EvidenceRow {
  const text = s.lastText.toString('utf8', 0, s.lastBytes);
  return { ...(s.last as EvidenceRow), text: text.length >= MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text };
}

function newRow(): EvidenceRow {
  return { input: 0, line: 0, client: '', protocol: 0, status: 0, flags: 0, durationMs: -1, endMs: NaN, text: '' };
}

/** Copies a row's numbers and client into `to` (not its text; `from` may be a wider object, reused per line). */
function copyFields(to: EvidenceRow, from: EvidenceRow): EvidenceRow {
  to.input = from.input;
  to.line = from.line;
  to.client = from.client;
  to.protocol = from.protocol;
  to.status = from.status;
  to.flags = from.flags;
  to.durationMs = from.durationMs;
  to.endMs = from.endMs;
  return to;
}

/** A copy that holds no slice of a larger string (a read chunk), cut to MAX_TEXT characters. */
export function keep(r: EvidenceRow): EvidenceRow {
  const row = copyFields(newRow(), r);
  row.text = r.text.length > MAX_TEXT ? `${r.text.slice(0, MAX_TEXT - 1)}…` : Buffer.from(r.text, 'utf8').toString('utf8');
  return row;
}

/** Decodes a class number back to its parts (named classes give protocol -1). */
export function classParts(cls: number): { protocol: number; flags: number; status: number; coarseBin: number } {
  if (cls < 0) return { protocol: -1, flags: 0, status: 0, coarseBin: -1 };
  const bin = (cls % 65536) - 1;
  let rest = Math.floor(cls / 65536);
  const status = rest % 1000;
  rest = Math.floor(rest / 1000);
  return { protocol: Math.floor(rest / 256), flags: rest % 256, status, coarseBin: bin };
}
