/*
 * wsdiag's format compiler against real nginx output: for each real-world log_format, real traffic
 * (handshakes, timeouts, retries, hostile bytes) is logged by nginx 1.22 and every line must parse with
 * compileFormat/parseFields, every field equal to the escape=json cross-check log's value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileFormat, parseFields } from '../../src/index.js';
import { BUILTIN_FORMATS, readJsonLog, readLogLines, runScenario, utf8Of, type ScenarioResult } from './harness/index.js';
import { requireProgram } from '../helpers/requirements.js';
import { EDGE_TRAFFIC } from './traffic.js';

// Every suite here runs real nginx: skipped at once without it (a failure on CI).
const skip = requireProgram('nginx');

const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

interface FormatCase {
  name: string;
  /** What nginx gets (a `log_format` directive, or a built-in name). */
  nginx: string;
  /** What wsdiag compiles (the same text; for built-ins, nginx's own definition). */
  wsdiag: string;
}

const cases: FormatCase[] = [
  { name: 'combined', nginx: 'combined', wsdiag: BUILTIN_FORMATS['combined'] as string },
  // nginx.org packages' `main` (nginx/pkg-oss debian/nginx.conf), three quoted pieces.
  {
    name: 'main',
    nginx: `log_format main '$remote_addr - $remote_user [$time_local] "$request" ' '$status $body_bytes_sent "$http_referer" ' '"$http_user_agent" "$http_x_forwarded_for"';`,
    wsdiag: '',
  },
  // DESIGN.md's incident format: unquoted $request and $http_user_agent, key appended.
  {
    name: 'incident',
    nginx: `log_format incident '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';`,
    wsdiag: '',
  },
  {
    name: 'combined_ws',
    nginx: `log_format combined_ws '${COMBINED} $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status';`,
    wsdiag: '',
  },
  // ingress-nginx upstreaminfo (research §5); $proxy_upstream_name etc. come from the maps below.
  {
    name: 'upstreaminfo',
    nginx: `log_format upstreaminfo '${COMBINED} $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';`,
    wsdiag: '',
  },
  // Typical escape=json format from public configs (research §5).
  {
    name: 'json_combined',
    nginx: `log_format json_combined escape=json '{' '"time":"$time_iso8601",' '"request_id":"$request_id",' '"remote_addr":"$remote_addr",' '"request":"$request",' '"status":$status,' '"body_bytes_sent":$body_bytes_sent,' '"request_time":$request_time,' '"upstream_addr":"$upstream_addr",' '"upstream_status":"$upstream_status",' '"upstream_response_time":"$upstream_response_time",' '"http_user_agent":"$http_user_agent",' '"http_upgrade":"$http_upgrade",' '"ws_key":"$http_sec_websocket_key"' '}';`,
    wsdiag: '',
  },
  // ingress-nginx's documented JSON example (log-format-escape-json: "true").
  {
    name: 'ingress_json',
    nginx: `log_format ingress_json escape=json '{"time": "$time_iso8601", "remote_addr": "$proxy_protocol_addr", "x_forwarded_for": "$proxy_add_x_forwarded_for", "request_id": "$req_id", "remote_user": "$remote_user", "bytes_sent": $bytes_sent, "request_time": $request_time, "status": $status, "vhost": "$host", "request_proto": "$server_protocol", "path": "$uri", "request_query": "$args", "request_length": $request_length, "method": "$request_method", "http_referrer": "$http_referer", "http_user_agent": "$http_user_agent" }';`,
    wsdiag: '',
  },
  {
    name: 'iso',
    nginx: `log_format iso '$time_iso8601 $remote_addr "$request" $status $request_time "$http_user_agent" "$http_sec_websocket_key" $upstream_status $connection';`,
    wsdiag: '',
  },
  {
    name: 'raw',
    nginx: `log_format raw escape=none '${COMBINED} $request_time "$http_sec_websocket_key"';`,
    wsdiag: '',
  },
  // The diagnostic format research §5 suggests for wsdiag users.
  {
    name: 'wsdiag',
    nginx: `log_format wsdiag '${COMBINED} rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" us="$upstream_status" ua="$upstream_addr" proto=$server_protocol up="$http_upgrade" conn="$http_connection" wskey="$http_sec_websocket_key" xff="$http_x_forwarded_for" cid=$connection rid=$request_id';`,
    wsdiag: '',
  },
];
for (const c of cases) if (c.wsdiag === '') c.wsdiag = c.nginx;

