/*!
 * The `json` format (src/format/json-format.ts) one line shape per row: keys found by variable name
 * or alias at any depth, values shape-checked, what nginx writes for unquoted variables tolerated,
 * non-JSON lines refused with a readable reason. Then RecordReader on JSON lines, where a key may be
 * absent from one line and present in the next, and the syslog header reader (src/format/syslog.ts).
 * Real nginx JSON output is checked field by field in test/e2e/format-inputs.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compileJsonFormat } from '../src/format/json-format.js';
import { describeFailure, matchLine, newBounds, newFailure } from '../src/format/parse-line.js';
import { syslogBodyStart } from '../src/format/syslog.js';
import { RecordReader, newRecord } from '../src/core/record.js';
import { parseFields } from '../src/index.js';

const JSON = compileJsonFormat();
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

const cases: Array<{ name: string; line: string; want?: Record<string, string>; fail?: RegExp }> = [
  {
    name: 'flat, aliases, numbers unquoted',
    line: `{"time":"2024-05-01T12:00:01+00:00","client":"10.0.0.1","method":"GET","path":"/ws/a?x=1","protocol":"HTTP/1.0","status":499,"duration":3.001,"upstream":"127.0.0.1:8080","ua":"Mozilla/5.0 (X11)","upgrade":"","ws_key":"${KEY}"}`,
    want: {
      time_iso8601: '2024-05-01T12:00:01+00:00', remote_addr: '10.0.0.1', request_method: 'GET', request_uri: '/ws/a?x=1', server_protocol: 'HTTP/1.0',
      status: '499', request_time: '3.001', upstream_addr: '127.0.0.1:8080', http_user_agent: 'Mozilla/5.0 (X11)', http_upgrade: '', http_sec_websocket_key: KEY,
    },
  },
  {
    name: 'nested objects and arrays, spaces around colons',
    line: `{ "@timestamp" : "09/Mar/2018:17:07:07 +0800", "tags": ["a", {"status": "x"}, "]"], "nginx": { "remote_addr": "10.0.0.3", "status": "200", "http": {"request": "GET / HTTP/1.1"} } }`,
    want: { time_local: '09/Mar/2018:17:07:07 +0800', remote_addr: '10.0.0.3', status: '200', request: 'GET / HTTP/1.1' },
  },
  {
    name: 'unquoted variables as nginx writes them: a list, and nothing when absent',
    line: '{"status":502,"upstream_status":502, 101,"upstream_addr":127.0.0.1:1, 127.0.0.1:2,"upstream_response_time":,"request_time":0.004}',
    want: { status: '502', upstream_status: '502, 101', upstream_addr: '127.0.0.1:1, 127.0.0.1:2', upstream_response_time: '', request_time: '0.004' },
  },
  {
    name: 'null is absent; JSON escapes decoded; replacement characters (raw bytes ≥ 0x80) pass',
    line: '{"status":"101","http_upgrade":null,"http_user_agent":"a \\"q\\" b\\\\c \\u0001 \uFFFD\uFFFD é"}',
    want: { status: '101', http_user_agent: 'a "q" b\\c \u0001 \uFFFD\uFFFD é' },
  },
  {
    name: 'a "request" holding a bare URI is $request_uri (Logstash-style names)',
    line: '{"clientip":"10.1.1.1","timestamp":"09/Mar/2018:17:07:07 +0800","verb":"GET","request":"/ws/","http_version":"HTTP/1.1","response":"101","agent":"curl/8"}',
    want: { remote_addr: '10.1.1.1', time_local: '09/Mar/2018:17:07:07 +0800', request_method: 'GET', request_uri: '/ws/', server_protocol: 'HTTP/1.1', status: '101', http_user_agent: 'curl/8' },
  },
  {
    name: 'the exact variable name wins over an alias whatever the order; a TLS "protocol" is not $server_protocol',
    line: '{"path":"/alias","ssl":{"protocol":"TLSv1.3"},"request_uri":"/exact","server_protocol":"HTTP/1.1","status":200}',
    want: { request_uri: '/exact', server_protocol: 'HTTP/1.1', status: '200' },
  },
  {
    name: '"time" holding $msec; a duration that is not %T.%03M is not $request_time',
    line: '{"time":"1520586427.537","status":"200","duration":0.5}',
    want: { msec: '1520586427.537', status: '200' },
  },
  { name: 'a combined line is not JSON', line: '10.0.0.1 - - [09/Mar/2018:17:07:07 +0800] "GET / HTTP/1.1" 200 1 "-" "ua"', fail: /^expected a JSON object \("\{" …\), got "10\.0\.0\.1/ },
  { name: 'a truncated object', line: '{"status":200,"ua":"abc', fail: /^not a one-line JSON object at column 20: got "\\"abc"/ },
  { name: 'text after the object', line: '{"status":200} trailing', fail: /^not a one-line JSON object at column 15: got " trailing"/ },
  { name: 'a trailing comma', line: '{"status":200,}', fail: /^not a one-line JSON object at column 14/ },
  { name: 'no status', line: '{"remote_addr":"10.0.0.1","request":"GET / HTTP/1.1"}', fail: /^a JSON object without a status \(looked for the keys status, response, / },
  { name: 'a status that is not three digits', line: '{"status":"ok"}', fail: /without a status/ },
];

for (const c of cases) {
  test(`json: ${c.name}`, () => {
    const bounds = newBounds(JSON);
    const failure = newFailure();
    const ok = matchLine(JSON, c.line, bounds, failure);
    if (c.fail) {
      assert.equal(ok, false);
      assert.equal(matchLine(JSON, c.line, bounds, failure, true), false, 'no relaxed second try for JSON');
      assert.match(describeFailure(JSON, c.line, failure), c.fail);
      assert.equal(parseFields(JSON, c.line), null);
      return;
    }
    assert.equal(ok, true, describeFailure(JSON, c.line, failure));
    assert.deepEqual(parseFields(JSON, c.line), c.want);
  });
}

test('json: RecordReader takes each line\'s own keys (time source, Upgrade logged or not)', () => {
  const reader = new RecordReader(JSON);
  const bounds = newBounds(JSON);
  const rec = newRecord();
  const read = (line: string): void => {
    assert.ok(matchLine(JSON, line, bounds, newFailure()), line);
    reader.read(line, bounds, rec);
  };
  read(`{"msec":"1520586427.537","request_time":"59.999","status":499,"request":"GET /ws/ HTTP/1.0","ws_key":"${KEY}","upgrade":""}`);
  assert.deepEqual([rec.endMs, rec.durationMs, rec.startMs, rec.protocol, rec.path, rec.key, rec.upgrade, reader.logsUpgrade], [1520586427537, 59999, 1520586367538, 'HTTP/1.0', '/ws/', KEY, '', true]);
  // No msec on this line: the ISO time is used; no Upgrade key: not "logged and empty".
  read('{"time":"2018-03-09T17:07:07+08:00","status":101,"method":"GET","uri":"/ws/","protocol":"HTTP/1.1"}');
  assert.deepEqual([rec.endMs, rec.durationMs, rec.protocol, rec.method, rec.path, rec.key, reader.logsUpgrade], [Date.UTC(2018, 2, 9, 9, 7, 7), -1, 'HTTP/1.1', 'GET', '/ws/', '', false]);
  read('{"status":200}');
  assert.ok(Number.isNaN(rec.endMs));
});

const syslogCases: Array<{ name: string; line: string; body: string | null }> = [
  { name: 'as nginx sends it', line: '<190>Nov 30 06:59:33 web-1 nginx: 10.0.0.1 - - [x]', body: '10.0.0.1 - - [x]' },
  { name: 'nginx with nohostname, a space-padded day', line: '<190>Nov  3 06:59:33 nginx: {"status":200}', body: '{"status":200}' },
  { name: 'rsyslog traditional file format', line: 'Nov  3 06:59:33 web-1 nginx: a: b c', body: 'a: b c' },
  { name: 'rsyslog file format (RFC 3339, Debian 12 default)', line: '2024-11-30T06:59:33.123456+01:00 web-1 nginx: x y', body: 'x y' },
  { name: 'RFC 3339 in UTC with a tag and pid', line: '2024-11-30T06:59:33Z web-1 nginx[123]: x', body: 'x' },
  { name: 'a combined line', line: '10.0.0.1 - - [09/Mar/2018:17:07:07 +0800] "GET /a: b HTTP/1.1" 200 1 "-" "ua"', body: null },
  { name: 'an ISO-time format line whose request holds ": "', line: '2024-11-30T06:59:33+00:00 10.0.0.1 "GET /a: b HTTP/1.1" 200', body: null },
  { name: 'a PRI that is not a number', line: '<ab>Nov 30 06:59:33 web-1 nginx: x', body: null },
  { name: 'no tag', line: 'Nov 30 06:59:33 web-1 nginx x', body: null },
];

for (const c of syslogCases) {
  test(`syslog header: ${c.name}`, () => {
    const start = syslogBodyStart(c.line);
    assert.equal(start < 0 ? null : c.line.slice(start), c.body);
  });
}
