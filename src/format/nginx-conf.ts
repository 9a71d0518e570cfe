/*!
 * Reads the `log_format` and `access_log` directives of a real nginx configuration, following
 * `include` (globs, cycles) the way nginx does, and picks the format a given log file was written with.
 * Syntax is conf-tokens.ts's; compiling the chosen format string is format/compile.ts's.
 */

import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';

import { AnalyzerError, clip } from '../errors.js';
import { parseDirectives, tokenizeConf, type ConfToken, type Directive } from './conf-tokens.js';

export interface LogFormatDef {
  name: string;
  escape: 'default' | 'json' | 'none';
  /** The directive's format arguments concatenated with no separator, exactly as nginx does. */
  format: string;
  file: string;
  line: number;
}

export interface AccessLogDef {
  /** The path argument as written: a file, a path with variables, or a `syslog:` target. */
  path: string;
  /** 'combined' when the directive names no format. */
  formatName: string;
  file: string;
  line: number;
}

export interface NginxConf {
  /** In configuration order, includes expanded in place. */
  formats: LogFormatDef[];
  accessLogs: AccessLogDef[];
  /** Every file read, main file first, each once. */
  files: string[];
}

/** nginx's predefined format (ngx_http_log_module.c `ngx_http_combined_fmt`). */
export const COMBINED_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/** The definition returned for `combined` when the configuration does not (and cannot) define it. */
export const BUILTIN_COMBINED: Readonly<LogFormatDef> = Object.freeze({
  name: 'combined',
  escape: 'default',
  format: COMBINED_FORMAT,
  file: '(built-in)',
  line: 0,
});

// Blocks whose contents are not directives; nginx still honours `include file;` inside them.
const DATA_BLOCKS = new Set(['map', 'geo', 'split_clients', 'types', 'charset_map', 'match']);
// Blocks whose log_format/access_log belong to another module (TCP/UDP, mail), not to HTTP logs.
const NON_HTTP_BLOCKS = new Set(['stream', 'mail']);

interface Reader {
  /** nginx's conf prefix: the main file's directory; relative includes resolve against it. */
  prefix: string;
  conf: NginxConf;
  byName: Map<string, LogFormatDef>;
  seen: Set<string>;
  /** Real paths of the files being read, outermost first, for cycle detection; `chain` shows them. */
  stack: string[];
  chain: string[];
}

interface Mode {
  /** Record log_format/access_log here (false inside stream and mail blocks). */
  logs: boolean;
  /** Inside a data block: only a one-argument `include` is a directive. */
  data: boolean;
}

/**
 * Reads `path` and every file it includes. Throws CONF_NOT_FOUND for an unreadable main file or
 * non-glob include, CONF_SYNTAX for bad syntax, a malformed log_format or include, a duplicate
 * log_format name (all of which nginx refuses too) and an include cycle.
 */
export async function readNginxConf(path: string): Promise<NginxConf> {
  const reader: Reader = {
    prefix: dirname(path),
    conf: { formats: [], accessLogs: [], files: [] },
    byName: new Map(),
    seen: new Set(),
    stack: [],
    chain: [],
  };
  await readConfFile(reader, path, { logs: true, data: false }, undefined);
  return reader.conf;
}

async function readConfFile(reader: Reader, file: string, mode: Mode, from: IncludeSite | undefined): Promise<void> {
  let real: string;
  try {
    real = await realpath(file);
  } catch (err) {
    throw cannotRead(file, from, err);
  }
  // nginx has no cycle check: `nginx -t` (1.22) recurses until the stack overflows and segfaults.
  const cycleAt = reader.stack.indexOf(real);
  if (cycleAt !== -1 && from !== undefined) {
    const loop = [...reader.chain.slice(cycleAt), file].join(' -> ');
    throw new AnalyzerError('CONF_SYNTAX', `${from.where}: include cycle: ${loop}`, from.whereData);
  }
  let text: string;
  try {
    text = await readFile(real, 'utf8');
  } catch (err) {
    throw cannotRead(file, from, err);
  }
  if (!reader.seen.has(real)) {
    reader.seen.add(real);
    reader.conf.files.push(file);
  }

  const directives = parseDirectives(tokenizeConf(text, file), file);
  reader.stack.push(real);
  reader.chain.push(file);
  await walk(reader, directives, file, mode);
  reader.stack.pop();
  reader.chain.pop();
}

