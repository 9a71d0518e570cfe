/*!
 * normalizeOptions(raw) → ResolvedOptions: defaults and validation shared by the CLI and library
 * callers (OPTION_INVALID with the flag, what was expected and what was given), the formats
 * compiled (--log-format, --preset, --nginx-conf) and the WebSocket path patterns.
 */
import type { Caps } from './core/tally.js';
import type { Readable } from 'node:stream';
import { AnalyzerError } from './errors.js';
import { compileFormat, compileFormatString, type CompiledFormat } from './format/compile.js';
import { pickLogFormat, readNginxConf } from './format/nginx-conf.js';
import { PRESET_FORMATS, compilePreset, findPreset } from './format/presets.js';
import { DEFAULT_WS_PATHS, compileWsPaths } from './core/classify.js';
import { parseTimeLocal } from './core/record.js';

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
  /** Analyse only lines logged at or after / before this: nginx time, ISO 8601, epoch seconds, or an age such as `2h`. */
  since?: string | number | Date;
  until?: string | number | Date;
  /** What `since`/`until` ages count back from (default: now). */
  now?: number;
  /**
   * Keep each handshake's Sec-WebSocket-Key and the inputs it was seen on, for one CSV row per
   * handshake (about 60 bytes a handshake; off by default).
   */
  keysPerHandshake?: boolean;
  /**
   * Standard input ("-"): a stream, or a file descriptor (the command gives 0): a pipe or a socket
   * is then read straight into the blocks its lines are scanned in (input/pipe.ts).
   */
  stdin?: Readable | number;
  signal?: AbortSignal;
  /** Called with every unparsed line (the report keeps only samples). */
  onBadLine?: (file: string, line: number, text: string) => void;
  onProgress?: (bytes: number, lines: number) => void;
  /**
   * Threads that parse lines (default: the machine's available parallelism; 1: this thread
   * only): this thread and N - 1 worker threads read large regular files in byte ranges of
   * `chunkBytes` (default 2 MiB) and parse streams (gzip, stdin) in blocks of whole lines (4 MiB,
   * or `chunkBytes` if smaller; a gzip file of `chunkBytes` or more, gunzipped in a thread of its
   * own, in blocks of `chunkBytes`). The report does not depend on either.
   */
  workers?: number | string;
  chunkBytes?: number | string;
  /**
   * Internal: smaller sizes for the analysis's memory caps (tests run past each one and check that
   * every count stays the same).
   */
  caps?: Partial<Caps>;
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
  sinceMs: number | undefined;
  untilMs: number | undefined;
  keysPerHandshake: boolean;
  stdin: Readable | number | undefined;
  signal: AbortSignal | undefined;
  onBadLine: ((file: string, line: number, text: string) => void) | undefined;
  onProgress: ((bytes: number, lines: number) => void) | undefined;
  workers: number | undefined;
  chunkBytes: number | undefined;
  caps: Partial<Caps> | undefined;
}

/**
 * An option given once, several times (yargs collects repeats into an array) or not at all, as a
 * list of strings.
 */
export function list(v: unknown): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

export function positiveNumber(flag: string, v: number | string | undefined, integer: boolean): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new AnalyzerError('OPTION_INVALID', `Invalid option --${flag}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(String(v))}`);
  }
  return n;
}

/** Where a server listens: a host name or address (IPv6 without brackets) and a port. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `PORT` (on loopback: nothing outside this machine can read it unless asked) or `HOST:PORT`,
 * IPv6 in brackets (`[::1]:9464`).
 */
export function parseListenAddress(flag: string, v: string): ListenAddress {
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):)?(\d{1,5})$/.exec(v.trim());
  const port = Number(m?.[3]);
  if (m === null || port < 1 || port > 65535) {
    throw new AnalyzerError('OPTION_INVALID', `Invalid option --${flag}: expected PORT or HOST:PORT (9464, 127.0.0.1:9464, [::1]:9464), got ${JSON.stringify(v)}`);
  }
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

const AGE_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time from --since/--until: an age (`90s`, `30m`, `2h`, `1d`, `1w`, counted back from
 * `now`), epoch seconds (`$msec`), nginx's `$time_local` (`09/Mar/2018:15:04:32 +0800`, brackets
 * optional) or ISO 8601 (`2018-03-09T07:04:32Z`, `2018-03-09 15:04+08:00`, `2018-03-09`; no
 * offset means UTC, as nothing else in a log tells the zone).
 */
/** A duration such as `90s`, `5m`, `1h`, `1d` or plain seconds, in seconds; undefined when not one. */
export function parseDuration(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/.exec(String(v).trim());
  if (m === null) return undefined;
  const s = Number(m[1]) * ((AGE_UNITS_MS[m[2] || 's'] as number) / 1000);
  return s > 0 ? s : undefined;
}

export function parseWhen(flag: string, v: string | number | Date | undefined, now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (v instanceof Date) return v.getTime();
  const s = String(v).trim();
  let ms = NaN;
  const age = /^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s+ago)?$/.exec(s);
  if (age) ms = now - Number(age[1]) * (AGE_UNITS_MS[age[2] as string] as number);
  else if (/^\d{9,11}(\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else if (/^\[?\d\d\/[A-Z][a-z]{2}\/\d{4}:/.test(s)) ms = parseTimeLocal(s.replace(/^\[|\]$/g, ''));
  else if (/^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z|[+-]\d\d:?\d\d)?$/.test(s)) {
    const iso = s.replace(' ', 'T');
    ms = Date.parse(/T/.test(iso) && !/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? `${iso}Z` : iso);
  }
  if (!Number.isFinite(ms)) {
    throw new AnalyzerError('OPTION_INVALID', `Invalid option --${flag}: expected a time such as 2h, 30m, 1520579072, 09/Mar/2018:15:04:32 +0800 or 2018-03-09T07:04:32Z, got ${JSON.stringify(s)}`);
  }
  return ms;
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
  const now = raw.now ?? Date.now();
  const sinceMs = parseWhen('since', raw.since, now);
  const untilMs = parseWhen('until', raw.until, now);
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
    throw new AnalyzerError('OPTION_INVALID', `Invalid options: --since (${new Date(sinceMs).toISOString()}) is after --until (${new Date(untilMs).toISOString()})`);
  }
  const tolerance = positiveNumber('tolerance', raw.tolerance, false);
  return {
    inputs,
    formats,
    detect,
    wsPaths: compileWsPaths([...DEFAULT_WS_PATHS, ...list(raw.wsPath)]),
    timeoutSeconds: positiveNumber('timeout', raw.timeout, false),
    toleranceMs: tolerance === undefined ? undefined : Math.round(tolerance),
    evidence,
    sinceMs,
    untilMs,
    keysPerHandshake: raw.keysPerHandshake === true,
    stdin: raw.stdin,
    signal: raw.signal,
    onBadLine: raw.onBadLine,
    onProgress: raw.onProgress,
    workers: positiveNumber('workers', raw.workers, true),
    chunkBytes: positiveNumber('chunk-bytes', raw.chunkBytes, true),
    caps: raw.caps,
  };
}
