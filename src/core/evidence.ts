/*!
 * Evidence lines: a bounded reservoir of handshake lines with their text, so every finding can cite
 * its first and last occurrence and a varied few in between. Lines are kept per class (protocol ×
 * status × flags × duration bin, core/grid.ts; plus named classes for key findings): the earliest
 * few and the latest, so reservoirs filled apart (parts of an input, panes of a window) merge into
 * the same. A line of a regular file is kept by its place (byte offset and length), not its text:
 * the few a report cites are read back then (core/pipeline.ts PipelineResult.readTexts). Counts
 * never come from here (core/counts.ts); what a finding is, is decided elsewhere.
 */

import { CellTable } from './cells.js';
import { COARSE, SESSION } from './grid.js';
import { ownCopy } from './lists.js';

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
  /**
   * Where the line lies in its input, a regular file: its first byte's offset and its length in
   * bytes; `text` is then '' until read back. -1 (and 0): the row holds its text.
   */
  at: number;
  bytes: number;
  text: string;
  /**
   * The text's bytes, when the row has them at hand (a line being read: core/part.ts): then a
   * reservoir copies them rather than asking for `text`, a string it may never need.
   */
  readonly source?: TextBytes;
}

/** Handshakes' numbers as columns (a part's sightings, a packed reservoir's latest lines); `client` indexes a list of names. */
export interface RowColumns {
  line: Uint32Array;
  client: Uint32Array;
  protocol: Uint8Array;
  status: Uint16Array;
  flags: Uint8Array;
  durationMs: Int32Array;
  endMs: Float64Array;
}

/** Row k of `cols` into `to`, its line moved on by `lineOffset`; not its input, not its text. */
export function readRow(to: EvidenceRow, cols: RowColumns, k: number, clients: readonly string[], lineOffset: number): void {
  to.line = (cols.line[k] as number) + lineOffset;
  to.client = clients[cols.client[k] as number] as string;
  to.protocol = cols.protocol[k] as number;
  to.status = cols.status[k] as number;
  to.flags = cols.flags[k] as number;
  to.durationMs = cols.durationMs[k] as number;
  to.endMs = cols.endMs[k] as number;
}

/** Bytes b[start, end) of a line's text (UTF-8). */
export interface TextBytes {
  b: Buffer;
  start: number;
  end: number;
}

/** Classes for lines that key findings cite. */
export const KEY_CLASS = { hidden: -1, reused: -2 } as const;

interface Slot {
  readonly cls: number;
  first: EvidenceRow[];
  /** Index in `first` of its latest line. */
  latest: number;
  /** Lines later than this are not kept among the earliest (see Cutoffs). */
  cutoffMs: number;
  /**
   * The last line so far, rewritten in place: its numbers in `last`, its text as bytes in the
   * reservoir's arena at `lastAt` (room for `lastRoom`; moved to the arena's end when a longer
   * line comes). A new string per line would outlive the young generation and pile up in the old
   * one until a full collection (measured: 217 vs 146 MiB); a buffer per class costs an
   * ArrayBuffer each, to keep and to post.
   */
  last: EvidenceRow | null;
  lastAt: number;
  lastRoom: number;
  lastBytes: number;
}

/**
 * A reservoir packed to cross threads: its lines as columns, the classes' earliest first, then
 * their latest (objects would each be copied and made again on the other side: a part has
 * hundreds); the texts it holds in one arena.
 */
interface Packed extends RowColumns {
  rows: number;
  classes: Float64Array;
  input: Uint16Array;
  /** Where a line lies in its file (-1: its text is in the arena at textAt). */
  place: Float64Array;
  textAt: Uint32Array;
  /** Its length in bytes: in the arena, or in the file. */
  textBytes: Uint32Array;
  clients: string[];
  arena: Buffer;
}

