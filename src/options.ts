/*!
 * normalizeOptions(raw) → ResolvedOptions: defaults and validation shared by the CLI and library
 * callers (OPTION_INVALID with the flag, what was expected and what was given), the formats
 * compiled (--log-format, --preset, --nginx-conf) and the WebSocket path patterns.
 */
import type { Readable } from 'node:stream';
import { AnalyzerError } from './errors.js';
import { compileFormat, compileFormatString, type CompiledFormat } from './format/compile.js';
import { pickLogFormat, readNginxConf } from './format/nginx-conf.js';
import { PRESET_FORMATS, compilePreset, findPreset } from './format/presets.js';
import { DEFAULT_WS_PATHS, compileWsPaths } from './core/classify.js';

/** What a caller may pass; every field optional, strings accepted where the CLI gives strings. */
export interface AnalyzeOptions {
  /** Files, or "-" for `stdin`. */
  inputs?: readonly string[];
  /** log_format texts, tried in order per line. */
  logFormat?: string | readonly string[];
  preset?: string | readonly string[];
  nginxConf?: string;
  formatName?: string;
  /** Seconds; skips timeout inference. */
  timeout?: number | string;
  /** Half-width of a timeout cluster, in ms. */
  tolerance?: number | string;
  /** Extra WebSocket path patterns, `*` a wildcard: `/live`, `/api/v1/stream`. */
  wsPath?: string | readonly string[];
  /** Evidence lines per finding (default 5). */
  evidence?: number | string;
  stdin?: Readable;
  signal?: AbortSignal;
  onProgress?: (bytes: number, lines: number) => void;
}

export interface ResolvedOptions {
  inputs: string[];
  formats: CompiledFormat[];
  /** True when no format was given: choose among `formats` per input. */
  detect: boolean;
  wsPaths: RegExp;
  timeoutSeconds: number | undefined;
  toleranceMs: number | undefined;
  evidence: number;
  stdin: Readable | undefined;
  signal: AbortSignal | undefined;
  onProgress: ((bytes: number, lines: number) => void) | undefined;
}

function list(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : [...v];
}

export function positiveNumber(flag: string, v: number | string | undefined, integer: boolean): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new AnalyzerError('OPTION_INVALID', `Invalid option --${flag}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(String(v))}`);
  }
  return n;
}

export async function normalizeOptions(raw: AnalyzeOptions): Promise<ResolvedOptions> {
  const inputs = list(raw.inputs);
  if (inputs.length === 0) inputs.push('-');
  if (inputs.filter((i) => i === '-').length > 1) throw new AnalyzerError('OPTION_INVALID', 'Invalid inputs: "-" (standard input) may be given only once');

  const formats: CompiledFormat[] = [];
  list(raw.logFormat).forEach((text, i) => formats.push(compileFormat(text, { name: list(raw.logFormat).length > 1 ? `log-format-${i + 1}` : 'log-format' })));
  for (const name of list(raw.preset)) {
    const p = findPreset(name);
    if (!p) throw new AnalyzerError('FORMAT_UNKNOWN_PRESET', `Unknown preset "${name}"; presets: ${PRESET_FORMATS.map((x) => x.name).join(', ')}`);
    formats.push(compilePreset(p));
  }
  if (raw.nginxConf !== undefined) {
    const conf = await readNginxConf(raw.nginxConf);
    const def = pickLogFormat(conf, { formatName: raw.formatName, logFile: inputs.find((i) => i !== '-') });
    formats.push(compileFormatString(def.format, def.escape, def.name));
  } else if (raw.formatName !== undefined) {
    throw new AnalyzerError('OPTION_INVALID', 'Invalid option --format-name: it names a log_format inside --nginx-conf FILE, which was not given');
  }
  const detect = formats.length === 0;
  if (detect) for (const p of PRESET_FORMATS) formats.push(compilePreset(p));

  const evidence = positiveNumber('evidence', raw.evidence, true) ?? 5;
  const tolerance = positiveNumber('tolerance', raw.tolerance, false);
  return {
    inputs,
    formats,
    detect,
    wsPaths: compileWsPaths([...DEFAULT_WS_PATHS, ...list(raw.wsPath)]),
    timeoutSeconds: positiveNumber('timeout', raw.timeout, false),
    toleranceMs: tolerance === undefined ? undefined : Math.round(tolerance),
    evidence,
    stdin: raw.stdin,
    signal: raw.signal,
    onProgress: raw.onProgress,
  };
}
