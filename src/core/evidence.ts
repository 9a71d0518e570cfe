/*!
 * Evidence lines: a bounded reservoir of handshake lines with their text, so every finding can cite
 * its first and last occurrence and a varied few in between. Lines are kept per class (protocol ×
 * status × flags × duration bin, core/grid.ts; plus named classes for key findings): the earliest
 * few and the latest, so reservoirs filled apart (the panes of a live window) merge into the
 * same. A line of a regular file is kept by its place (byte offset and length), not its text:
 * the few a report cites are read back then (core/pipeline.ts PipelineResult.readTexts). Counts
 * never come from here (core/counts.ts); what a finding is, is decided elsewhere.
 */

import { CellTable } from './cells.js';
import { resized } from './columns.js';
import { COARSE, SESSION, type Grid } from './grid.js';
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
   * The text's bytes, when the row has them at hand (a handshake of a stream's part, in its
   * block: core/part-rows.ts): then a reservoir copies them rather than asking for `text`, a
   * string it may never need.
   */
  readonly source?: TextBytes;
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
  /**
   * The last line so far, rewritten in place: its numbers in `last`, its text as bytes in the
   * reservoir's arena at `lastAt` (room for `lastRoom`; moved to the arena's end when a longer
   * line comes). A new string per line would outlive the young generation and pile up in the old
   * one until a full collection (measured: 217 vs 146 MiB); a buffer per class costs an
   * ArrayBuffer each.
   */
  last: EvidenceRow | null;
  lastAt: number;
  lastRoom: number;
  lastBytes: number;
  /** The last line's bytes still in the block it was read from (deferTexts: copied by settle()), or null. */
  lastIn: Buffer | null;
  lastInStart: number;
  lastInEnd: number;
}

const EMPTY_ARENA = Buffer.alloc(0);
/**
 * The earliest lines of a class that has none yet, shared (never written): its first line makes
 * an array of one. A class of hours-long sessions mostly keeps one line, and an array pushed into
 * from empty takes room for 17 (V8's first growth): 128 bytes a class, thousands of classes.
 */
const NO_ROWS: EvidenceRow[] = [];
const MAX_TEXT = 2000;
/** The earliest lines a class keeps for findings that cite up to `evidence` lines, varied: a few more leave room to choose. */
export function keptPerClass(evidence: number): number {
  return Math.max(4, evidence + 1);
}

/** The lines a class keeps that a run's budget of evidence rows is sized for: the default evidence's (5 a finding, and one to choose). */
const BUDGETED_PER_CLASS = 6;

/**
 * A reservoir's budget of `rows` (sized for BUDGETED_PER_CLASS lines a class), grown in proportion
 * when a class keeps more (more evidence asked for): else the classes that came first spend it,
 * and a finding whose classes come later cites fewer lines than asked for though it has them
 * (`--evidence 20` on the bench's log, 1,875 classes: 19,458 lines wanted against 8,000).
 */
export function evidenceBudget(rows: number, perClass: number): number {
  return Math.max(rows, Math.ceil((rows * perClass) / BUDGETED_PER_CLASS));
}

export class EvidenceReservoir {
  /** A slot a class, in the order the classes came. */
  private slots: Slot[] = [];
  /**
   * Where each class's slot is in `slots` (the entry's number), by the class's two 32-bit halves:
   * a class is a number past 2^31, which a Map hashes as a boxed double (20 against 8 ns a lookup,
   * measured alone). Made on the first lookup.
   */
  private index: CellTable | null = null;
  /**
   * By slot: how many earliest lines it holds, the time of the latest of them, and of its last
   * line (timeOf; -Infinity: none). Most lines come in time order, later than all of a full
   * class's: these tell them without reading the class's rows, which the profile of a gzip
   * file's run charged 145 ms for (now 16); the run 0.985× the time (16 pairs), a file's 0.98×.
   */
  private firstCount = new Uint32Array(64);
  private firstTime = new Float64Array(64);
  private lastTime = new Float64Array(64).fill(-Infinity);
  private rows = 0;
  /** Where the classes' last lines are written (Slot.lastAt), and how much of it is taken. */
  private arena = EMPTY_ARENA;
  private arenaUsed = 0;
  /** Slots whose last line may still be in its block (Slot.lastIn), for settle(). */
  private readonly unsettled: Slot[] = [];

