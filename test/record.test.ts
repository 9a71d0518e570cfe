/*!
 * LogRecord reading (src/core/record.ts): the fields the analysis uses, read from matched lines of
 * several formats, and the time parsers ($time_local, $time_iso8601, $msec / $request_time).
 * Expected times are computed with Date.UTC from the wall-clock fields, never with the code under test.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RecordReader, newRecord, parseMillis, parseTimeIso, parseTimeLocal, type LogRecord } from '../src/core/record.js';
import { compileFormat, compileFormatString, type CompiledFormat } from '../src/format/compile.js';
import { describeFailure, matchAny, newBounds, newFailure } from '../src/format/parse-line.js';
import { findPreset } from '../src/format/presets.js';

function preset(name: string): CompiledFormat {
  const p = findPreset(name);
  assert.ok(p, `no preset ${name}`);
  return compileFormatString(p.text, p.escape, p.name);
}

/** Matches `line` (it must match) and reads it into `rec` (a fresh record unless given). */
function read(reader: RecordReader, line: string, rec: LogRecord = newRecord()): LogRecord {
  const f = reader.format;
  const bounds = newBounds(f);
  const failure = newFailure();
  assert.ok(matchAny(f, line, bounds, failure), describeFailure(f, line, failure));
  reader.read(line, bounds, rec);
  return rec;
}

// See: DESIGN.md (project design brief) "The incident it is built from": real lines, verbatim.
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.186 Safari/537.36';
const KEY_LINE = `[09/Mar/2018:17:07:07 +0800] 100.97.88.252 - - - 10.0.21.11 to: 10.0.20.11:8011: GET /ws/ HTTP/1.0 upstream_response_time - msec 1520586427.537 request_time 59.999 status 499 client - ${CHROME_MAC} 8+qDYeKJGFTWKB2ov4p5TA==`;
const OLD_101 = `[09/Mar/2018:15:03:51 +0800] 100.97.88.238 - - - 10.0.20.11 to: 127.0.0.1:8011: GET /ws/?id=168451&url=http://server.example.com HTTP/1.1 upstream_response_time 11.069 msec 1520579031.198 request_time 11.069 status 101 client - ${CHROME_MAC}`;

/** 17:07:07 at +08:00 on 9 March 2018. */
const T_0907 = Date.UTC(2018, 2, 9, 9, 7, 7);

interface RecordCase {
  name: string;
  format: CompiledFormat;
  line: string;
  want: Partial<LogRecord>;
  todo?: string;
}

