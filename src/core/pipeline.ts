/*!
 * inputs → parts → part tallies → Tally. One reading path: every input is cut into parts (byte
 * ranges of a regular file; blocks of whole lines of a stream: gzip, stdin, a pipe, a followed
 * file), each read into a PartTally (core/part.ts) by a worker thread, or by this thread for small
 * files and with `workers: 1` (core/workers.ts). Owns what needs the parts in input order: line
 * numbering, the format gate (FORMAT_NO_MATCH when an input's first lines all fail), BadLineLog,
 * the input's result; and the merge that hands the parts' handshakes to the tally in time
 * order across inputs. Auto-detection runs once per input on its first lines; formats it builds
 * (format/detect.ts) join the run's list; inputs holding the same lines are marked (core/same-lines.ts).
 */
import { availableParallelism } from 'node:os';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { clip, isAnalyzerError, type ErrorCode } from '../errors.js';
import type { CompiledFormat } from '../format/compile.js';
import { detectFormats } from '../format/detect.js';
import type { InferredFormat } from '../format/trailing.js';
import { BLOCK_BYTES, StreamBlocks } from '../input/blocks.js';
import { firstLines, headLines, lineEnds } from '../input/chunks.js';
import { followFile } from '../input/follow.js';
import { LinesByPlace } from '../input/lines-by-place.js';
import { emptyStream, openInput, openPipe, stdinAsFile, type Opened } from '../input/open.js';
import { isPipe } from '../input/pipe.js';
import { StreamThread } from '../input/stream-thread.js';
import { readPlacedTexts, type EvidenceRow } from './evidence.js';
import { GATE_LINES, type PartRules, type PartTally } from './part.js';
import { PartRow } from './part-rows.js';
import { LINE_EMPTY } from './scan.js';
import { LineDigest, sameAsEarlier } from './same-lines.js';
import { BadLineLog } from './stats.js';
import type { Tally } from './tally.js';
import { ChunkedSource, FileRanges, InlinePool, WorkerPool, formatSpec, type FormatSpec, type InputTask, type Part, type PartFeed, type PartRunner, type PartSource } from './workers.js';
import { MIN_WORKER_BYTES } from './worker-start.js';
import type { InputReport } from '../report/model.js';

/** Lines auto-detection looks at before choosing, within this many bytes. */
const DETECT_LINES = 20;
const DETECT_BYTES = 1 << 20;
/** Files whose keyed lines are read back by place at once, at most (each holds a descriptor for the run). */
const MAX_PLACES = 256;
/**
 * Byte ranges parts are read in: large enough that a part's start-up cost is small (a few per
 * cent at 2 MiB), small enough that the parts in flight stay light. Two tiers of keyed lines
 * peaked at 306 MiB with 8 MiB parts and at 252 MiB with 2 MiB ones.
 */
const CHUNK_BYTES = 2 << 20;
/**
 * Streams a run reads in threads of their own, at most (the others in this thread): standard
 * input's pipe, then gzip files. Each thread is an isolate of its own, 20–35 MB. Eight 3 MB gzip
 * files given together peaked at 488 MB with a thread each, 266 MB with one (225 MB before there
 * were any), in the same time.
 */
const STREAM_THREADS = 1;

/** Per input: lines, what parsed, which formats matched, and the error that stopped it (if any). */
export type InputResult = InputReport;

