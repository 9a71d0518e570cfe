/*!
 * Line matching (src/format/parse-line.ts) and parseFields (src/index.ts) on lines as nginx writes
 * them: the incident lines from DESIGN.md verbatim, and others built per nginx-facts.md §2 (default
 * `\xHH` escaping, escape=json, `-` for absent values, `, ` / ` : ` upstream lists). Mismatches
 * return false with a failure position; nothing here may throw or take long on a hostile line.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compileFormat, compileFormatString, type CompiledFormat } from '../src/format/compile.js';
import {
  decodeHexEscapes, decodeJsonEscapes, describeFailure, fieldValue, matchAny, matchLine, newBounds, newFailure,
} from '../src/format/parse-line.js';
import { findPreset } from '../src/format/presets.js';
import { parseFields } from '../src/index.js';

function preset(name: string): CompiledFormat {
  const p = findPreset(name);
  assert.ok(p, `no preset ${name}`);
  return compileFormatString(p.text, p.escape, p.name);
}

const COMBINED = preset('combined');
const MAIN = preset('main');
const UPSTREAMINFO = preset('upstreaminfo');
const UPSTREAM_WS = preset('upstream-ws');
const UPSTREAM = preset('upstream');
const COMBINED_WS = preset('combined-ws');
const JSON_FORMAT = compileFormat(`escape=json '{"time":"$time_iso8601","request":"$request","status":$status,"request_time":$request_time,"ua":"$http_user_agent"}'`);

// See: DESIGN.md (project design brief) "The incident it is built from": real lines, verbatim.
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.186 Safari/537.36';
const KEY_LINE = `[09/Mar/2018:17:07:07 +0800] 100.97.88.252 - - - 10.0.21.11 to: 10.0.20.11:8011: GET /ws/ HTTP/1.0 upstream_response_time - msec 1520586427.537 request_time 59.999 status 499 client - ${CHROME_MAC} 8+qDYeKJGFTWKB2ov4p5TA==`;
const OLD_101 = `[09/Mar/2018:15:03:51 +0800] 100.97.88.238 - - - 10.0.20.11 to: 127.0.0.1:8011: GET /ws/?id=168451&url=http://server.example.com HTTP/1.1 upstream_response_time 11.069 msec 1520579031.198 request_time 11.069 status 101 client - ${CHROME_MAC}`;
const OLD_499_CLOSED = `[09/Mar/2018:15:04:32 +0800] 100.97.88.254 - - - 10.0.20.11 to: 127.0.0.1:8011: GET /ws/?id=168451&url=http://server.example.com HTTP/1.0 upstream_response_time - msec 1520579072.716 request_time 36.755 status 499 client - ${CHROME_MAC}`;
const OLD_499_TIMEOUT = `[09/Mar/2018:15:04:51 +0800] 100.97.89.10 - - - 10.0.21.11 to: 10.0.20.11:8011: GET /ws/?id=168451&url=http://server.example.com/ HTTP/1.0 upstream_response_time - msec 1520579091.139 request_time 60.000 status 499 client - ${CHROME_MAC}`;

// Built as nginx 1.22 writes them (nginx-facts.md §1.3, §2).
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const COMBINED_LINE = `203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/?id=1 HTTP/1.1" 101 1234 "-" "${CHROME_LINUX}"`;
const REQ_ID = '5f1c2b6a9d0e4f7a8b3c2d1e0f9a8b7c';
const INGRESS_HEAD = `10.0.0.9 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 512 "-" "${CHROME_LINUX}" 431 12.345 [default-ws-80] []`;

function incident(o: {
  time: string; addr: string; server: string; upstream: string; request: string; urt: string; msec: string; rt: string; status: string; key?: string;
}): Record<string, string> {
  return {
    time_local: o.time, remote_addr: o.addr, remote_user: '-', server_addr: o.server, upstream_addr: o.upstream, request: o.request,
    upstream_response_time: o.urt, msec: o.msec, request_time: o.rt, status: o.status, http_user_agent: CHROME_MAC,
    ...(o.key === undefined ? {} : { http_sec_websocket_key: o.key }),
  };
}

const combinedWant = (ua: string, extra: Record<string, string> = {}): Record<string, string> => ({
  remote_addr: '203.0.113.7', remote_user: '-', time_local: '09/Mar/2018:17:07:07 +0800', request: 'GET /ws/?id=1 HTTP/1.1',
  status: '101', body_bytes_sent: '1234', http_referer: '-', http_user_agent: ua, ...extra,
});

const ingressWant = (addr: string, len: string, rt: string, status: string): Record<string, string> => ({
  remote_addr: '10.0.0.9', remote_user: '-', time_local: '09/Mar/2018:17:07:07 +0800', request: 'GET /ws/ HTTP/1.1', status: '101',
  body_bytes_sent: '512', http_referer: '-', http_user_agent: CHROME_LINUX, request_length: '431', request_time: '12.345',
  proxy_upstream_name: 'default-ws-80', proxy_alternative_upstream_name: '', upstream_addr: addr, upstream_response_length: len,
  upstream_response_time: rt, upstream_status: status, req_id: REQ_ID,
});

interface MatchCase {
  name: string;
  format: CompiledFormat;
  line: string;
  /** parseFields' exact result (decoded values). */
  want?: Record<string, string>;
  /** Matches only with the relaxed shapes (matchLine strict is false, matchAny true). */
  relaxedOnly?: boolean;
  /** Raw (undecoded) text of some variables, as sliced from the line by the bounds. */
  raw?: Record<string, string>;
  todo?: string;
}

