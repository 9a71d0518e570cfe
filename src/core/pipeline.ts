/*!
 * inputs → lines → records → Tally. Owns reading the inputs side by side and merging their records
 * by time, line numbering, the choice of format per line (several formats, tried in a fixed order),
 * auto-detection on an input's first lines, the format gate (FORMAT_NO_MATCH when an input's first
 * lines all fail), the --since/--until window, and BadLineLog.
 */
import type { Readable } from 'node:stream';
import { clip, isAnalyzerError, type ErrorCode } from '../errors.js';
import type { CompiledFormat } from '../format/compile.js';
import { describeFailure, matchAny, matchLine, newBounds, newFailure, type MatchFailure } from '../format/parse-line.js';
import { syslogBodyStart } from '../format/syslog.js';
import { LineQueue } from '../input/lines.js';
import { openInput, type OpenedInput } from '../input/open.js';
import { RecordReader, newRecord } from './record.js';
import { BadLineLog } from './stats.js';
import type { Tally } from './tally.js';
import type { InputReport } from '../report/model.js';

/** goaccess's --num-tests: this many non-empty lines failing in a row at the start of an input stop it. */
export const GATE_LINES = 10;
/** Lines auto-detection looks at before choosing. */
const DETECT_LINES = 20;

/** Per input: lines, what parsed, which formats matched, and the error that stopped it (if any). */
export type InputResult = InputReport;

export interface PipelineOptions {
  /** Formats to try in order; when `detect` is set they are candidates and the best fit is chosen per input. */
  formats: readonly CompiledFormat[];
  detect: boolean;
  stdin?: Readable;
  signal?: AbortSignal;
  /** Only lines logged in [sinceMs, untilMs] are analysed (lines without a time are kept). */
  sinceMs?: number;
  untilMs?: number;
  /** Every unparsed line, as it is met (BadLineLog keeps only samples). */
  onBadLine?: (file: string, line: number, text: string) => void;
  onProgress?: (bytes: number, lines: number) => void;
}

export interface PipelineResult {
  inputs: InputResult[];
  bad: BadLineLog;
  /** Formats that matched at least one line, in first-use order. */
  used: CompiledFormat[];
  partial: boolean;
  sinceMs: number | undefined;
  untilMs: number | undefined;
}

interface Plan {
  format: CompiledFormat;
  reader: RecordReader;
  bounds: Int32Array;
}

/**
 * One input being read: its line queue, line numbering, format order, the gate, and the record
 * at its head (parsed, waiting for its turn in the merge).
 */
class Cursor {
  readonly result: InputResult;
  readonly rec = newRecord();
  /** A parsed record waits in `rec`, parsed with `plan`. */
  hasHead = false;
  /** Whether the head's line logs $http_upgrade (read now: the reader is shared by inputs). */
  headLogsUpgrade = false;
  /** When the head happened; lines without a time keep the previous one. */
  headMs = -Infinity;
  done = false;
  opened: OpenedInput | undefined;
  lines: LineQueue | undefined;
  private order: Plan[];
  private readonly sinceMs: number;
  private readonly untilMs: number;
  private lineNo = 0;
  private interrupted = false;
  get linesSoFar(): number {
    return this.lineNo;
  }

  private gateOpen = false;
  private leadingFailures = 0;
  private firstFailure: { line: number; text: string; reason: string } | null = null;

  constructor(
    readonly input: number,
    readonly name: string,
    private readonly ctx: { opts: PipelineOptions; planFor: (f: CompiledFormat) => Plan; failure: MatchFailure; bad: BadLineLog; used: Set<CompiledFormat> },
  ) {
    this.result = { name, lines: 0, parsed: 0, unparsed: 0, empty: 0, filtered: 0, bytes: 0, gzip: false, formats: {}, error: null };
    this.order = ctx.opts.detect ? [] : ctx.opts.formats.map(ctx.planFor);
    this.sinceMs = ctx.opts.sinceMs ?? -Infinity;
    this.untilMs = ctx.opts.untilMs ?? Infinity;
  }