export interface PipelineOptions {
  /** Formats to try in order; when `detect` is set they are candidates and the best fit is chosen per input. */
  formats: readonly CompiledFormat[];
  detect: boolean;
  /** WebSocket path patterns (core/classify.ts compileWsPaths). */
  wsPaths: RegExp;
  stdin?: Readable | number;
  signal?: AbortSignal;
  /** Only lines logged in [sinceMs, untilMs] are analysed (lines without a time are kept). */
  sinceMs?: number;
  untilMs?: number;
  /** Every unparsed line, as it is met (BadLineLog keeps only samples). */
  onBadLine?: (file: string, line: number, text: string) => void;
  onProgress?: (bytes: number, lines: number) => void;
  /**
   * Threads that read parts (default: the machine's available parallelism). 1 reads everything
   * in this thread; more read regular files in byte ranges of `chunkBytes`, and streams in
   * blocks of whole lines (at most `chunkBytes`), in parallel. The report is the same whatever
   * the values.
   */
  workers?: number;
  chunkBytes?: number;
  /**
   * Follow the files like `tail -F` (input/follow.ts) until `signal` aborts; they then end
   * normally, with every line they held. Standard input is read as it comes.
   */
  follow?: { fromStart: boolean; signal: AbortSignal };
  /**
   * Live: inputs may go quiet for long. The time-ordered merge waits at most LIVE_MERGE_WAIT_MS
   * for a quiet input before handing on the others' lines.
   */
  live?: boolean;
  /** Called once the inputs are open with a function giving the result so far (for live snapshots). */
  onStart?: (current: () => PipelineResult) => void;
}

/** How long a live merge waits for a quiet input's next line before going on without it. */
const LIVE_MERGE_WAIT_MS = 1000;

export interface PipelineResult {
  inputs: InputResult[];
  bad: BadLineLog;
  /** Formats that matched at least one line, in first-use order. */
  used: CompiledFormat[];
  partial: boolean;
  sinceMs: number | undefined;
  untilMs: number | undefined;
  /** The UTC offset (minutes) most lines' $time_local / $time_iso8601 were written in; null when no line has one. */
  utcOffsetMinutes: number | null;
  /** Gives evidence rows kept by place (core/evidence.ts) their text, read from the files as analysed. */
  readTexts(rows: readonly EvidenceRow[]): void;
  /** Lets go of those files: the run's final result's, once its report is built (readTexts then reads nothing). */
  close(): void;
}

interface Shared {
  opts: PipelineOptions;
  bad: BadLineLog;
  used: Set<CompiledFormat>;
  formats: RunFormats;
  /** UTC offset (minutes) → lines, counted per part by the offset of its first zoned line. */
  offsets: Map<number, number>;
  /** Tells opts.onProgress how far the inputs are. */
  progress: () => void;
}

/**
 * The formats of one run: the options' formats, then any that detection built for an input.
 * Append-only, so a line's format index (what a part counts lines under) never changes meaning; `specs` is what
 * workers compile, and grows with it (the list a part is sent with holds every format its order names).
 */
class RunFormats {
  readonly list: CompiledFormat[];
  readonly specs: FormatSpec[];
  /** What detection assumed in building a format, by index. */
  readonly assumed = new Map<number, NonNullable<InputResult['assumed']>>();

  constructor(formats: readonly CompiledFormat[]) {
    this.list = [...formats];
    this.specs = this.list.map(formatSpec);
  }

  /** The index of the format detection built, added unless one with the same text is there already; -1 when a format index could not name it (LINE_EMPTY and above are taken). */
  addInferred(inferred: InferredFormat): number {
    const f = inferred.format;
    const k = this.list.findIndex((g) => g.text === f.text && g.escape === f.escape);
    if (k >= 0) return k;
    if (this.list.length >= LINE_EMPTY) return -1;
    this.list.push(f);
    this.specs.push(formatSpec(f));
    this.assumed.set(this.list.length - 1, { format: f.name, base: inferred.base, fields: inferred.fields });
    return this.list.length - 1;
  }
}

/**
 * One input being read: its part tallies taken in input order (line numbering, the format gate,
 * the input's result), and the sighting at its head (a handshake, waiting for its turn
 * in the merge).
 */
