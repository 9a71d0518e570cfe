/*!
 * One part of an input (a byte range of a file, or a block of a stream's whole lines) → its
 * PartTally: the exact counts and evidence of its lines (per pane of a live window, else one
 * slice), its unparsed lines, the handshakes the main thread must join by key in time order, and
 * what the input's result needs (lines, formats, gate, digest, UTC offset). Line numbers count
 * from the part's start; the pipeline moves them on as it takes the parts in input order. Runs in
 * a worker thread (core/worker.ts) or, with one thread, in the main one; reads with split2.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import split2 from 'split2';
import { LineCapper } from '../input/line-cap.js';
import { Classifier } from './classify.js';
import { Counts, type CountCaps } from './counts.js';
import { EvidenceReservoir, type Cutoffs, type EvidenceRow } from './evidence.js';
import { LINE_BAD, LINE_EMPTY, LineScanner } from './scan.js';
import { LineDigest, hashText } from './same-lines.js';
import type { CompiledFormat } from '../format/compile.js';

/** goaccess's --num-tests: this many non-empty lines failing in a row at the start of an input stop it. */
export const GATE_LINES = 10;

const READ_BYTES = 1 << 16;

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
  /** Evidence: first lines kept per class (core/evidence.ts). */
  evidencePerClass: number;
  /** The run's evidence cutoffs when the part was launched (core/evidence.ts Cutoffs). */
  evidenceCutoffs?: Cutoffs;
  caps: CountCaps;
  /** Every handshake is a sighting (one row per handshake is asked for), not only those with a key. */
  sightAll: boolean;
}

/** The counts and evidence of a part's lines of one pane (or of all of them). */
export interface Slice {
  counts: Counts;
  evidence: EvidenceReservoir;
}

/**
 * Strings as one buffer of UTF-8 and where each ends. A line's values are slices of the string
 * read, which would keep that whole read alive (and old, for the collector) until the part is
 * posted; bytes copied here do not, and cross threads as one transfer.
 */
/**
 * Buffers TextColumns fill, kept by this thread from part to part: filling fresh memory costs a
 * page fault a page (measured: a third of a part's text copying), so they are written into again,
 * and only the bytes a part used are copied out to be posted.
 */
const SCRATCH: Buffer[] = [];
const SCRATCH_KEPT = 3;

export class TextColumn {
  private bytes = SCRATCH.pop() ?? Buffer.allocUnsafeSlow(1 << 16);
  private used = 0;
  private ends: number[] | Uint32Array = [];

  get length(): number {
    return this.ends.length;
  }