const matchCases: MatchCase[] = [
  {
    name: 'combined: user agent full of spaces',
    format: COMBINED, line: COMBINED_LINE, want: combinedWant(CHROME_LINUX),
  },
  {
    name: 'main: $http_x_forwarded_for absent ("-")',
    format: MAIN, line: `${COMBINED_LINE} "-"`, want: combinedWant(CHROME_LINUX, { http_x_forwarded_for: '-' }),
  },
  {
    name: 'main: $http_x_forwarded_for with two addresses',
    format: MAIN, line: `${COMBINED_LINE} "1.2.3.4, 5.6.7.8"`, want: combinedWant(CHROME_LINUX, { http_x_forwarded_for: '1.2.3.4, 5.6.7.8' }),
  },
  {
    name: 'incident (upstream-ws): the key line, HTTP/1.0 499 at 59.999 s',
    format: UPSTREAM_WS, line: KEY_LINE,
    want: incident({
      time: '09/Mar/2018:17:07:07 +0800', addr: '100.97.88.252', server: '10.0.21.11', upstream: '10.0.20.11:8011', request: 'GET /ws/ HTTP/1.0',
      urt: '-', msec: '1520586427.537', rt: '59.999', status: '499', key: '8+qDYeKJGFTWKB2ov4p5TA==',
    }),
  },
  {
    name: 'incident (upstream): older line, HTTP/1.1 101',
    format: UPSTREAM, line: OLD_101,
    want: incident({
      time: '09/Mar/2018:15:03:51 +0800', addr: '100.97.88.238', server: '10.0.20.11', upstream: '127.0.0.1:8011',
      request: 'GET /ws/?id=168451&url=http://server.example.com HTTP/1.1', urt: '11.069', msec: '1520579031.198', rt: '11.069', status: '101',
    }),
  },
  {
    name: 'incident (upstream): older line, HTTP/1.0 499 closed by the user at 36.755 s',
    format: UPSTREAM, line: OLD_499_CLOSED,
    want: incident({
      time: '09/Mar/2018:15:04:32 +0800', addr: '100.97.88.254', server: '10.0.20.11', upstream: '127.0.0.1:8011',
      request: 'GET /ws/?id=168451&url=http://server.example.com HTTP/1.0', urt: '-', msec: '1520579072.716', rt: '36.755', status: '499',
    }),
  },
  {
    name: 'incident (upstream): older line, HTTP/1.0 499 at 60.000 s',
    format: UPSTREAM, line: OLD_499_TIMEOUT,
    want: incident({
      time: '09/Mar/2018:15:04:51 +0800', addr: '100.97.89.10', server: '10.0.21.11', upstream: '10.0.20.11:8011',
      request: 'GET /ws/?id=168451&url=http://server.example.com/ HTTP/1.0', urt: '-', msec: '1520579091.139', rt: '60.000', status: '499',
    }),
  },
  {
    name: 'upstreaminfo (ingress-nginx): upstream lists joined by ", " do not shift the fields',
    format: UPSTREAMINFO,
    line: `${INGRESS_HEAD} 10.0.0.1:80, 10.0.0.2:80 0, 512 0.001, 12.340 502, 101 ${REQ_ID}`,
    want: ingressWant('10.0.0.1:80, 10.0.0.2:80', '0, 512', '0.001, 12.340', '502, 101'),
  },
  {
    name: 'upstreaminfo (ingress-nginx): lists with ", " and " : " (internal redirect) do not shift the fields',
    format: UPSTREAMINFO,
    line: `${INGRESS_HEAD} 10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80 0, 0 : 512 0.001, 0.002 : 12.340 502, 502 : 101 ${REQ_ID}`,
    want: ingressWant('10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80', '0, 0 : 512', '0.001, 0.002 : 12.340', '502, 502 : 101'),
  },
  {
    name: 'upstreaminfo (ingress-nginx): a single " : " join',
    format: UPSTREAMINFO,
    line: `${INGRESS_HEAD} 10.0.0.1:80 : 10.0.0.3:80 0 : 512 0.001 : 12.340 502 : 101 ${REQ_ID}`,
    want: ingressWant('10.0.0.1:80 : 10.0.0.3:80', '0 : 512', '0.001 : 12.340', '502 : 101'),
  },
  {
    name: 'escape=json: \\" \\\\ \\u0001 decoded; a raw é passes through',
    format: JSON_FORMAT,
    line: '{"time":"2018-03-09T17:07:07+08:00","request":"GET /ws/ HTTP/1.1","status":101,"request_time":60.001,"ua":"Mozilla \\"q\\" back\\\\slash ctl\\u0001 café"}',
    want: {
      time_iso8601: '2018-03-09T17:07:07+08:00', request: 'GET /ws/ HTTP/1.1', status: '101', request_time: '60.001',
      http_user_agent: 'Mozilla "q" back\\slash ctl\u0001 café',
    },
    raw: { http_user_agent: 'Mozilla \\"q\\" back\\\\slash ctl\\u0001 café' },
  },
  {
    name: 'escape=json: absent or empty values are empty strings',
    format: JSON_FORMAT,
    line: '{"time":"2018-03-09T17:07:07+08:00","request":"GET /ws/ HTTP/1.1","status":400,"request_time":0.000,"ua":""}',
    want: { time_iso8601: '2018-03-09T17:07:07+08:00', request: 'GET /ws/ HTTP/1.1', status: '400', request_time: '0.000', http_user_agent: '' },
  },
  {
    name: 'default escaping: \\x22 \\x5C, UTF-8 bytes \\xC3\\xA9 and an invalid \\xFF are decoded; the raw text still matches',
    format: COMBINED,
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/?id=1 HTTP/1.1" 101 1234 "-" "Mozilla \\x22q\\x22 back\\x5Cslash caf\\xC3\\xA9 bad\\xFF"',
    want: combinedWant('Mozilla "q" back\\slash café bad\uFFFD'),
    raw: { http_user_agent: 'Mozilla \\x22q\\x22 back\\x5Cslash caf\\xC3\\xA9 bad\\xFF' },
  },
  {
    name: 'default escaping: a TLS ClientHello on a plain port logged as $request (400)',
    format: COMBINED,
    line: '203.0.113.9 - - [09/Mar/2018:17:07:07 +0800] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03" 400 157 "-" "-"',
    want: {
      remote_addr: '203.0.113.9', remote_user: '-', time_local: '09/Mar/2018:17:07:07 +0800', request: '\x16\x03\x01\x02\x00\x01\x00\x01\uFFFD\x03\x03',
      status: '400', body_bytes_sent: '157', http_referer: '-', http_user_agent: '-',
    },
  },
  {
    name: 'default escaping: absent values are "-", as written',
    format: COMBINED_WS,
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.0" 499 0 "-" "-" 60.000 "-" "-" -',
    want: {
      remote_addr: '203.0.113.7', remote_user: '-', time_local: '09/Mar/2018:17:07:07 +0800', request: 'GET /ws/ HTTP/1.0', status: '499',
      body_bytes_sent: '0', http_referer: '-', http_user_agent: '-', request_time: '60.000', http_upgrade: '-', http_sec_websocket_key: '-', upstream_status: '-',
    },
  },
  {
    name: 'default escaping: found but empty values are empty ("")',
    format: COMBINED_WS,
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 0 "" "" 60.001 "websocket" "dGhlIHNhbXBsZSBub25jZQ==" 101',
    want: {
      remote_addr: '203.0.113.7', remote_user: '-', time_local: '09/Mar/2018:17:07:07 +0800', request: 'GET /ws/ HTTP/1.1', status: '101',
      body_bytes_sent: '0', http_referer: '', http_user_agent: '', request_time: '60.001', http_upgrade: 'websocket',
      http_sec_websocket_key: 'dGhlIHNhbXBsZSBub25jZQ==', upstream_status: '101',
    },
  },
  {
    name: 'escape=json: a quoted value in the middle ending in an escaped backslash or quote',
    format: compileFormat(`escape=json '{"ua":"$http_user_agent","ref":"$http_referer","status":$status}'`),
    line: '{"ua":"C:\\\\","ref":"say \\"hi\\"","status":200}',
    want: { http_user_agent: 'C:\\', http_referer: 'say "hi"', status: '200' },
  },
  {
    name: 'escape=none: quoted values may hold raw quotes',
    format: compileFormat(`escape=none '$remote_addr "$http_user_agent" $status'`),
    line: '203.0.113.7 "Mozilla "x" y" 200',
    want: { remote_addr: '203.0.113.7', http_user_agent: 'Mozilla "x" y', status: '200' },
  },
  {
    name: 'relaxed shapes: a $request_uri with a space matches only relaxed',
    format: compileFormat('$request_uri $status $request_time'),
    line: '/a b 400 0.001',
    want: { request_uri: '/a b', status: '400', request_time: '0.001' },
    relaxedOnly: true,
  },
];

