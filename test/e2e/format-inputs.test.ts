/*
 * How wsdiag is pointed at real nginx logs, against nginx 1.22 itself: JSON logs read by key name
 * (`--preset json` and auto-detection), access_log to syslog (the UDP datagrams nginx sends, and the
 * files rsyslog would store), CRLF line ends, and `--nginx-conf` on the nginx.conf nginx ran with
 * (formats in included files, multi-line quoted pieces, comments), and `combined`/`main` with fields
 * appended, recognised without flags. One scenario feeds every test;
 * expected values come from the harness's truth and the escape=json cross-check log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { compileJsonFormat, compilePreset, findPreset, parseFields, type Report } from '../../src/index.js';
import { syslogBodyStart } from '../../src/format/syslog.js';
import { readJsonLog, readLogLines, runScenario, utf8Of, type JsonRecord, type ScenarioResult } from './harness/index.js';
import { requireProgram } from '../helpers/requirements.js';
import { EDGE_TRAFFIC } from './traffic.js';

// Every suite here runs real nginx: skipped at once without it (a failure on CI).
const skip = requireProgram('nginx');

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', TZ: 'UTC' };
const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/** A JSON format as published configs write it: aliases for most keys, numbers unquoted. Key → the variable logged. */
const JSON_APP_KEYS: Record<string, string> = {
  time: 'time_iso8601', client: 'remote_addr', method: 'request_method', path: 'request_uri', protocol: 'server_protocol',
  status: 'status', duration: 'request_time', upstream: 'upstream_addr', upstream_status: 'upstream_status',
  ua: 'http_user_agent', upgrade: 'http_upgrade', ws_key: 'http_sec_websocket_key',
};
const NUMERIC = new Set(['status', 'request_time', 'msec']);
const JSON_APP = `log_format json_app escape=json\n    '{'\n${Object.entries(JSON_APP_KEYS)
  .map(([k, v]) => `    '"${k}":${NUMERIC.has(v) ? `$${v}` : `"$${v}"`},'`)
  .join('\n')
  .replace(/,'$/, "'")}\n    '}';`;

/**
 * Logstash-style: nested objects, an array, `@timestamp` holding $time_local, and an unquoted
 * $upstream_status, which makes nginx write `"upstream_status":502, 101` or `"upstream_status":,`.
 */
const JSON_NESTED_KEYS: Record<string, string> = {
  '@timestamp': 'time_local', remote_addr: 'remote_addr', request: 'request', status: 'status', request_time: 'request_time',
  msec: 'msec', upstream_status: 'upstream_status', upgrade: 'http_upgrade', sec_websocket_key: 'http_sec_websocket_key', user_agent: 'http_user_agent',
};
const JSON_NESTED = `log_format json_nested escape=json '{"@timestamp":"$time_local","@source":"$server_addr","tags":["nginx","access"],'
    '"nginx":{"remote_addr":"$remote_addr","request":"$request","status":"$status","request_time":$request_time,"msec":$msec,'
    '"upstream_status":$upstream_status,"http":{"upgrade":"$http_upgrade","sec_websocket_key":"$http_sec_websocket_key","user_agent":"$http_user_agent"}}}';`;

// nginx.org packages' `main`, in three quoted pieces on three lines, as in their nginx.conf.
const MAIN = `log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                  '$status $body_bytes_sent "$http_referer" '
                  '"$http_user_agent" "$http_x_forwarded_for"';`;
const INCIDENT_WS = `log_format incident_ws '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request '
                       'upstream_response_time $upstream_response_time msec $msec request_time $request_time '
                       'status $status client - $http_user_agent $http_sec_websocket_key';`;
const COMBINED_WS = `log_format combined_ws '${COMBINED} $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status';`;

/**
 * Custom formats as people write them: a well-known one with fields appended. Auto-detection reads
 * them from the values (format/trailing.ts); `fields` is what it must say it assumed. Names sort
 * after the formats above: the first format of the conf stays combined_ws.
 */