  /**
   * `perClass`: first lines kept per class (at least the evidence asked for per finding);
   * `budget`: lines kept in all, past which a class keeps only its first line and its last;
   * `deferTexts`: a last line's bytes in a block are copied only when settle() is called, which
   * the owner does before the block is given back: most lines are a class's latest only until the
   * next line of the class, often in the same block: a gzip file's main thread spent 133 ms copying
   * a line a handshake, 71 ms a class a block (the run 0.988× the time, 16 pairs).
   */
  constructor(readonly perClass: number, private readonly budget: number, private readonly deferTexts = false) {}

  static classOf(protocol: number, status: number, flags: number, bin: number): number {
    return ((protocol * 256 + flags) * 1000 + status) * 65536 + (bin + 1);
  }

  /** The class of a handshake line: its bin on SESSION when it upgraded, else on COARSE (-1: no duration logged). */
  static classFor(protocol: number, status: number, flags: number, durationMs: number): number {
    return EvidenceReservoir.classOf(protocol, status, flags, durationMs < 0 ? -1 : gridOf(status).bin(durationMs));
  }

  /** The durations (ms, both ends included) of a class's bin `bin` (not -1), its status `status`. */
  static binSpan(status: number, bin: number): { lo: number; hi: number } {
    const g = gridOf(status);
    return { lo: g.lo(bin), hi: g.hi(bin) };
  }

  /**
   * A line of class `cls`: kept as one of the class's earliest (by time, then input, then line),
   * else as its latest so far. A line pushed out of the earliest competes for the latest. The row
   * is copied unless `owned` (nobody else holds it).
   */
  offer(cls: number, row: EvidenceRow, owned = false): void {
    const x = this.slot(cls);
    const s = this.slots[x] as Slot;
    // Later than the earliest lines of a class that holds all it may: not one of them (admits()).
    const later = timeOf(row) > (this.firstTime[x] as number) && (this.firstCount[x] as number) >= this.room();
    const out = later ? row : this.admit(s, x, row, owned);
    if (out !== null) this.offerLast(s, x, out);
  }

  /** The slot of class `cls` (its number), made if new. */
  private slot(cls: number): number {
    this.index ??= new CellTable(false);
    const x = this.index.entry(highHalf(cls), cls >>> 0);
    if (x === this.slots.length) {
      this.slots.push({ cls, first: NO_ROWS, latest: 0, last: null, lastAt: 0, lastRoom: 0, lastBytes: 0, lastIn: null, lastInStart: 0, lastInEnd: 0 });
      if (x === this.firstCount.length) {
        this.firstCount = resized(this.firstCount, 2 * x);
        this.firstTime = resized(this.firstTime, 2 * x);
        this.lastTime = resized(this.lastTime, 2 * x);
        this.lastTime.fill(-Infinity, x);
      }
    }
    return x;
  }

  /** The earliest lines a class may hold: perClass, one once the budget is spent. */
  private room(): number {
    return this.rows < this.budget ? this.perClass : 1;
  }

  /** Does `row` go among the class's earliest: room left, or earlier than the latest of them? */
  private admits(s: Slot, row: EvidenceRow): boolean {
    if (s.first.length < this.room()) return true;
    const latest = s.first[s.latest];
    return latest !== undefined && before(row, latest);
  }

  /** Takes `row` among the class's earliest if admits() says so; returns what is left to compete for its latest (null: nothing). */
  private admit(s: Slot, x: number, row: EvidenceRow, owned: boolean): EvidenceRow | null {
    if (!this.admits(s, row)) return row;
    const latest = s.first[s.latest];
    let out: EvidenceRow | null = null;
    if (s.first.length < this.room()) {
      const kept = owned ? row : keep(row);
      if (s.first === NO_ROWS) s.first = [kept];
      else s.first.push(kept);
      if (latest === undefined || !before(row, latest)) s.latest = s.first.length - 1;
      this.rows++;
    } else {
      // Lines out of time order (another input's, or a part read later): the earliest stay.
      s.first[s.latest] = owned ? row : keep(row);
      s.latest = latestOf(s.first);
      out = latest as EvidenceRow;
    }
    this.firstCount[x] = s.first.length;
    this.firstTime[x] = timeOf(s.first[s.latest] as EvidenceRow);
    return out;
  }

