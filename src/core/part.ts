/*!
 * One part of an input (a byte range of a file, or a block of a stream's whole lines) → its
 * PartTally: the exact counts of its lines (per pane of a live window, else one slice), its
 * unparsed lines, its handshakes as rows (columns: the thread that merges parts counts them, picks
 * evidence from them and joins them by key, in time order: core/tally.ts Tally.sight), and what
 * the input's result needs (lines, formats, gate, digest, UTC offset). Line numbers count from the
 * part's start; the pipeline moves them on as it takes the parts in input order. Runs in a worker
 * thread (core/worker.ts) or, with one thread, in the main one; cuts lines on the bytes.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LineCapper } from '../input/line-cap.js';
import { Classifier } from './classify.js';
import { resized, type Column } from './columns.js';
import { Counts, type CountCaps, type CountsRoom } from './counts.js';
import type { EvidenceRow, TextBytes } from './evidence.js';
import { emptyList } from './lists.js';
import { LINE_BAD, LINE_EMPTY, LineScanner } from './scan.js';
import { LineDigest, hashText } from './same-lines.js';
import type { CompiledFormat } from '../format/compile.js';

const KEY_WORDS = new Uint32Array(4);
const EMPTY_BYTES = Buffer.alloc(0);

/** goaccess's --num-tests: this many non-empty lines failing in a row at the start of an input stop it. */
export const GATE_LINES = 10;

const READ_BYTES = 1 << 16;
/**
 * This thread's read buffer, kept for its next part (parts are read one at a time, and nothing
 * holds on to the buffer: caches and evidence copy what they keep). A new buffer a part, freed
 * at the next collection, left the allocator's heap in pieces: 20 MiB more resident on long runs.
 * One grown for a long line is kept up to this size.
 */
let spareBuffer: Buffer | null = null;
const SPARE_MAX_BYTES = 1 << 20;

/** The room the counts of this thread's last part without panes needed: the next part's start with as much. */
let lastRoom: CountsRoom | undefined;

/** How one part is tallied: the same for every part of a run but the range, the input and the gate. */
export interface PartRules {
  input: number;
  /** The input's first part: stop at GATE_LINES failing lines before any parses (the format gate). */
  gate: boolean;
  /** Lines logged outside [sinceMs, untilMs] are counted as filtered only. */
  sinceMs: number;
  untilMs: number;
  /** Width of a live window's panes (counts are sliced by floor(end / paneMs)); 0: one slice. */
  paneMs: number;
  /** How far back a live window looks (0: no window); see PartReader.onlyWindowFrom. */
  windowMs: number;
  /**
   * A live window's block, read first as one slice (the run's counts), its panes only if a
   * verdict can still see it, by reading it again (core/panes.ts PaneWindow.later).
   */
  panesLater?: boolean;
  /** The run's time-bucket width (s) when the part was launched: the part's buckets are as wide (core/counts.ts bucketsAtLeast). */
  bucketSeconds?: number;
  caps: CountCaps;
  /** Every key crosses as text too, not only as its words (one row per handshake is asked for, which shows it). */
  keyTexts: boolean;
  /**
   * A file's part: its handshake rows give where their lines lie (the main thread reads back
   * the few it cites), not their text. A block's part always does, as places in its block, which
   * the main thread keeps until it has merged the part (core/workers.ts ChunkedSource).
   */
  textsByPlace: boolean;
}

/** The counts of a part's lines of one pane (or of all of them). */
export interface Slice {
  counts: Counts;
}

/**
 * Buffers TextColumns fill, kept by this thread from part to part: filling fresh memory costs a
 * page fault a page (measured: a third of a part's text copying), so they are written into again,
 * and only the bytes a part used are copied out to be posted.
 */
const SCRATCH: Buffer[] = [];
const SCRATCH_KEPT = 3;

/**
 * Strings as one buffer of UTF-8 and where each ends. A line's values are slices of the string
 * read, which would keep that whole read alive (and old, for the collector) until the part is
 * posted; bytes copied here do not, and cross threads as one buffer.
 */
export class TextColumn {
  private bytes = SCRATCH.pop() ?? Buffer.allocUnsafeSlow(1 << 16);
  private used = 0;
  /** Where each entry ends, the first `n` of them (room doubled when full). */
  private ends = new Uint32Array(256);
  private n = 0;
  private readonly view: TextBytes = { b: EMPTY_BYTES, start: 0, end: 0 };