const recordCases: RecordCase[] = [
  {
    name: 'incident key line (upstream-ws): HTTP/1.0 499 after 59.999 s, end from $msec',
    format: preset('upstream-ws'), line: KEY_LINE,
    want: {
      text: KEY_LINE, client: '100.97.88.252', method: 'GET', path: '/ws/', protocol: 'HTTP/1.0', status: 499, durationMs: 59999,
      endMs: 1520586427537, startMs: 1520586427537 - 59999, upstreamAddr: '10.0.20.11:8011', upstreamStatus: '',
      key: '8+qDYeKJGFTWKB2ov4p5TA==', upgrade: '', userAgent: CHROME_MAC,
    },
  },
  {
    name: 'incident older line (upstream): HTTP/1.1 101, query string kept in the path, no key',
    format: preset('upstream'), line: OLD_101,
    want: {
      client: '100.97.88.238', method: 'GET', path: '/ws/?id=168451&url=http://server.example.com', protocol: 'HTTP/1.1', status: 101,
      durationMs: 11069, endMs: 1520579031198, startMs: 1520579031198 - 11069, upstreamAddr: '127.0.0.1:8011', key: '', userAgent: CHROME_MAC,
    },
  },
  {
    name: 'combined: no $msec, so the end is $time_local; no $request_time, so start = end',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 1234 "-" "curl/8.5.0"',
    want: { client: '203.0.113.7', method: 'GET', path: '/ws/', protocol: 'HTTP/1.1', status: 101, durationMs: -1, endMs: T_0907, startMs: T_0907, userAgent: 'curl/8.5.0' },
  },
  {
    name: 'combined-ws: $time_local with a negative offset, absent values read as empty',
    format: preset('combined-ws'),
    line: '203.0.113.7 - - [09/Mar/2018:05:37:07 -0330] "GET /socket HTTP/1.0" 504 0 "-" "-" 60.004 "-" "-" 504',
    want: {
      method: 'GET', path: '/socket', protocol: 'HTTP/1.0', status: 504, durationMs: 60004, endMs: T_0907, startMs: T_0907 - 60004,
      upstreamStatus: '504', key: '', upgrade: '', userAgent: '',
    },
  },
  {
    name: 'escape=json with $time_iso8601 (+00:00) and no $msec',
    format: compileFormat(`escape=json '{"time":"$time_iso8601","addr":"$remote_addr","request":"$request","status":$status,"rt":$request_time,"up":"$http_upgrade","key":"$http_sec_websocket_key"}'`),
    line: '{"time":"2018-03-09T09:07:07+00:00","addr":"10.0.0.5","request":"GET /ws/ HTTP/1.1","status":101,"rt":300.000,"up":"websocket","key":"dGhlIHNhbXBsZSBub25jZQ=="}',
    want: {
      client: '10.0.0.5', protocol: 'HTTP/1.1', status: 101, durationMs: 300000, endMs: T_0907, startMs: T_0907 - 300000,
      upgrade: 'websocket', key: 'dGhlIHNhbXBsZSBub25jZQ==',
    },
  },
  {
    name: '$request_method $request_uri $server_protocol instead of $request',
    format: compileFormat('$remote_addr [$time_local] $request_method $request_uri $server_protocol $status $request_time'),
    line: '100.97.88.252 [09/Mar/2018:17:07:07 +0800] GET /ws/?id=1 HTTP/1.0 499 59.999',
    want: { client: '100.97.88.252', method: 'GET', path: '/ws/?id=1', protocol: 'HTTP/1.0', status: 499, durationMs: 59999, endMs: T_0907, startMs: T_0907 - 59999 },
  },
  {
    name: '$uri when there is no $request_uri',
    format: compileFormat('$remote_addr $request_method $uri $server_protocol $status'),
    line: '10.0.0.5 GET /ws HTTP/2.0 400',
    want: { method: 'GET', path: '/ws', protocol: 'HTTP/2.0', status: 400, durationMs: -1, endMs: NaN, startMs: NaN },
  },
  {
    name: '$server_protocol wins over the protocol inside $request',
    format: compileFormat('[$request] $server_protocol $status'),
    line: '[GET /ws/ HTTP/1.1] HTTP/1.0 426',
    want: { method: 'GET', path: '/ws/', protocol: 'HTTP/1.0', status: 426 },
  },
  {
    name: 'HTTP/0.9 request line: no protocol part',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /" 200 12 "-" "-"',
    want: { method: 'GET', path: '/', protocol: '', status: 200 },
  },
  {
    name: 'no request line at all ("-", 400)',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "-" 400 0 "-" "-"',
    want: { method: '', path: '', protocol: '', status: 400 },
  },
  {
    name: 'default escaping undone in the user agent and the path',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /caf\\xC3\\xA9 HTTP/1.1" 101 0 "-" "a \\x22b\\x22"',
    want: { path: '/café', userAgent: 'a "b"' },
  },
  {
    name: 'an escaped space in the path stays in the path (the request is split where nginx wrote spaces)',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /a\\x20b\\x22c HTTP/1.1" 101 0 "-" "-"',
    want: { method: 'GET', path: '/a b"c', protocol: 'HTTP/1.1' },
  },
  {
    name: 'an escaped space in the protocol part splits the decoded request line, whose path is not decoded twice',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /a\\x5Cx41 HTTP/1.1\\x20x" 400 0 "-" "-"',
    want: { method: 'GET', path: '/a\\x41 HTTP/1.1', protocol: 'x' },
  },
  {
    name: 'an escape in the method: the decoded request line is split',
    format: preset('combined'),
    line: '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "G\\x22T /ws HTTP/1.0" 400 0 "-" "-"',
    want: { method: 'G"T', path: '/ws', protocol: 'HTTP/1.0' },
  },
  {
    name: 'a format with no time and no status',
    format: compileFormat('$remote_addr "$request"'),
    line: '10.0.0.5 "GET /ws/ HTTP/1.1"',
    want: { client: '10.0.0.5', status: 0, durationMs: -1, endMs: NaN, startMs: NaN },
  },
];

