/*!
 * The SQL of the fleet path, as text: the table wsdiag ingests into, the normalised columns and
 * how --columns maps another shipper's table onto them, and the per-line expressions every
 * report query shares (handshake, flags, protocol code, the FINE and COARSE duration bins of
 * core/grid.ts, the merge order). Only SQL that ClickHouse 18.16 runs. Runs no query itself.
 */
import { AnalyzerError } from '../errors.js';

/** The normalised columns of an ingested table, in order, with their ClickHouse types. */
export const TABLE_COLUMNS = [
  ['time', 'DateTime'], // the second the line was written: the partition key
  ['end_ms', 'Int64'], // when the line was written, ms since the epoch; -1 when the line has no time
  ['order_ms', 'Int64'], // the latest end_ms of the input up to this line: the local run's merge order
  ['host', 'String'],
  ['input', 'String'],
  ['line', 'UInt32'],
  ['kind', 'UInt8'], // 0 parsed, 1 unparsed, 2 empty
  ['format', 'String'],
  ['format_escape', 'String'],
  ['format_text', 'String'],
  ['utc_offset', 'Int16'], // minutes; -32768 when the line has no zoned time
  ['client', 'String'],
  ['protocol', 'String'],
  ['method', 'String'],
  ['path', 'String'],
  ['status', 'UInt16'],
  ['duration_ms', 'Int32'], // -1 when not logged
  ['upgrade', 'String'],
  ['logs_upgrade', 'UInt8'], // the format logs $http_upgrade (so an empty one was absent)
  ['key', 'String'],
  ['upstream_status', 'String'],
  ['upstream_addr', 'String'],
  ['text', 'String'], // the line, for handshakes and unparsed lines (evidence and samples), unless --no-text
  ['reason', 'String'], // why an unparsed line fitted no format (the first few of an input)
  ['handshake', 'UInt8'], // a WebSocket handshake, as core/classify.ts judged it at ingest (--ws-path then)
  ['flags', 'UInt8'], // core/counts.ts RowFlag bits of a handshake
  ['file_id', 'String'], // a hash of the file's first bytes: tells a rotated file from the one ingested before under its name
] as const;

export type ColumnName = (typeof TABLE_COLUMNS)[number][0];
export const COLUMN_NAMES: readonly ColumnName[] = TABLE_COLUMNS.map(([n]) => n);
export const NO_OFFSET = -32768;

/** `db.table` or `table`, each part an identifier. */
export function tableName(s: string): string {
  if (!/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/.test(s)) {
    throw new AnalyzerError('OPTION_INVALID', `Invalid option --table: expected DB.TABLE (letters, digits, _), got ${JSON.stringify(s)}`);
  }
  return s;
}

/**
 * CREATE TABLE for --create: MergeTree partitioned by day, ordered by (host, input, line) so the
 * resume point of each input (ingest.ts) and the per-input scans are range reads.
 */
export function createTableSql(table: string): string {
  const cols = TABLE_COLUMNS.map(([n, t]) => `\`${n}\` ${t}`).join(', ');
  return `CREATE TABLE IF NOT EXISTS ${table} (${cols}) ENGINE = MergeTree PARTITION BY toDate(time) ORDER BY (host, input, line)`;
}

/** A string literal. */
export function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * --columns `time=ts,client=remote_addr,duration_ms=request_time*1000`: each normalised column's
 * SQL in the table read (an identifier, or an expression). Unnamed columns keep their own name
 * when the table has them, else a default (columnsFor).
 */
export function parseColumnMap(spec: string | undefined): Map<ColumnName, string> {
  const out = new Map<ColumnName, string>();
  if (spec === undefined || spec === '') return out;
  for (const part of splitTop(spec)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim() as ColumnName;
    const sql = part.slice(eq + 1).trim();
    if (eq <= 0 || sql === '' || !COLUMN_NAMES.includes(name)) {
      throw new AnalyzerError('OPTION_INVALID', `Invalid option --columns: expected NAME=COLUMN pairs with NAME one of ${COLUMN_NAMES.join(', ')}, got ${JSON.stringify(part)}`);
    }
    out.set(name, sql);
  }
  return out;
}