  /** `row` as the class's latest line, if it is later than the one kept. */
  private offerLast(s: Slot, x: number, row: EvidenceRow): void {
    const t = timeOf(row);
    const last = this.lastTime[x] as number;
    if (t < last || (t === last && s.last !== null && before(row, s.last))) return;
    this.lastTime[x] = t;
    copyFields(this.lastRow(s), row);
    const listed = s.lastIn !== null;
    s.lastIn = null;
    if (row.at >= 0) {
      s.lastBytes = 0;
      return;
    }
    const src = row.source;
    // At most MAX_TEXT bytes: no more characters either, so nothing to cut.
    if (src !== undefined && src.end - src.start <= MAX_TEXT) {
      if (this.deferTexts) {
        if (!listed) this.unsettled.push(s);
        s.lastIn = src.b;
        s.lastInStart = src.start;
        s.lastInEnd = src.end;
      } else this.copyLast(s, src.b, src.start, src.end);
    } else {
      const text = clipText(row.text);
      // At most 3 bytes a UTF-16 unit: the exact count only when that could pass the room.
      this.makeRoom(s, 3 * text.length > s.lastRoom ? Buffer.byteLength(text, 'utf8') : 0);
      s.lastBytes = this.arena.write(text, s.lastAt, s.lastRoom, 'utf8');
    }
  }

  /** The class's last line's bytes b[start, end) copied into its room. */
  private copyLast(s: Slot, b: Buffer, start: number, end: number): void {
    // The room left behind by a class that moved is not reused; a quarter more spares most moves.
    this.makeRoom(s, end - start);
    s.lastBytes = b.copy(this.arena, s.lastAt, start, end);
  }

  /** Copies the last lines still in their blocks (deferTexts): call before any block a line was offered from is given back. */
  settle(): void {
    for (const s of this.unsettled) {
      const b = s.lastIn;
      if (b === null) continue;
      s.lastIn = null;
      this.copyLast(s, b, s.lastInStart, s.lastInEnd);
    }
    this.unsettled.length = 0;
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

  /** True when a class already holds all the first lines it keeps. */
  full(cls: number): boolean {
    const x = this.index?.find(highHalf(cls), cls >>> 0) ?? -1;
    return x >= 0 && (this.slots[x] as Slot).first.length >= this.perClass;
  }

  /** Lines of the classes `wanted` accepts: each class's earliest lines, in time order, then its latest. */
  candidates(wanted: (cls: number) => boolean): EvidenceRow[] {
    this.settle();
    const out: EvidenceRow[] = [];
    for (const s of this.slots) {
      if (!wanted(s.cls)) continue;
      out.push(...[...s.first].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)));
      if (s.last !== null) out.push(this.lastOf(s));
    }
    return out;
  }

  /**
   * Adds `o`'s lines (a live window's panes, merged for a verdict). What is kept does not depend
   * on the order of merges, but where the budget runs out.
   */
  merge(o: EvidenceReservoir): void {
    o.settle();
    for (const s of o.slots) {
      // Rows kept are never changed (a class's latest is a row of its own), so they can be shared.
      for (const r of s.first) this.offer(s.cls, r, true);
      if (s.last !== null) this.offer(s.cls, o.lastOf(s), true);
    }
  }

  /** The class's latest line with its text as kept (cut already when written), or '' by place. */
  private lastOf(s: Slot): EvidenceRow {
    const last = s.last as EvidenceRow;
    return { ...last, text: last.at >= 0 ? '' : this.arena.toString('utf8', s.lastAt, s.lastAt + s.lastBytes) };
  }
}

/** The grid a class's durations are binned on. */
function gridOf(status: number): Grid {
  return status === 101 ? SESSION : COARSE;
}

/** A class's high 32 bits as an index key: classes are integers from -2 to below 2^53, and a negative one's is past any other's. */
function highHalf(cls: number): number {
  return Math.floor(cls / 0x1_0000_0000) >>> 0;
}

/** A line's time as the order of lines has it: -Infinity for one without. */
function timeOf(r: EvidenceRow): number {
  return r.endMs === r.endMs ? r.endMs : -Infinity;
}

/** Is `a` earlier than `b`: by end time (a line without one first), then input, then line. */
function before(a: EvidenceRow, b: EvidenceRow): boolean {
  const ta = timeOf(a);
  const tb = timeOf(b);
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