const EMPTY_ARENA = Buffer.alloc(0);
/**
 * The earliest lines of a class that has none yet, shared (never written): its first line makes
 * an array of one. A class of hours-long sessions mostly keeps one line, and an array pushed into
 * from empty takes room for 17 (V8's first growth): 128 bytes a class, thousands of classes.
 */
const NO_ROWS: EvidenceRow[] = [];
const MAX_TEXT = 2000;
/** How long cutoffs() hands out the same copy. */
const CUTOFFS_MS = 200;

/**
 * Per class, the latest of the earliest lines a reservoir holds in full: a reservoir filled
 * elsewhere to be merged into it (a part of an input) need not keep lines that are later as
 * earliest. As columns sorted by class, to cross threads.
 */
export interface Cutoffs {
  classes: Float64Array;
  endMs: Float64Array;
}

export class EvidenceReservoir {
  /** A slot a class, in the order the classes came. */
  private slots: Slot[] = [];
  /**
   * Where each class's slot is in `slots` (the entry's number), by the class's two 32-bit halves:
   * a class is a number past 2^31, which a Map hashes as a boxed double (20 against 8 ns a lookup,
   * measured alone). Made on the first lookup; dropped when packed.
   */
  private index: CellTable | null = null;
  private rows = 0;
  /** Changes when a class's earliest lines change (for cutoffs()). */
  private version = 0;
  private cut: { version: number; cutoffs: Cutoffs; at: number } | null = null;
  private readonly cutoffs_: Cutoffs | null;
  /** Where the classes' last lines are written (Slot.lastAt), and how much of it is taken. */
  private arena = EMPTY_ARENA;
  private arenaUsed = 0;
  /** Set by pack(): the lines as columns, to cross threads; such a reservoir is only merged into others. */
  private packed: Packed | null = null;

  /**
   * `perClass`: first lines kept per class (at least the evidence asked for per finding);
   * `budget`: lines kept in all, past which a class keeps only its first line and its last;
   * `cutoffs`: of the reservoir this one will be merged into: lines later than a class's cutoff
   * are only candidates for its latest; `room`: classes to expect (the index made with room for them).
   */
  constructor(readonly perClass: number, private readonly budget: number, cutoffs?: Cutoffs, private readonly room_?: number) {
    this.cutoffs_ = cutoffs ?? null;
  }

  /** Classes it holds: the room the thread's next part's reservoir starts with (core/part.ts). */
  get classes(): number {
    return this.slots.length;
  }