/** Splits at commas outside parentheses, brackets and quotes (a mapping may be an expression with arguments). */
function splitTop(spec: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let from = 0;
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i] as string;
    if (quote !== '') {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(spec.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(spec.slice(from));
  return parts;
}

/** What a normalised column reads as when the table has no such column and --columns names none. */
const DEFAULTS: Partial<Record<ColumnName, (c: Record<ColumnName, string>) => string>> = {
  end_ms: (c) => `toInt64(toUnixTimestamp(${c.time})) * 1000`,
  order_ms: (c) => c.end_ms,
  host: () => "''",
  input: () => "''",
  line: () => '0',
  kind: () => '0',
  format: () => "''",
  format_escape: () => "''",
  format_text: () => "''",
  utc_offset: () => `${NO_OFFSET}`,
  protocol: () => "''",
  method: () => "''",
  path: () => "''",
  status: () => '0',
  duration_ms: () => '-1',
  upgrade: () => "''",
  key: () => "''",
  upstream_status: () => "''",
  upstream_addr: () => "''",
  text: () => "''",
  reason: () => "''",
  file_id: () => "''",
};

/**
 * The SQL of every normalised column over a table with `present` columns: --columns first, then
 * the table's own column of that name, then a default. Throws CLICKHOUSE_NO_COLUMN naming what is
 * missing when a column wsdiag cannot do without (time, client) has no source, or a mapping names
 * a column the table lacks.
 */
export function columnsFor(map: ReadonlyMap<ColumnName, string>, present: ReadonlySet<string>, table: string): Record<ColumnName, string> {
  const c = {} as Record<ColumnName, string>;
  for (const [name, sql] of map) {
    if (IDENT.test(sql) && !present.has(sql)) throw new AnalyzerError('CLICKHOUSE_NO_COLUMN', `table ${table} has no column ${sql} (--columns ${name}=${sql}); it has: ${[...present].join(', ')}`);
  }
  const order: ColumnName[] = ['time', ...COLUMN_NAMES.filter((n) => n !== 'time' && n !== 'logs_upgrade' && n !== 'order_ms'), 'order_ms', 'logs_upgrade'];
  if (map.has('handshake') !== map.has('flags')) throw new AnalyzerError('OPTION_INVALID', 'Invalid option --columns: map handshake and flags together, or neither');
  for (const name of order) {
    const mapped = map.get(name);
    if (mapped !== undefined) c[name] = IDENT.test(mapped) ? `\`${mapped}\`` : `(${mapped})`;
    else if (present.has(name)) c[name] = `\`${name}\``;
    else if (name === 'logs_upgrade') c[name] = c.upgrade === "''" ? '0' : '1';
    // Another shipper's table: lineSql classifies each line itself.
    else if (name === 'handshake' || name === 'flags') c[name] = '';
    // Only end_ms's default reads time: a table with end_ms needs none.
    else if (name === 'time' && (present.has('end_ms') || map.has('end_ms'))) c[name] = 'toDateTime(0)';
    else {
      const d = DEFAULTS[name];
      if (d === undefined) {
        throw new AnalyzerError('CLICKHOUSE_NO_COLUMN', `table ${table} has no column ${name}; map one with --columns ${name}=COLUMN`);
      }
      c[name] = d(c);
    }
  }
  return c;
}

/** The grids of core/grid.ts by their exact bits (FINE 16, COARSE 11, SESSION 7). */
export const GRID_BITS = { fine: 16, coarse: 11, session: 7 } as const;

/** `new Grid(bits).bin(ms)` (core/grid.ts) of a non-negative integer ms expression, in SQL. */
export function binSql(bits: number, ms: string): string {
  const exact = 2 ** bits;
  const half = 2 ** (bits - 1);
  const size = exact + (31 - bits) * half;
  const e = `toInt64(floor(log2(${ms})))`;
  return `multiIf(${ms} < ${exact}, toInt64(${ms}), ${ms} >= 2147483648, ${size - 1}, ${exact} + (${e} - ${bits}) * ${half} + (bitShiftRight(toInt64(${ms}), ${e} - ${bits - 1}) - ${half}))`;
}

/** Per-line expressions over the normalised columns, as the local run computes them (core/scan.ts, core/classify.ts). */
export interface LineSql {
  idx: string;
  client: string;
  proto: string;
  status: string;
  dur: string;
  end: string;
  timed: string;
  start: string;
  /** The local run's merge order: (latest time of the input so far, input, line). */
  ord: string;
  /**
   * min(ord) in a query grouped by input (`x` the input's alias): order_ms never decreases along
   * an input's lines, so the minima of its parts are one line's; plain numbers aggregate several
   * times faster than a tuple.
   */
  firstOrd(x: string): string;
  handshake: string;
  flags: string;
  fine: string;
  coarse: string;
  /** The bin of a line's evidence class (core/evidence.ts classFor). */
  evidenceBin: string;
  key: string;
  line: string;
  text: string;
  failed: string;
  /** core/outcomes.ts answeringPeer: the last address of $upstream_addr, '-' for none. */
  upstream: string;
  /** core/outcomes.ts handshakePath: the path without query string or fragment, '-' for none. */
  target: string;
}

/**
 * The text after the last `, ` or ` : ` of a string (bytes, as ClickHouse counts them): a match
 * found first in the reversed string is the last one, its end at length + 2 - position.
 */
export function answeringPeerSql(addr: string): string {
  const after = (sep: string): string => `if(position(reverse(${addr}), ${lit(sep)}) > 0, toInt64(length(${addr})) + 2 - toInt64(position(reverse(${addr}), ${lit(sep)})), toInt64(1))`;
  const peer = `substring(${addr}, greatest(${after(' ,')}, ${after(' : ')}))`;
  return `if(${peer} IN ('', '-'), '-', ${peer})`;
}

export function handshakePathSql(target: string): string {
  const upTo = (ch: string): string => `if(position(${target}, ${lit(ch)}) > 0, toInt64(position(${target}, ${lit(ch)})) - 1, toInt64(length(${target})))`;
  const path = `substring(${target}, 1, least(${upTo('?')}, ${upTo('#')}))`;
  return `if(${path} = '', '-', ${path})`;
}

/** `inputs`: the input names (host + '\u0000' + input) in report order; `wsPaths` the JS pattern of core/classify.ts (re2 reads it alike). */
export function lineSql(c: Record<ColumnName, string>, inputs: readonly string[], wsPaths: RegExp): LineSql {
  const dur = `toInt64(${c.duration_ms})`;
  const end = `toInt64(${c.end_ms})`;
  const status = `toUInt16(${c.status})`;
  const wsPath = `(${c.path} != '' AND match(${c.path}, ${lit(wsPaths.source)}))`;
  const key = `toString(${c.key})`;
  const upgrade = `toString(${c.upgrade})`;
  const proto = `multiIf(${c.protocol} = 'HTTP/1.0', 1, ${c.protocol} = 'HTTP/1.1', 2, ${c.protocol} = 'HTTP/2.0', 3, ${c.protocol} = 'HTTP/3.0', 4, ${c.protocol} = '', 0, 5)`;
  const idx = `(indexOf([${inputs.map(lit).join(', ')}], concat(toString(${c.host}), '\\0', toString(${c.input}))) - 1)`;
  const classified = c.handshake !== '';
  const flags = classified ? `toUInt8(${c.flags})` : `(if(${key} != '', 1, 0) + if(${c.logs_upgrade} != 0 AND ${upgrade} = '', 2, 0) + if(${wsPath}, 4, 0))`;
  return {
    idx,
    client: `toString(${c.client})`,
    proto,
    status,
    dur,
    end,
    timed: `(${end} >= 0)`,
    start: `if(${dur} >= 0, ${end} - ${dur}, ${end})`,
    ord: `(toInt64(${c.order_ms}), ${idx}, toUInt32(${c.line}))`,
    firstOrd: (x) => `(min(toInt64(${c.order_ms})), ${x}, min(toUInt32(${c.line})))`,
    handshake: classified ? `(${c.handshake} = 1)` : `(${wsPath} OR ${key} != '' OR ${status} = 101 OR positionCaseInsensitive(${upgrade}, 'websocket') > 0)`,
    flags,
    fine: binSql(GRID_BITS.fine, dur),
    coarse: `if(${dur} < 0, -1, ${binSql(GRID_BITS.coarse, dur)})`,
    evidenceBin: `if(${dur} < 0, -1, if(${status} = 101, ${binSql(GRID_BITS.session, dur)}, ${binSql(GRID_BITS.coarse, dur)}))`,
    key,
    line: `toUInt32(${c.line})`,
    text: `toString(${c.text})`,
    // core/counts.ts failedByAnswer
    upstream: answeringPeerSql(`toString(${c.upstream_addr})`),
    target: handshakePathSql(`toString(${c.path})`),
    failed: `(${proto} = 1 OR (${status} >= 300 AND ${status} NOT IN (499, 504, 408)) OR (bitAnd(${flags}, 2) != 0 AND bitAnd(${flags}, 5) != 0))`,
  };
}
