/*
 * Every output form from real nginx logs: two tiers behind LB nodes (pass, downgrade-strip,
 * downgrade-keep), a user agent full of markup and delimiters, then the built CLI with --output
 * markdown | csv | html | json on the front and back logs. Expectations come from the harness's
 * escape=json cross-check logs (per key: protocol and status at each tier), not from wsdiag.
 * See: issue 5 ("each output form is produced from the real-nginx scenarios"), issue 7.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parseString } from 'fast-csv';
import type { Report } from '../../src/index.js';
import { assertRendersInBrowser } from '../helpers/browser.js';
import { validateReport } from '../helpers/schema.js';
import { readJsonLog, readLogLines, runScenario, type Action, type JsonRecord } from './harness/index.js';
import { requireProgram } from '../helpers/requirements.js';

// Every suite here runs real nginx: skipped at once without it (a failure on CI).
const skip = requireProgram('nginx');

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', TZ: 'UTC' };
const INCIDENT_WS =
  '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';
const HOSTILE_UA = 'Mozilla/5.0 <script>document.title=1</script> | `x` **y** <img src=x onerror=alert(1)>';

describe('outputs from real nginx: two tiers, downgrades, idle cuts, a hostile user agent', { skip }, () => {
  const LB_T = 3000;
  const [PASS, KEEP, STRIP] = [0, 1, 2];
  const actions: Action[] = [];
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: PASS, path: `/ws/a${i}`, holdMs: 300 + 250 * i, messages: 2, userAgent: HOSTILE_UA });
  // Silent sessions cut by proxy_read_timeout (1.5 s): a session-cut finding and a second timeout bin.
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-idle', via: PASS, path: `/ws/idle${i}`, delayMs: i * 40, userAgent: HOSTILE_UA });
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: KEEP, path: `/ws/long/k${i}?beat=500`, userAgent: HOSTILE_UA });
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: STRIP, path: `/ws/long/s${i}`, userAgent: HOSTILE_UA });
  actions.push({ kind: 'plain', via: STRIP, path: '/api/x' });

  const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-e2e-outputs-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let front = '';
  let back = '';
  let frontJson: JsonRecord[] = [];
  let backJson: JsonRecord[] = [];
  let lines = new Map<string, string[]>();
  const out: Record<string, string> = {};

  before(async () => {
    const res = await runScenario({
      tiers: 2,
      formats: [`log_format incident_ws '${INCIDENT_WS}';`],
      proxyReadTimeout: 1.5,
      locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
      nodes: [{ mode: 'pass' }, { mode: 'downgrade-keep', timeoutMs: LB_T }, { mode: 'downgrade-strip', timeoutMs: LB_T }],
      actions,
    });
    try {
      assert.ok(res.back);
      front = res.logs['incident_ws'] as string;
      back = res.back.logs['incident_ws'] as string;
      frontJson = readJsonLog(res.jsonLog);
      backJson = readJsonLog(res.back.jsonLog);
      lines = new Map([front, back].map((p) => [p, readLogLines(p).map((b) => b.toString('utf8'))]));
      for (const [name, args] of Object.entries({ json: ['-o', 'json'], markdown: ['-o', 'markdown'], csv: ['-o', 'csv'], findings: ['-o', 'csv', '--csv', 'findings'], html: ['-o', 'html', '--out', join(tmp, 'report.html')] })) {
        const r = spawnSync(process.execPath, [CLI, '--preset', 'upstream-ws', ...args, front, back], { env: ENV, encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 });
        assert.equal(r.status, 0, `${name}: ${r.stderr}`);
        out[name] = r.stdout;
      }
      // The terminal report in an 80- and a 120-column pane (stdout not a terminal: $COLUMNS).
      for (const columns of [80, 120]) {
        for (const mode of [[], ['--verbose']]) {
          const r = spawnSync(process.execPath, [CLI, '--preset', 'upstream-ws', ...mode, front, back], { env: { ...ENV, COLUMNS: String(columns) }, encoding: 'utf8', timeout: 30_000 });
          assert.equal(r.status, 0, `table at ${columns}: ${r.stderr}`);
          out[`table${columns}${mode.join('')}`] = r.stdout;
        }
      }
    } finally {
      res.cleanup();
    }
  });

  const report = (): Report => JSON.parse(out['json'] ?? '') as Report;
  const keyOf = (r: JsonRecord): string => r['http_sec_websocket_key'] ?? '';
  const wsLines = (records: JsonRecord[]): JsonRecord[] => records.filter((r) => keyOf(r) !== '');

  test('table: every line within 80 and 120 columns, the hostile agent included (see: issue 18)', () => {
    for (const key of ['table80', 'table80--verbose', 'table120', 'table120--verbose']) {
      const lines = (out[key] ?? '').replace(/\n$/, '').split('\n');
      const width = Number(/\d+/.exec(key)?.[0]);
      assert.ok(lines.length > 20, key);
      for (const l of lines) assert.ok([...l].length <= width, `${key}: ${[...l].length} > ${width}: ${l}`);
      // Each finding's heading gives its handshakes (attempts) first.
      for (const f of report().findings) assert.ok(lines.some((l) => l.includes(`${f.id} (${f.handshakes ?? f.count} `)), `${key}: ${f.id}`);
    }
  });

  test('json validates against report.schema.json', () => {
    assert.deepEqual(validateReport(report()), []);
    const ids = report().findings.map((f) => f.id);
    for (const id of ['downgraded-handshake', 'hidden-downgrade', 'session-cut-at-timeout']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  });

  test('csv: one row per handshake line of both tiers; protocol per tier from the cross-check logs', async () => {
    const rows = await new Promise<Record<string, string>[]>((resolve, reject) => {
      const acc: Record<string, string>[] = [];
      parseString(out['csv'] ?? '', { headers: true }).on('error', reject).on('data', (r: Record<string, string>) => acc.push(r)).on('end', () => resolve(acc));
    });
    const fronts = wsLines(frontJson);
    const backs = wsLines(backJson);
    assert.equal(rows.length, report().handshakes.total);
    assert.equal(rows.length, fronts.length + backs.length);
    const backByKey = new Map(backs.map((r) => [keyOf(r), r]));
    for (const f of fronts) {
      const key = keyOf(f);
      const row = rows.find((r) => r.file === front && (r.key ?? '').replace(/^'/, '') === key);
      assert.ok(row, `front row for ${key}`);
      assert.equal(row.protocol, f['server_protocol']);
      assert.equal(row.status, f['status']);
      assert.equal(row.client, f['remote_addr']);
      assert.equal(Number(row.request_time), Number(f['request_time']));
      const b = backByKey.get(key);
      const want = b ? `${front}=${f['server_protocol']};${back}=${b['server_protocol']}` : `${front}=${f['server_protocol']}`;
      assert.equal(row.key_protocols, want, key);
      const hidden = b !== undefined && f['server_protocol'] === 'HTTP/1.0' && b['server_protocol'] === 'HTTP/1.1';
      assert.equal((row.findings ?? '').split(' ').includes('hidden-downgrade'), hidden, `${key}: ${row.findings}`);
    }
  });

  test('csv --csv findings: the findings of the JSON report, in order', () => {
    const ids = (out['findings'] ?? '').split('\r\n').slice(1).filter(Boolean).map((l) => l.split(',')[0]);
    assert.deepEqual(ids, report().findings.map((f) => f.id));
  });

  test('markdown: each finding with its count and real evidence lines; the hostile agent never leaves a code block', () => {
    const md = out['markdown'] ?? '';
    for (const f of report().findings) {
      assert.ok(md.includes(`: \`${f.id}\` — `), f.id);
      for (const e of f.evidence) {
        assert.equal(e.text, lines.get(e.file)?.[e.line - 1], `${e.file}:${e.line} is the real line`);
        assert.ok(md.includes(`${e.file}:${e.line}: ${e.text}\n`), `${f.id} evidence ${e.file}:${e.line}`);
      }
    }
    const outsideCode = md.split(/^```+.*$/m).filter((_, i) => i % 2 === 0).join('\n');
    assert.doesNotMatch(outsideCode, /<script|<img/);
    for (const l of md.split('\n').filter((x) => x.startsWith('| HTTP/'))) assert.equal(l.split(/(?<!\\)\|/).length, 10, l);
  });

  test('html: renders in Chromium with its charts and findings; the agent is text', { skip: requireProgram('chromium') }, () => {
    const { dom } = assertRendersInBrowser(join(tmp, 'report.html'), report());
    assert.ok(dom.includes('&lt;script&gt;document.title=1&lt;/script&gt;'));
  });
});