for (const c of matchCases) {
  test(`match: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    const f = c.format;
    const bounds = newBounds(f);
    const failure = newFailure();
    assert.equal(matchLine(f, c.line, bounds, failure), !c.relaxedOnly, 'strict match');
    assert.equal(matchAny(f, c.line, bounds, failure), true, `matchAny: ${describeFailure(f, c.line, failure)}`);
    assert.deepEqual(parseFields(f, c.line), c.want);
    for (const [name, want] of Object.entries(c.raw ?? {})) {
      const v = f.index.get(name);
      assert.ok(v !== undefined, `format has no $${name}`);
      assert.equal(c.line.slice(bounds[2 * v], bounds[2 * v + 1]), want, `raw $${name}`);
    }
  });
}

test('escape=json: decoded values equal what JSON.parse reads from the same line', () => {
  const line = '{"time":"2018-03-09T17:07:07+08:00","request":"GET /ws/ HTTP/1.1","status":101,"request_time":60.001,"ua":"a\\"b\\\\c\\u0001\\n\\t\\r\\b\\f é"}';
  const bounds = newBounds(JSON_FORMAT);
  assert.ok(matchAny(JSON_FORMAT, line, bounds, newFailure()));
  const parsed = JSON.parse(line) as { ua: string; request: string };
  assert.equal(fieldValue(JSON_FORMAT, line, bounds, JSON_FORMAT.index.get('http_user_agent') as number), parsed.ua);
  assert.equal(fieldValue(JSON_FORMAT, line, bounds, JSON_FORMAT.index.get('request') as number), parsed.request);
});

test('incident: the 3 lines written before the key was appended do not match upstream-ws', () => {
  for (const line of [OLD_101, OLD_499_CLOSED, OLD_499_TIMEOUT]) {
    const failure = newFailure();
    assert.equal(matchAny(UPSTREAM_WS, line, newBounds(UPSTREAM_WS), failure), false, line);
    assert.equal(parseFields(UPSTREAM_WS, line), null);
  }
});

// --- failures ------------------------------------------------------------------------------------

interface FailCase {
  name: string;
  format: CompiledFormat;
  line: string;
  /** Expected failure slot; omitted where only "false, no throw" is the contract. */
  failure?: { offset: number; varIndex: number };
  /** Substrings describeFailure must contain. */
  says?: string[];
  todo?: string;
}

const truncatedCombined = COMBINED_LINE.slice(0, COMBINED_LINE.indexOf('" 101 ') + 7); // `… "GET … HTTP/1.1" 101 1`
const truncatedKeyLine = KEY_LINE.slice(0, KEY_LINE.indexOf(' request_time ')); // ends after `msec 1520586427.537`

const failCases: FailCase[] = [
  {
    name: 'combined, truncated inside $body_bytes_sent',
    format: COMBINED, line: truncatedCombined,
    failure: { offset: truncatedCombined.length - 1, varIndex: COMBINED.vars.indexOf('body_bytes_sent') },
    says: ['$body_bytes_sent', JSON.stringify(' "'), `column ${truncatedCombined.length}`, '"1"'],
  },
  {
    name: 'incident key line truncated after $msec',
    format: UPSTREAM_WS, line: truncatedKeyLine,
    failure: { offset: truncatedKeyLine.indexOf(' msec ') + 6, varIndex: UPSTREAM_WS.vars.indexOf('msec') },
    says: ['$msec', JSON.stringify(' request_time '), `column ${truncatedKeyLine.indexOf(' msec ') + 7}`, '"1520586427.537"'],
  },
  {
    name: 'a combined line against the incident format (leading literal differs)',
    format: UPSTREAM_WS, line: COMBINED_LINE,
    failure: { offset: 0, varIndex: -1 },
    says: ['start with "["', JSON.stringify(COMBINED_LINE.slice(0, 60))],
  },
  {
    name: 'an incident line against combined',
    format: COMBINED, line: KEY_LINE,
  },
  {
    name: 'empty string against combined (no leading literal)',
    format: COMBINED, line: '',
    failure: { offset: 0, varIndex: 0 },
    says: ['$remote_addr', 'end of line'],
  },
  {
    name: 'empty string against the incident format',
    format: UPSTREAM_WS, line: '',
    failure: { offset: 0, varIndex: -1 },
    says: ['start with "["', 'end of line'],
  },
  {
    name: 'empty string against escape=json',
    format: JSON_FORMAT, line: '',
    failure: { offset: 0, varIndex: -1 },
  },
  {
    name: 'incident key line with an extra trailing field',
    format: UPSTREAM_WS, line: `${KEY_LINE} extra`,
  },
  {
    name: 'combined-ws line with an extra trailing field',
    format: COMBINED_WS, line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 0 "-" "-" 60.001 "websocket" "dGhlIHNhbXBsZSBub25jZQ==" 101 extra',
  },
  {
    name: 'combined line whose $time_local has a non-digit minute',
    format: COMBINED, line: COMBINED_LINE.replace('17:07:07', '17:0x:07'),
    failure: { offset: COMBINED_LINE.indexOf('[') + 1, varIndex: COMBINED.vars.indexOf('time_local') },
    says: ['$time_local'],
  },
  {
    name: 'a main line (one more quoted field) against combined',
    format: COMBINED, line: `${COMBINED_LINE} "1.2.3.4, 5.6.7.8"`,
  },
  {
    name: 'escape=json line with a trailing field',
    format: JSON_FORMAT, line: '{"time":"2018-03-09T17:07:07+08:00","request":"GET / HTTP/1.1","status":200,"request_time":0.001,"ua":"x","extra":"y"}',
  },
];

for (const c of failCases) {
  test(`no match: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    const bounds = newBounds(c.format);
    const failure = newFailure();
    assert.equal(matchAny(c.format, c.line, bounds, failure), false);
    assert.equal(parseFields(c.format, c.line), null);
    if (c.failure !== undefined) {
      assert.deepEqual({ offset: failure.offset, varIndex: failure.varIndex }, c.failure, 'after matchAny');
      // matchLine resets the slot, so the strict pass alone reports the same place.
      const strict = newFailure();
      assert.equal(matchLine(c.format, c.line, bounds, strict), false);
      assert.deepEqual({ offset: strict.offset, varIndex: strict.varIndex }, c.failure, 'after the strict pass');
    }
    const words = describeFailure(c.format, c.line, failure);
    for (const s of c.says ?? []) assert.ok(words.includes(s), `describeFailure lacks ${s}: ${words}`);
  });
}

