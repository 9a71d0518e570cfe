/*!
 * Per-variable facts the log_format compiler needs: what a value of each nginx variable can look
 * like (its shape), so an unquoted field that may contain spaces still ends in the right place.
 * Shapes are checked with charCodeAt scans, never a RegExp per line. Sources: research/nginx-facts.md §2.
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
  SPACE = 32, DASH = 45, DOT = 46, COLON = 58, COMMA = 44, PLUS = 43, SLASH = 47, EQ = 61,
  D0 = 48, D9 = 57, UA = 65, UZ = 90, LA = 97, LZ = 122, T = 84,
}

function isDigit(c: number): boolean {
  return c >= C.D0 && c <= C.D9;
}

function isBase64(c: number): boolean {
  return (c >= C.UA && c <= C.UZ) || (c >= C.LA && c <= C.LZ) || isDigit(c) || c === C.PLUS || c === C.SLASH;
}

function digitsAt(s: string, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** `%T.%03M` between start and end. */
function isSeconds(s: string, start: number, end: number): boolean {
  const dot = end - 4;
  if (dot <= start || s.charCodeAt(dot) !== C.DOT) return false;
  return digitsAt(s, start, dot - start) && digitsAt(s, dot + 1, 3);
}

/**
 * Upstream list: non-empty items joined by `, ` or ` : `, all inside [start, end). An item has no
 * space or comma and does not start with `:` (so ` : 10.0.0.2:80` cannot pass for an item).
 */
function isList(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  let itemLen = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === C.COMMA) {
      if (itemLen === 0 || i + 2 >= end || s.charCodeAt(i + 1) !== C.SPACE) return false;
      i++;
      itemLen = 0;
    } else if (c === C.SPACE) {
      if (itemLen === 0 || i + 3 >= end || s.charCodeAt(i + 1) !== C.COLON || s.charCodeAt(i + 2) !== C.SPACE) return false;
      i += 2;
      itemLen = 0;
    } else {
      if (itemLen === 0 && c === C.COLON) return false;
      itemLen++;
    }
  }
  return itemLen > 0;
}

/**
 * Does s[start, end) fit the shape? `allowEmpty` is true where nginx writes an absent variable as
 * nothing (escape=json|none), `allowDash` where it writes `-` (escape=default).
 */
export function fitsShape(shape: Shape, s: string, start: number, end: number, allowDash: boolean, allowEmpty: boolean): boolean {
  const len = end - start;
  if (len === 0) return allowEmpty || shape === Shape.ANY;
  if (len === 1 && allowDash && s.charCodeAt(start) === C.DASH) return true;
  switch (shape) {
    case Shape.ANY:
      return true;
    case Shape.TOKEN:
      for (let i = start; i < end; i++) if (s.charCodeAt(i) === C.SPACE) return false;
      return true;
    case Shape.STATUS:
      return len === 3 && digitsAt(s, start, 3);
    case Shape.UINT:
      return digitsAt(s, start, len);
    case Shape.SECONDS:
      return isSeconds(s, start, end);
    case Shape.TIME_LOCAL:
      return len === 26 && s.charCodeAt(start + 2) === C.SLASH && s.charCodeAt(start + 6) === C.SLASH
        && s.charCodeAt(start + 11) === C.COLON && s.charCodeAt(start + 20) === C.SPACE
        && digitsAt(s, start, 2) && digitsAt(s, start + 7, 4) && digitsAt(s, start + 12, 2) && digitsAt(s, start + 15, 2)
        && digitsAt(s, start + 18, 2) && digitsAt(s, start + 22, 4);
    case Shape.TIME_ISO:
      return len === 25 && s.charCodeAt(start + 4) === C.DASH && s.charCodeAt(start + 10) === C.T
        && s.charCodeAt(start + 22) === C.COLON && digitsAt(s, start, 4) && digitsAt(s, start + 11, 2);
    case Shape.WS_KEY:
      if (len !== 24 || s.charCodeAt(end - 1) !== C.EQ || s.charCodeAt(end - 2) !== C.EQ) return false;
      for (let i = start; i < end - 2; i++) if (!isBase64(s.charCodeAt(i))) return false;
      return true;
    case Shape.LIST:
      return isList(s, start, end);
    case Shape.PIPE:
      return len === 1 && (s.charCodeAt(start) === 112 || s.charCodeAt(start) === C.DOT);
    case Shape.QUOTED:
      return s.indexOf('"', start) < 0 || s.indexOf('"', start) >= end;
    case Shape.JSON_QUOTED:
      for (let i = s.indexOf('"', start); i >= 0 && i < end; i = s.indexOf('"', i + 1)) {
        let slashes = 0;
        while (i - 1 - slashes >= start && s.charCodeAt(i - 1 - slashes) === 92) slashes++;
        if (slashes % 2 === 0) return false;
      }
      return true;
  }
}