class Cursor {
  readonly result: InputResult;
  /** A sighting waits at `at - 1` of `part`. */
  hasHead = false;
  /** When the merge started waiting for this input's next part (0: not waiting). */
  waitingSince = 0;
  /** When the head happened; sightings without a time keep the previous one. */
  headMs = -Infinity;
  done = false;
  opened: Opened | undefined;
  source: PartSource | undefined;
  /** A regular file read in byte ranges: where its sightings' texts are read back. */
  places: LinesByPlace | null = null;
  private part: PartTally | null = null;
  /** The part's next sighting, and the input's lines before the part. */
  private at = 0;
  private base = 0;
  /** Every line's facts, to tell an input that holds the same lines as another. */
  readonly digest = new LineDigest();
  private lineNo = 0;
  private stopped = false;
  private interrupted = false;
  get linesSoFar(): number {
    return this.lineNo;
  }

  private gateOpen = false;
  private leadingFailures = 0;
  private firstFailure: { line: number; text: string; reason: string } | null = null;
  private readonly head = new PartRow();

  constructor(readonly input: number, readonly name: string, private readonly ctx: Shared) {
    this.result = { name, lines: 0, parsed: 0, unparsed: 0, empty: 0, filtered: 0, bytes: 0, gzip: false, formats: {}, assumed: null, sameAs: null, error: null };
  }

  /**
   * Takes parts until a sighting is at the head (true), the input is finished (true, with
   * `done`), or more of it must be read first (false).
   */
  fill(tally: Tally): boolean {
    const source = this.source;
    if (source === undefined) return this.finish(tally);
    while (!this.hasHead) {
      if (this.stopped) return this.finish(tally);
      const p = this.part;
      if (p === null || this.at >= p.sightings.line.length) {
        this.letGoOfPart(tally);
        const next = source.next();
        if (next === null) return source.ended ? this.finish(tally) : false;
        this.take(next, tally);
        continue;
      }
      const h = this.head;
      h.moveTo(p, this.at++, this.input, this.base, this.places);
      if (h.endMs === h.endMs) this.headMs = h.endMs;
      this.hasHead = true;
    }
    return true;
  }

  /** Hands the head sighting to the tally. */
  emit(tally: Tally): void {
    this.hasHead = false;
    tally.sight(this.head);
  }

  /** The part being merged is done with: its block (a stream's) can be cut into again, once the tally has let go of it. */
  private letGoOfPart(tally: Tally): void {
    if (this.part === null) return;
    tally.taken();
    this.part.release();
    this.part = null;
  }

  /** Stops reading this input at the format gate; what was read stays counted. */
  stop(): void {
    this.stopped = true;
    this.source?.close();
  }

  /** Stops reading this input (Ctrl-C); lines already read are still analysed. */
  interrupt(): void {
    if (this.source === undefined || this.source.ended || this.done) return;
    this.interrupted = true;
    this.source.stopReading();
  }

  /** A part, the next in input order: its lines numbered on from the last part's, counted, merged into the tally. */
  private take(p: PartTally, tally: Tally): void {
    const result = this.result;
    const base = this.lineNo;
    if (!this.gateOpen && this.gate(p, base)) {
      p.release();
      return;
    }
    this.part = p;
    this.at = 0;
    this.base = base;
    this.lineNo += p.lines;
    result.empty += p.empty;
    result.parsed += p.parsed;
    result.filtered += p.filtered;
    this.digest.join(p.digest);
    if (p.utcOffset === p.utcOffset) this.ctx.offsets.set(p.utcOffset, (this.ctx.offsets.get(p.utcOffset) ?? 0) + p.parsed);
    for (const k of p.formatOrder) {
      const format = this.ctx.formats.list[k] as CompiledFormat;
      this.ctx.used.add(format);
      result.formats[format.name] = (result.formats[format.name] ?? 0) + (p.formatLines[k] as number);
      result.assumed ??= this.ctx.formats.assumed.get(k) ?? null;
    }
    p.badLines.forEach((line, i) => this.unparsed(base + line, p.badTexts[i] as string, p.badReasons[i] as string));
    tally.absorb(p.slices);
    if (p.reread !== null) tally.later(p, this.input, base);
    this.ctx.progress();
  }

