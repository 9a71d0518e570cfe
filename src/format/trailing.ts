/*!
 * Fields appended to a well-known format, recognised by their values: `combined` followed by
 * `0.123 "websocket" 101` is read as combined + `$request_time "$http_upgrade" $upstream_status`.
 * Owns the table of value shapes (FIELD_KINDS) and the inference over auto-detection's sample
 * lines. Which candidate an input uses is format/detect.ts's choice; this only proposes one.
 */
import { compileFormatString, type TemplateFormat } from './compile.js';
import { fieldValue, matchAny, matchedPrefix, newBounds, newFailure } from './parse-line.js';
import { PRESET_FORMATS, compilePreset } from './presets.js';

/** One value after the known format's end: what was between the spaces, without its quotes. */
interface Token {
  value: string;
  quoted: boolean;
}

/** A kind of appended field, recognised by what every logged value looks like. */
interface FieldKind {
  /** The variables a column of this kind is taken as, handed out in order: a second column of seconds gets the next name. */
  readonly names: readonly string[];
  /** Does a logged value fit? Not asked about an absent one (`-`, or nothing between quotes). */
  readonly fits: (value: string) => boolean;
  /** May the variable be absent? The ones nginx writes itself (`$request_time`, `$msec`) never are. */
  readonly absent: boolean;
  /** Written between quotes only (true) or bare only (false); either when unset. */
  readonly quoted?: boolean;
  /** Also taken for a column that is absent on every line looked at (the first such column only, as names run out). */
  readonly whenAllAbsent?: boolean;
  /** A test of the whole column against each line's `$status`. */
  readonly column?: (values: readonly string[], statuses: readonly string[]) => boolean;
}