// --- hostile lines: the backtracking budget --------------------------------------------------------

const hostile: { name: string; line: string }[] = [
  { name: '10 KB of spaces after the time', line: `[09/Mar/2018:17:07:07 +0800] ${' '.repeat(10 * 1024)}` },
  { name: 'user agent replaced by 10 KB of spaces', line: KEY_LINE.replace('Mozilla', ' '.repeat(10 * 1024)) },
  { name: 'user agent of 5000 words, key intact', line: KEY_LINE.replace('Mozilla', ' a'.repeat(5000)) },
  { name: 'user agent of 5000 words, key cut', line: KEY_LINE.replace('Mozilla', ' a'.repeat(5000)).slice(0, -3) },
  { name: 'request of 5000 words', line: KEY_LINE.replace('GET /ws/', `GET /ws/${' a'.repeat(5000)}`) },
  { name: 'every separator literal repeated', line: `[09/Mar/2018:17:07:07 +0800] ${' to: : upstream_response_time  msec  request_time  status  client - '.repeat(150)}` },
];

for (const c of hostile) {
  test(`hostile line against the incident format: ${c.name}`, () => {
    assert.ok(c.line.length >= 10_000);
    const bounds = newBounds(UPSTREAM_WS);
    const failure = newFailure();
    const t0 = performance.now();
    const r = matchAny(UPSTREAM_WS, c.line, bounds, failure);
    const ms = performance.now() - t0;
    assert.equal(typeof r, 'boolean');
    assert.ok(ms < 250, `took ${ms.toFixed(1)} ms`);
    if (!r) assert.equal(typeof describeFailure(UPSTREAM_WS, c.line, failure), 'string');
  });
}