function cannotRead(file: string, from: IncludeSite | undefined, err: unknown): AnalyzerError {
  const why = describeFsError(err);
  if (from === undefined) {
    return new AnalyzerError('CONF_NOT_FOUND', `cannot read nginx config ${file}: ${why}`, { file }, { cause: err });
  }
  return new AnalyzerError(
    'CONF_NOT_FOUND',
    `${from.where}: include "${from.arg.value}": cannot read ${file}: ${why}`,
    from.whereData,
    { cause: err },
  );
}

interface IncludeSite {
  arg: ConfToken;
  where: string;
  whereData: { file: string; line: number; column: number; text: string };
}

async function walk(reader: Reader, directives: readonly Directive[], file: string, mode: Mode): Promise<void> {
  for (const d of directives) {
    if (d.name === 'include' && d.block === undefined && (!mode.data || d.args.length === 1)) {
      await include(reader, d, file, mode);
      continue;
    }
    if (mode.logs && !mode.data) {
      if (d.name === 'log_format') addFormat(reader, d, file);
      else if (d.name === 'access_log') addAccessLog(reader, d, file);
    }
    if (d.block !== undefined) {
      await walk(reader, d.block, file, {
        logs: mode.logs && !NON_HTTP_BLOCKS.has(d.name),
        data: mode.data || DATA_BLOCKS.has(d.name),
      });
    }
  }
}

function directiveError(d: Directive, file: string, message: string): AnalyzerError {
  return new AnalyzerError('CONF_SYNTAX', `${file}:${d.line}:${d.column}: ${message}`, {
    file,
    line: d.line,
    column: d.column,
    text: clip([d.name, ...d.args.map((a) => a.value)].join(' ')),
  });
}