  /**
   * Parses queued lines until a record is at the head (true), the input is finished (true, with
   * `done`), or more lines must arrive first (false).
   */
  fill(): boolean {
    const q = this.lines;
    if (q === undefined) return this.finish();
    if (this.order.length === 0 && this.ctx.opts.detect) {
      if (q.size < DETECT_LINES && !q.ended) return false;
      const sample: string[] = [];
      for (let i = 0; i < DETECT_LINES && i < q.size; i++) sample.push(q.peek(i) as string);
      this.order = chooseFormats(this.ctx.opts.formats.map(this.ctx.planFor), sample, this.ctx.failure);
    }
    while (!this.hasHead) {
      const text = q.shift();
      if (text === undefined) return q.ended ? this.finish() : false;
      this.lineNo++;
      this.handle(text);
    }
    return true;
  }

  /** Stops reading this input at the format gate; lines already queued are dropped. */
  stop(): void {
    this.lines?.close();
  }

  /** Stops reading this input (Ctrl-C); lines already read are still analysed. */
  interrupt(): void {
    if (this.lines === undefined || this.lines.ended) return;
    this.interrupted = true;
    this.lines.stopReading();
  }

  private handle(text: string): void {
    const result = this.result;
    if (text.length === 0) {
      result.empty++;
      return;
    }
    // Strictly, then relaxed; each on the line, then after a syslog header: a relaxed $remote_addr
    // would otherwise swallow the header (`<190>Nov 30 06:59:33 host nginx: 127.0.0.3`).
    let body = text;
    let plan: Plan | null = null;
    let start = 0;
    for (let pass = 0; pass < 2 && plan === null; pass++) {
      plan = this.match(text, pass);
      if (plan === null && pass === 0) start = syslogBodyStart(text);
      if (plan === null && start > 0) {
        body = text.slice(start);
        plan = this.match(body, pass);
      }
    }
    if (plan === null) {
      this.unparsed(text);
      return;
    }
    this.gateOpen = true;
    result.parsed++;
    const fname = plan.format.name;
    result.formats[fname] = (result.formats[fname] ?? 0) + 1;
    this.ctx.used.add(plan.format);
    const rec = this.rec;
    rec.file = this.name;
    rec.line = this.lineNo;
    plan.reader.read(body, plan.bounds, rec);
    if (rec.endMs < this.sinceMs || rec.endMs > this.untilMs) {
      result.filtered++;
      return;
    }
    if (rec.endMs === rec.endMs) this.headMs = rec.endMs;
    this.headLogsUpgrade = plan.reader.logsUpgrade;
    this.hasHead = true;
  }

