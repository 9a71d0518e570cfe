/*!
 * Evidence lines: a bounded reservoir of handshake lines with their text, so every finding can cite
 * its first and last occurrence and a varied few in between. Lines are kept per class (protocol ×
 * status × flags × COARSE duration bin, plus named classes for key findings): the earliest few and
 * the latest, so reservoirs filled apart (parts of an input, panes of a window) merge into the same. Counts never come from here (core/counts.ts); what a finding is, is decided elsewhere.
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
  /** Index in `first` of its latest line. */
  latest: number;
  /** Lines later than this are not kept among the earliest (see Cutoffs). */
  cutoffMs: number;
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

/**
 * Per class, the latest of the earliest lines a reservoir holds in full: a reservoir filled
 * elsewhere to be merged into it (a part of an input) need not keep lines that are later as
 * earliest. As columns, to cross threads.
 */
export interface Cutoffs {
  classes: Float64Array;
  endMs: Float64Array;
}

export class EvidenceReservoir {
  private readonly slots = new Map<number, Slot>();
  private rows = 0;
  /** Changes when a class's earliest lines change (for cutoffs()). */
  private version = 0;
  private cut: { version: number; cutoffs: Cutoffs } | null = null;
  private readonly cutoffMs: Map<number, number> | null;

  /**
   * `perClass`: first lines kept per class (at least the evidence asked for per finding);
   * `budget`: lines kept in all, past which a class keeps only its first line and its last;
   * `cutoffs`: of the reservoir this one will be merged into: lines later than a class's cutoff
   * are only candidates for its latest.
   */
  constructor(readonly perClass: number, private readonly budget: number, cutoffs?: Cutoffs) {
    this.cutoffMs = cutoffs === undefined ? null : new Map(Array.from(cutoffs.classes, (c, i) => [c, cutoffs.endMs[i] as number]));
  }

  /** For classes whose earliest lines are all kept: the latest of their times. Built again only when they changed. */
  cutoffs(): Cutoffs {
    if (this.cut !== null && this.cut.version === this.version) return this.cut.cutoffs;
    const classes: number[] = [];
    const endMs: number[] = [];
    for (const [cls, s] of this.slots) {
      const latest = s.first[s.latest];
      if (s.first.length < this.perClass || latest === undefined || latest.endMs !== latest.endMs) continue;
      classes.push(cls);
      endMs.push(latest.endMs);
    }
    const cutoffs = { classes: Float64Array.from(classes), endMs: Float64Array.from(endMs) };
    this.cut = { version: this.version, cutoffs };
    return cutoffs;
  }

  static classOf(protocol: number, status: number, flags: number, coarseBin: number): number {
    return ((protocol * 256 + flags) * 1000 + status) * 65536 + (coarseBin + 1);
  }

  /**
   * A line of class `cls`: kept as one of the class's earliest (by time, then input, then line),
   * else as its latest so far. A line pushed out of the earliest competes for the latest. The row
   * is copied unless `owned` (nobody else holds it).
   */
  offer(cls: number, row: EvidenceRow, owned = false): void {
    let s = this.slots.get(cls);
    if (s === undefined) {
      s = { first: [], latest: 0, last: null, lastText: EMPTY, lastBytes: 0, cutoffMs: this.cutoffMs?.get(cls) ?? Infinity };
      this.slots.set(cls, s);
    }
    const room = this.rows < this.budget ? this.perClass : 1;
    // `!(a > b)`, not `a <= b`: a line without a time (NaN) is never past a cutoff.
    if (s.first.length < room && !(row.endMs > s.cutoffMs)) {
      this.version++;
      const latest = s.first[s.latest];
      s.first.push(owned ? row : keep(row));
      if (latest === undefined || !before(row, latest)) s.latest = s.first.length - 1;
      this.rows++;
      return;
    }
    let out = row;
    const latest = s.first[s.latest];
    if (latest !== undefined && s.first.length >= room && before(row, latest)) {
      // Lines out of time order (another input's, or a part read later): the earliest stay.
      out = latest;
      this.version++;
      s.first[s.latest] = owned ? row : keep(row);
      s.latest = latestOf(s.first);
    }
    if (s.last !== null && before(out, s.last)) return;
    if (s.last === null) {
      this.rows++;
      s.last = newRow();
    }
    copyFields(s.last, out);
    const text = out.text.length > MAX_TEXT ? out.text.slice(0, MAX_TEXT) : out.text;
    const need = Buffer.byteLength(text, 'utf8');
    // Not from the shared pool: a small slice of it would keep its whole 8 KiB slab alive.
    if (need > s.lastText.length) s.lastText = Buffer.allocUnsafeSlow(Math.max(need, 256));
    s.lastBytes = s.lastText.write(text, 'utf8');
  }

  /** True when a class already holds all the first lines it keeps. */
  full(cls: number): boolean {
    return (this.slots.get(cls)?.first.length ?? 0) >= this.perClass;
  }

  /** Lines of the classes `wanted` accepts: each class's earliest lines, in time order, then its latest. */
  candidates(wanted: (cls: number) => boolean): EvidenceRow[] {
    const out: EvidenceRow[] = [];
    for (const [cls, s] of this.slots) {
      if (!wanted(cls)) continue;
      out.push(...[...s.first].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)));
      if (s.last !== null) out.push(lastOf(s));
    }
    return out;
  }

  /**
   * Adds `o`'s lines, their line numbers moved on by `lineOffset` (a part of an input counts its
   * lines from its own start). What is kept does not depend on the order of merges, but where the
   * budget runs out.
   */
  merge(o: EvidenceReservoir, lineOffset = 0): void {
    for (const [cls, s] of o.slots) {
      // Rows kept are never changed (a class's latest is a row of its own), so they can be shared.
      for (const r of s.first) this.offer(cls, lineOffset === 0 ? r : { ...r, line: r.line + lineOffset }, true);
      if (s.last !== null) {
        const r = lastOf(s);
        r.line += lineOffset;
        this.offer(cls, r, true);
      }
    }
  }

  /** A reservoir that crossed threads (plain objects, its buffers as Uint8Arrays) made whole again. */
  static revive(o: EvidenceReservoir): EvidenceReservoir {
    for (const s of o.slots.values()) s.lastText = Buffer.from(s.lastText.buffer, s.lastText.byteOffset, s.lastText.byteLength);
    return Object.setPrototypeOf(o, EvidenceReservoir.prototype) as EvidenceReservoir;
  }
}

/** Is `a` earlier than `b`: by end time (a line without one first), then input, then line. */
function before(a: EvidenceRow, b: EvidenceRow): boolean {
  const ta = a.endMs === a.endMs ? a.endMs : -Infinity;
  const tb = b.endMs === b.endMs ? b.endMs : -Infinity;
  if (ta !== tb) return ta < tb;
  if (a.input !== b.input) return a.input < b.input;
  return a.line < b.line;
}

function latestOf(rows: readonly EvidenceRow[]): number {
  let k = 0;
  for (let i = 1; i < rows.length; i++) if (!before(rows[i] as EvidenceRow, rows[k] as EvidenceRow)) k = i;
  return k;
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
