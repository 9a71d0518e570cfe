/*!
 * Per-variable facts the log_format compiler needs: what a value of each nginx variable can look
 * like (its shape), so an unquoted field that may contain spaces still ends in the right place.
 * Shapes are checked on a line's bytes (a string's are copied into a scratch buffer first), never
 * with a RegExp per line. Sources: research/nginx-facts.md §2.
 */

/** How a variable's value may look. ANY may contain spaces and the delimiter that follows it. */
export const enum Shape {
  ANY = 0,
  /** No spaces: addresses, methods, hosts, protocols. */
  TOKEN = 1,
  /** Three digits ($status). */
  STATUS = 2,
  /** Decimal digits ($bytes_sent, $connection). */
  UINT = 3,
  /** `%T.%03M`: digits, a dot, three digits ($msec, $request_time). */
  SECONDS = 4,
  /** `dd/Mon/yyyy:hh:mm:ss +zzzz`, 26 characters. */
  TIME_LOCAL = 5,
  /** `yyyy-mm-ddThh:mm:ss+hh:mm`, 25 characters. */
  TIME_ISO = 6,
  /** Sec-WebSocket-Key: 22 base64 characters then `==`. */
  WS_KEY = 7,
  /** Upstream lists: items without spaces joined by `, ` or ` : ` (`502, 101`, `a:80 : b:80`). */
  LIST = 8,
  /** `p` or `.` ($pipe). */
  PIPE = 9,
  /** Free text between quotes in escape=default: nginx writes `"` as `\x22`, so never a raw `"`. */
  QUOTED = 10,
  /** Free text between quotes in escape=json: a `"` is always escaped as `\"`. */
  JSON_QUOTED = 11,
}

/** Variables compiled as log-module ops by nginx: computed at write time, never `-`, never escaped. */
const LOG_MODULE_VARS = new Set([
  'pipe', 'time_local', 'time_iso8601', 'msec', 'request_time', 'status',
  'bytes_sent', 'body_bytes_sent', 'request_length',
]);

const SHAPES: Readonly<Record<string, Shape>> = {
  remote_addr: Shape.TOKEN, realip_remote_addr: Shape.TOKEN, binary_remote_addr: Shape.ANY,
  server_addr: Shape.TOKEN, server_port: Shape.UINT, remote_port: Shape.UINT, realip_remote_port: Shape.UINT,
  proxy_protocol_addr: Shape.TOKEN, proxy_protocol_port: Shape.UINT,
  host: Shape.TOKEN, hostname: Shape.TOKEN, server_name: Shape.TOKEN, scheme: Shape.TOKEN, https: Shape.TOKEN,
  request_method: Shape.TOKEN, server_protocol: Shape.TOKEN, request_uri: Shape.TOKEN,
  status: Shape.STATUS, msec: Shape.SECONDS, request_time: Shape.SECONDS,
  bytes_sent: Shape.UINT, body_bytes_sent: Shape.UINT, request_length: Shape.UINT,
  connection: Shape.UINT, connection_requests: Shape.UINT, pid: Shape.UINT, content_length: Shape.UINT,
  time_local: Shape.TIME_LOCAL, time_iso8601: Shape.TIME_ISO, pipe: Shape.PIPE,
  http_sec_websocket_key: Shape.WS_KEY, request_id: Shape.TOKEN, http_sec_websocket_version: Shape.TOKEN,
  upstream_addr: Shape.LIST, upstream_status: Shape.LIST, upstream_response_time: Shape.LIST,
  upstream_connect_time: Shape.LIST, upstream_header_time: Shape.LIST, upstream_response_length: Shape.LIST,
  upstream_bytes_sent: Shape.LIST, upstream_bytes_received: Shape.LIST, upstream_cache_status: Shape.TOKEN,
  ssl_protocol: Shape.TOKEN, ssl_cipher: Shape.TOKEN, gzip_ratio: Shape.TOKEN,
};

export function shapeOf(name: string): Shape {
  return SHAPES[name] ?? Shape.ANY;
}

/** Shapes whose values (and `-`) never contain a space. */
const SPACELESS = new Uint8Array(16);
for (const s of [Shape.TOKEN, Shape.STATUS, Shape.UINT, Shape.SECONDS, Shape.TIME_ISO, Shape.WS_KEY, Shape.PIPE]) SPACELESS[s] = 1;

export function isSpaceless(shape: Shape): boolean {
  return SPACELESS[shape] === 1;
}

/** True for the nine variables nginx writes itself: they are never `-` and never escaped. */
export function isLogModuleVar(name: string): boolean {
  return LOG_MODULE_VARS.has(name);
}