  /**
   * Tries the formats in order, strictly (pass 0) or relaxed (pass 1). The order is fixed (no
   * move-to-front): a format whose last field is free text also matches lines of a longer
   * format that appends fields, so the longer one must keep going first.
   */
  private match(text: string, pass: number): Plan | null {
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const p = order[i] as Plan;
      if (matchLine(p.format, text, p.bounds, this.ctx.failure, pass === 1)) return p;
    }
    return null;
  }

  private unparsed(text: string): void {
    this.result.unparsed++;
    const first = this.order[0];
    const failure = this.ctx.failure;
    const describe = (): string => (first ? `${first.format.name}: ${describeFailure(first.format, text, failure)}` : 'no format');
    this.ctx.bad.add(this.name, this.lineNo, text, describe);
    this.ctx.opts.onBadLine?.(this.name, this.lineNo, text);
    if (this.gateOpen) return;
    if (this.firstFailure === null) this.firstFailure = { line: this.lineNo, text, reason: describe() };
    if (++this.leadingFailures < GATE_LINES) return;
    const ff = this.firstFailure;
    const tried = this.order.map((p) => `"${p.format.name}"`).join(', ');
    this.result.error = {
      code: 'FORMAT_NO_MATCH',
      message: `${this.name}: the first ${GATE_LINES} lines match no format tried (${tried}); first at ${this.name}:${ff.line}: ${ff.reason}: ${clip(ff.text, 200)}`,
    };
    this.stop();
  }

  private finish(): true {
    if (this.done) return true;
    this.done = true;
    const result = this.result;
    const err = this.lines?.error;
    if (err) {
      result.error = isAnalyzerError(err) ? { code: err.code, message: err.message } : inputError(this.name, err as NodeJS.ErrnoException, this.opened?.bytesRead() ?? 0);
    } else if (result.error === null && result.parsed === 0 && result.unparsed > 0 && this.firstFailure !== null) {
      const ff = this.firstFailure;
      result.error = { code: 'FORMAT_NO_MATCH', message: `${this.name}: no line matches the format; first at ${this.name}:${ff.line}: ${ff.reason}: ${clip(ff.text, 200)}` };
    }
    if (this.interrupted) result.error ??= { code: 'INPUT_INTERRUPTED', message: `${this.name}: interrupted after line ${this.lineNo}` };
    result.lines = this.lineNo;
    result.bytes = this.opened?.bytesRead() ?? 0;
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
  const plans = new Map<CompiledFormat, Plan>();
  const planFor = (f: CompiledFormat): Plan => {
    let p = plans.get(f);
    if (!p) {
      p = { format: f, reader: new RecordReader(f), bounds: newBounds(f) };
      plans.set(f, p);
    }
    return p;
  };
  const ctx = { opts, planFor, failure: newFailure(), bad, used };
  const cursors = names.map((name, i) => new Cursor(i, name, ctx));
  let partial = false;
  let records = 0;

  await Promise.all(cursors.map(async (c) => {
    if (opts.signal?.aborted) return;
    try {
      c.opened = await openInput(c.name, opts.stdin);
      c.result.gzip = c.opened.gzipLayers > 0;
    } catch (err) {
      if (!isAnalyzerError(err)) throw err;
      c.result.error = { code: err.code, message: err.message };
    }
  }));

  let interrupt = (): void => {};
  await new Promise<void>((resolve) => {
    let pumping = false;
    const pump = (): void => {
      if (pumping) return;
      pumping = true;
      try {
        for (;;) {
          let best: Cursor | null = null;
          for (const c of cursors) {
            if (!c.done && !c.hasHead && !c.fill()) return; // waiting for this input's next lines
            if (!c.hasHead) continue;
            if (best === null || c.headMs < best.headMs) best = c;
          }
          if (best === null) {
            resolve();
            return;
          }
          best.hasHead = false;
          tally.add(best.rec, best.input, best.headLogsUpgrade);
          if (opts.onProgress && (++records & 0x3fff) === 0) opts.onProgress(bytesRead(cursors), linesRead(cursors));
        }
      } finally {
        pumping = false;
      }
    };
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
      c.lines = new LineQueue(c.opened.stream, pump);
    }
    if (opts.signal?.aborted) interrupt();
    else opts.signal?.addEventListener('abort', interrupt, { once: true });
    pump();
  });
  opts.signal?.removeEventListener('abort', interrupt);
  tally.finish();
  for (const c of cursors) if (c.result.error !== null && c.result.error.code !== 'FORMAT_NO_MATCH' && c.opened) partial = true;
  return { inputs: cursors.map((c) => c.result), bad, used: [...used], partial, sinceMs: opts.sinceMs, untilMs: opts.untilMs };
}

function bytesRead(cursors: readonly Cursor[]): number {
  let n = 0;
  for (const c of cursors) n += c.opened?.bytesRead() ?? 0;
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

/**
 * Auto-detection: candidates ordered by how many sample lines they match (ties: the earlier, more
 * specific one first); all stay in the list, so a format change mid-file still parses. A format
 * that extends another (same text plus appended fields) always goes before it.
 */
function chooseFormats(candidates: Plan[], lines: readonly string[], failure: MatchFailure): Plan[] {
  const scored = candidates.map((p, i) => {
    let hits = 0;
    for (const text of lines) {
      if (text.length === 0) continue;
      const start = syslogBodyStart(text);
      if (matchAny(p.format, text, p.bounds, failure) || (start > 0 && matchAny(p.format, text.slice(start), p.bounds, failure))) hits++;
    }
    return { p, i, hits };
  });
  scored.sort((a, b) => b.hits - a.hits || a.i - b.i);
  const order = scored.filter((s) => s.hits > 0).map((s) => s.p);
  for (const s of scored) {
    if (s.hits > 0) continue;
    const base = order.findIndex((o) => s.p.format.text.startsWith(o.format.text));
    if (base >= 0) order.splice(base, 0, s.p);
  }
  for (const s of scored) if (!order.includes(s.p)) order.push(s.p);
  return order;
}