  /** The cutoff of a class (Infinity: none): a binary search, the classes being sorted. */
  private cutoffOf(cls: number): number {
    const c = this.cutoffs_;
    if (c === null) return Infinity;
    let lo = 0;
    let hi = c.classes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((c.classes[mid] as number) < cls) lo = mid + 1;
      else hi = mid;
    }
    return c.classes[lo] === cls ? (c.endMs[lo] as number) : Infinity;
  }

  /** For classes whose earliest lines are all kept: the latest of their times. Built again only when they changed. */
  cutoffs(): Cutoffs {
    // Older cutoffs are only more lenient (a class's latest earliest line only gets earlier), so a
    // while-old copy is still right: rebuilt at most every CUTOFFS_MS.
    const now = Date.now();
    if (this.cut !== null && (this.cut.version === this.version || now - this.cut.at < CUTOFFS_MS)) return this.cut.cutoffs;
    const full: [number, number][] = [];
    // A class holding all the earliest lines it may (fewer once the budget is spent) takes a later one only in place of its latest.
    const room = this.room();
    for (const s of this.slots) {
      const latest = s.first[s.latest];
      if (s.first.length < room || latest === undefined || latest.endMs !== latest.endMs) continue;
      full.push([s.cls, latest.endMs]);
    }
    full.sort((a, b) => a[0] - b[0]);
    const cutoffs = { classes: Float64Array.from(full, (x) => x[0]), endMs: Float64Array.from(full, (x) => x[1]) };
    this.cut = { version: this.version, cutoffs, at: now };
    return cutoffs;
  }

  static classOf(protocol: number, status: number, flags: number, bin: number): number {
    return ((protocol * 256 + flags) * 1000 + status) * 65536 + (bin + 1);
  }

  /** The class of a handshake line: its bin on SESSION when it upgraded, else on COARSE (-1: no duration logged). */
  static classFor(protocol: number, status: number, flags: number, durationMs: number): number {
    return EvidenceReservoir.classOf(protocol, status, flags, durationMs < 0 ? -1 : (status === 101 ? SESSION : COARSE).bin(durationMs));
  }

  /**
   * A line of class `cls`: kept as one of the class's earliest (by time, then input, then line),
   * else as its latest so far. A line pushed out of the earliest competes for the latest. The row
   * is copied unless `owned` (nobody else holds it).
   */
  offer(cls: number, row: EvidenceRow, owned = false): void {
    const s = this.slot(cls);
    const out = this.admit(s, row, owned);
    if (out !== null) this.offerLast(s, out);
  }

  private slot(cls: number): Slot {
    this.index ??= new CellTable(false, this.room_);
    const x = this.index.entry(highHalf(cls), cls >>> 0);
    let s = this.slots[x];
    if (s === undefined) {
      s = { cls, first: NO_ROWS, latest: 0, last: null, lastAt: 0, lastRoom: 0, lastBytes: 0, cutoffMs: this.cutoffOf(cls) };
      this.slots.push(s);
    }
    return s;
  }

  /** Does `row` go among the class's earliest: room left (and not past the cutoff), or earlier than the latest of them? */
  /** The earliest lines a class may hold: perClass, one once the budget is spent. */
  private room(): number {
    return this.rows < this.budget ? this.perClass : 1;
  }

  private admits(s: Slot, row: EvidenceRow): boolean {
    // `!(a > b)`, not `a <= b`: a line without a time (NaN) is never past a cutoff.
    if (s.first.length < this.room()) return !(row.endMs > s.cutoffMs);
    const latest = s.first[s.latest];
    return latest !== undefined && before(row, latest);
  }

  /** Takes `row` among the class's earliest if admits() says so; returns what is left to compete for its latest (null: nothing). */
  private admit(s: Slot, row: EvidenceRow, owned: boolean): EvidenceRow | null {
    if (!this.admits(s, row)) return row;
    this.version++;
    const latest = s.first[s.latest];
    if (s.first.length < this.room()) {
      const kept = owned ? row : keep(row);
      if (s.first === NO_ROWS) s.first = [kept];
      else s.first.push(kept);
      if (latest === undefined || !before(row, latest)) s.latest = s.first.length - 1;
      this.rows++;
      return null;
    }
    // Lines out of time order (another input's, or a part read later): the earliest stay.
    s.first[s.latest] = owned ? row : keep(row);
    s.latest = latestOf(s.first);
    return latest as EvidenceRow;
  }

  /** `row` as the class's latest line, if it is later than the one kept. */
  private offerLast(s: Slot, row: EvidenceRow): void {
    if (s.last !== null && before(row, s.last)) return;
    if (row.at >= 0) {
      s.lastBytes = 0;
      copyFields(this.lastRow(s), row);
      return;
    }
    const src = row.source;
    // The room left behind by a class that moved is not reused; a quarter more spares most moves.
    if (src !== undefined && src.end - src.start <= MAX_TEXT) {
      // At most MAX_TEXT bytes: no more characters either, so nothing to cut.
      this.makeRoom(s, src.end - src.start);
      s.lastBytes = src.b.copy(this.arena, s.lastAt, src.start, src.end);
    } else {
      const text = clipText(row.text);
      // At most 3 bytes a UTF-16 unit: the exact count only when that could pass the room.
      this.makeRoom(s, 3 * text.length > s.lastRoom ? Buffer.byteLength(text, 'utf8') : 0);
      s.lastBytes = this.arena.write(text, s.lastAt, s.lastRoom, 'utf8');
    }
    copyFields(this.lastRow(s), row);
  }

  private lastRow(s: Slot): EvidenceRow {
    if (s.last === null) {
      this.rows++;
      s.last = newRow();
    }
    return s.last;
  }

  /** Room for `need` bytes of the class's last line in the arena (moved to its end when what it has is too small; its text is then to be written again). */
  private makeRoom(s: Slot, need: number): void {
    if (need <= s.lastRoom) return;
    // The room it leaves is not kept when the arena is compacted.
    s.lastRoom = 0;
    s.lastBytes = 0;
    const room = need + (need >> 2);
    s.lastAt = this.claim(room);
    s.lastRoom = room;
  }

  /**
   * `bytes` of the arena, at its end. When they do not fit, the rooms in use are moved together
   * into a new arena twice their size: the room classes left behind when they moved is let go (over
   * a long run it piled up: 2 MB where 0.5 MB was in use).
   */
  private claim(bytes: number): number {
    if (this.arenaUsed + bytes > this.arena.length) {
      let used = 0;
      for (const s of this.slots) used += s.lastRoom;
      // Not from the shared pool: a slice of it would keep a whole 8 KiB slab alive.
      const next = Buffer.allocUnsafeSlow(Math.max(2 * (used + bytes), 1 << 14));
      let at = 0;
      for (const s of this.slots) {
        if (s.lastRoom === 0) continue;
        this.arena.copy(next, at, s.lastAt, s.lastAt + s.lastBytes);
        s.lastAt = at;
        at += s.lastRoom;
      }
      this.arena = next;
      this.arenaUsed = at;
    }
    const at = this.arenaUsed;
    this.arenaUsed += bytes;
    return at;
  }

  /** Done with offers: the lines as columns, to be posted to another thread. */
  pack(): void {
    let n = 0;
    let textBytes = this.arenaUsed;
    for (const s of this.slots) {
      n += s.first.length + (s.last === null ? 0 : 1);
      for (const r of s.first) if (r.at < 0) textBytes += Buffer.byteLength(r.text, 'utf8');
    }
    const p: Packed = {
      rows: n, classes: new Float64Array(n), input: new Uint16Array(n), line: new Uint32Array(n), client: new Uint32Array(n), protocol: new Uint8Array(n),
      status: new Uint16Array(n), flags: new Uint8Array(n), durationMs: new Int32Array(n), endMs: new Float64Array(n), place: new Float64Array(n),
      textAt: new Uint32Array(n), textBytes: new Uint32Array(n), clients: [], arena: Buffer.allocUnsafeSlow(textBytes),
    };
    // The latest lines' texts where they are, the earliest ones' after them.
    this.arena.copy(p.arena, 0, 0, this.arenaUsed);
    let free = this.arenaUsed;
    const clientIds = new Map<string, number>();
    let k = 0;
    const put = (cls: number, r: EvidenceRow, textAt: number, bytes: number): void => {
      let c = clientIds.get(r.client);
      if (c === undefined) clientIds.set(r.client, (c = p.clients.push(r.client) - 1));
      p.classes[k] = cls;
      p.input[k] = r.input;
      p.line[k] = r.line;
      p.client[k] = c;
      p.protocol[k] = r.protocol;
      p.status[k] = r.status;
      p.flags[k] = r.flags;
      p.durationMs[k] = r.durationMs;
      p.endMs[k] = r.endMs;
      p.place[k] = r.at;
      p.textAt[k] = textAt;
      p.textBytes[k] = r.at >= 0 ? r.bytes : bytes;
      k++;
    };
    for (const s of this.slots) {
      for (const r of s.first) {
        const at = free;
        if (r.at < 0) free += p.arena.write(r.text, at, 'utf8');
        put(s.cls, r, at, free - at);
      }
    }
    for (const s of this.slots) if (s.last !== null) put(s.cls, s.last, s.lastAt, s.lastBytes);
    this.packed = p;
    this.slots = [];
    this.index = null;
    this.arena = EMPTY_ARENA;
    this.arenaUsed = 0;
  }

  /** True when a class already holds all the first lines it keeps. */
  full(cls: number): boolean {
    const x = this.index?.find(highHalf(cls), cls >>> 0) ?? -1;
    return x >= 0 && (this.slots[x] as Slot).first.length >= this.perClass;
  }

  /** Lines of the classes `wanted` accepts: each class's earliest lines, in time order, then its latest. */
  candidates(wanted: (cls: number) => boolean): EvidenceRow[] {
    const out: EvidenceRow[] = [];
    for (const s of this.slots) {
      if (!wanted(s.cls)) continue;
      out.push(...[...s.first].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)));
      if (s.last !== null) out.push(this.lastOf(s));
    }
    return out;
  }

  /**
   * Adds `o`'s lines, their line numbers moved on by `lineOffset` (a part of an input counts its
   * lines from its own start). What is kept does not depend on the order of merges, but where the
   * budget runs out.
   */
  merge(o: EvidenceReservoir, lineOffset = 0): void {
    if (o.packed !== null) {
      this.mergePacked(o.packed, lineOffset);
      return;
    }
    for (const s of o.slots) {
      // Rows kept are never changed (a class's latest is a row of its own), so they can be shared.
      for (const r of s.first) this.offer(s.cls, lineOffset === 0 ? r : { ...r, line: r.line + lineOffset }, true);
      if (s.last === null) continue;
      const r = o.lastOf(s);
      r.line += lineOffset;
      this.offer(s.cls, r, true);
    }
  }

  /** The class's latest line with its text as kept (cut already when written), or '' by place. */
  private lastOf(s: Slot): EvidenceRow {
    const last = s.last as EvidenceRow;
    return { ...last, text: last.at >= 0 ? '' : this.arena.toString('utf8', s.lastAt, s.lastAt + s.lastBytes) };
  }

  /**
   * A packed reservoir's lines, offered in the order packed: a row is made (and a text read from
   * the arena) only for a line taken among the earliest; a latest line's text is copied as bytes.
   */
  private mergePacked(p: Packed, lineOffset: number): void {
    const row = new PackedRow(p, lineOffset);
    for (let k = 0; k < p.rows; k++) {
      row.moveTo(k);
      this.offer(p.classes[k] as number, row);
    }
  }

  /**
   * A packed reservoir of a block's part (core/part.ts), whose lines are kept by their places in
   * `block`: they become lines with their texts, read from the block where it lies, or from a copy
   * of their bytes when `copy` (the reservoir is merged after the block is let go).
   */
  textsFrom(block: Buffer, copy: boolean): void {
    const p = this.packed;
    if (p === null) return;
    let arena = block;
    if (copy || p.arena.length > 0) {
      let bytes = p.arena.length;
      for (let k = 0; k < p.rows; k++) if ((p.place[k] as number) >= 0) bytes += p.textBytes[k] as number;
      arena = Buffer.allocUnsafeSlow(bytes);
      p.arena.copy(arena);
    }
    let free = p.arena.length;
    for (let k = 0; k < p.rows; k++) {
      const at = p.place[k] as number;
      if (at < 0) continue;
      const bytes = p.textBytes[k] as number;
      if (arena === block) p.textAt[k] = at;
      else {
        p.textAt[k] = free;
        free += block.copy(arena, free, at, at + bytes);
      }
      p.place[k] = -1;
    }
    p.arena = arena;
  }

  /** A reservoir that crossed threads (plain objects, its buffers as Uint8Arrays) made whole again. */
  static revive(o: EvidenceReservoir): EvidenceReservoir {
    const p = o.packed;
    if (p !== null) p.arena = Buffer.from(p.arena.buffer, p.arena.byteOffset, p.arena.byteLength);
    o.arena = EMPTY_ARENA;
    return Object.setPrototypeOf(o, EvidenceReservoir.prototype) as EvidenceReservoir;
  }
}