const enum C {
  SPACE = 32, QUOTE = 34, DASH = 45, DOT = 46, COLON = 58, COMMA = 44, PLUS = 43, SLASH = 47, EQ = 61, BACKSLASH = 92,
  D0 = 48, D9 = 57, UA = 65, UZ = 90, LA = 97, LZ = 122, T = 84,
}

function isDigit(c: number): boolean {
  return c >= C.D0 && c <= C.D9;
}

function isBase64(c: number): boolean {
  return (c >= C.UA && c <= C.UZ) || (c >= C.LA && c <= C.LZ) || isDigit(c) || c === C.PLUS || c === C.SLASH;
}

function digitsAt(b: Uint8Array, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) if (!isDigit(b[i] as number)) return false;
  return true;
}

/** `%T.%03M` between start and end. */
function isSeconds(b: Uint8Array, start: number, end: number): boolean {
  const dot = end - 4;
  if (dot <= start || b[dot] !== C.DOT) return false;
  return digitsAt(b, start, dot - start) && digitsAt(b, dot + 1, 3);
}

/**
 * Upstream list: non-empty items joined by `, ` or ` : `, all inside [start, end). An item has no
 * space or comma and does not start with `:` (so ` : 10.0.0.2:80` cannot pass for an item).
 */
function isList(b: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false;
  let itemLen = 0;
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    if (c === C.COMMA) {
      if (itemLen === 0 || i + 2 >= end || b[i + 1] !== C.SPACE) return false;
      i++;
      itemLen = 0;
    } else if (c === C.SPACE) {
      if (itemLen === 0 || i + 3 >= end || b[i + 1] !== C.COLON || b[i + 2] !== C.SPACE) return false;
      i += 2;
      itemLen = 0;
    } else {
      if (itemLen === 0 && c === C.COLON) return false;
      itemLen++;
    }
  }
  return itemLen > 0;
}

/** Is byte c in [start, end)? */
function holds(b: Uint8Array, start: number, end: number, c: number): boolean {
  for (let i = start; i < end; i++) if (b[i] === c) return true;
  return false;
}

/** A shape's test of a value that is neither empty nor a `-` standing for none: one small function each. */
export type ShapeCheck = (b: Uint8Array, start: number, end: number) => boolean;

function isTimeLocal(b: Uint8Array, start: number, end: number): boolean {
  return end - start === 26 && b[start + 2] === C.SLASH && b[start + 6] === C.SLASH
    && b[start + 11] === C.COLON && b[start + 20] === C.SPACE
    && digitsAt(b, start, 2) && digitsAt(b, start + 7, 4) && digitsAt(b, start + 12, 2) && digitsAt(b, start + 15, 2)
    && digitsAt(b, start + 18, 2) && digitsAt(b, start + 22, 4);
}

function isWsKey(b: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 24 || b[end - 1] !== C.EQ || b[end - 2] !== C.EQ) return false;
  for (let i = start; i < end - 2; i++) if (!isBase64(b[i] as number)) return false;
  return true;
}

function isJsonQuoted(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (b[i] !== C.QUOTE) continue;
    let slashes = 0;
    while (i - 1 - slashes >= start && b[i - 1 - slashes] === C.BACKSLASH) slashes++;
    if (slashes % 2 === 0) return false;
  }
  return true;
}

/** By Shape. */
export const SHAPE_CHECKS: readonly ShapeCheck[] = [
  () => true,
  (b, start, end) => !holds(b, start, end, C.SPACE),
  (b, start, end) => end - start === 3 && digitsAt(b, start, 3),
  (b, start, end) => digitsAt(b, start, end - start),
  isSeconds,
  isTimeLocal,
  (b, start, end) => end - start === 25 && b[start + 4] === C.DASH && b[start + 10] === C.T
    && b[start + 22] === C.COLON && digitsAt(b, start, 4) && digitsAt(b, start + 11, 2),
  isWsKey,
  isList,
  (b, start, end) => end - start === 1 && (b[start] === 112 || b[start] === C.DOT),
  (b, start, end) => !holds(b, start, end, C.QUOTE),
  isJsonQuoted,
];

/** A digit at b[at], as code. */
export function digitCode(at: string): string {
  return `(b[${at}] >= ${C.D0} && b[${at}] <= ${C.D9})`;
}

/** Digits at b[p + from], … b[p + from + n - 1], as code. */
function digitsCode(p: string, from: number, n: number): string {
  return Array.from({ length: n }, (_, i) => digitCode(`${p} + ${from + i}`)).join(' && ');
}

/** 1 for each byte of base64, read by CheckCode as `b64`. */
export const BASE64_BYTES = new Uint8Array(256);
for (let c = 0; c < 128; c++) if (isBase64(c)) BASE64_BYTES[c] = 1;