// --- decoders --------------------------------------------------------------------------------------

const hexCases: { name: string; raw: string; want: string }[] = [
  { name: 'quote and backslash', raw: 'a\\x22b\\x5Cc', want: 'a"b\\c' },
  { name: 'UTF-8 bytes become one character', raw: 'caf\\xC3\\xA9', want: 'café' },
  { name: 'a 4-byte UTF-8 sequence', raw: '\\xF0\\x9F\\x98\\x80!', want: '\u{1F600}!' },
  { name: 'invalid UTF-8 becomes U+FFFD', raw: 'x\\xFFy', want: 'x\uFFFDy' },
  { name: 'control characters', raw: '\\x00\\x0A\\x1F\\x7F', want: '\x00\n\x1F\x7F' },
  { name: 'lowercase hex is accepted too', raw: '\\x5c\\x2f', want: '\\/' },
  { name: 'not hex: kept as written', raw: '\\xZZ\\x4', want: '\\xZZ\\x4' },
  { name: 'escape at the very end', raw: 'ab\\x41', want: 'abA' },
  { name: 'no escapes: unchanged', raw: 'plain text, spaces [and] brackets', want: 'plain text, spaces [and] brackets' },
];

for (const c of hexCases) {
  test(`decodeHexEscapes: ${c.name}`, () => {
    assert.equal(decodeHexEscapes(c.raw), c.want);
  });
}

