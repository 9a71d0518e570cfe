/*!
 * The library: analyze(options) → Report, plus the format compiler for callers that parse lines
 * themselves. No process, console or exit here: that is src/command.ts's job.
 */
import { diagnose } from './core/diagnose.js';
import { runPipeline } from './core/pipeline.js';
import { Tally } from './core/tally.js';
import type { CompiledFormat } from './format/compile.js';
import { fieldValue, matchAny, newBounds, newFailure } from './format/parse-line.js';
import { fleetTally, type FleetQueryOptions } from './fleet/query.js';
import type { Wire } from './fleet/client.js';
import { normalizeOptions, type AnalyzeOptions } from './options.js';
import { buildReport } from './report/build.js';
import type { Report } from './report/model.js';
import { VERSION } from './version.js';

export { AnalyzerError, isAnalyzerError, type ErrorCode, type Where } from './errors.js';
export { compileFormat, compileFormatString, type CompiledFormat, type Escape, type TemplateFormat } from './format/compile.js';
export { compileJsonFormat, type JsonFormat } from './format/json-format.js';
export { PRESET_FORMATS, compilePreset, findPreset, type Preset } from './format/presets.js';
export { DEFAULT_WS_PATHS } from './core/classify.js';
export { readNginxConf, pickLogFormat } from './format/nginx-conf.js';
export { normalizeOptions, parseDuration, parseListenAddress, type AnalyzeOptions, type ListenAddress, type ResolvedOptions } from './options.js';
export { RENDERERS, OUTPUT_NAMES, CSV_KINDS, handshakeRows, renderedText, type CsvKind, type OutputName, type RenderOptions, type Rendered } from './report/index.js';
export type * from './report/model.js';
export { ingest, type IngestOptions, type IngestResult } from './fleet/ingest.js';
export type { FleetQueryOptions } from './fleet/query.js';
export type { Wire } from './fleet/client.js';

export { VERSION } from './version.js';
export { watch, type LiveEvent, type RunTotals, type WatchOptions } from './live.js';
export { LiveMetrics } from './metrics.js';

/** Reads the inputs and returns the report. Throws AnalyzerError only for bad options or formats. */
export async function analyze(options: AnalyzeOptions): Promise<Report> {
  const o = await normalizeOptions(options);
  const tally = new Tally({ rows: o.keysPerHandshake, evidence: o.evidence, caps: o.caps, singleInput: o.inputs.length === 1 });
  const result = await runPipeline(o.inputs, tally, {
    formats: o.formats, detect: o.detect, wsPaths: o.wsPaths, stdin: o.stdin, signal: o.signal, sinceMs: o.sinceMs, untilMs: o.untilMs,
    onBadLine: o.onBadLine, onProgress: o.onProgress, workers: o.workers, chunkBytes: o.chunkBytes,
  });
  try {
    const d = diagnose(tally, { timeoutSeconds: o.timeoutSeconds, toleranceMs: o.toleranceMs, evidence: o.evidence, multiInput: o.inputs.length > 1 });
    result.readTexts(d.findings.flatMap((f) => f.evidence));
    return buildReport(tally, d, result, { version: VERSION, timeoutSource: o.timeoutSeconds === undefined ? 'inferred' : 'option' });
  } finally {
    result.close();
  }
}

/**
 * The same report from a ClickHouse table that `wsdiag ingest` (or another shipper, through
 * `columns`) filled: the aggregates are GROUP BY queries on the server; `wire` is what crossed it.
 */
export async function analyzeClickHouse(options: AnalyzeOptions & FleetQueryOptions): Promise<{ report: Report; wire: Wire }> {
  const o = await normalizeOptions(options);
  const { tally, pipeline, wire, evidenceTexts, close } = await fleetTally(o, options);
  try {
    const d = diagnose(tally, { timeoutSeconds: o.timeoutSeconds, toleranceMs: o.toleranceMs, evidence: o.evidence, multiInput: pipeline.inputs.length > 1 });
    await evidenceTexts(d.findings.flatMap((f) => f.evidence));
    return { report: buildReport(tally, d, pipeline, { version: VERSION, timeoutSource: o.timeoutSeconds === undefined ? 'inferred' : 'option' }), wire };
  } finally {
    await close();
  }
}

/**
 * Parses one line with a compiled format: variable name → decoded value (absent values as nginx
 * wrote them: `-` in escape=default; a `json` line's variables without a key are left out). null
 * when the line does not match. Not for hot loops.
 */
export function parseFields(format: CompiledFormat, line: string): Record<string, string> | null {
  const bounds = newBounds(format);
  if (!matchAny(format, line, bounds, newFailure())) return null;
  const out: Record<string, string> = {};
  format.vars.forEach((name, v) => {
    if (!(name in out) && (bounds[2 * v] as number) >= 0) out[name] = fieldValue(format, line, bounds, v);
  });
  return out;
}