/**
 * SHAPE_CHECKS[shape] of b[p, e) as code, for the straight matcher (format/straight-match.ts):
 * `before`, statements run once p and e are set (they may set the matcher's `ok`, and only read
 * the bytes: where e lies past the line's end, the literal after the value rejects it whatever
 * they found), then `test`, an expression. The bytes are compared where they are read, with no
 * call: called, the checks were each a frame of their own, V8 no longer inlining them into a
 * format's long matcher.
 */
export interface CheckCode {
  before: string;
  test: string;
}

/** CheckCode for a shape that has one; null for the others (their SHAPE_CHECKS function is called). */
export function checkCode(shape: Shape, p: string, e: string): CheckCode | null {
  if (shape === Shape.WS_KEY) {
    return { before: `ok = ${e} - ${p} === 24 && b[${e} - 1] === ${C.EQ} && b[${e} - 2] === ${C.EQ}; for (let i = ${p}; ok && i < ${e} - 2; i++) ok = b64[b[i]] === 1;`, test: 'ok' };
  }
  if (shape === Shape.LIST) {
    // isList(), item by item: n counts the bytes of the item being read.
    const step = `if (c === ${C.COMMA}) { ok = n > 0 && i + 2 < ${e} && b[i + 1] === ${C.SPACE}; i++; n = 0; }`
      + ` else if (c === ${C.SPACE}) { ok = n > 0 && i + 3 < ${e} && b[i + 1] === ${C.COLON} && b[i + 2] === ${C.SPACE}; i += 2; n = 0; }`
      + ` else { ok = n > 0 || c !== ${C.COLON}; n++; }`;
    return { before: `{ let n = 0; ok = ${e} > ${p}; for (let i = ${p}; ok && i < ${e}; i++) { const c = b[i]; ${step} } ok = ok && n > 0; }`, test: 'ok' };
  }
  const test = fixedWidthTest(shape, p, e);
  return test === null ? null : { before: '', test };
}

/** The checks of the shapes of a fixed width, as one expression. */
function fixedWidthTest(shape: Shape, p: string, e: string): string | null {
  const at = (k: number): string => `b[${p} + ${k}]`;
  switch (shape) {
    case Shape.STATUS:
      return `(${e} - ${p} === 3 && ${digitsCode(p, 0, 3)})`;
    case Shape.TIME_LOCAL:
      return `(${e} - ${p} === 26 && ${at(2)} === ${C.SLASH} && ${at(6)} === ${C.SLASH} && ${at(11)} === ${C.COLON} && ${at(20)} === ${C.SPACE}`
        + ` && ${[[0, 2], [7, 4], [12, 2], [15, 2], [18, 2], [22, 4]].map(([k, n]) => digitsCode(p, k as number, n as number)).join(' && ')})`;
    case Shape.TIME_ISO:
      return `(${e} - ${p} === 25 && ${at(4)} === ${C.DASH} && ${at(10)} === ${C.T} && ${at(22)} === ${C.COLON} && ${digitsCode(p, 0, 4)} && ${digitsCode(p, 11, 2)})`;
    case Shape.PIPE:
      return `(${e} - ${p} === 1 && (${at(0)} === 112 || ${at(0)} === ${C.DOT}))`;
    default:
      return null;
  }
}

/**
 * Do the bytes b[start, end) fit the shape? `allowEmpty` is true where nginx writes an absent
 * variable as nothing (escape=json|none), `allowDash` where it writes `-` (escape=default). Every
 * shape is about ASCII bytes: a UTF-8 character's bytes (all ≥ 0x80) are just "another byte".
 */
export function fitsShape(shape: Shape, b: Uint8Array, start: number, end: number, allowDash: boolean, allowEmpty: boolean): boolean {
  const len = end - start;
  if (len === 0) return allowEmpty || shape === Shape.ANY;
  if (len === 1 && allowDash && b[start] === C.DASH) return true;
  return (SHAPE_CHECKS[shape] as ShapeCheck)(b, start, end);
}

let scratch = new Uint8Array(256);

/**
 * fitsShape on s[start, end) of a string (a JSON line's value): its UTF-16 units copied as bytes,
 * any unit past ASCII as 0x80, which no shape looks for.
 */
export function fitsShapeText(shape: Shape, s: string, start: number, end: number, allowDash: boolean, allowEmpty: boolean): boolean {
  const len = end - start;
  if (len > scratch.length) scratch = new Uint8Array(Math.max(len, 2 * scratch.length));
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(start + i);
    scratch[i] = c < 0x80 ? c : 0x80;
  }
  return fitsShape(shape, scratch, 0, len, allowDash, allowEmpty);
}