const HTTP_CONFIG = `
  map $host $proxy_upstream_name { default "default-app-80"; }
  map $host $proxy_alternative_upstream_name { default ""; }
  map $http_x_request_id $req_id { default $http_x_request_id; "" $request_id; }
`;

/**
 * How values are compared. The cross-check log is escape=json: bytes ≥ 0x80 raw, so it is read as
 * latin1 byte strings (harness/logs.ts). parseFields returns decoded text: `\xHH` (default) and JSON
 * escapes (json) are undone and the bytes read as UTF-8. So both sides are compared as UTF-8 text with
 * Node's replacing decoder (invalid bytes → U+FFFD on both sides); lines of json/none logs are handed
 * to parseFields decoded the same way. Byte-exactness of the raw values is asserted in harness.test.ts.
 * escape=json cannot tell "absent" from "empty": where it logged "", a default-mode field may be `-`
 * (absent) or empty (present but empty, e.g. an empty Referer or a map yielding "").
 */
function expectedValue(escape: 'default' | 'json' | 'none', x: string): string[] {
  const text = utf8Of(x);
  if (text === '' && escape === 'default') return ['-', ''];
  return [text];
}

describe('wsdiag formats against real nginx 1.22 output', { skip }, () => {
  let res: ScenarioResult | undefined;
  before(async () => {
    res = await runScenario({
      formats: cases.map((c) => c.nginx),
      httpConfig: HTTP_CONFIG,
      ...EDGE_TRAFFIC,
    });
  });
  after(() => res?.cleanup());

  test('the traffic produced the edge cases (multi-value upstream, 400, 499, HTTP/1.0 101)', () => {
    assert.ok(res);
    const x = readJsonLog(res.jsonLog);
    assert.ok(x.some((r) => r['upstream_status'] === '502, 101'));
    assert.ok(x.some((r) => r['status'] === '400' && r['server_protocol'] === ''));
    assert.ok(x.some((r) => r['status'] === '499' && r['upstream_status'] === '-'));
    assert.ok(x.some((r) => r['status'] === '101' && r['server_protocol'] === 'HTTP/1.0'));
    assert.ok(x.some((r) => r['http_user_agent']?.includes('\x01')));
  });

  for (const c of cases) {
    test(`${c.name}: every line parses and every field equals the cross-check value`, () => {
      assert.ok(res);
      const fmt = compileFormat(c.wsdiag, { name: c.name });
      const xcheck = readJsonLog(res.jsonLog);
      const lines = readLogLines(res.logs[c.name] as string);
      // access_log lines of one request are written back to back in directive order: join by position.
      assert.equal(lines.length, xcheck.length, 'one line per request in both logs');
      const problems: string[] = [];
      lines.forEach((buf, i) => {
        const line = buf.toString('utf8');
        const x = xcheck[i] as Record<string, string>;
        const got = parseFields(fmt, line);
        if (got === null) {
          problems.push(`line ${i + 1} does not parse: ${JSON.stringify(line).slice(0, 300)}`);
          return;
        }
        for (const v of fmt.vars) {
          const want = expectedValue(fmt.escape, x[v] ?? '');
          if (!want.includes(got[v] as string)) {
            problems.push(`line ${i + 1} $${v}: got ${JSON.stringify(got[v])}, nginx logged ${JSON.stringify(want[0])} (line ${JSON.stringify(line).slice(0, 200)})`);
          }
        }
      });
      assert.deepEqual(problems, []);
    });
  }
});
