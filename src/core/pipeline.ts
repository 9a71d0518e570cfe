/*!
 * inputs → batches of scanned lines → Tally. Owns line numbering, auto-detection on an input's
 * first lines, the format gate (FORMAT_NO_MATCH when an input's first lines all fail), BadLineLog,
 * --since/--until, and the merge that hands every input's records to the tally in time order.
 * Lines are scanned (core/scan.ts) by worker threads (core/workers.ts) over byte ranges of large
 * files and over blocks of streams' lines (gzip, stdin, pipes), or in this thread for small files
 * and with `workers: 1`; the batches replay the same way. Formats that auto-detection builds for
 * an input (format/detect.ts) join the run's list of formats; inputs holding the same lines are
 * marked (core/same-lines.ts).
 */
import { availableParallelism } from 'node:os';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { clip, isAnalyzerError, type ErrorCode } from '../errors.js';
import type { CompiledFormat } from '../format/compile.js';
import { detectFormats } from '../format/detect.js';
import type { InferredFormat } from '../format/trailing.js';
import { BLOCK_BYTES, StreamBlocks } from '../input/blocks.js';
import { firstLines, headLines, lineRanges } from '../input/chunks.js';
import { LineQueue } from '../input/lines.js';
import { followFile } from '../input/follow.js';
import { openInput, type OpenedInput } from '../input/open.js';
import { Classifier } from './classify.js';
import { LINE_BAD, LINE_EMPTY, LineScanner, StreamSource, type Batch, type BatchSource } from './scan.js';
import { LineDigest, hashText, sameAsEarlier } from './same-lines.js';
import { BadLineLog } from './stats.js';
import type { Tally } from './tally.js';
import { ChunkedSource, FileRanges, WorkerPool, formatSpec, type FormatSpec, type Part } from './workers.js';
import type { InputReport } from '../report/model.js';

/** goaccess's --num-tests: this many non-empty lines failing in a row at the start of an input stop it. */
export const GATE_LINES = 10;
/** Lines auto-detection looks at before choosing, within this many bytes. */
const DETECT_LINES = 20;
const DETECT_BYTES = 1 << 20;
/** Byte ranges workers read: large enough that a range's start-up cost vanishes, small enough for flat memory. */
const CHUNK_BYTES = 8 << 20;
/** Files smaller than this are read in this thread (a worker's start costs about as much). */
const MIN_WORKER_BYTES = 4 << 20;

/** Per input: lines, what parsed, which formats matched, and the error that stopped it (if any). */
export type InputResult = InputReport;

export interface PipelineOptions {
  /** Formats to try in order; when `detect` is set they are candidates and the best fit is chosen per input. */
  formats: readonly CompiledFormat[];
  detect: boolean;
  /** WebSocket path patterns (core/classify.ts compileWsPaths). */
  wsPaths: RegExp;
  stdin?: Readable;
  signal?: AbortSignal;
  /** Only lines logged in [sinceMs, untilMs] are analysed (lines without a time are kept). */
  sinceMs?: number;
  untilMs?: number;
  /** Every unparsed line, as it is met (BadLineLog keeps only samples). */
  onBadLine?: (file: string, line: number, text: string) => void;
  onProgress?: (bytes: number, lines: number) => void;
  /**
   * Threads that scan lines (default: the machine's available parallelism). 1 scans everything
   * in this thread; more scan large regular files in byte ranges of `chunkBytes`, and streams in
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
}

interface Shared {
  opts: PipelineOptions;
  bad: BadLineLog;
  used: Set<CompiledFormat>;
  formats: RunFormats;
  /** UTC offset (minutes) → lines, counted per batch by the offset of its first zoned line. */
  offsets: Map<number, number>;
}

/**
 * The formats of one run: the options' formats, then any that detection built for an input.
 * Append-only, so a line's format index (a batch's `kind`) never changes meaning; `specs` is what
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

  /** The index of the format detection built, added unless one with the same text is there already; -1 when a batch's `kind` could not name it. */
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
 * One input being read: its batches, line numbering, the gate, and the record at its head
 * (scanned, waiting for its turn in the merge).
 */
