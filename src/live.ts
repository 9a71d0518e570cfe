/*!
 * Live analysis (library API): watch(options) reads inputs that keep growing (followed files, an
 * open pipe) and every interval reports the verdict over the last window of log time
 * (core/panes.ts), with an event the moment a finding opens or closes in the window. Timeouts
 * are inferred from everything read so far. Returns the report over the whole run when the
 * inputs end or `stop` aborts; on request, each tick also hands over the counts over the whole run
 * (RunTotals, for counters such as --metrics). No process or console here: src/command.ts prints.
 */
import { PROTOCOL_NAMES } from './core/classify.js';
import type { Counts } from './core/counts.js';
import { diagnose } from './core/diagnose.js';
import { PaneWindow } from './core/panes.js';
import { runPipeline, type PipelineResult } from './core/pipeline.js';
import { Tally, type TallyView } from './core/tally.js';
import { VERSION } from './version.js';
import { normalizeOptions, type AnalyzeOptions, type ResolvedOptions } from './options.js';
import { buildReport } from './report/build.js';
import type { Finding, Report } from './report/model.js';

export interface LiveEvent {
  type: 'incident-opened' | 'incident-closed' | 'snapshot';
  /** When the event was made (wall clock). */
  at: string;
  finding?: Finding;
  /** With a snapshot: the report over the window. */
  report?: Report;
}

/** The counts over the whole run at a tick (a snapshot's report covers only the window). */
export interface RunTotals {
  /** When the tick was (wall clock), as in its snapshot event. */
  at: string;
  /** Lines read, and of them those no format matched. */
  lines: number;
  unparsed: number;
  /** Parsed lines that reached the analysis (inside --since/--until). */
  requests: number;
  /** Handshakes by protocol, status and client address; every count only grows from tick to tick. */
  handshakes: { protocol: string; status: number; client: string; count: number }[];
}

export interface WatchOptions extends AnalyzeOptions {
  /** Follow the files like `tail -F` (from their end unless `fromStart`). */
  follow?: boolean;
  fromStart?: boolean;
  /** How often the window's verdict is taken (default 10 s), and how far back it looks (default 300 s). */
  intervalSeconds?: number;
  windowSeconds?: number;
  /** Ends the run: followed files and standard input are read to what they hold now, then the final report. */
  stop: AbortSignal;
  onEvent: (e: LiveEvent) => void;
  /** Called at each tick, before its snapshot event, with the counts over the whole run so far. */
  onTotals?: (t: RunTotals) => void;
}

/** A finding's identity across snapshots: its id, and T for the findings at a timeout. */
function findingKey(f: Finding): string {
  return f.timeoutSeconds === undefined ? f.id : `${f.id}@${f.timeoutSeconds}`;
}

export async function watch(options: WatchOptions): Promise<Report> {
  const o = await normalizeOptions(options);
  const intervalMs = Math.max(50, Math.round((options.intervalSeconds ?? 10) * 1000));
  const window = new PaneWindow(Math.max(1, Math.round((options.windowSeconds ?? 300) * 1000)), intervalMs, o.evidence);
  const tally = new Tally({ rows: o.keysPerHandshake, evidence: o.evidence, caps: o.caps, listener: window, singleInput: o.inputs.length === 1 });
  let current: (() => PipelineResult) | undefined;
  let open = new Map<string, Finding>();
  const tick = (): void => {
    if (current === undefined) return;
    const p = current();
    const report = build(window.view(), p, o, tally);
    const at = new Date().toISOString();
    options.onTotals?.(runTotals(at, tally.counts, p));
    const now = new Map(report.findings.map((f) => [findingKey(f), f]));
    for (const [k, f] of now) if (!open.has(k)) options.onEvent({ type: 'incident-opened', at, finding: f });
    for (const [k, f] of open) if (!now.has(k)) options.onEvent({ type: 'incident-closed', at, finding: f });
    open = now;
    options.onEvent({ type: 'snapshot', at, report });
  };
  const timer = setInterval(tick, intervalMs);
  const stdin = o.inputs.includes('-');
  let result: PipelineResult;
  try {
    result = await runPipeline(o.inputs, tally, {
      formats: o.formats, detect: o.detect, wsPaths: o.wsPaths, stdin: o.stdin, sinceMs: o.sinceMs, untilMs: o.untilMs,
      onBadLine: o.onBadLine, onProgress: o.onProgress, workers: o.workers, chunkBytes: o.chunkBytes,
      // A pipe cannot be told to stop; followed files can, and end with what they hold.
      signal: stdin ? options.stop : o.signal,
      follow: options.follow ? { fromStart: options.fromStart === true, signal: options.stop } : undefined,
      live: true,
      onStart: (f) => {
        current = f;
      },
    });
  } finally {
    clearInterval(timer);
  }
  try {
    return build(tally, result, o, undefined);
  } finally {
    result.close();
  }
}

function runTotals(at: string, c: Counts, p: PipelineResult): RunTotals {
  const rows = new Map<number, RunTotals['handshakes'][number]>();
  c.forEachCell((x) => {
    // Summed over inputs, flags and duration bins (a protocol is below 16, a status below 1000).
    const k = (x.client * 16 + x.protocol) * 1000 + x.status;
    const row = rows.get(k);
    if (row !== undefined) row.count += x.count;
    else rows.set(k, { protocol: PROTOCOL_NAMES[x.protocol] ?? 'unknown', status: x.status, client: c.clients[x.client] ?? '?', count: x.count });
  });
  return {
    at,
    lines: p.inputs.reduce((n, i) => n + i.lines, 0),
    unparsed: p.inputs.reduce((n, i) => n + i.unparsed, 0),
    requests: c.requests,
    handshakes: [...rows.values()],
  };
}

function build(view: TallyView, p: PipelineResult, o: ResolvedOptions, whole: Tally | undefined): Report {
  const d = diagnose(view, {
    timeoutSeconds: o.timeoutSeconds, toleranceMs: o.toleranceMs, evidence: o.evidence, multiInput: o.inputs.length > 1,
    ...(whole === undefined ? {} : { clustersFrom: whole.counts }),
  });
  p.readTexts(d.findings.flatMap((f) => f.evidence));
  return buildReport(view, d, p, { version: VERSION, timeoutSource: o.timeoutSeconds === undefined ? 'inferred' : 'option' });
}