  /**
   * The format gate, for a part while no line of the input has parsed: true when the part's
   * leading failures close it (the part's lines up to the one that closed it are counted; none after).
   */
  private gate(p: PartTally, base: number): boolean {
    const need = GATE_LINES - this.leadingFailures;
    const first = p.badLines[0];
    if (first !== undefined && this.firstFailure === null) this.firstFailure = { line: base + first, text: p.badTexts[0] as string, reason: p.badReasons[0] as string };
    if (p.leadingBad < need) {
      this.leadingFailures += p.leadingBad;
      this.gateOpen = p.parsedAny;
      return false;
    }
    const cut = p.badLines[need - 1] as number;
    this.lineNo = base + cut;
    this.result.empty += cut - need;
    for (let i = 0; i < need; i++) this.unparsed(base + (p.badLines[i] as number), p.badTexts[i] as string, p.badReasons[i] as string);
    this.result.error = this.noMatch(`the first ${GATE_LINES} lines match`);
    this.stop();
    return true;
  }

  private unparsed(line: number, text: string, reason: string): void {
    this.result.unparsed++;
    this.ctx.bad.add(this.input, this.name, line, text, () => reason);
    this.ctx.opts.onBadLine?.(this.name, line, text);
  }

  /** FORMAT_NO_MATCH: every format tried, by name, and the first line with why it failed. */
  private noMatch(what: string): { code: ErrorCode; message: string } {
    const ff = this.firstFailure as { line: number; text: string; reason: string };
    const tried = this.tried.map((f) => `"${f.name}"`).join(', ');
    return { code: 'FORMAT_NO_MATCH', message: `${this.name}: ${what} no format tried (${tried}); first at ${this.name}:${ff.line}: ${ff.reason}: ${clip(ff.text, 200)}` };
  }

  /** The formats in the order this input tries them (set when it is chosen). */
  tried: CompiledFormat[] = [];

  private finish(tally: Tally): true {
    if (this.done) return true;
    this.done = true;
    this.letGoOfPart(tally);
    const result = this.result;
    const err = this.stopped ? null : this.source?.error;
    if (err) {
      result.error = isAnalyzerError(err) ? { code: err.code, message: err.message } : inputError(this.name, err as NodeJS.ErrnoException, this.source?.bytesRead() ?? 0);
    } else if (result.error === null && result.parsed === 0 && result.unparsed > 0 && this.firstFailure !== null) {
      result.error = this.noMatch(result.unparsed === 1 ? 'its only line matches' : `its ${result.unparsed} lines match`);
    }
    if (this.interrupted) result.error ??= { code: 'INPUT_INTERRUPTED', message: `${this.name}: interrupted after line ${this.lineNo}` };
    result.lines = this.lineNo;
    // A pipe read in a thread of its own is found to be gzip there, after it was opened.
    result.gzip ||= (this.opened?.gzipLayers ?? 0) > 0;
    result.bytes = this.source?.bytesRead() ?? this.opened?.bytesRead() ?? 0;
    this.opened?.stream.destroy();
    return true;
  }
}

/**
 * Reads all inputs side by side and hands their records to the tally in time order (a merge on
 * each record's end time), so one handshake's lines in several tiers' logs meet within the key
 * window however long the logs are.
 */