const jsonCases: { name: string; raw: string; want: string }[] = [
  { name: 'quote and backslash', raw: 'a\\"b\\\\c', want: 'a"b\\c' },
  { name: 'named controls', raw: '\\n\\r\\t\\b\\f', want: '\n\r\t\b\f' },
  { name: '\\u00XX', raw: '\\u0001\\u001F\\u00e9', want: '\u0001\u001Fé' },
  { name: 'raw non-ASCII passes through', raw: 'café ü', want: 'café ü' },
  { name: 'unknown escape and a trailing backslash are kept', raw: '\\q\\', want: '\\q\\' },
  { name: 'short \\u is kept', raw: '\\u12', want: '\\u12' },
];

for (const c of jsonCases) {
  test(`decodeJsonEscapes: ${c.name}`, () => {
    assert.equal(decodeJsonEscapes(c.raw), c.want);
  });
}

test('fieldValue decodes per the format\'s escape mode; escape=none leaves text as is', () => {
  const none = compileFormat("escape=none '[$http_user_agent]'");
  const line = '[a \\x22 \\" b]';
  const bounds = newBounds(none);
  assert.ok(matchAny(none, line, bounds, newFailure()));
  assert.equal(fieldValue(none, line, bounds, 0), 'a \\x22 \\" b');
});

test('newBounds holds two slots per variable, at least two', () => {
  assert.equal(newBounds(UPSTREAM_WS).length, 2 * UPSTREAM_WS.vars.length);
  assert.equal(newBounds(compileFormat('static')).length, 2);
});

test('a format without variables matches only its exact text', () => {
  const f = compileFormat('static');
  const b = newBounds(f);
  assert.deepEqual([matchAny(f, 'static', b, newFailure()), matchAny(f, 'static!', b, newFailure()), matchAny(f, 'stat', b, newFailure())], [true, false, false]);
});