  push(s: string): void {
    // At most 3 bytes per UTF-16 unit.
    if (this.used + 3 * s.length > this.bytes.length) {
      // Four times as large: fewer copies of what is there (each byte copied a third of a time, on average).
      const grown = Buffer.allocUnsafeSlow(Math.max(4 * this.bytes.length, this.used + 3 * s.length));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    this.used += this.bytes.write(s, this.used, 'utf8');
    (this.ends as number[]).push(this.used);
  }

  at(i: number): string {
    return this.bytes.toString('utf8', i === 0 ? 0 : (this.ends[i - 1] as number), this.ends[i] as number);
  }

  transferables(): ArrayBuffer[] {
    return [this.bytes.buffer as ArrayBuffer, ...(Array.isArray(this.ends) ? [] : [this.ends.buffer as ArrayBuffer])];
  }

  /** Done with pushing: the bytes used copied out (the buffer written into goes back to SCRATCH), the ends as a typed array (cheap to post). */
  seal(): void {
    const bytes = Buffer.allocUnsafeSlow(this.used);
    this.bytes.copy(bytes, 0, 0, this.used);
    if (SCRATCH.length < SCRATCH_KEPT) SCRATCH.push(this.bytes);
    this.bytes = bytes;
    this.ends = Uint32Array.from(this.ends);
  }

  static revive(o: TextColumn): TextColumn {
    o.bytes = Buffer.from(o.bytes.buffer, o.bytes.byteOffset, o.bytes.byteLength);
    return Object.setPrototypeOf(o, TextColumn.prototype) as TextColumn;
  }
}

/** Handshakes the main thread joins by key (or keeps as rows), in line order, as columns. */
export interface Sightings {
  line: number[] | Uint32Array;
  /** Index into PartTally.clients. */
  client: number[] | Uint32Array;
  protocol: number[] | Uint8Array;
  status: number[] | Uint16Array;
  flags: number[] | Uint8Array;
  durationMs: number[] | Int32Array;
  endMs: number[] | Float64Array;
  key: TextColumn;
  text: TextColumn;
  /** $upstream_addr, only when every handshake is a sighting. */
  upstream: TextColumn;
}

function newSightings(): Sightings {
  return { line: [], client: [], protocol: [], status: [], flags: [], durationMs: [], endMs: [], key: new TextColumn(), text: new TextColumn(), upstream: new TextColumn() };
}

/** Done with adding: the number columns as typed arrays (a structured clone copies them in one go). */
function seal(w: Sightings): void {
  w.line = Uint32Array.from(w.line);
  w.client = Uint32Array.from(w.client);
  w.protocol = Uint8Array.from(w.protocol);
  w.status = Uint16Array.from(w.status);
  w.flags = Uint8Array.from(w.flags);
  w.durationMs = Int32Array.from(w.durationMs);
  w.endMs = Float64Array.from(w.endMs);
  w.key.seal();
  w.text.seal();
  w.upstream.seal();
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
  readonly badTexts: string[] = [];
  readonly badReasons: string[] = [];
  /** Unparsed non-empty lines before the part's first parsed one; whether it has one. */
  leadingBad = 0;
  parsedAny = false;
  /** The UTC offset (minutes) of the part's first line whose time has one; NaN when none has. */
  utcOffset = NaN;
  readonly digest = new LineDigest();
  /** By pane index (0 when not sliced). */
  readonly slices = new Map<number, Slice>();
  readonly sightings: Sightings = newSightings();
  /** The clients sightings name, by index. */
  readonly clients: string[] = [];

  /** Done with reading: packed to be posted. */
  seal(): void {
    seal(this.sightings);
    for (const slice of this.slices.values()) {
      slice.counts.pack();
      slice.evidence.pack();
    }
  }

  /** Its buffers, to be transferred rather than copied to another thread (this side then loses them). */
  transferables(): ArrayBuffer[] {
    const w = this.sightings;
    const out = [w.key, w.text, w.upstream].flatMap((c) => c.transferables());
    for (const c of [w.line, w.client, w.protocol, w.status, w.flags, w.durationMs, w.endMs]) if (!Array.isArray(c)) out.push((c as Uint8Array).buffer as ArrayBuffer);
    for (const slice of this.slices.values()) out.push(...slice.evidence.transferables());
    return out;
  }

  /** A tally that crossed threads (structured clone keeps fields, not classes) made whole again. */
  static revive(o: PartTally): PartTally {
    LineDigest.revive(o.digest);
    const w = o.sightings;
    for (const c of [w.key, w.text, w.upstream]) TextColumn.revive(c);
    for (const s of o.slices.values()) {
      Counts.revive(s.counts);
      EvidenceReservoir.revive(s.evidence);
    }
    return Object.setPrototypeOf(o, PartTally.prototype) as PartTally;
  }
}

/** Reads lines into a PartTally; one per part. */
export class PartReader {
  readonly tally = new PartTally();
  /** The gate closed: the rest of the part is not read. */
  stopped = false;
  private readonly row: EvidenceRow = { input: 0, line: 0, client: '', protocol: 0, status: 0, flags: 0, durationMs: -1, endMs: NaN, text: '' };
  private lastSlice: Slice | null = null;
  private lastPane = NaN;
  private readonly clientIds = new Map<string, number>();

  constructor(private readonly scanner: LineScanner, private readonly rules: PartRules) {
    this.row.input = rules.input;
  }

