/*!
 * Reading the fields of a line matched by one format, with the variable lookups done once per
 * format (RecordReader): facts(), the few numbers and strings the analysis takes from every line,
 * and read(), the whole LogRecord built on the same facts. Both read the line's bytes; numbers are
 * parsed from them, not with Date.parse, and a string is made only for a value the caller keeps.
 */
import type { CompiledFormat, Escape } from '../format/compile.js';
import { byteOffsets, decodeValue } from '../format/parse-line.js';
import { Protocol } from './classify.js';
import { KEY_LENGTH, decodeKey, decodeKeyBytes } from './keys.js';
import { hashText } from './same-lines.js';

export interface LogRecord {
  file: string;
  line: number;
  text: string;
  /** Client address as nginx saw it ($remote_addr): at the first tier, the LB node. */
  client: string;
  method: string;
  path: string;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`, or '' when unknown. */
  protocol: string;
  /** 0 when the format has no $status. */
  status: number;
  /** Whole milliseconds; -1 when the format has no $request_time. */
  durationMs: number;
  /** When the line was written (the request ended), ms since the epoch; NaN when unknown. */
  endMs: number;
  /** endMs − durationMs: when the request (for a WebSocket, the session) started. */
  startMs: number;
  upstreamAddr: string;
  upstreamStatus: string;
  /** Sec-WebSocket-Key, '' when absent or not logged. */
  key: string;
  /** $http_upgrade, '' when absent or not logged. */
  upgrade: string;
  userAgent: string;
}

export function newRecord(): LogRecord {
  return {
    file: '', line: 0, text: '', client: '', method: '', path: '', protocol: '', status: 0,
    durationMs: -1, endMs: NaN, startMs: NaN, upstreamAddr: '', upstreamStatus: '', key: '', upgrade: '', userAgent: '',
  };
}

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + (s.charCodeAt(i) - 48);
  return v;
}

/** `09/Mar/2018:17:07:07 +0800` → ms since the epoch (NaN if malformed). */
export function parseTimeLocal(s: string): number {
  const month = MONTHS[s.slice(3, 6)];
  if (month === undefined || s.length < 26 || !/^\d\d\/...\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$/.test(s)) return NaN;
  const sign = s.charCodeAt(21) === 45 ? -1 : 1;
  const offsetMin = sign * (digits(s, 22, 2) * 60 + digits(s, 24, 2));
  return Date.UTC(digits(s, 7, 4), month, digits(s, 0, 2), digits(s, 12, 2), digits(s, 15, 2), digits(s, 18, 2)) - offsetMin * 60_000;
}

/**
 * The UTC offset in minutes written at `at` as `+0800` or `+08:00` (NaN if it is not one): the
 * zone the log's own clock was in, which the report shows its times in.
 */
export function utcOffsetAt(s: string, at: number): number {
  const sign = s.charCodeAt(at);
  if (sign !== 43 && sign !== 45) return NaN;
  const colon = s.charCodeAt(at + 3) === 58 ? 1 : 0;
  for (const i of [at + 1, at + 2, at + 3 + colon, at + 4 + colon]) {
    const c = s.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return NaN;
  }
  const hh = digits(s, at + 1, 2);
  const mm = digits(s, at + 3 + colon, 2);
  return hh <= 23 && mm <= 59 ? (sign === 45 ? -1 : 1) * (hh * 60 + mm) : NaN;
}

/** `2018-03-09T17:07:07+08:00` → ms since the epoch (NaN if malformed). */
export function parseTimeIso(s: string): number {
  if (s.length < 25) return NaN;
  const sign = s.charCodeAt(19) === 45 ? -1 : 1;
  const offsetMin = sign * (digits(s, 20, 2) * 60 + digits(s, 23, 2));
  return Date.UTC(digits(s, 0, 4), digits(s, 5, 2) - 1, digits(s, 8, 2), digits(s, 11, 2), digits(s, 14, 2), digits(s, 17, 2)) - offsetMin * 60_000;
}

/** `1520586427.537` → 1520586427537; `60.000` → 60000. -1 when not `%T.%03M`. */
export function parseMillis(s: string): number {
  return millisAt(Buffer.from(s, 'latin1'), 0, s.length);
}

/** Does the format have variable v, and did the matched line hold it (a JSON line may not)? */
function present(bounds: Int32Array, v: number): boolean {
  return v >= 0 && (bounds[2 * v] as number) >= 0;
}

/** parseMillis on the bytes b[start, end): the seconds digit by digit, then the three of the milliseconds at once. */
function millisAt(b: Uint8Array, start: number, end: number): number {
  const dot = end - 4;
  if (dot < start + 1 || b[dot] !== 46) return -1;
  let seconds = 0;
  for (let i = start; i < dot; i++) {
    const c = (b[i] as number) - 48;
    if (c < 0 || c > 9) return -1;
    seconds = seconds * 10 + c;
  }
  const d0 = (b[dot + 1] as number) - 48;
  const d1 = (b[dot + 2] as number) - 48;
  const d2 = (b[dot + 3] as number) - 48;
  if (d0 < 0 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return -1;
  return seconds * 1000 + (d0 * 100 + d1 * 10 + d2);
}

/**
 * out.endMs = millisAt(b, start, end), NaN when that is -1: stored here, in a function small enough
 * for millisAt to be inlined, as a number of more than 32 bits returned from a call V8 did not
 * inline is made an object on the heap (16 bytes a line). Two stores, not `v < 0 ? NaN : v`, for
 * the same reason.
 */
function endMillisAt(b: Uint8Array, start: number, end: number, out: LineFacts): void {
  const v = millisAt(b, start, end);
  if (v < 0) out.endMs = NaN;
  else out.endMs = v;
}

/** The three-digit status in b[start, end) (`-` and other lengths give 0). */
function statusAt(b: Uint8Array, start: number, end: number): number {
  if (end - start !== 3) return 0;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = (b[i] as number) - 48;
    if (c < 0 || c > 9) return 0;
    v = v * 10 + c;
  }
  return v;
}

/** The Protocol of b[start, end): the four HTTP versions by their bytes. */
function protocolAt(b: Uint8Array, start: number, end: number): Protocol {
  if (end === start) return Protocol.UNKNOWN;
  if (end - start === 8 && b[start] === 72 && b[start + 1] === 84 && b[start + 2] === 84 && b[start + 3] === 80 && b[start + 4] === 47 && b[start + 6] === 46) {
    const major = b[start + 5];
    const minor = b[start + 7];
    if (major === 49 && minor === 49) return Protocol.HTTP11;
    if (major === 49 && minor === 48) return Protocol.HTTP10;
    if (major === 50 && minor === 48) return Protocol.HTTP2;
    if (major === 51 && minor === 48) return Protocol.HTTP3;
  }
  return Protocol.OTHER;
}

/**
 * What the analysis reads from every line (RecordReader.facts): fewer fields than a LogRecord,
 * numbers where the tally counts, and the path only when a classifier asks for it.
 */
export interface LineFacts {
  client: string;
  /** hashText(client) (core/same-lines.ts), kept with the value it was made for. */
  clientHash: number;
  protocol: Protocol;
  status: number;
  durationMs: number;
  endMs: number;
  /** A Sec-WebSocket-Key is logged (RecordReader.key() and keyWords() read it: most lines' facts need no string of it). */
  hasKey: boolean;
  upgrade: string;
  /** The line logs $http_upgrade, so an empty `upgrade` means the header was absent. */
  logsUpgrade: boolean;
}

export function newFacts(): LineFacts {
  return { client: '', clientHash: NO_CLIENT_HASH, protocol: Protocol.UNKNOWN, status: 0, durationMs: -1, endMs: NaN, hasKey: false, upgrade: '', logsUpgrade: false };
}

const NO_CLIENT_HASH = hashText('');

/** Values a few of which fill most lines (clients, LB nodes, upstreams), each decoded once: direct-mapped by a hash of their bytes. */
const CACHE_SLOTS = 1024;

class ValueCache {
  private readonly bytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(CACHE_SLOTS);
  private readonly texts: string[] = new Array<string>(CACHE_SLOTS).fill('');
  private readonly hashes = new Int32Array(CACHE_SLOTS);
  /** hashText() of the value get() last gave. */
  lastHash = NO_CLIENT_HASH;

  constructor(private readonly escape: Escape) {}

  /** The decoded value of b[start, end). */
  get(b: Buffer, start: number, end: number): string {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
    const slot = (h ^ (h >>> 15)) & (CACHE_SLOTS - 1);
    const held = this.bytes[slot];
    if (held !== undefined && held.length === end - start) {
      let i = 0;
      while (i < held.length && held[i] === b[start + i]) i++;
      if (i === held.length) {
        this.lastHash = this.hashes[slot] as number;
        return this.texts[slot] as string;
      }
    }
    const text = decodeValue(this.escape, b.toString('utf8', start, end));
    this.bytes[slot] = Buffer.from(b.subarray(start, end));
    this.texts[slot] = text;
    this.hashes[slot] = this.lastHash = hashText(text);
    return text;
  }
}

const VALUE_CACHES = new Map<Escape, ValueCache>();

/** One cache per escaping, shared by the readers of a thread: it holds what bytes decode to, whichever line they came from. */
function valueCache(escape: Escape): ValueCache {
  let c = VALUE_CACHES.get(escape);
  if (c === undefined) {
    c = new ValueCache(escape);
    VALUE_CACHES.set(escape, c);
  }
  return c;
}

const NO_BYTES = Buffer.alloc(0);

/** What RecordReader's splitRequest() gives for a request line with a backslash where it splits (no Protocol). */
const ESCAPED = -1;

function holdsBackslash(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] === 92) return true;
  return false;
}

/** Reads LogRecords out of lines matched by one format, from the line's bytes; the variable lookups happen once, here. */
export class RecordReader {
  private readonly vClient: number;
  private readonly vRequest: number;
  private readonly vMethod: number;
  private readonly vUri: number;
  private readonly vRequestUri: number;
  private readonly vProtocol: number;
  private readonly vStatus: number;
  private readonly vDuration: number;
  private readonly vMsec: number;
  private readonly vTimeLocal: number;
  private readonly vTimeIso: number;
  private readonly vKey: number;
  private readonly vUpgrade: number;
  private readonly vUpstream: number;
  private readonly vUpstreamStatus: number;
  private readonly vUserAgent: number;
  private readonly readFacts = newFacts();
  /** Clients and upstream addresses: a few values fill most lines. */
  private readonly values: ValueCache;
  /** The bytes of the last distinct time read, and its value. */
  private readonly lastTime = Buffer.alloc(32);
  private lastTimeLength = -1;
  private lastTimeMs = NaN;
  /**
   * The request line of the last facts() call (in `request`, from requestFrom to requestTo: the
   * line itself, or the decoded value), and where its path lies, for path(); pathDecoded: the
   * path is the decoded value's (else as logged, escapes not undone yet).
   */
  private request: Buffer = NO_BYTES;
  private requestFrom = 0;
  private requestTo = 0;
  private pathStart = 0;
  private pathEnd = 0;
  private pathDecoded = false;
  /** The facts() line and bounds, for path() without a $request. */
  private b: Buffer = NO_BYTES;
  private bounds: Int32Array | null = null;

  constructor(readonly format: CompiledFormat) {
    const v = (name: string): number => format.index.get(name) ?? -1;
    this.vClient = v('remote_addr');
    this.vRequest = v('request');
    this.vMethod = v('request_method');
    this.vUri = v('uri');
    this.vRequestUri = v('request_uri');
    this.vProtocol = v('server_protocol');
    this.vStatus = v('status');
    this.vDuration = v('request_time');
    this.vMsec = v('msec');
    this.vTimeLocal = v('time_local');
    this.vTimeIso = v('time_iso8601');
    this.vKey = v('http_sec_websocket_key');
    this.vUpgrade = v('http_upgrade');
    this.vUpstream = v('upstream_addr');
    this.vUpstreamStatus = v('upstream_status');
    this.vUserAgent = v('http_user_agent');
    this.values = valueCache(format.escape);
  }

  /**
   * True when the line just read logs $http_upgrade, so an empty one means the header was absent.
   * Per line: a JSON line may lack a key its format otherwise has (bounds -1).
   */
  get logsUpgrade(): boolean {
    return this.readFacts.logsUpgrade;
  }

  /** Variable v's decoded value; '' for `-`, and without a string made for it. */
  private valueOf(b: Buffer, bounds: Int32Array, v: number): string {
    return this.holds(b, bounds, v) ? decodeValue(this.format.escape, b.toString('utf8', bounds[2 * v] as number, bounds[2 * v + 1] as number)) : '';
  }

  /** Does the line hold a value of variable v (neither empty nor `-`)? */
  private holds(b: Buffer, bounds: Int32Array, v: number): boolean {
    if (v < 0) return false;
    const start = bounds[2 * v] as number;
    const end = bounds[2 * v + 1] as number;
    return end > start && !(end - start === 1 && b[start] === 45);
  }

  /**
   * The facts the analysis needs from the bytes of a line that matched this reader's format
   * (bounds are offsets in b): the same values read() gives (client, protocol code, status,
   * duration, end time, key, Upgrade), with a string made only for a key or an Upgrade header
   * present, and a client not seen lately. path() gives the path of this line when asked.
   */
  facts(b: Buffer, bounds: Int32Array, out: LineFacts): void {
    this.b = b;
    this.bounds = bounds;
    const vc = this.vClient;
    const start = vc < 0 ? 0 : (bounds[2 * vc] as number);
    const end = vc < 0 ? 0 : (bounds[2 * vc + 1] as number);
    if (end <= start || (end - start === 1 && b[start] === 45)) {
      out.client = '';
      out.clientHash = NO_CLIENT_HASH;
    } else {
      out.client = this.values.get(b, start, end);
      out.clientHash = this.values.lastHash;
    }
    // The request line is split where it lies in the line: an escape never stands for a space in
    // what nginx writes, so the raw bytes split where the decoded value does, and the method and
    // the protocol, short, are all that must hold none. No string is made unless the path is asked for.
    let from = 0;
    let to = 0;
    const vr = this.vRequest;
    if (vr >= 0) {
      from = bounds[2 * vr] as number;
      to = bounds[2 * vr + 1] as number;
      if (to - from === 1 && b[from] === 45) to = from;
    }
    this.request = b;
    this.requestFrom = from;
    this.requestTo = to;
    this.pathDecoded = false;
    let protocol = to > from ? this.splitRequest() : Protocol.UNKNOWN;
    if (protocol === ESCAPED) {
      // An escaped space (which nginx never writes) would move the split: the decoded value is split.
      this.request = Buffer.from(this.valueOf(b, bounds, vr), 'utf8');
      this.requestFrom = 0;
      this.requestTo = this.request.length;
      this.pathDecoded = true;
      protocol = this.splitRequest();
      if (protocol === ESCAPED) protocol = this.splitProtocol();
    }
    const vp = this.vProtocol;
    if (present(bounds, vp)) {
      const start = bounds[2 * vp] as number;
      const end = bounds[2 * vp + 1] as number;
      if (end > start && !(end - start === 1 && b[start] === 45)) protocol = protocolAt(b, start, end);
    }
    out.protocol = protocol;
    const vs = this.vStatus;
    out.status = present(bounds, vs) ? statusAt(b, bounds[2 * vs] as number, bounds[2 * vs + 1] as number) : 0;
    const rt = this.vDuration;
    out.durationMs = present(bounds, rt) ? millisAt(b, bounds[2 * rt] as number, bounds[2 * rt + 1] as number) : -1;
    const ms = this.vMsec;
    if (present(bounds, ms)) endMillisAt(b, bounds[2 * ms] as number, bounds[2 * ms + 1] as number, out);
    else this.endTime(b, bounds, out);
    out.hasKey = this.holds(b, bounds, this.vKey);
    out.upgrade = this.valueOf(b, bounds, this.vUpgrade);
    out.logsUpgrade = present(bounds, this.vUpgrade);
  }

  /**
   * Splits the request line (request[requestFrom, requestTo), not empty) at its first and last
   * spaces: sets where its path lies, and gives the protocol part's Protocol (UNKNOWN without
   * one), or ESCAPED when a backslash lies in the method or the protocol part (anywhere, when it
   * has no protocol part): an escape there may stand for a space, which would move the split.
   */
  private splitRequest(): number {
    const request = this.request;
    const from = this.requestFrom;
    const to = this.requestTo;
    let escaped = false;
    let sp1 = from;
    for (; sp1 < to; sp1++) {
      const c = request[sp1];
      if (c === 32) break;
      escaped ||= c === 92;
    }
    let sp2 = to - 1;
    for (; sp2 > sp1; sp2--) {
      const c = request[sp2];
      if (c === 32) break;
      escaped ||= c === 92;
    }
    if (sp1 > from && sp1 < to && sp2 > sp1) {
      this.pathStart = sp1 + 1;
      this.pathEnd = sp2;
      return escaped ? ESCAPED : protocolAt(request, sp2 + 1, to);
    }
    this.pathStart = sp1 > from && sp1 < to ? sp1 + 1 : to;
    this.pathEnd = to;
    return holdsBackslash(request, from, to) ? ESCAPED : Protocol.UNKNOWN;
  }

  /** The Protocol of the request line splitRequest() last split (a decoded one, whose backslashes are its own). */
  private splitProtocol(): Protocol {
    return this.pathEnd === this.requestTo ? Protocol.UNKNOWN : protocolAt(this.request, this.pathEnd + 1, this.requestTo);
  }

  /** The Sec-WebSocket-Key of the line last given to facts(), decoded ('' when absent). */
  key(): string {
    return this.valueOf(this.b, this.bounds as Int32Array, this.vKey);
  }

  /**
   * key()'s 16 bytes into out[0..3] when it is a canonical key (core/keys.ts decodeKey), read
   * from the line's bytes: base64 holds no backslash, so only a value with one is decoded first.
   */
  keyWords(out: Uint32Array): boolean {
    const bounds = this.bounds as Int32Array;
    const v = this.vKey;
    if (!this.holds(this.b, bounds, v)) return false;
    const start = bounds[2 * v] as number;
    const end = bounds[2 * v + 1] as number;
    return end - start === KEY_LENGTH ? decodeKeyBytes(this.b, start, out) : holdsBackslash(this.b, start, end) && decodeKey(this.key(), out);
  }

  /** $upstream_addr of the line last given to facts() ('' when absent). */
  upstream(): string {
    const bounds = this.bounds as Int32Array;
    const v = this.vUpstream;
    return this.holds(this.b, bounds, v) ? this.values.get(this.b, bounds[2 * v] as number, bounds[2 * v + 1] as number) : '';
  }

  /** The path of the line last given to facts(), as read() would set rec.path. */
  path(): string {
    if (this.requestTo > this.requestFrom) {
      const path = this.request.toString('utf8', this.pathStart, this.pathEnd);
      return this.pathDecoded ? path : decodeValue(this.format.escape, path);
    }
    const b = this.b;
    const bounds = this.bounds as Int32Array;
    return this.valueOf(b, bounds, this.vRequestUri) || this.valueOf(b, bounds, this.vUri);
  }

  /**
   * Fills `rec` from a line that matched this reader's format: facts() and the few fields only a
   * whole record shows (method, the protocol as written, upstream status, user agent). A line
   * given as a string has its bounds in string offsets (they are made byte offsets here).
   */
  read(line: string | Buffer, bounds: Int32Array, rec: LogRecord): void {
    const b = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
    if (typeof line === 'string') byteOffsets(line, bounds);
    const f = this.readFacts;
    this.facts(b, bounds, f);
    if (typeof line === 'string') rec.text = line;
    rec.client = f.client;
    rec.path = this.path();
    const request = this.request.toString('utf8', this.requestFrom, this.requestTo);
    if (request !== '') {
      const sp1 = request.indexOf(' ');
      const sp2 = request.lastIndexOf(' ');
      // HTTP/0.9 or a partial line has no protocol part.
      rec.method = sp1 > 0 ? request.slice(0, sp1) : request;
      rec.protocol = sp1 > 0 && sp2 > sp1 ? request.slice(sp2 + 1) : '';
    } else {
      rec.method = this.valueOf(b, bounds, this.vMethod);
      rec.protocol = '';
    }
    const proto = this.valueOf(b, bounds, this.vProtocol);
    if (proto !== '') rec.protocol = proto;
    rec.status = f.status;
    rec.durationMs = f.durationMs;
    rec.endMs = f.endMs;
    rec.startMs = f.durationMs >= 0 ? f.endMs - f.durationMs : f.endMs;
    rec.upstreamAddr = this.upstream();
    rec.upstreamStatus = this.valueOf(b, bounds, this.vUpstreamStatus);
    rec.key = this.key();
    rec.upgrade = f.upgrade;
    rec.userAgent = this.valueOf(b, bounds, this.vUserAgent);
  }

  /**
   * The UTC offset, in minutes, of the $time_local or $time_iso8601 of the line last given to
   * facts() (NaN when it has neither). Read at fixed positions: no Date.
   */
  utcOffsetMinutes(): number {
    const b = this.b;
    const bounds = this.bounds as Int32Array;
    const local = this.vTimeLocal;
    if (present(bounds, local)) {
      // `09/Mar/2018:17:07:07 +0800`: the offset starts 5 bytes before the end.
      const end = bounds[2 * local + 1] as number;
      return end - (bounds[2 * local] as number) === 26 ? utcOffsetAt(b.toString('latin1', end - 5, end), 0) : NaN;
    }
    const iso = this.vTimeIso;
    if (!present(bounds, iso)) return NaN;
    // `2018-03-09T17:07:07+08:00`: 6 bytes before the end (a `Z` is UTC).
    const end = bounds[2 * iso + 1] as number;
    if (b[end - 1] === 90) return 0;
    return end - (bounds[2 * iso] as number) >= 25 ? utcOffsetAt(b.toString('latin1', end - 6, end), 0) : NaN;
  }

  /**
   * Sets out.endMs from $time_local or $time_iso8601, for a line without $msec (a time in ms is no
   * small integer: returned, it would be boxed where V8 did not inline).
   */
  private endTime(b: Buffer, bounds: Int32Array, out: LineFacts): void {
    // A variable whose start bound is -1 is absent from this (JSON) line: use the next time source.
    const local = this.vTimeLocal;
    const iso = this.vTimeIso;
    const v = present(bounds, local) ? local : iso;
    if (!present(bounds, v)) {
      out.endMs = NaN;
      return;
    }
    const start = bounds[2 * v] as number;
    const end = bounds[2 * v + 1] as number;
    // Consecutive lines mostly share their second: parse each distinct time once.
    const last = this.lastTime;
    let same = end - start === this.lastTimeLength;
    for (let i = 0; same && i < end - start; i++) same = last[i] === b[start + i];
    if (!same) {
      const s = b.toString('latin1', start, end);
      this.lastTimeMs = v === local ? parseTimeLocal(s) : parseTimeIso(s);
      this.lastTimeLength = end - start <= last.length ? b.copy(last, 0, start, end) : -1;
    }
    out.endMs = this.lastTimeMs;
  }
}