export async function runPipeline(names: readonly string[], tally: Tally, opts: PipelineOptions): Promise<PipelineResult> {
  const bad = new BadLineLog();
  const used = new Set<CompiledFormat>();
  const formats = new RunFormats(opts.formats);
  const offsets = new Map<number, number>();
  const cursors: Cursor[] = [];
  const progress = (): void => opts.onProgress?.(bytesRead(cursors), linesRead(cursors));
  const ctx: Shared = { opts, bad, used, formats, offsets, progress };
  names.forEach((name, i) => cursors.push(new Cursor(i, name, ctx)));
  const workers = Math.max(1, Math.floor(opts.workers ?? availableParallelism()));
  const chunkBytes = Math.max(1, Math.floor(opts.chunkBytes ?? CHUNK_BYTES));
  // Parts of an input are taken in order: one that takes longer than the next must not leave a
  // thread idle meanwhile. Two parts a thread in flight in all, shared among the inputs (each
  // part waiting holds its handshakes' lines).
  const ahead = Math.max(1, Math.ceil((2 * workers) / Math.max(1, names.length)));
  const inline = new InlinePool();
  const pool: PartRunner = workers > 1 ? new WorkerPool(workers - 1, true) : inline;
  const paneMs = tally.listener?.paneMs ?? 0;
  const windowMs = tally.listener?.windowMs ?? 0;
  /**
   * Only an input's first part closes the format gate itself (a later one's failing lines are
   * weighed by Cursor.gate). Without panes, a part counts in time buckets as wide as the tally's.
   * With panes, a stream's block is read as one slice, as without (its panes read only if a
   * verdict may see its lines: core/panes.ts later()), while the window asks for that.
   */
  const rulesFor = (input: number, textsByPlace: boolean, stream: boolean) => (first: boolean): PartRules => {
    const later = paneMs > 0 && stream && tally.listener?.wantsLater === true;
    return {
      input, gate: first, sinceMs: opts.sinceMs ?? -Infinity, untilMs: opts.untilMs ?? Infinity, paneMs, windowMs,
      caps: tally.caps, keyTexts: tally.rows !== undefined, textsByPlace,
      ...(later ? { panesLater: true } : {}),
      ...(paneMs === 0 || later ? { bucketSeconds: tally.counts.bucketSeconds } : {}),
    };
  };
  const all = opts.formats.map((_, i) => i);
  let partial = false;
  /**
   * The formats input `c` tries, in order: all of them, or the best fits of its first lines (null:
   * no detection), with the format detection built for them if it did.
   */
  const orderFor = (c: Cursor, sample: string[] | null): number[] => {
    let order = all;
    if (sample !== null) {
      const n = formats.list.length;
      const d = detectFormats(formats.list, sample);
      const k = d.inferred === null ? -1 : formats.addInferred(d.inferred);
      order = [...new Set(d.order.map((i) => (i === n ? k : i)).filter((i) => i >= 0))];
    }
    c.tried = order.map((k) => formats.list[k] as CompiledFormat);
    return order;
  };

  let wake = (): void => {};
  let placesOpen = 0;
  let streamThreads = 0;
  await Promise.all(cursors.map(async (c) => {
    if (opts.signal?.aborted) return;
    // Standard input redirected from a file is read as that file.
    const path = c.name === '-' && opts.follow === undefined && !opts.live ? ((await stdinAsFile(opts.stdin)) ?? '-') : c.name;
    const pipe = path === '-' && typeof opts.stdin === 'number' && isPipe(opts.stdin) ? opts.stdin : -1;
    const blockBytes = opts.chunkBytes === undefined ? BLOCK_BYTES : Math.min(BLOCK_BYTES, chunkBytes);
    // A file's parts keep their lines as places when it stays open (c.places); a stream's as places in their blocks.
    const task = (stream: boolean): InputTask => ({ file: path, formats: formats.specs, wsPaths: { source: opts.wsPaths.source, flags: opts.wsPaths.flags }, rules: rulesFor(c.input, !stream && c.places !== null, stream) });
    const streamOrder = (first: Part | null): number[] => orderFor(c, opts.detect ? sampleOf(first) : null);
    if (pipe >= 0 && workers > 1 && streamThreads < STREAM_THREADS) {
      // Standard input's pipe, read in a thread of its own (input/stream-thread.ts), which finds
      // out whether it is gzip: this thread's loop, busy with its parts, read it too seldom.
      streamThreads++;
      const thread = new StreamThread(c.name, { fd: pipe }, blockBytes, () => wake());
      c.opened = { name: c.name, stream: emptyStream(), get gzipLayers() { return thread.gzipLayers; }, bytesRead: () => 0 };
      c.source = new ChunkedSource(pool, thread, task(true), streamOrder, ahead, () => wake());
      return;
    }
    try {
      c.opened = opts.follow !== undefined && c.name !== '-'
        ? { name: c.name, gzipLayers: 0, ...(await followFile(c.name, opts.follow)) }
        : pipe >= 0 ? await openPipe(pipe)
        : await openInput(path, opts.stdin);
      c.result.gzip = c.opened.gzipLayers > 0;
    } catch (err) {
      if (!isAnalyzerError(err)) throw err;
      c.result.error = { code: err.code, message: err.message };
      return;
    }
    const info = c.result.gzip || path === '-' || opts.follow !== undefined ? null : await stat(path).catch(() => null);
    const isFile = info !== null && info.isFile();
    // A file's keyed lines are read back by their place when cited, rather than carried (a descriptor each, for so many files).
    if (isFile && placesOpen < MAX_PLACES) {
      c.places = LinesByPlace.open(path);
      if (c.places !== null) placesOpen++;
    }
    if (info !== null && isFile) {
      // A regular file: byte ranges, each read with the order chosen from the file's first lines; a small one in this thread.
      const order = orderFor(c, opts.detect ? await headLines(path, DETECT_LINES) : null);
      const ends = await lineEnds(path, info.size, chunkBytes);
      c.opened.stream.destroy();
      const runner = info.size < MIN_WORKER_BYTES ? inline : pool;
      c.source = new ChunkedSource(runner, new FileRanges(ends), task(false), order, ahead, () => wake());
      return;
    }
    // A stream, cut into blocks of whole lines. A gzip file of at least a part's size (compressed),
    // read by more threads than this one, while the run has fewer than STREAM_THREADS: in a thread that
    // gunzips it (input/stream-thread.ts), in blocks of a part's size. The thread's start costs about 50 ms: 0.8 MB of gzip (10 MB of
    // log) took 1.12× the time so, 4.9 MB 0.94×, the bench's 51 MB 0.90×. Standard input that is
    // not a pipe read in a thread, a smaller gzip file: in this one (gunzipped if need be).
    const opened = c.opened;
    let blocks: PartFeed;
    if (c.result.gzip && path !== '-' && workers > 1 && (opened.size ?? 0) >= chunkBytes && streamThreads < STREAM_THREADS) {
      streamThreads++;
      opened.stream.destroy();
      blocks = new StreamThread(c.name, { path }, chunkBytes, () => wake());
    } else {
      blocks = new StreamBlocks(opened.stream, () => opened.bytesRead(), () => wake(), blockBytes);
    }
    c.source = new ChunkedSource(pool, blocks, task(true), streamOrder, ahead, () => wake());
  }));

  let interrupt = (): void => {};
  let repump: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve) => {
      let pumping = false;
      const pump = (): void => {
        if (pumping) return;
        pumping = true;
        try {
          for (;;) {
            let best: Cursor | null = null;
            for (const c of cursors) {
              if (!c.done && !c.hasHead && !c.fill(tally)) {
                // Waiting for this input's next lines; live, not for long: it may stay quiet for hours.
                if (!opts.live) return;
                c.waitingSince ||= Date.now();
                if (Date.now() - c.waitingSince < LIVE_MERGE_WAIT_MS) return;
                continue;
              }
              c.waitingSince = 0;
              if (!c.hasHead) continue;
              if (best === null || c.headMs < best.headMs) best = c;
            }
            if (best === null) {
              if (cursors.every((c) => c.done)) resolve();
              return;
            }
            best.emit(tally);
          }
        } finally {
          pumping = false;
        }
      };
      wake = pump;
      interrupt = (): void => {
        partial = true;
        for (const c of cursors) c.interrupt();
        pump();
      };
      if (opts.signal?.aborted) partial = true;
      for (const c of cursors) {
        if (c.opened === undefined) {
          if (opts.signal?.aborted) c.result.error = { code: 'INPUT_INTERRUPTED', message: `${c.name}: not read (interrupted)` };
          continue;
        }
      }
      if (opts.signal?.aborted) interrupt();
      else opts.signal?.addEventListener('abort', interrupt, { once: true });
      if (opts.live) repump = setInterval(pump, LIVE_MERGE_WAIT_MS / 4);
      opts.onStart?.(() => resultOf(cursors, bad, used, partial, opts, offsets, false));
      pump();
    });
  } finally {
    if (repump !== undefined) clearInterval(repump);
    opts.signal?.removeEventListener('abort', interrupt);
    await pool.close();
    await inline.close();
  }
  try {
    tally.finish();
  } catch (err) {
    closePlaces(cursors);
    throw err;
  }
  for (const c of cursors) if (c.result.error !== null && c.result.error.code !== 'FORMAT_NO_MATCH' && c.opened) partial = true;
  const same = sameAsEarlier(cursors.map((c) => ({ lines: c.result.lines, digest: c.digest.value, complete: c.result.error === null && c.opened !== undefined })));
  same.forEach((k, i) => {
    if (k >= 0) (cursors[i] as Cursor).result.sameAs = (cursors[k] as Cursor).name;
  });
  return resultOf(cursors, bad, used, partial, opts, offsets, true);
}