/** ngx_conf_include: a path with `*`, `?` or `[` is a glob (sorted, may match nothing); else one file. */
async function include(reader: Reader, d: Directive, file: string, mode: Mode): Promise<void> {
  const arg = d.args[0];
  if (arg === undefined || d.args.length !== 1) {
    throw directiveError(d, file, 'invalid number of arguments in "include" directive: expected one path');
  }
  const site: IncludeSite = {
    arg,
    where: `${file}:${d.line}:${d.column}`,
    whereData: { file, line: d.line, column: d.column, text: clip(`include ${arg.value}`) },
  };
  const full = isAbsolute(arg.value) ? arg.value : join(reader.prefix, arg.value);
  // nginx tests the full name, prefix included (ngx_conf_include: strpbrk(file.data, "*?[")).
  const targets = /[*?[]/.test(full) ? await expandGlob(full) : [full];
  for (const target of targets) await readConfFile(reader, target, mode, site);
}

function addFormat(reader: Reader, d: Directive, file: string): void {
  const [nameArg, ...rest] = d.args;
  if (nameArg === undefined || rest.length === 0) {
    throw directiveError(d, file, 'invalid number of arguments in "log_format" directive: expected a name and a format');
  }
  const name = nameArg.value;
  // nginx predefines `combined`, so defining it again is the same error as any duplicate.
  const earlier = name === 'combined' ? BUILTIN_COMBINED : reader.byName.get(name);
  if (earlier !== undefined) {
    const first = earlier === BUILTIN_COMBINED ? 'it is built into nginx' : `first defined at ${earlier.file}:${earlier.line}`;
    throw directiveError(d, file, `duplicate "log_format" name "${name}" (${first})`);
  }

  let escape: LogFormatDef['escape'] = 'default';
  let pieces = rest;
  const first = rest[0];
  // ngx_http_log_compile_format: only the first argument after the name, case-sensitive, quoted or not.
  if (first !== undefined && first.value.startsWith('escape=')) {
    const value = first.value.slice('escape='.length);
    if (value !== 'default' && value !== 'json' && value !== 'none') {
      throw directiveError(
        d,
        file,
        `unknown log format escaping "${value}" in log_format "${name}": expected default, json or none`,
      );
    }
    escape = value;
    pieces = rest.slice(1);
  }

  const def: LogFormatDef = { name, escape, format: pieces.map((p) => p.value).join(''), file, line: d.line };
  reader.byName.set(name, def);
  reader.conf.formats.push(def);
}

/** ngx_http_log_set_log: the second argument, if any, is the format name; `off` logs nothing. */
function addAccessLog(reader: Reader, d: Directive, file: string): void {
  const [pathArg, formatArg] = d.args;
  if (pathArg === undefined) {
    throw directiveError(d, file, 'invalid number of arguments in "access_log" directive: expected a path or off');
  }
  if (pathArg.value === 'off') return;
  reader.conf.accessLogs.push({ path: pathArg.value, formatName: formatArg?.value ?? 'combined', file, line: d.line });
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------
// Globs, as glob(3) expands them for nginx: `*`, `?`, `[...]` (with `!` or `^` negation and ranges),
// `\` escapes; wildcards may sit in any path component; a leading `.` of a name must be matched by a
// literal `.`; results sorted; a pattern that matches nothing expands to nothing. POSIX character
// classes (`[[:alpha:]]`) are not supported.

const GLOB_MAGIC = /[*?[]/;

export async function expandGlob(pattern: string): Promise<string[]> {
  const segments = pattern.split('/');
  let bases: string[] = [isAbsolute(pattern) ? '/' : ''];
  for (const seg of segments) {
    if (seg === '') continue;
    const next: string[] = [];
    if (!GLOB_MAGIC.test(seg)) {
      const literal = seg.replace(/\\(.)/g, '$1');
      for (const base of bases) next.push(joinSegment(base, literal));
    } else {
      const matcher = compileGlobSegment(seg);
      for (const base of bases) {
        let names: string[];
        try {
          names = await readdir(base === '' ? '.' : base);
        } catch {
          continue; // glob(3) without GLOB_ERR skips unreadable directories
        }
        for (const name of names) if (matcher(name)) next.push(joinSegment(base, name));
      }
    }
    bases = next;
    if (bases.length === 0) return [];
  }
  const found: string[] = [];
  for (const p of bases) {
    try {
      await stat(p);
      found.push(p);
    } catch {
      // a literal last component that does not exist: no match
    }
  }
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function joinSegment(base: string, name: string): string {
  if (base === '') return name;
  return base.endsWith('/') ? base + name : `${base}/${name}`;
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

/** One path component of a glob → a name test. Built once per include, not per name. */
function compileGlobSegment(seg: string): (name: string) => boolean {
  let src = '^';
  for (let k = 0; k < seg.length; k++) {
    const c = seg[k] ?? '';
    if (c === '*') {
      src += '.*';
    } else if (c === '?') {
      src += '.';
    } else if (c === '\\' && k + 1 < seg.length) {
      k++;
      src += escapeRegExp(seg[k] ?? '');
    } else if (c === '[') {
      const cls = compileBracket(seg, k);
      if (cls === null) {
        src += '\\[';
      } else {
        src += cls.source;
        k = cls.end;
      }
    } else {
      src += escapeRegExp(c);
    }
  }
  const re = new RegExp(`${src}$`, 's');
  const explicitDot = seg.startsWith('.') || seg.startsWith('\\.');
  return (name) => (explicitDot || !name.startsWith('.')) && re.test(name);
}

/** `[...]` starting at `open` → a RegExp class and the index of its `]`, or null when it never closes. */
function compileBracket(seg: string, open: number): { source: string; end: number } | null {
  let k = open + 1;
  let negate = false;
  if (seg[k] === '!' || seg[k] === '^') {
    negate = true;
    k++;
  }
  const chars: string[] = [];
  let firstChar = true;
  for (; k < seg.length; k++) {
    let c = seg[k] ?? '';
    if (c === ']' && !firstChar) break;
    firstChar = false;
    if (c === '\\' && k + 1 < seg.length) c = seg[++k] ?? '';
    chars.push(c);
  }
  if (k >= seg.length) return null;

  let body = '';
  for (let m = 0; m < chars.length; m++) {
    const lo = chars[m] ?? '';
    const hi = chars[m + 2];
    if (chars[m + 1] === '-' && hi !== undefined) {
      // A reversed range matches nothing in glibc; an empty class part keeps that.
      if (lo <= hi) body += `${escapeRegExp(lo)}-${escapeRegExp(hi)}`;
      m += 2;
    } else {
      body += escapeRegExp(lo);
    }
  }
  if (body === '') return { source: negate ? '[^]' : '[]', end: k };
  return { source: `[${negate ? '^' : ''}${body}]`, end: k };
}

// ---------------------------------------------------------------------------------------------------

/**
 * Chooses the format a log was written with.
 * - `formatName`: that format; `combined` is always available (built in); otherwise CONF_NO_FORMAT
 *   listing the names defined.
 * - else, with `logFile`: the format of the `access_log` whose path has the same basename (first in
 *   configuration order); a rotated name (`ws.log.1`, `ws.log.2.gz`, `ws.log-20240301`) also matches
 *   `ws.log` when nothing matches exactly.
 * - else the only custom format, else the first custom format defined, else the built-in combined.
 */
export function pickLogFormat(
  conf: Pick<NginxConf, 'formats' | 'accessLogs'> & Partial<Pick<NginxConf, 'files'>>,
  opts: { formatName?: string; logFile?: string },
): LogFormatDef {
  const byName = (name: string): LogFormatDef | undefined =>
    conf.formats.find((f) => f.name === name) ?? (name === 'combined' ? BUILTIN_COMBINED : undefined);

  if (opts.formatName !== undefined) {
    const def = byName(opts.formatName);
    if (def !== undefined) return def;
    throw new AnalyzerError(
      'CONF_NO_FORMAT',
      `log_format "${opts.formatName}" is not defined${inFiles(conf.files)}; available: ${availableNames(conf)}`,
      { text: opts.formatName },
    );
  }

  if (opts.logFile !== undefined) {
    const access = findAccessLog(conf.accessLogs, basename(opts.logFile));
    if (access !== undefined) {
      const def = byName(access.formatName);
      if (def !== undefined) return def;
      throw new AnalyzerError(
        'CONF_NO_FORMAT',
        `${access.file}:${access.line}: access_log ${access.path} uses log_format "${access.formatName}", ` +
          `which is not defined; available: ${availableNames(conf)}`,
        { file: access.file, line: access.line, text: access.formatName },
      );
    }
  }

  return conf.formats[0] ?? BUILTIN_COMBINED;
}

function findAccessLog(logs: readonly AccessLogDef[], name: string): AccessLogDef | undefined {
  const exact = logs.find((a) => basename(a.path) === name);
  if (exact !== undefined) return exact;
  const unrotated = stripRotation(name);
  return unrotated === name ? undefined : logs.find((a) => basename(a.path) === unrotated);
}

/** logrotate's names for old copies: `.N`, `-YYYYMMDD[HH]`, each optionally compressed. */
function stripRotation(name: string): string {
  return name.replace(/\.(?:gz|bz2|xz|zst)$/, '').replace(/(?:\.\d+|-\d{8}(?:\d{2})?)$/, '');
}

function availableNames(conf: Pick<NginxConf, 'formats'>): string {
  const names = conf.formats.map((f) => f.name);
  return [...names, 'combined (built-in)'].join(', ');
}

function inFiles(files: readonly string[] | undefined): string {
  const main = files?.[0];
  return main === undefined ? '' : ` in ${main}${files !== undefined && files.length > 1 ? ` or its includes` : ''}`;
}
