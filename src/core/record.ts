/*!
 * LogRecord: the fields of one parsed line that the analysis uses, in one fixed shape, filled from
 * a matched line by a RecordReader compiled once per format. Values stay strings except the few
 * numbers every line needs (status, request time, end time), parsed with charCodeAt, not Date.parse.
 */
import type { CompiledFormat } from '../format/compile.js';
import { decodeValue } from '../format/parse-line.js';

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

/** `2018-03-09T17:07:07+08:00` → ms since the epoch (NaN if malformed). */
export function parseTimeIso(s: string): number {
  if (s.length < 25) return NaN;
  const sign = s.charCodeAt(19) === 45 ? -1 : 1;
  const offsetMin = sign * (digits(s, 20, 2) * 60 + digits(s, 23, 2));
  return Date.UTC(digits(s, 0, 4), digits(s, 5, 2) - 1, digits(s, 8, 2), digits(s, 11, 2), digits(s, 14, 2), digits(s, 17, 2)) - offsetMin * 60_000;
}

/** `1520586427.537` → 1520586427537; `60.000` → 60000. -1 when not `%T.%03M`. */
export function parseMillis(s: string): number {
  const dot = s.length - 4;
  if (dot < 1 || s.charCodeAt(dot) !== 46) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    if (i === dot) continue;
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function parseStatus(s: string): number {
  if (s.length !== 3) return 0;
  const v = digits(s, 0, 3);
  return v >= 0 && v <= 999 ? v : 0;
}

/** Does the format have variable v, and did the matched line hold it (a JSON line may not)? */
function present(bounds: Int32Array, v: number): boolean {
  return v >= 0 && (bounds[2 * v] as number) >= 0;
}

/** Reads LogRecords out of lines matched by one format; the variable lookups happen once, here. */
export class RecordReader {
  private readonly at: Readonly<Record<string, number>>;
  private lastTime = '';
  private lastTimeMs = NaN;
  private upgradeLogged = false;

  constructor(readonly format: CompiledFormat) {
    const at: Record<string, number> = {};
    for (const name of ['remote_addr', 'request', 'request_method', 'request_uri', 'uri', 'server_protocol', 'status',
      'request_time', 'msec', 'time_local', 'time_iso8601', 'upstream_addr', 'upstream_status', 'http_sec_websocket_key',
      'http_upgrade', 'http_user_agent']) {
      at[name] = format.index.get(name) ?? -1;
    }
    this.at = at;
  }

  /**
   * True when the line just read logs $http_upgrade, so an empty one means the header was absent.
   * Per line: a JSON line may lack a key its format otherwise has (bounds -1).
   */
  get logsUpgrade(): boolean {
    return this.upgradeLogged;
  }

  private value(text: string, bounds: Int32Array, name: string): string {
    const v = this.at[name] as number;
    if (v < 0) return '';
    const raw = text.slice(bounds[2 * v], bounds[2 * v + 1]);
    return raw === '-' ? '' : decodeValue(this.format.escape, raw);
  }

  /** Fills `rec` from a line that matched this reader's format. */
  read(text: string, bounds: Int32Array, rec: LogRecord): void {
    rec.text = text;
    rec.client = this.value(text, bounds, 'remote_addr');
    const request = this.value(text, bounds, 'request');
    if (request !== '') {
      const sp1 = request.indexOf(' ');
      const sp2 = request.lastIndexOf(' ');
      if (sp1 > 0 && sp2 > sp1) {
        rec.method = request.slice(0, sp1);
        rec.path = request.slice(sp1 + 1, sp2);
        rec.protocol = request.slice(sp2 + 1);
      } else {
        // HTTP/0.9 or a partial line: no protocol part.
        rec.method = sp1 > 0 ? request.slice(0, sp1) : request;
        rec.path = sp1 > 0 ? request.slice(sp1 + 1) : '';
        rec.protocol = '';
      }
    } else {
      rec.method = this.value(text, bounds, 'request_method');
      rec.path = this.value(text, bounds, 'request_uri') || this.value(text, bounds, 'uri');
      rec.protocol = '';
    }
    const proto = this.value(text, bounds, 'server_protocol');
    if (proto !== '') rec.protocol = proto;
    rec.status = parseStatus(this.value(text, bounds, 'status'));
    const rt = this.at.request_time as number;
    rec.durationMs = rt < 0 ? -1 : parseMillis(text.slice(bounds[2 * rt], bounds[2 * rt + 1]));
    rec.endMs = this.endTime(text, bounds);
    rec.startMs = rec.durationMs >= 0 ? rec.endMs - rec.durationMs : rec.endMs;
    rec.upstreamAddr = this.value(text, bounds, 'upstream_addr');
    rec.upstreamStatus = this.value(text, bounds, 'upstream_status');
    rec.key = this.value(text, bounds, 'http_sec_websocket_key');
    rec.upgrade = this.value(text, bounds, 'http_upgrade');
    this.upgradeLogged = present(bounds, this.at.http_upgrade as number);
    rec.userAgent = this.value(text, bounds, 'http_user_agent');
  }

  private endTime(text: string, bounds: Int32Array): number {
    // A variable whose start bound is -1 is absent from this (JSON) line: use the next time source.
    const ms = this.at.msec as number;
    if (present(bounds, ms)) {
      const v = parseMillis(text.slice(bounds[2 * ms], bounds[2 * ms + 1]));
      return v < 0 ? NaN : v;
    }
    const local = this.at.time_local as number;
    const iso = this.at.time_iso8601 as number;
    const v = present(bounds, local) ? local : iso;
    if (!present(bounds, v)) return NaN;
    const s = text.slice(bounds[2 * v], bounds[2 * v + 1]);
    // Consecutive lines mostly share their second: parse each distinct time string once.
    if (s !== this.lastTime) {
      this.lastTime = s;
      this.lastTimeMs = v === local ? parseTimeLocal(s) : parseTimeIso(s);
    }
    return this.lastTimeMs;
  }
}