/** The run's result: at its end, or so far (live snapshots: lines counted up to now; close() is the final result's to call). */
function resultOf(cursors: readonly Cursor[], bad: BadLineLog, used: Set<CompiledFormat>, partial: boolean, opts: PipelineOptions, offsets: ReadonlyMap<number, number>, final: boolean): PipelineResult {
  const inputs = cursors.map((c) => (final ? c.result : { ...c.result, lines: c.linesSoFar, formats: { ...c.result.formats } }));
  return {
    inputs, bad, used: [...used], partial, sinceMs: opts.sinceMs, untilMs: opts.untilMs, utcOffsetMinutes: mostCommon(offsets),
    readTexts: (rows) => readPlacedTexts(rows, (input, at, bytes) => cursors[input]?.places?.read(at, bytes) ?? ''),
    close: final ? () => closePlaces(cursors) : () => {},
  };
}

function closePlaces(cursors: readonly Cursor[]): void {
  for (const c of cursors) {
    c.places?.close();
    c.places = null;
  }
}

/** The offset with the most lines (ties: the first met), or null. */
function mostCommon(offsets: ReadonlyMap<number, number>): number | null {
  let best: number | null = null;
  let most = 0;
  for (const [offset, n] of offsets) {
    if (n > most) {
      best = offset;
      most = n;
    }
  }
  return best;
}

/** The first lines of a stream's first block, for detection ([] for an input without a byte). */
function sampleOf(first: Part | null): string[] {
  if (first === null || !('data' in first)) return [];
  const all = Buffer.from(first.data, 0, first.bytes);
  const head = all.subarray(0, DETECT_BYTES);
  return firstLines(head, DETECT_LINES, head.length === all.length);
}

function bytesRead(cursors: readonly Cursor[]): number {
  let n = 0;
  for (const c of cursors) n += c.source?.bytesRead() ?? c.opened?.bytesRead() ?? 0;
  return n;
}

function linesRead(cursors: readonly Cursor[]): number {
  let n = 0;
  for (const c of cursors) n += c.linesSoFar;
  return n;
}

function inputError(name: string, err: NodeJS.ErrnoException, offset: number): { code: ErrorCode; message: string } {
  return { code: 'INPUT_UNREADABLE', message: `${name}: read failed near byte ${offset} (${err.message})` };
}