class Cursor {
  readonly result: InputResult;
  /** A record waits at `headAt` of `batch`. */
  hasHead = false;
  /** When the merge started waiting for this input's next line (0: not waiting). */
  waitingSince = 0;
  /** When the head happened; lines without a time keep the previous one. */
  headMs = -Infinity;
  done = false;
  opened: OpenedInput | undefined;
  source: BatchSource | undefined;
  private batch: Batch | null = null;
  private at = 0;
  private handshakeAt = 0;
  private badAt = 0;
  private headAt = 0;
  private headHandshake = -1;
  private headLine = 0;
  /** The scanner's client numbers → the tally's, by scanner number (-1 until first used). */
  private clientNames: string[] = [];
  private clientIds: number[] = [];
  private clientHashes: number[] = [];
  /** Lines per format index, unset until this input uses it (fixes the key order of `formats`). */
  private readonly formatLines: number[] = [];
  /** Every line's facts, to tell an input that holds the same lines as another. */
  readonly digest = new LineDigest();
  private readonly sinceMs: number;
  private readonly untilMs: number;
  private lineNo = 0;
  private stopped = false;
  private interrupted = false;
  get linesSoFar(): number {
    return this.lineNo;
  }

  private gateOpen = false;
  private leadingFailures = 0;
  private firstFailure: { line: number; text: string; reason: string } | null = null;

  constructor(readonly input: number, readonly name: string, private readonly ctx: Shared) {
    this.result = { name, lines: 0, parsed: 0, unparsed: 0, empty: 0, filtered: 0, bytes: 0, gzip: false, formats: {}, assumed: null, sameAs: null, error: null };
    this.sinceMs = ctx.opts.sinceMs ?? -Infinity;
    this.untilMs = ctx.opts.untilMs ?? Infinity;
  }

  /**
   * Replays scanned lines until a record is at the head (true), the input is finished (true,
   * with `done`), or more lines must arrive first (false).
   */
  fill(): boolean {
    const source = this.source;
    if (source === undefined) return this.finish();
    while (!this.hasHead) {
      if (this.stopped) return this.finish();
      let b = this.batch;
      if (b === null || this.at >= b.length) {
        b = this.batch = source.next();
        if (b === null) return source.ended ? this.finish() : false;
        this.at = 0;
        this.handshakeAt = 0;
        this.badAt = 0;
        const offset = b.utcOffsetMin;
        if (offset === offset) this.ctx.offsets.set(offset, (this.ctx.offsets.get(offset) ?? 0) + b.length);
        if (b.clientsRestart) {
          this.clientNames = [];
          this.clientIds = [];
          this.clientHashes = [];
        }
        for (const c of b.clients) {
          this.clientNames.push(c);
          this.clientIds.push(-1);
          this.clientHashes.push(hashText(c));
        }
      }
      this.replay(b, this.at++);
    }
    return true;
  }

