/*!
 * inputs → lines → records → Tally. Owns line numbering, the choice of format per line (several
 * formats: the last one that fitted is tried first), auto-detection on an input's first lines,
 * the format gate (FORMAT_NO_MATCH when an input's first lines all fail), and BadLineLog.
 */
import type { Readable } from 'node:stream';
import { clip, isAnalyzerError, type ErrorCode } from '../errors.js';
import type { CompiledFormat } from '../format/compile.js';
import { describeFailure, matchAny, matchLine, newBounds, newFailure, type MatchFailure } from '../format/parse-line.js';
import { forEachLine } from '../input/lines.js';
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
  onProgress?: (bytes: number, lines: number) => void;
}

export interface PipelineResult {
  inputs: InputResult[];
  bad: BadLineLog;
  /** Formats that matched at least one line, in first-use order. */
  used: CompiledFormat[];
  partial: boolean;
}

interface Plan {
  format: CompiledFormat;
  reader: RecordReader;
  bounds: Int32Array;
}

const SYSLOG_TAG = ': ';

/** Index where an nginx entry starts after a syslog header `<PRI>Mmm dd hh:mm:ss host tag: `, or -1. */
export function syslogBodyStart(text: string): number {
  if (text.charCodeAt(0) !== 60 /* < */) return -1;
  const close = text.indexOf('>');
  if (close < 2 || close > 4) return -1;
  const tag = text.indexOf(SYSLOG_TAG, close + 16);
  return tag < 0 ? -1 : tag + SYSLOG_TAG.length;
}

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
  const failure = newFailure();
  const rec = newRecord();
  const inputs: InputResult[] = [];
  let partial = false;
  let totalLines = 0;

  for (let input = 0; input < names.length; input++) {
    const name = names[input] as string;
    const result: InputResult = { name, lines: 0, parsed: 0, unparsed: 0, empty: 0, bytes: 0, gzip: false, formats: {}, error: null };
    inputs.push(result);
    if (opts.signal?.aborted) {
      partial = true;
      result.error = { code: 'INPUT_INTERRUPTED', message: `${name}: not read (interrupted)` };
      continue;
    }
    let order: Plan[] = opts.detect ? [] : opts.formats.map(planFor);
    const pending: string[] = [];
    let gateOpen = false;
    let leadingFailures = 0;
    let firstFailure: { line: number; text: string; reason: string } | null = null;
    const abort = new AbortController();
    const onOuterAbort = (): void => abort.abort();
    opts.signal?.addEventListener('abort', onOuterAbort, { once: true });

    /**
     * Tries the formats in order, all strictly before any relaxed. The order is fixed (no
     * move-to-front): a format whose last field is free text also matches lines of a longer
     * format that appends fields, so the longer one must keep going first.
     */
    const match = (text: string): Plan | null => {
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < order.length; i++) {
          const p = order[i] as Plan;
          if (matchLine(p.format, text, p.bounds, failure, pass === 1)) return p;
        }
      }
      return null;
    };

    const handle = (text: string, lineNo: number): void => {
      if (text.length === 0) {
        result.empty++;
        return;
      }
      let body = text;
      let plan = match(body);
      if (plan === null) {
        const start = syslogBodyStart(text);
        if (start > 0) {
          body = text.slice(start);
          plan = match(body);
        }
      }
      if (plan === null) {
        result.unparsed++;
        const first = order[0];
        const describe = (): string => (first ? `${first.format.name}: ${describeFailure(first.format, text, failure)}` : 'no format');
        bad.add(name, lineNo, text, describe);
        if (!gateOpen) {
          if (firstFailure === null) firstFailure = { line: lineNo, text, reason: describe() };
          if (++leadingFailures >= GATE_LINES) {
            const tried = order.map((p) => `"${p.format.name}"`).join(', ');
            result.error = {
              code: 'FORMAT_NO_MATCH',
              message: `${name}: the first ${GATE_LINES} lines match no format tried (${tried}); first at ${name}:${firstFailure.line}: ${firstFailure.reason}: ${clip(firstFailure.text, 200)}`,
            };
            abort.abort();
          }
        }
        return;
      }
      gateOpen = true;
      result.parsed++;
      const fname = plan.format.name;
      result.formats[fname] = (result.formats[fname] ?? 0) + 1;
      used.add(plan.format);
      rec.file = name;
      rec.line = lineNo;
      plan.reader.read(body, plan.bounds, rec);
      tally.add(rec, input, plan.reader.logsUpgrade);
    };

    const detectFrom = (lines: readonly string[]): void => {
      order = chooseFormats(opts.formats.map(planFor), lines, failure);
    };

    let lineNo = 0;
    let opened: OpenedInput | undefined;
    try {
      opened = await openInput(name, opts.stdin);
      result.gzip = opened.gzipLayers > 0;
      await forEachLine(opened.stream, (text) => {
        lineNo++;
        totalLines++;
        if (opts.onProgress && (totalLines & 0xffff) === 0) opts.onProgress(opened?.bytesRead() ?? 0, totalLines);
        if (opts.detect && order.length === 0) {
          pending.push(text);
          if (pending.length < DETECT_LINES) return;
          detectFrom(pending);
          const first = lineNo - pending.length + 1;
          for (let i = 0; i < pending.length && !abort.signal.aborted; i++) handle(pending[i] as string, first + i);
          pending.length = 0;
          return;
        }
        if (!abort.signal.aborted) handle(text, lineNo);
      }, abort.signal);
      if (pending.length > 0) {
        detectFrom(pending);
        const first = lineNo - pending.length + 1;
        // Lines already read are analysed even when interrupted; only the format gate drops them.
        for (let i = 0; i < pending.length && result.error === null; i++) handle(pending[i] as string, first + i);
      }
      if (result.error === null && result.parsed === 0 && result.unparsed > 0 && firstFailure !== null) {
        const ff = firstFailure as { line: number; text: string; reason: string };
        result.error = { code: 'FORMAT_NO_MATCH', message: `${name}: no line matches the format; first at ${name}:${ff.line}: ${ff.reason}: ${clip(ff.text, 200)}` };
      }
      if (opts.signal?.aborted) {
        partial = true;
        result.error ??= { code: 'INPUT_INTERRUPTED', message: `${name}: interrupted after line ${lineNo}` };
      }
    } catch (err) {
      if (!isAnalyzerError(err) && !(err as NodeJS.ErrnoException).code) throw err;
      result.error = isAnalyzerError(err)
        ? { code: err.code, message: err.message }
        : inputError(name, err as NodeJS.ErrnoException, opened?.bytesRead() ?? 0, opened !== undefined && opened.gzipLayers > 0);
      if (opened) partial = true;
    } finally {
      opts.signal?.removeEventListener('abort', onOuterAbort);
      opened?.stream.destroy();
    }
    // Lines looked at: the format gate stops an input part-way through a batch of read lines.
    result.lines = result.parsed + result.unparsed + result.empty;
    result.bytes = opened?.bytesRead() ?? 0;
  }
  return { inputs, bad, used: [...used], partial };
}

function inputError(name: string, err: NodeJS.ErrnoException, offset: number, gzip: boolean): { code: ErrorCode; message: string } {
  if (gzip && typeof err.code === 'string' && err.code.startsWith('Z_')) {
    return { code: 'INPUT_BAD_GZIP', message: `${name}: corrupt or truncated gzip data near byte ${offset} (${err.message}); lines before it were analysed` };
  }
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