/** A row read in place, one line after another (a line being read, a packed row): its text is made only when asked for. */
export abstract class RowInPlace implements EvidenceRow {
  input = 0;
  line = 0;
  client = '';
  protocol = 0;
  status = 0;
  flags = 0;
  durationMs = -1;
  endMs = NaN;
  at = -1;
  bytes = 0;
  abstract readonly source: TextBytes | undefined;
  abstract get text(): string;
}

/** Row k of a packed reservoir. */
class PackedRow extends RowInPlace {
  source: TextBytes | undefined = undefined;
  private readonly held: TextBytes;

  constructor(private readonly p: Packed, private readonly lineOffset: number) {
    super();
    this.held = { b: p.arena, start: 0, end: 0 };
  }

  moveTo(k: number): void {
    const p = this.p;
    readRow(this, p, k, p.clients, this.lineOffset);
    this.input = p.input[k] as number;
    this.at = p.place[k] as number;
    const bytes = p.textBytes[k] as number;
    this.bytes = this.at >= 0 ? bytes : 0;
    this.held.start = p.textAt[k] as number;
    this.held.end = this.held.start + (this.at >= 0 ? 0 : bytes);
    this.source = this.at >= 0 ? undefined : this.held;
  }

  get text(): string {
    return this.at >= 0 ? '' : this.held.b.toString('utf8', this.held.start, this.held.end);
  }
}