const APPENDED: { name: string; text: string; base: string; fields: string[] }[] = [
  { name: 'tail_main', text: `${COMBINED} "$http_x_forwarded_for" $request_time $upstream_response_time`, base: 'main', fields: ['$request_time', '$upstream_response_time'] },
  {
    name: 'tail_ws', text: `${COMBINED} $request_time $upstream_response_time $upstream_status "$http_upgrade" "$http_sec_websocket_key" $msec`, base: 'combined',
    fields: ['$request_time', '$upstream_response_time', '$upstream_status', '"$http_upgrade"', '"$http_sec_websocket_key"', '$msec'],
  },
  { name: 'tail_upstream', text: `${COMBINED} $upstream_addr $upstream_status $request_time $pipe`, base: 'combined', fields: ['$upstream_addr', '$upstream_status', '$request_time', '$pipe'] },
  // $request_length is three digits on most lines: not to be taken for $upstream_status.
  { name: 'tail_conn', text: `${COMBINED} "$http_upgrade" "$http_connection" $request_time $request_length`, base: 'combined', fields: ['"$http_upgrade"', '"$http_connection"', '$request_time', '$request_length'] },
];

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Cli {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: ENV, encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function report(args: string[]): { report: Report; stderr: string } {
  const r = cli(['--output', 'json', ...args]);
  assert.equal(r.code, 0, `wsdiag ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

/** Handshakes by "protocol status" as the harness predicted them (every non-plain action is a handshake). */
function truthCounts(res: ScenarioResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of res.truth) {
    if (t.kind === 'plain') continue;
    const k = `${t.protocolAtNginx} ${t.expectedStatus}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function reportCounts(r: Report): Record<string, number> {
  return Object.fromEntries(r.handshakes.byProtocolStatus.map((row) => [`${row.protocol} ${row.status}`, row.count]));
}

/** Every line of every input parsed, and the line count is what the file holds. */
function assertEveryLineParsed(r: Report, lineCount: number): void {
  assert.equal(r.lines.total, lineCount);
  assert.equal(r.lines.parsed, lineCount, JSON.stringify(r.lines.samples.slice(0, 3)));
}

/**
 * Per-field equality: `fields(i)` is what wsdiag read from line i; `keys` maps each logged key to the
 * variable nginx wrote there; the cross-check line i (same request) holds the variable's value.
 * Returns the mismatches, for one readable deepEqual.
 */
function fieldProblems(x: JsonRecord[], count: number, fields: (i: number) => Record<string, string> | null, vars: readonly string[], dashForEmpty: boolean): string[] {
  assert.equal(count, x.length, 'one line per request in both logs');
  const problems: string[] = [];
  for (let i = 0; i < count; i++) {
    const got = fields(i);
    if (got === null) {
      problems.push(`line ${i + 1} does not parse`);
      continue;
    }
    for (const v of vars) {
      const want = utf8Of(x[i]?.[v] ?? '');
      const ok = got[v] === want || (dashForEmpty && want === '' && got[v] === '-');
      if (!ok) problems.push(`line ${i + 1} $${v}: got ${JSON.stringify(got[v])}, nginx logged ${JSON.stringify(want)}`);
    }
  }
  return problems;
}

describe('format inputs against real nginx 1.22: JSON by key name, syslog, CRLF, --nginx-conf', { skip }, () => {
  let res: ScenarioResult;
  let xcheck: JsonRecord[];
  let work: string;
  const datagrams: Buffer[] = [];
  const udp = dgram.createSocket('udp4');

  before(async () => {
    udp.on('message', (m) => datagrams.push(m));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    res = await runScenario({
      formats: [MAIN, INCIDENT_WS, COMBINED_WS, JSON_APP, JSON_NESTED, ...APPENDED.map((a) => `log_format ${a.name} '${a.text}';`)],
      formatsInclude: true,
      serverConfig: `    access_log syslog:server=127.0.0.1:${port},tag=nginx combined_ws;`,
      ...EDGE_TRAFFIC,
      // A second healthy handshake through the pass node, so byClient has a node with several.
      actions: [...EDGE_TRAFFIC.actions, { kind: 'ws-session', via: 0, path: '/ws/b', holdMs: 600, messages: 1 }],
    });
    xcheck = readJsonLog(res.jsonLog);
    // nginx sends each datagram as it writes the file lines: they are all in by now, or nearly.
    for (const deadline = Date.now() + 2000; datagrams.length < xcheck.length && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
    work = mkdtempSync(path.join(os.tmpdir(), 'wsdiag-inputs-'));
  });
  after(() => {
    udp.close();
    res?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const logOf = (name: string): string => res.logs[name] as string;
  const textLines = (file: string): string[] => readLogLines(file).map((b) => b.toString('utf8'));

  describe('JSON logs read by key name', () => {
    for (const [name, keys] of [['json_app', JSON_APP_KEYS], ['json_nested', JSON_NESTED_KEYS]] as const) {
      test(`${name}: every line parses and every field equals the cross-check value`, () => {
        const f = compileJsonFormat();
        const lines = textLines(logOf(name));
        const problems = fieldProblems(xcheck, lines.length, (i) => parseFields(f, lines[i] as string), Object.values(keys), false);
        assert.deepEqual(problems, []);
      });

      test(`${name}: --preset json and no format give the same report, with the handshakes the traffic made`, () => {
        const file = logOf(name);
        const preset = report(['--preset', 'json', file]);
        const auto = report([file]);
        assertEveryLineParsed(preset.report, xcheck.length);
        assertEveryLineParsed(auto.report, xcheck.length);
        assert.deepEqual(reportCounts(preset.report), truthCounts(res));
        assert.deepEqual(auto.report.handshakes, preset.report.handshakes);
        assert.deepEqual(auto.report.correlation, preset.report.correlation);
        const keys = res.truth.filter((t) => t.key !== undefined).length;
        assert.equal(preset.report.correlation.keys, keys, 'every Sec-WebSocket-Key was read');
        assert.deepEqual(auto.report.meta.formats.map((m) => [m.name, m.lines]), [['json', xcheck.length]]);
        assert.match(auto.stderr, /format: "json" \(\d+ lines\)/);
      });
    }

    test('the JSON log and the combined_ws log of the same traffic give the same handshake table', () => {
      const viaJson = report(['--preset', 'json', logOf('json_app')]).report;
      const viaText = report(['--preset', 'combined-ws', logOf('combined_ws')]).report;
      assert.deepEqual(viaJson.handshakes.byProtocolStatus, viaText.handshakes.byProtocolStatus);
      assert.deepEqual(viaJson.handshakes.byClient, viaText.handshakes.byClient);
    });
  });

  describe('syslog', () => {
    /** What rsyslog stores: the datagram without `<PRI>` (traditional), or with an RFC 3339 time (Debian 12's default). */
    const asTraditional = (d: string): string => d.slice(d.indexOf('>') + 1);
    const asRfc3339 = (d: string): string => {
      const m = /^<\d+>(\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d) /.exec(d);
      assert.ok(m, `nginx's syslog header: ${d.slice(0, 60)}`);
      const month = String('JanFebMarAprMayJunJulAugSepOctNovDec'.indexOf(m[1] as string) / 3 + 1).padStart(2, '0');
      return `${new Date().getUTCFullYear()}-${month}-${(m[2] as string).trim().padStart(2, '0')}T${m[3]}+00:00 ${d.slice(m[0].length)}`;
    };
    const forms = { raw: (d: string): string => d, traditional: asTraditional, rfc3339: asRfc3339 };

    test('nginx sent one datagram per request: <PRI>Mmm dd hh:mm:ss host nginx: <entry>', () => {
      assert.equal(datagrams.length, xcheck.length);
      const host = os.hostname();
      for (const d of datagrams) assert.match(d.toString('latin1'), new RegExp(`^<\\d{1,3}>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d ${host.replace(/\./g, '\\.')} nginx: `));
    });

    for (const [form, convert] of Object.entries(forms)) {
      test(`${form} syslog lines: every line parses with the right fields, auto-detected as combined-ws`, () => {
        const lines = datagrams.map((d) => convert(d.toString('latin1')));
        const file = path.join(work, `syslog-${form}.log`);
        writeFileSync(file, lines.map((l) => l + '\n').join(''), 'latin1');
        const fmt = compilePreset(findPreset('combined-ws') ?? assert.fail('no preset combined-ws'));
        const fields = (i: number): Record<string, string> | null => {
          const line = lines[i] as string;
          const start = syslogBodyStart(line);
          return start > 0 ? parseFields(fmt, line.slice(start)) : null;
        };
        assert.deepEqual(fieldProblems(xcheck, lines.length, fields, fmt.vars, true), []);
        const auto = report([file]);
        assertEveryLineParsed(auto.report, lines.length);
        assert.deepEqual(auto.report.meta.formats.map((m) => m.name), ['combined-ws']);
        // Two files of the same lines: the per-input tables differ only in the input's name.
        const unnamed = (h: Report['handshakes']): unknown => ({ ...h, byUpstream: h.byUpstream.map((r) => ({ ...r, input: '' })), byPath: h.byPath.map((r) => ({ ...r, input: '' })) });
        assert.deepEqual(unnamed(auto.report.handshakes), unnamed(report(['--preset', 'combined-ws', logOf('combined_ws')]).report.handshakes));
      });
    }
  });

  describe('CRLF line ends', () => {
    for (const [name, args] of [['incident_ws', ['--preset', 'upstream-ws']], ['json_app', []], ['combined_ws', []]] as const) {
      test(`${name} with CRLF: the same report as with LF, no field carries a \\r`, () => {
        const lf = logOf(name);
        const crlf = path.join(work, `${name}.crlf.log`);
        writeFileSync(crlf, Buffer.from(readFileSync(lf).toString('latin1').replace(/\n/g, '\r\n'), 'latin1'));
        const a = report([...args, lf]).report;
        const b = report([...args, crlf]).report;
        assertEveryLineParsed(b, xcheck.length);
        // Only the name and the byte count of the input may differ.
        const normal = (r: Report, file: string): unknown => JSON.parse(JSON.stringify({ ...r, meta: { ...r.meta, inputs: r.meta.inputs.map((i) => ({ ...i, name: '', bytes: 0 })) } }).split(JSON.stringify(file).slice(1, -1)).join('<input>'));
        assert.deepEqual(normal(b, crlf), normal(a, lf));
        assert.ok(!JSON.stringify(b).includes('\\r'), 'no \\r anywhere in the report');
        assert.ok(b.handshakes.total > 0);
      });
    }
  });

  describe('combined and main with fields appended, without flags', () => {
    // See: issue 14 item 12 ("the commonest custom formats … should be recognised without flags").
    for (const a of APPENDED) {
      test(`${a.name}: every line parses, the same report as with its --log-format, and stderr names the fields assumed`, () => {
        const file = logOf(a.name);
        const auto = report([file]);
        const given = report(['--log-format', a.text, file]).report;
        assertEveryLineParsed(auto.report, xcheck.length);
        assert.deepEqual(auto.report.meta.inputs[0]?.assumed, { format: auto.report.meta.formats[0]?.name, base: a.base, fields: a.fields });
        assert.equal(auto.report.meta.formats[0]?.text, a.text);
        assert.ok(auto.stderr.includes(`"${a.base}" followed by `) && auto.stderr.includes(`assumed to be ${a.fields.join(' ')} `), auto.stderr);
        assert.deepEqual(auto.report.handshakes, given.handshakes);
        assert.deepEqual(auto.report.correlation, given.correlation);
        assert.deepEqual(auto.report.findings, given.findings);
      });
    }

    test('tail_ws logs the key and the Upgrade header: every handshake the traffic made is counted', () => {
      assert.deepEqual(reportCounts(report([logOf('tail_ws')]).report), truthCounts(res));
    });
  });

  describe('--nginx-conf on the nginx.conf nginx ran with', () => {
    test('the conf really holds includes, multi-line pieces and comments', () => {
      const conf = readFileSync(res.confPath, 'utf8');
      assert.match(conf, /^\s*include log_formats\/\*\.conf;/m);
      assert.match(conf, /^\s*#/m);
      const main = readFileSync(path.join(path.dirname(res.confPath), 'log_formats', 'main.conf'), 'utf8');
      assert.match(main, /^#.*\nlog_format main '[^\n]*'\n\s+'/);
    });

    for (const name of ['main', 'incident_ws', 'combined_ws', 'json_app']) {
      test(`no --format-name: the access_log writing ${name}.log names its format`, () => {
        const { report: r } = report(['--nginx-conf', res.confPath, logOf(name)]);
        assert.deepEqual(r.meta.formats.map((m) => m.name), [name]);
        assertEveryLineParsed(r, xcheck.length);
        // `main` logs no key and no Upgrade header: its handshakes are only those recognisable by 101 or path.
        if (name !== 'main') assert.deepEqual(reportCounts(r), truthCounts(res));
      });
    }

    test('a log no access_log writes: the first custom format in configuration order (includes sorted)', () => {
      const copy = path.join(work, 'rotated-elsewhere.log');
      copyFileSync(logOf('combined_ws'), copy);
      const { report: r } = report(['--nginx-conf', res.confPath, copy]);
      assert.deepEqual(r.meta.formats.map((m) => m.name), ['combined_ws']);
      assertEveryLineParsed(r, xcheck.length);
    });

    test('--format-name picks the format whatever the file is called', () => {
      const copy = path.join(work, 'copy-of-incident.log');
      copyFileSync(logOf('incident_ws'), copy);
      const { report: r } = report(['--nginx-conf', res.confPath, '--format-name', 'incident_ws', copy]);
      assert.deepEqual(r.meta.formats.map((m) => m.name), ['incident_ws']);
      assertEveryLineParsed(r, xcheck.length);
      assert.deepEqual(reportCounts(r), truthCounts(res));
    });

    test('a --format-name the conf does not define: a clear error naming the ones it does, exit 2', () => {
      const r = cli(['--nginx-conf', res.confPath, '--format-name', 'nope', logOf('main')]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /log_format "nope" is not defined/);
      for (const n of ['main', 'incident_ws', 'combined_ws', 'json_app', 'json_nested']) assert.ok(r.stderr.includes(n), `${n} listed: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
    });
  });
});