  /** Hands the head record to the tally. */
  emit(tally: Tally): void {
    this.hasHead = false;
    const b = this.batch as Batch;
    const i = this.headAt;
    const local = b.client[i] as number;
    let client = this.clientIds[local] as number;
    if (client < 0) client = this.clientIds[local] = tally.clientId(this.clientNames[local] as string);
    const endMs = b.endMs[i] as number;
    const durationMs = b.durationMs[i] as number;
    const protocol = b.protocol[i] as number;
    tally.request(this.input, client, protocol, durationMs >= 0 ? endMs - durationMs : endMs, endMs);
    const h = this.headHandshake;
    if (h >= 0) {
      tally.handshake(this.input, this.headLine, client, protocol, b.status[h] as number, durationMs, endMs, b.flags[h] as number, b.keys[h] as string, b.texts[h] as string, b.upstreams[h] as string, b.paths[h] as string);
    }
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

  private replay(b: Batch, i: number): void {
    this.lineNo++;
    const kind = b.kind[i] as number;
    const result = this.result;
    const digest = this.digest;
    if (kind === LINE_EMPTY) {
      result.empty++;
      digest.add(LINE_EMPTY);
      return;
    }
    if (kind === LINE_BAD) {
      const k = this.badAt++;
      digest.add(hashText(b.bad[k] as string));
      this.unparsed(b.bad[k] as string, b.reasons[k] as string);
      return;
    }
    const handshake = b.handshake[i] === 1 ? this.handshakeAt++ : -1;
    this.gateOpen = true;
    result.parsed++;
    const lines = this.formatLines;
    if (lines[kind] === undefined) {
      const format = this.ctx.formats.list[kind] as CompiledFormat;
      result.formats[format.name] = 0;
      this.ctx.used.add(format);
      lines[kind] = 0;
    }
    lines[kind]!++;
    const endMs = b.endMs[i] as number;
    digest.addNumber(endMs);
    digest.add(b.durationMs[i] as number);
    digest.add(b.protocol[i] as number);
    digest.add(this.clientHashes[b.client[i] as number] as number);
    if (handshake >= 0) digest.add(b.status[handshake] as number);
    if (endMs < this.sinceMs || endMs > this.untilMs) {
      result.filtered++;
      return;
    }
    if (endMs === endMs) this.headMs = endMs;
    this.headAt = i;
    this.headHandshake = handshake;
    this.headLine = this.lineNo;
    this.hasHead = true;
  }

  private unparsed(text: string, reason: string): void {
    this.result.unparsed++;
    const describe = (): string => reason;
    this.ctx.bad.add(this.name, this.lineNo, text, describe);
    this.ctx.opts.onBadLine?.(this.name, this.lineNo, text);
    if (this.gateOpen) return;
    if (this.firstFailure === null) this.firstFailure = { line: this.lineNo, text, reason };
    if (++this.leadingFailures < GATE_LINES) return;
    this.result.error = this.noMatch(`the first ${GATE_LINES} lines match`);
    this.stop();
  }

  /** FORMAT_NO_MATCH: every format tried, by name, and the first line with why it failed. */
  private noMatch(what: string): { code: ErrorCode; message: string } {
    const ff = this.firstFailure as { line: number; text: string; reason: string };
    const tried = this.tried.map((f) => `"${f.name}"`).join(', ');
    return { code: 'FORMAT_NO_MATCH', message: `${this.name}: ${what} no format tried (${tried}); first at ${this.name}:${ff.line}: ${ff.reason}: ${clip(ff.text, 200)}` };
  }

  /** The formats in the order this input tries them (set when it is chosen). */
  tried: CompiledFormat[] = [];

  private finish(): true {
    if (this.done) return true;
    this.done = true;
    const result = this.result;
    const err = this.stopped ? null : this.source?.error;
    if (err) {
      result.error = isAnalyzerError(err) ? { code: err.code, message: err.message } : inputError(this.name, err as NodeJS.ErrnoException, this.source?.bytesRead() ?? 0);
    } else if (result.error === null && result.parsed === 0 && result.unparsed > 0 && this.firstFailure !== null) {
      result.error = this.noMatch(result.unparsed === 1 ? 'its only line matches' : `its ${result.unparsed} lines match`);
    }
    this.formatLines.forEach((n, k) => {
      result.formats[(this.ctx.formats.list[k] as CompiledFormat).name] = n;
      result.assumed ??= this.ctx.formats.assumed.get(k) ?? null;
    });
    if (this.interrupted) result.error ??= { code: 'INPUT_INTERRUPTED', message: `${this.name}: interrupted after line ${this.lineNo}` };
    result.lines = this.lineNo;
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
  const ctx: Shared = { opts, bad, used, formats, offsets };
  const cursors = names.map((name, i) => new Cursor(i, name, ctx));
  const classifier = new Classifier(opts.wsPaths);
  const workers = Math.max(1, Math.floor(opts.workers ?? availableParallelism()));
  const chunkBytes = Math.max(1, Math.floor(opts.chunkBytes ?? CHUNK_BYTES));
  const pool = workers > 1 ? new WorkerPool(workers) : null;
  const all = opts.formats.map((_, i) => i);
  let partial = false;
  let records = 0;
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
  await Promise.all(cursors.map(async (c) => {
    if (opts.signal?.aborted) return;
    try {
      c.opened = opts.follow !== undefined && c.name !== '-'
        ? { name: c.name, gzipLayers: 0, ...(await followFile(c.name, opts.follow)) }
        : await openInput(c.name, opts.stdin);
      c.result.gzip = c.opened.gzipLayers > 0;
    } catch (err) {
      if (!isAnalyzerError(err)) throw err;
      c.result.error = { code: err.code, message: err.message };
      return;
    }
    if (pool === null) return;
    const task = { file: c.name, formats: formats.specs, wsPaths: { source: opts.wsPaths.source, flags: opts.wsPaths.flags } };
    const info = c.result.gzip || c.name === '-' || opts.follow !== undefined ? null : await stat(c.name).catch(() => null);
    if (info !== null && info.isFile()) {
      if (info.size < Math.min(MIN_WORKER_BYTES, chunkBytes)) return;
      // Large regular file: ranges for the workers, each scanned with the order chosen from its first lines.
      const order = orderFor(c, opts.detect ? await headLines(c.name, DETECT_LINES) : null);
      const ranges = await lineRanges(c.name, info.size, chunkBytes);
      c.opened.stream.destroy();
      c.source = new ChunkedSource(pool, new FileRanges(ranges), task, order, workers, () => wake());
      return;
    }
    // A stream (gzip, stdin, a pipe): this thread reads and gunzips, workers scan blocks of its lines.
    const opened = c.opened;
    const blocks = new StreamBlocks(opened.stream, () => opened.bytesRead(), () => wake(), Math.min(BLOCK_BYTES, chunkBytes));
    c.source = new ChunkedSource(pool, blocks, task, (first) => orderFor(c, opts.detect ? sampleOf(first) : null), workers, () => wake());
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
              if (!c.done && !c.hasHead && !c.fill()) {
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
            if (opts.onProgress && (++records & 0x3fff) === 0) opts.onProgress(bytesRead(cursors), linesRead(cursors));
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
        if (c.source !== undefined) continue;
        const detect = opts.detect;
        const scannerFor = (sample: string[]): LineScanner => new LineScanner(formats.list, orderFor(c, detect ? sample : null), classifier);
        c.source = new StreamSource(new LineQueue(c.opened.stream, pump), c.opened, detect ? DETECT_LINES : 0, scannerFor);
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
    await pool?.close();
  }
  tally.finish();
  for (const c of cursors) if (c.result.error !== null && c.result.error.code !== 'FORMAT_NO_MATCH' && c.opened) partial = true;
  const same = sameAsEarlier(cursors.map((c) => ({ lines: c.result.lines, digest: c.digest.value, complete: c.result.error === null && c.opened !== undefined })));
  same.forEach((k, i) => {
    if (k >= 0) (cursors[i] as Cursor).result.sameAs = (cursors[k] as Cursor).name;
  });
  return resultOf(cursors, bad, used, partial, opts, offsets, true);
}

/** The run's result: at its end, or so far (live snapshots: lines counted up to now). */
function resultOf(cursors: readonly Cursor[], bad: BadLineLog, used: Set<CompiledFormat>, partial: boolean, opts: PipelineOptions, offsets: ReadonlyMap<number, number>, final: boolean): PipelineResult {
  const inputs = cursors.map((c) => (final ? c.result : { ...c.result, lines: c.linesSoFar, formats: { ...c.result.formats } }));
  return { inputs, bad, used: [...used], partial, sinceMs: opts.sinceMs, untilMs: opts.untilMs, utcOffsetMinutes: mostCommon(offsets) };
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