const SECONDS = /^\d+\.\d{3}$/;
/** `$msec`: seconds since 1970 with milliseconds; ten digits from 2001 to 2286. */
const EPOCH_SECONDS = /^\d{10}\.\d{3}$/;
const STATUS = /^[1-5]\d\d$/;
const WS_KEY = /^[A-Za-z0-9+/]{22}==$/;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]+)$/;
const HOST_PORT = /^(unix:\S+|\[[0-9a-fA-F:.]+\]:\d+|[\w.-]+:\d+)$/;
const HOSTNAME = /^(?=[^.]*[A-Za-z])[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
const CONNECTION_TOKEN = /^(upgrade|keep-alive|close|te)$/i;
/** nginx joins the values of one upstream variable with `, ` (next upstream) and ` : ` (internal redirect). */
const LIST_SEPARATOR = /, | : /;

/** Every item of an upstream list fits `item` (an item may be `-`: an upstream that gave no answer). */
function listOf(item: RegExp): (value: string) => boolean {
  return (value) => value.split(LIST_SEPARATOR).every((x) => x === '-' || item.test(x));
}

/**
 * The kinds, most telling first: a value that fits several is taken as the first kind whose
 * names are not used up. Sources: nginx-facts.md §2 (what nginx writes for each variable).
 */
const FIELD_KINDS: readonly FieldKind[] = [
  { names: ['msec'], fits: (v) => EPOCH_SECONDS.test(v), absent: false },
  { names: ['request_time'], fits: (v) => SECONDS.test(v), absent: false },
  { names: ['upstream_response_time', 'upstream_connect_time', 'upstream_header_time'], fits: listOf(SECONDS), absent: true },
  // A 3-digit column is $upstream_status only where it mostly repeats the line's $status: a
  // $request_length of 404 bytes is not a status.
  { names: ['upstream_status'], fits: listOf(STATUS), absent: true, column: repeatsStatus },
  { names: ['http_sec_websocket_key'], fits: (v) => WS_KEY.test(v), absent: true },
  { names: ['http_upgrade'], fits: (v) => /^websocket$/i.test(v), absent: true },
  { names: ['http_connection'], fits: (v) => v.split(/,\s*/).every((x) => CONNECTION_TOKEN.test(x)), absent: true },
  { names: ['upstream_addr'], fits: listOf(HOST_PORT), absent: true },
  { names: ['http_x_forwarded_for'], fits: (v) => v.split(/,\s*/).every((x) => IP.test(x)), absent: true, quoted: true, whenAllAbsent: true },
  { names: ['request_id'], fits: (v) => /^[0-9a-f]{32}$/.test(v), absent: false },
  { names: ['host', 'server_name'], fits: (v) => HOSTNAME.test(v), absent: true },
  { names: ['pipe'], fits: (v) => v === 'p' || v === '.', absent: false, quoted: false },
  { names: ['request_length', 'bytes_sent', 'connection', 'connection_requests'], fits: (v) => /^\d+$/.test(v), absent: false },
];

function repeatsStatus(values: readonly string[], statuses: readonly string[]): boolean {
  let present = 0;
  let same = 0;
  values.forEach((v, i) => {
    if (v === '-' || v === '') return;
    present++;
    if (v.split(LIST_SEPARATOR).pop() === statuses[i]) same++;
  });
  return same * 2 >= present;
}

/**
 * Splits what follows the known format into values: ` value`, ` "value"`, and lists that nginx
 * writes with spaces inside (`0.001, 0.002`, `a:80 : b:80`). null when it is not such a run (a
 * `key=value` field, a quote inside a bare value, two spaces).
 */
function tokens(rest: string): Token[] | null {
  const out: Token[] = [];
  let i = 0;
  while (i < rest.length) {
    if (rest.charCodeAt(i) !== 32) return null;
    i++;
    if (rest.charCodeAt(i) === 34) {
      // Default escaping writes a quote inside a value as \x22: the next quote closes it.
      const close = rest.indexOf('"', i + 1);
      if (close < 0) return null;
      out.push({ value: rest.slice(i + 1, close), quoted: true });
      i = close + 1;
      continue;
    }
    let end = i;
    for (;;) {
      const space = rest.indexOf(' ', end);
      const sp = space < 0 ? rest.length : space;
      if (sp < rest.length && rest.charCodeAt(sp - 1) === 44) end = sp + 1;
      else if (rest.startsWith(' : ', sp)) end = sp + 3;
      else {
        end = sp;
        break;
      }
    }
    const value = rest.slice(i, end);
    if (value === '' || value.includes('"')) return null;
    out.push({ value, quoted: false });
    i = end;
  }
  return out;
}

/** A format auto-detection built: a known one plus the fields read from their values. */
export interface InferredFormat {
  format: TemplateFormat;
  /** The longest preset the format starts with (`main` when the first appended field is `"$http_x_forwarded_for"`). */
  base: string;
  /** The fields after `base`, as they appear in the format: `$request_time`, `"$http_upgrade"`. */
  fields: string[];
  /** How many of the lines given it matches. */
  lines: number;
}

/** Presets that custom formats commonly extend, compiled once. */
let bases: TemplateFormat[] | null = null;
function extendable(): TemplateFormat[] {
  bases ??= PRESET_FORMATS.filter((p) => p.extendable === true).map((p) => compilePreset(p) as TemplateFormat);
  return bases;
}

/** The column's values, one per line, and whether it is quoted. */
interface Column {
  quoted: boolean;
  values: string[];
}

/** The variable each column is taken as, by FIELD_KINDS; null when a column fits no kind. */
function nameColumns(columns: readonly Column[], statuses: readonly string[]): string[] | null {
  const used = new Map<FieldKind, number>();
  const names: string[] = [];
  for (const [c, col] of columns.entries()) {
    const present = col.values.filter((v) => v !== '-' && !(col.quoted && v === ''));
    const kind = FIELD_KINDS.find((k) => {
      if ((used.get(k) ?? 0) >= k.names.length) return false;
      if (k.quoted !== undefined && k.quoted !== col.quoted) return false;
      if (present.length === 0) return k.whenAllAbsent === true;
      if (!k.absent && present.length < col.values.length) return false;
      return present.every(k.fits) && (k.column === undefined || k.column(col.values, statuses));
    });
    if (kind !== undefined) {
      const n = used.get(kind) ?? 0;
      used.set(kind, n + 1);
      names.push(kind.names[n] as string);
    } else if (present.length === 0) {
      // Nothing logged there in the lines looked at: kept as a field wsdiag does not read.
      names.push(`unknown_${c + 1}`);
    } else {
      return null;
    }
  }
  return names;
}

/**
 * Lines that a well-known format fits up to a run of appended values, read as that format plus
 * fields recognised by their values. Of the shapes seen (how many values, which quoted), the one
 * most lines have; null when no line is such a run or a column's values fit no kind of field.
 */
export function inferTrailingFields(lines: readonly string[]): InferredFormat | null {
  const groups = new Map<string, { base: TemplateFormat; rows: Token[][]; statuses: string[] }>();
  for (const base of extendable()) {
    const bounds = newBounds(base);
    const status = base.index.get('status') ?? -1;
    for (const line of lines) {
      const cut = matchedPrefix(base, line, bounds, newFailure());
      const row = cut < 0 ? null : tokens(line.slice(cut));
      if (row === null || row.length === 0) continue;
      const shape = `${base.name} ${row.map((t) => (t.quoted ? 'q' : 'b')).join('')}`;
      let g = groups.get(shape);
      if (g === undefined) groups.set(shape, (g = { base, rows: [], statuses: [] }));
      g.rows.push(row);
      g.statuses.push(status < 0 ? '' : fieldValue(base, line, bounds, status));
    }
  }
  const ranked = [...groups.values()].sort((a, b) => b.rows.length - a.rows.length);
  for (const g of ranked) {
    const first = g.rows[0] as Token[];
    const columns = first.map((t, c) => ({ quoted: t.quoted, values: g.rows.map((r) => (r[c] as Token).value) }));
    const names = nameColumns(columns, g.statuses);
    if (names === null) continue;
    const appended = names.map((n, c) => (columns[c]?.quoted ? `"$${n}"` : `$${n}`));
    const text = `${g.base.text} ${appended.join(' ')}`;
    const named = PRESET_FORMATS.filter((p) => p.kind !== 'json' && text.startsWith(`${p.text} `)).sort((a, b) => b.text.length - a.text.length)[0];
    const base = named?.name ?? g.base.name;
    const fields = named === undefined ? appended : text.slice(named.text.length + 1).split(' ');
    const name = `${base}+${fields.map((f) => f.replace(/["$]/g, '')).join('+')}`;
    const format = compileFormatString(text, 'default', name, { assumedFrom: g.base.vars.length });
    const bounds = newBounds(format);
    const fit = lines.filter((l) => matchAny(format, l, bounds, newFailure())).length;
    if (fit > 0) return { format, base, fields, lines: fit };
  }
  return null;
}