for (const c of recordCases) {
  test(`record: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    const rec = read(new RecordReader(c.format), c.line);
    const got: Partial<LogRecord> = {};
    for (const k of Object.keys(c.want) as (keyof LogRecord)[]) (got as Record<string, unknown>)[k] = rec[k];
    assert.deepEqual(got, c.want);
  });
}

test('record: $msec and $time_local of the DESIGN.md lines agree to the second', () => {
  for (const [line, time] of [[KEY_LINE, '09/Mar/2018:17:07:07 +0800'], [OLD_101, '09/Mar/2018:15:03:51 +0800']] as const) {
    const rec = read(new RecordReader(preset(line === KEY_LINE ? 'upstream-ws' : 'upstream')), line);
    const local = parseTimeLocal(time);
    assert.ok(rec.endMs >= local && rec.endMs < local + 1000, `${rec.endMs} vs ${local}`);
  }
});

test('record: one reader and one record reused across lines leave nothing stale', () => {
  const reader = new RecordReader(preset('combined-ws'));
  const rec = newRecord();
  read(reader, '10.0.0.1 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 10 "-" "ua one" 5.000 "websocket" "dGhlIHNhbXBsZSBub25jZQ==" 101', rec);
  assert.deepEqual([rec.key, rec.upgrade, rec.endMs, rec.durationMs], ['dGhlIHNhbXBsZSBub25jZQ==', 'websocket', T_0907, 5000]);
  read(reader, '10.0.0.2 - - [10/Mar/2018:17:07:07 +0800] "GET / HTTP/1.0" 200 10 "-" "-" 0.001 "-" "-" -', rec);
  assert.deepEqual(
    [rec.client, rec.key, rec.upgrade, rec.upstreamStatus, rec.userAgent, rec.protocol, rec.endMs, rec.durationMs],
    ['10.0.0.2', '', '', '', '', 'HTTP/1.0', T_0907 + 86_400_000, 1],
  );
  // Back to the first time string: the reader's one-entry time cache must not return the second.
  read(reader, '10.0.0.3 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 10 "-" "-" 2.500 "-" "-" -', rec);
  assert.deepEqual([rec.client, rec.endMs, rec.startMs], ['10.0.0.3', T_0907, T_0907 - 2500]);
});

test('record: logsUpgrade tells whether the line just read logs $http_upgrade (its format has it)', () => {
  const withUpgrade = new RecordReader(preset('combined-ws'));
  read(withUpgrade, '203.0.113.7 - - [09/Mar/2018:05:37:07 -0330] "GET /socket HTTP/1.0" 504 0 "-" "-" 60.004 "-" "-" 504');
  assert.equal(withUpgrade.logsUpgrade, true);
  const without = new RecordReader(preset('combined'));
  read(without, '203.0.113.7 - - [09/Mar/2018:17:07:07 +0800] "GET /ws/ HTTP/1.1" 101 1234 "-" "curl/8.5.0"');
  assert.equal(without.logsUpgrade, false);
});

// --- time parsers --------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const timeLocalCases: { name: string; s: string; want: number; todo?: string }[] = [
  { name: 'the incident line (+0800)', s: '09/Mar/2018:17:07:07 +0800', want: 1520586427000 },
  { name: 'UTC', s: '09/Mar/2018:09:07:07 +0000', want: T_0907 },
  { name: 'negative offset with minutes (-0330)', s: '09/Mar/2018:05:37:07 -0330', want: T_0907 },
  { name: 'negative offset crossing the year', s: '31/Dec/2018:23:30:00 -0100', want: Date.UTC(2019, 0, 1, 0, 30, 0) },
  { name: 'positive offset crossing back a day (+1400)', s: '01/Jan/2019:05:00:00 +1400', want: Date.UTC(2018, 11, 31, 15, 0, 0) },
  { name: 'leap day', s: '29/Feb/2020:12:00:00 +0000', want: Date.UTC(2020, 1, 29, 12) },
  ...MONTHS.map((m, i) => ({ name: `month ${m}`, s: `15/${m}/2021:08:09:10 +0000`, want: Date.UTC(2021, i, 15, 8, 9, 10) })),
  { name: 'unknown month', s: '09/Foo/2018:17:07:07 +0800', want: NaN },
  { name: 'lowercase month (nginx always writes Mar)', s: '09/mar/2018:17:07:07 +0800', want: NaN },
  { name: 'truncated', s: '09/Mar/2018:17:07:07', want: NaN },
  { name: 'empty', s: '', want: NaN },
  {
    name: 'a non-digit in the time', s: '09/Mar/2018:17:0x:07 +0800', want: NaN,
  },
  { name: 'a non-digit in the offset', s: '09/Mar/2018:17:07:07 +08a0', want: NaN },
];

for (const c of timeLocalCases) {
  test(`parseTimeLocal: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    assert.equal(parseTimeLocal(c.s), c.want);
  });
}

const timeIsoCases: { name: string; s: string; want: number }[] = [
  { name: 'UTC is +00:00', s: '2018-03-09T09:07:07+00:00', want: T_0907 },
  { name: '+08:00', s: '2018-03-09T17:07:07+08:00', want: T_0907 },
  { name: '-03:30', s: '2018-03-09T05:37:07-03:30', want: T_0907 },
  { name: 'crossing the year', s: '2018-12-31T23:30:00-01:00', want: Date.UTC(2019, 0, 1, 0, 30) },
  { name: '"Z" is not what nginx writes', s: '2018-03-09T09:07:07Z', want: NaN },
  { name: 'empty', s: '', want: NaN },
];

for (const c of timeIsoCases) {
  test(`parseTimeIso: ${c.name}`, () => {
    assert.equal(parseTimeIso(c.s), c.want);
  });
}

const millisCases: { s: string; want: number }[] = [
  { s: '1520586427.537', want: 1520586427537 },
  { s: '60.000', want: 60000 },
  { s: '59.999', want: 59999 },
  { s: '0.001', want: 1 },
  { s: '0.000', want: 0 },
  { s: '-', want: -1 },
  { s: '60', want: -1 },
  { s: '60.0', want: -1 },
  { s: '60.0000', want: -1 },
  { s: '6a.000', want: -1 },
  // Each of the three digits after the dot is checked: the bytes just below '0' and above '9'.
  { s: '60./00', want: -1 },
  { s: '60.0:0', want: -1 },
  { s: '60.00a', want: -1 },
  { s: '.000', want: -1 },
  { s: '0.001, 0.002', want: -1 },
  { s: '', want: -1 },
];

for (const c of millisCases) {
  test(`parseMillis: ${JSON.stringify(c.s)} → ${c.want}`, () => {
    assert.equal(parseMillis(c.s), c.want);
  });
}