/** A class's high 32 bits as an index key: classes are integers from -2 to below 2^53, and a negative one's is past any other's. */
function highHalf(cls: number): number {
  return Math.floor(cls / 0x1_0000_0000) >>> 0;
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


function newRow(): EvidenceRow {
  return { input: 0, line: 0, client: '', protocol: 0, status: 0, flags: 0, durationMs: -1, endMs: NaN, at: -1, bytes: 0, text: '' };
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
  to.at = from.at;
  to.bytes = from.bytes;
  return to;
}

/** A copy that holds no slice of a larger string (a read chunk), cut to MAX_TEXT characters; a row by place, without its text. */
export function keep(r: EvidenceRow): EvidenceRow {
  const row = copyFields(newRow(), r);
  if (r.at >= 0) return row;
  const src = r.source;
  // A string made from the bytes is one of its own: nothing to copy again (nor `text` to ask for).
  if (src !== undefined && src.end - src.start <= MAX_TEXT) row.text = src.b.toString('utf8', src.start, src.end);
  else row.text = r.text.length > MAX_TEXT ? clipText(r.text) : ownCopy(r.text);
  return row;
}

/** Decodes a class number back to its parts (named classes give protocol -1; bin -1: no duration). */
export function classParts(cls: number): { protocol: number; flags: number; status: number; bin: number } {
  if (cls < 0) return { protocol: -1, flags: 0, status: 0, bin: -1 };
  const bin = (cls % 65536) - 1;
  let rest = Math.floor(cls / 65536);
  const status = rest % 1000;
  rest = Math.floor(rest / 1000);
  return { protocol: Math.floor(rest / 256), flags: rest % 256, status, bin };
}

/** A line's text as kept: cut to MAX_TEXT characters, the last an ellipsis, when it has more. */
export function clipText(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

/**
 * Gives the rows kept by place their text: `read` gives `bytes` bytes at `at` of the input's file
 * (at most what a cut text needs), cut as keep() cuts. Rows read already, or holding their text, stay.
 */
export function readPlacedTexts(rows: readonly EvidenceRow[], read: (input: number, at: number, bytes: number) => string): void {
  for (const r of rows) {
    if (r.at < 0 || r.text !== '') continue;
    // 4 bytes a character at most: what is read holds more than MAX_TEXT characters whenever the line does.
    r.text = clipText(read(r.input, r.at, Math.min(r.bytes, 4 * MAX_TEXT + 4)));
  }
}