  get length(): number {
    return this.n;
  }

  push(s: string): void {
    // At most 3 bytes per UTF-16 unit.
    this.room(3 * s.length);
    this.used += this.bytes.write(s, this.used, 'utf8');
    this.endEntry();
  }

  /** The bytes b[start, end), as they are. */
  pushBytes(b: Buffer, start: number, end: number): void {
    this.room(end - start);
    this.used += b.copy(this.bytes, this.used, start, end);
    this.endEntry();
  }

  /** An empty entry, keeping the column's index the rows' (a copy of nothing still costs a call into the runtime). */
  pushEmpty(): void {
    this.endEntry();
  }

  private endEntry(): void {
    if (this.n === this.ends.length) {
      const grown = new Uint32Array(2 * this.n);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.ends[this.n++] = this.used;
  }

  private room(bytes: number): void {
    if (this.used + bytes <= this.bytes.length) return;
    // Four times as large: fewer copies of what is there (each byte copied a third of a time, on average).
    const grown = Buffer.allocUnsafeSlow(Math.max(4 * this.bytes.length, this.used + bytes));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  at(i: number): string {
    return this.bytes.toString('utf8', i === 0 ? 0 : (this.ends[i - 1] as number), this.ends[i] as number);
  }

  /** Entry i's bytes where they lie (the view is this column's, good until its next call). */
  bytesAt(i: number): TextBytes {
    const v = this.view;
    v.b = this.bytes;
    v.start = i === 0 ? 0 : (this.ends[i - 1] as number);
    v.end = this.ends[i] as number;
    return v;
  }

  /** The length in bytes of entry i. */
  bytesOf(i: number): number {
    return (this.ends[i] as number) - (i === 0 ? 0 : (this.ends[i - 1] as number));
  }

  /** Done with pushing: the bytes and the ends used copied out (the buffer written into goes back to SCRATCH). */
  seal(): void {
    const bytes = Buffer.allocUnsafeSlow(this.used);
    this.bytes.copy(bytes, 0, 0, this.used);
    if (SCRATCH.length < SCRATCH_KEPT) SCRATCH.push(this.bytes);
    this.bytes = bytes;
    this.ends = this.ends.slice(0, this.n);
  }

  static revive(o: TextColumn): TextColumn {
    o.bytes = Buffer.from(o.bytes.buffer, o.bytes.byteOffset, o.bytes.byteLength);
    return Object.setPrototypeOf(o, TextColumn.prototype) as TextColumn;
  }
}

/**
 * A part's handshakes, in line order, as columns (`client`, `upstream` and `path` index
 * PartTally's lists of them): the main thread counts them, offers them as evidence and joins
 * those with a key by key (core/tally.ts).
 */
export interface Sightings {
  line: Uint32Array;
  client: Uint32Array;
  protocol: Uint8Array;
  status: Uint16Array;
  flags: Uint8Array;
  durationMs: Int32Array;
  endMs: Float64Array;
  key: TextColumn;
  /** A canonical key decoded where it was read (core/keys.ts decodeKey): 4 words each, and 1 where it is one (its `key` entry then empty, unless every handshake is a row). */
  keyWords: Uint32Array;
  keyPlain: Uint8Array;
  /**
   * The line's text (its body: after a syslog header), for a stream's part; a file's part gives
   * where it lies in the file instead (`textAt`, `textBytes`), read back only when cited.
   */
  text: TextColumn;
  textAt: Float64Array;
  textBytes: Uint32Array;
  upstream: Uint32Array;
  path: Uint32Array;
}

/** Row k of a part's handshakes into `to`, its line moved on by `lineOffset`; not its input, not its text. */
export function readRow(to: EvidenceRow, w: Sightings, k: number, clients: readonly string[], lineOffset: number): void {
  to.line = (w.line[k] as number) + lineOffset;
  to.client = clients[w.client[k] as number] as string;
  to.protocol = w.protocol[k] as number;
  to.status = w.status[k] as number;
  to.flags = w.flags[k] as number;
  to.durationMs = w.durationMs[k] as number;
  to.endMs = w.endMs[k] as number;
}

/**
 * Sightings as a part is read: typed columns with room, doubled when full, then cut to length.
 * (Arrays of numbers changed their kind of elements midway, small integers to doubles, which sent
 * the line reader back to be compiled again, and were copied into typed arrays at the end.) A
 * thread keeps its columns for its next part (parts are read one at a time): grown afresh for
 * each part, two tiers of keyed lines left 1.2 MB of them a part for the collector.
 */
class SightingColumns {
  private static spare: SightingColumns | null = null;

  /** This thread's columns, empty. */
  static take(): SightingColumns {
    const c = SightingColumns.spare ?? new SightingColumns();
    SightingColumns.spare = null;
    return c;
  }

  n = 0;
  line = new Uint32Array(256);
  client = new Uint32Array(256);
  protocol = new Uint8Array(256);
  status = new Uint16Array(256);
  flags = new Uint8Array(256);
  durationMs = new Int32Array(256);
  endMs = new Float64Array(256);
  keyWords = new Uint32Array(4 * 256);
  keyPlain = new Uint8Array(256);
  textAt = new Float64Array(256);
  textBytes = new Uint32Array(256);
  upstream = new Uint32Array(256);
  path = new Uint32Array(256);
  key = new TextColumn();
  text = new TextColumn();

  /** A sighting's numbers; its key's words are `words` (4), its texts go to the text columns. */
  add(line: number, client: number, protocol: number, status: number, flags: number, durationMs: number, endMs: number, plain: boolean, words: Uint32Array, textAt: number, textBytes: number, upstream: number, path: number): void {
    if (this.n === this.line.length) this.grow();
    const i = this.n++;
    this.line[i] = line;
    this.client[i] = client;
    this.protocol[i] = protocol;
    this.status[i] = status;
    this.flags[i] = flags;
    this.durationMs[i] = durationMs;
    this.endMs[i] = endMs;
    this.keyPlain[i] = plain ? 1 : 0;
    this.keyWords.set(words, 4 * i);
    this.textAt[i] = textAt;
    this.textBytes[i] = textBytes;
    this.upstream[i] = upstream;
    this.path[i] = path;
  }

  private grow(): void {
    const twice = <T extends Column>(a: T): T => resized(a, 2 * a.length);
    this.line = twice(this.line);
    this.client = twice(this.client);
    this.protocol = twice(this.protocol);
    this.status = twice(this.status);
    this.flags = twice(this.flags);
    this.durationMs = twice(this.durationMs);
    this.endMs = twice(this.endMs);
    this.keyWords = twice(this.keyWords);
    this.keyPlain = twice(this.keyPlain);
    this.textAt = twice(this.textAt);
    this.textBytes = twice(this.textBytes);
    this.upstream = twice(this.upstream);
    this.path = twice(this.path);
  }

  /** Done with adding: copies cut to length, to be posted; these columns are then empty and kept for the next part. */
  seal(): Sightings {
    const n = this.n;
    for (const c of [this.key, this.text]) c.seal();
    const sealed: Sightings = {
      line: this.line.slice(0, n), client: this.client.slice(0, n), protocol: this.protocol.slice(0, n), status: this.status.slice(0, n),
      flags: this.flags.slice(0, n), durationMs: this.durationMs.slice(0, n), endMs: this.endMs.slice(0, n), key: this.key,
      keyWords: this.keyWords.slice(0, 4 * n), keyPlain: this.keyPlain.slice(0, n), text: this.text, textAt: this.textAt.slice(0, n),
      textBytes: this.textBytes.slice(0, n), upstream: this.upstream.slice(0, n), path: this.path.slice(0, n),
    };
    this.n = 0;
    this.key = new TextColumn();
    this.text = new TextColumn();
    SightingColumns.spare = this;
    return sealed;
  }
}

/** The pane a window of `windowMs` ending at `endMs` starts in: the first whose lines it sees. */
export function firstPaneOf(endMs: number, windowMs: number, paneMs: number): number {
  return Math.floor((endMs - windowMs) / paneMs);
}

export class PartTally {
  lines = 0;
  parsed = 0;
  empty = 0;
  filtered = 0;
  /** Lines per format index, and the indices in the order this part first used them. */
  readonly formatLines: number[] = [];
  readonly formatOrder: number[] = [];
  /** Unparsed lines: where (from the part's start), the text, why (described for the first few, else ''). */
  readonly badLines: number[] = [];
  readonly badTexts: string[] = emptyList();
  readonly badReasons: string[] = emptyList();
  /** Unparsed non-empty lines before the part's first parsed one; whether it has one. */
  leadingBad = 0;
  parsedAny = false;
  /** The UTC offset (minutes) of the part's first line whose time has one; NaN when none has. */
  utcOffset = NaN;
  readonly digest = new LineDigest();
  /** By pane index (0 when not sliced). */
  readonly slices = new Map<number, Slice>();
  /** Set by seal(); until then the reader adds to `columns`. */
  sightings!: Sightings;
  columns: SightingColumns | null = SightingColumns.take();
  /**
   * What sightings name, by index: clients, $upstream_addr as logged ('' when not), and paths
   * asked for without the query string (core/outcomes.ts handshakePath). A part's handshakes name
   * a few of each: made into strings, and hashed where they are counted, once a part.
   */
  readonly clients: string[] = emptyList();
  readonly upstreams: string[] = emptyList();
  readonly paths: string[] = emptyList();
  /**
   * A block's part, in the thread that merges it: the block its places are in, and what lets the
   * block go once the part is merged (set there, never posted: core/workers.ts ChunkedSource).
   */
  block: Buffer | null = null;
  recycle: (() => void) | null = null;
  /** A part read with `panesLater`, in the thread that merges it: the same part read again, sliced by pane. */
  reread: (() => PartTally) | null = null;

  /** Done with merging: the block, if any, goes back to be cut into again. */
  release(): void {
    this.recycle?.();
    this.recycle = null;
    this.block = null;
  }

  /** Done with reading: packed to be posted. */
  seal(): void {
    if (this.columns !== null) this.sightings = this.columns.seal();
    this.columns = null;
    for (const slice of this.slices.values()) slice.counts.pack();
  }

  /** A tally that crossed threads (structured clone keeps fields, not classes) made whole again. */
  static revive(o: PartTally): PartTally {
    LineDigest.revive(o.digest);
    const w = o.sightings;
    for (const c of [w.key, w.text]) TextColumn.revive(c);
    for (const s of o.slices.values()) Counts.revive(s.counts);
    return Object.setPrototypeOf(o, PartTally.prototype) as PartTally;
  }
}

/** Reads lines into a PartTally; one per part. */
export class PartReader {
  readonly tally = new PartTally();
  /** The gate closed: the rest of the part is not read. */
  stopped = false;
  /** Where in its file (or block) the buffer lines() reads starts: lines are then kept as places (-1: texts kept). */
  fileOffset = -1;
  private lastSlice: Slice | null = null;
  private lastPane = NaN;
  /** Lines of panes before this one go to the slice of pane -Infinity, which no window takes (onlyWindowFrom). */
  private firstWindowPane = -Infinity;
  private readonly clients = new Numbering(this.tally.clients);
  private readonly upstreams = new Numbering(this.tally.upstreams);
  private readonly paths = new Numbering(this.tally.paths);

  constructor(private readonly scanner: LineScanner, private readonly rules: PartRules) {}

  /**
   * Reads the lines of b[from, to) that end with `\n`; returns where the first line not read
   * starts (an unfinished one, or the rest after the gate closed).
   */
  lines(b: Buffer, from: number, to: number): number {
    let at = from;
    while (!this.stopped) {
      const nl = b.indexOf(10, at);
      if (nl < 0 || nl >= to) break;
      this.line(b, at, nl);
      at = nl + 1;
    }
    return at;
  }

  /** One line, the bytes b[start, end) without its `\n`. */
  line(b: Buffer, start: number, end: number): void {
    if (this.stopped) return;
    const t = this.tally;
    const n = ++t.lines;
    const s = this.scanner;
    const kind = s.scanBytes(b, start, end);
    if (kind === LINE_EMPTY) {
      t.empty++;
      t.digest.add(LINE_EMPTY);
      return;
    }
    if (kind === LINE_BAD) {
      this.bad(n);
      return;
    }
    t.parsed++;
    t.parsedAny = true;
    if (t.formatLines[kind] === undefined) {
      t.formatLines[kind] = 0;
      t.formatOrder.push(kind);
    }
    t.formatLines[kind]!++;
    const f = s.facts;
    const endMs = f.endMs;
    const durationMs = f.durationMs;
    t.digest.addLine(endMs | 0, Math.floor(endMs / 0x1_0000_0000) | 0, durationMs, f.protocol, f.clientHash, s.handshake ? f.status : -1);
    const rules = this.rules;
    if (endMs < rules.sinceMs || endMs > rules.untilMs) {
      t.filtered++;
      return;
    }
    if (t.utcOffset !== t.utcOffset) t.utcOffset = s.utcOffsetMinutes();
    const slice = rules.paneMs === 0 && this.lastSlice !== null ? this.lastSlice : this.sliceAt(endMs);
    const counts = slice.counts;
    const client = counts.clientId(f.client);
    const startMs = durationMs >= 0 ? endMs - durationMs : endMs;
    counts.request(rules.input, client, f.protocol, startMs, endMs);
    // A handshake's steps in a method of their own: a plain line's few stay small enough for V8 to compile as one.
    if (s.handshake) this.handshake(n);
  }

  /** Done with reading: the tally packed to be posted. */
  seal(): void {
    if (this.rules.paneMs === 0 && this.lastSlice !== null) lastRoom = this.lastSlice.counts.room();
    this.tally.seal();
  }

  /** An unparsed line, the n-th. */
  private bad(n: number): void {
    const t = this.tally;
    const s = this.scanner;
    t.digest.add(hashText(s.body));
    t.badLines.push(n);
    t.badTexts.push(s.body);
    t.badReasons.push(s.reason);
    if (!t.parsedAny && ++t.leadingBad >= GATE_LINES && this.rules.gate) this.stopped = true;
  }

  /**
   * The n-th line, a handshake that line() counted as a request: a row for the thread that merges
   * the parts, which counts it, offers it as evidence and joins it by key (core/tally.ts).
   */
  private handshake(n: number): void {
    const s = this.scanner;
    const f = s.facts;
    const w = this.tally.columns as SightingColumns;
    const plain = f.hasKey && s.keyWords(KEY_WORDS);
    // A canonical key crosses as its words (an empty entry keeps the column's index the rows');
    // other text as it is, and every key when each handshake is a row of the report.
    if (plain && !this.rules.keyTexts) w.key.pushEmpty();
    else w.key.push(s.key());
    // A file's line by its place (its text is read back if a report cites it), else as text (an
    // empty entry keeps the column's index the rows').
    const byPlace = this.fileOffset >= 0;
    if (byPlace) w.text.pushEmpty();
    else w.text.pushBytes(s.b, s.bodyStart, s.bodyEnd);
    const at = byPlace ? this.fileOffset + s.bodyStart : -1;
    const bytes = byPlace ? s.bodyEnd - s.bodyStart : 0;
    w.add(n, this.clients.of(f.client), f.protocol, f.status, s.flags, f.durationMs, f.endMs, plain, KEY_WORDS, at, bytes, this.upstreams.of(s.upstream()), this.paths.of(s.path()));
  }

  /**
   * Live: `lastMs` is the time of one of the part's lines (its last that has one). A verdict's
   * window ends at the newest line read by then, so once this part is counted at `lastMs` or
   * later, and its panes start at most a window before that end: lines of panes before the one
   * a window ending at `lastMs` starts in are in no window, ever. They go to one slice (pane
   * -Infinity), counted in the run like every slice but kept by no pane. A log fed faster than
   * its own time (hours a second through a pipe) has parts spanning many panes, a slice each:
   * most of them are never read again.
   */
  onlyWindowFrom(lastMs: number): void {
    const { paneMs, windowMs } = this.rules;
    if (paneMs > 0 && windowMs > 0 && Number.isFinite(lastMs)) this.firstWindowPane = firstPaneOf(lastMs, windowMs, paneMs);
  }

  /** Every line to the one slice no pane keeps (pane -Infinity): the part's panes come later, if at all. */
  noWindow(): void {
    this.firstWindowPane = Infinity;
  }

  /** The slice of a line written at `endMs`: its pane's (a line without a time goes with the last), or the one. */
  private sliceAt(endMs: number): Slice {
    const paneMs = this.rules.paneMs;
    let k = 0;
    if (paneMs > 0) k = endMs === endMs ? Math.floor(endMs / paneMs) : this.lastPane === this.lastPane ? this.lastPane : 0;
    if (k < this.firstWindowPane) k = -Infinity;
    if (this.lastSlice !== null && k === this.lastPane) return this.lastSlice;
    let slice = this.tally.slices.get(k);
    if (slice === undefined) {
      slice = { counts: new Counts(this.rules.caps, this.rules.paneMs === 0 ? lastRoom : undefined) };
      if (this.rules.bucketSeconds !== undefined) slice.counts.bucketsAtLeast(this.rules.bucketSeconds);
      this.tally.slices.set(k, slice);
    }
    this.lastPane = k;
    this.lastSlice = slice;
    return slice;
  }
}

/** Strings numbered in first-seen order, into a list of them (the list crosses threads; the map stays). */
class Numbering {
  private readonly ids = new Map<string, number>();

  constructor(private readonly list: string[]) {}

  of(name: string): number {
    let i = this.ids.get(name);
    if (i === undefined) {
      i = this.list.length;
      this.ids.set(name, i);
      this.list.push(name);
    }
    return i;
  }
}

/** Where a part's bytes are: a byte range of a file, or the first `bytes` of `data` (a block of whole lines). */
export type PartBytes = { file: string; start: number; end: number } | { data: SharedArrayBuffer; bytes: number };

/**
 * Reads one part into a PartTally. A read that fails leaves the lines before it tallied and
 * returns the error with them.
 */
export function readPart(where: PartBytes, formats: readonly CompiledFormat[], order: readonly number[], wsPaths: RegExp, rules: PartRules): { tally: PartTally; error: NodeJS.ErrnoException | null } {
  const scanner = new LineScanner(formats, order, new Classifier(wsPaths));
  const reader = new PartReader(scanner, rules);
  if ('data' in where) {
    // A block of whole lines, cut to length already; the last may lack its `\n` (the stream's end).
    // Its lines are kept by their places in it: nothing of their text is copied or posted.
    const block = Buffer.from(where.data, 0, where.bytes);
    reader.fileOffset = 0;
    if (rules.panesLater === true) reader.noWindow();
    else if (rules.windowMs > 0) reader.onlyWindowFrom(scanner.lastTime(block, 0, block.length));
    const rest = reader.lines(block, 0, block.length);
    if (rest < block.length && !reader.stopped) reader.line(block, rest, block.length);
    reader.seal();
    return { tally: reader.tally, error: null };
  }
  let fd = -1;
  try {
    // Synchronous reads: the thread has nothing else to do. 64 KiB reads: 1 MiB ones doubled the
    // system time. A line read in part waits at the buffer's start for the rest of it.
    fd = openSync(where.file, 'r');
    let buf = spareBuffer ?? Buffer.allocUnsafe(2 * READ_BYTES);
    spareBuffer = null;
    let held = 0;
    const capper = new LineCapper();
    // Once an over-long line was cut, the buffer's bytes are no longer where they are in the file.
    let cutAny = false;
    let at = where.start;
    while (at < where.end && !reader.stopped) {
      if (buf.length - held < READ_BYTES) {
        const grown = Buffer.allocUnsafe(2 * buf.length);
        buf.copy(grown, 0, 0, held);
        buf = grown;
      }
      const n = readSync(fd, buf, held, Math.min(READ_BYTES, where.end - at), at);
      if (n === 0) break;
      at += n;
      const read = buf.subarray(held, held + n);
      const cut = capper.cut(read);
      // Cut only past an over-long line's MAX_LINE_BYTES: then a copy, never longer than what was read.
      if (cut !== read) cut.copy(buf, held);
      const end = held + cut.length;
      cutAny ||= cut !== read;
      reader.fileOffset = cutAny || !rules.textsByPlace ? -1 : at - end;
      const rest = reader.lines(buf, 0, end);
      held = buf.copy(buf, 0, rest, end);
    }
    reader.fileOffset = cutAny || !rules.textsByPlace ? -1 : at - held;
    if (held > 0 && !reader.stopped) reader.line(buf, 0, held);
    reader.seal();
    if (buf.length <= SPARE_MAX_BYTES) spareBuffer = buf;
    return { tally: reader.tally, error: null };
  } catch (err) {
    reader.seal();
    return { tally: reader.tally, error: err as NodeJS.ErrnoException };
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