  line(line: string): void {
    if (this.stopped) return;
    const t = this.tally;
    const n = ++t.lines;
    const s = this.scanner;
    const kind = s.scan(line);
    const digest = t.digest;
    if (kind === LINE_EMPTY) {
      t.empty++;
      digest.add(LINE_EMPTY);
      return;
    }
    if (kind === LINE_BAD) {
      digest.add(hashText(s.body));
      t.badLines.push(n);
      t.badTexts.push(s.body);
      t.badReasons.push(s.reason);
      if (!t.parsedAny && ++t.leadingBad >= GATE_LINES && this.rules.gate) this.stopped = true;
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
    digest.addNumber(endMs);
    digest.add(durationMs);
    digest.add(f.protocol);
    digest.add(hashText(f.client));
    if (s.handshake) digest.add(f.status);
    const rules = this.rules;
    if (endMs < rules.sinceMs || endMs > rules.untilMs) {
      t.filtered++;
      return;
    }
    if (t.utcOffset !== t.utcOffset) t.utcOffset = s.utcOffsetMinutes();
    const slice = this.sliceAt(endMs);
    const counts = slice.counts;
    const client = counts.clientId(f.client);
    const input = rules.input;
    const startMs = durationMs >= 0 ? endMs - durationMs : endMs;
    counts.request(input, client, f.protocol, startMs, endMs);
    if (!s.handshake) return;
    const flags = s.flags;
    counts.handshake(input, client, f.protocol, f.status, flags, durationMs, startMs, endMs);
    counts.target(input, s.upstream(), s.path(), f.status);
    const row = this.row;
    const who = this.clientIndex(f.client);
    row.line = n;
    row.client = t.clients[who] as string;
    row.protocol = f.protocol;
    row.status = f.status;
    row.flags = flags;
    row.durationMs = durationMs;
    row.endMs = endMs;
    row.text = s.body;
    slice.evidence.offer(EvidenceReservoir.classFor(f.protocol, f.status, flags, durationMs), row);
    if (f.key === '' && !rules.sightAll) return;
    const w = t.sightings;
    (w.line as number[]).push(n);
    (w.client as number[]).push(who);
    (w.protocol as number[]).push(f.protocol);
    (w.status as number[]).push(f.status);
    (w.flags as number[]).push(flags);
    (w.durationMs as number[]).push(durationMs);
    (w.endMs as number[]).push(endMs);
    w.key.push(f.key);
    w.text.push(s.body);
    if (rules.sightAll) w.upstream.push(s.upstream());
  }

  private clientIndex(name: string): number {
    let i = this.clientIds.get(name);
    if (i === undefined) {
      i = this.tally.clients.length;
      // A copy: the name as read is a slice of a whole read.
      const copy = Buffer.from(name, 'utf8').toString('utf8');
      this.clientIds.set(copy, i);
      this.tally.clients.push(copy);
    }
    return i;
  }

  /** The slice of a line written at `endMs`: its pane's (a line without a time goes with the last), or the one. */
  private sliceAt(endMs: number): Slice {
    const paneMs = this.rules.paneMs;
    let k = 0;
    if (paneMs > 0) k = endMs === endMs ? Math.floor(endMs / paneMs) : this.lastPane === this.lastPane ? this.lastPane : 0;
    if (this.lastSlice !== null && k === this.lastPane) return this.lastSlice;
    let slice = this.tally.slices.get(k);
    if (slice === undefined) {
      // No budget: which lines the run keeps must not depend on how the input was cut or which
      // cutoffs a part was given; the run's reservoir applies its budget (the cutoffs bound a part's lines).
      slice = { counts: new Counts(this.rules.caps), evidence: new EvidenceReservoir(this.rules.evidencePerClass, Infinity, this.rules.evidenceCutoffs) };
      this.tally.slices.set(k, slice);
    }
    this.lastPane = k;
    this.lastSlice = slice;
    return slice;
  }
}

/** Where a part's bytes are: a byte range of a file, or the first `bytes` of `data` (a block of whole lines). */
export type PartBytes = { file: string; start: number; end: number } | { data: ArrayBuffer; bytes: number };

/**
 * Reads one part into a PartTally. A read that fails leaves the lines before it tallied and
 * returns the error with them.
 */
export function readPart(where: PartBytes, formats: readonly CompiledFormat[], order: readonly number[], wsPaths: RegExp, rules: PartRules): { tally: PartTally; error: NodeJS.ErrnoException | null } {
  const reader = new PartReader(new LineScanner(formats, order, new Classifier(wsPaths)), rules);
  // split2 hands out a write's lines before write() returns, so nothing piles up.
  const lines = split2('\n');
  lines.on('data', (line: string) => reader.line(line));
  if ('data' in where) {
    // A block of whole lines, cut to length already. Written in reads' sizes: a block-sized string
    // would go to V8's large-object space, freed only by full collections.
    const block = Buffer.from(where.data, 0, where.bytes);
    for (let at = 0; at < block.length && !reader.stopped; at += READ_BYTES) lines.write(block.subarray(at, at + READ_BYTES));
    lines.end();
    reader.tally.seal();
    return { tally: reader.tally, error: null };
  }
  let fd = -1;
  try {
    // Synchronous reads: the thread has nothing else to do. 64 KiB reads: 1 MiB ones doubled the system time.
    fd = openSync(where.file, 'r');
    const buf = Buffer.allocUnsafe(READ_BYTES);
    const capper = new LineCapper();
    for (let at = where.start; at < where.end && !reader.stopped;) {
      const n = readSync(fd, buf, 0, Math.min(READ_BYTES, where.end - at), at);
      if (n === 0) break;
      at += n;
      lines.write(capper.cut(buf.subarray(0, n)));
    }
    lines.end();
    reader.tally.seal();
    return { tally: reader.tally, error: null };
  } catch (err) {
    reader.tally.seal();
    return { tally: reader.tally, error: err as NodeJS.ErrnoException };
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
