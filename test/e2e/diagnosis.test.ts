/*
 * wsdiag's diagnosis against real nginx: each scenario sends real traffic through LB nodes (pass /
 * downgrade-strip / downgrade-keep) → nginx (one or two tiers) → app, then spawns the built CLI
 * (dist/cli.js --output json) on the logs nginx wrote and checks the report against the harness's
 * ground truth (res.truth) and the escape=json cross-check log. Expected numbers are computed from
 * the truth, never assumed. Timeouts are short (1–3.5 s) so each scenario takes a few seconds.
 * Every scenario also runs commonTests: each finding well formed (severity, count, clients, first/last
 * seen within the run, real evidence, words) and reused-key equal to the keys the driver reused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import type { Finding, Report } from '../../src/index.js';
import {
  newKey,
  readJsonLog,
  readLogLines,
  recordFor,
  runScenario,
  type Action,
  type JsonRecord,
  type ScenarioResult,
  type ScenarioSpec,
  type Truth,
} from './harness/index.js';
import { requireProgram } from '../helpers/requirements.js';

// Every suite here runs real nginx: skipped at once without it (a failure on CI).
const skip = requireProgram('nginx');

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ENV = { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', TZ: 'UTC' };
/** request_time vs the truth's predicted duration (measured error is a few ms). */
const TOLERANCE_MS = 300;
/** Evidence lines per finding asked of wsdiag: more than any scenario's smallest finding has lines. */
const EVIDENCE = 8;
/**
 * --tolerance for scenarios whose exact counts rest on which lines fall in a timeout cluster. nginx
 * times its own timeouts to the millisecond, but the simulated LB's timer and the app's answer run in
 * the test's Node process: with the machine busy, a cluster's members spread over up to ~70 ms
 * (measured beside CPU-bound work), past the default 25 ms. The default is proven in timeouts.test.ts.
 */
const HARNESS_TOLERANCE = ['--tolerance', '100'];

const INCIDENT_WS =
  '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';
const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
const COMBINED_WS = `${COMBINED} $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status`;
/** The diagnostic format research §5 suggests, given to wsdiag as a whole `log_format` directive. */
const DIAG_DIRECTIVE = `log_format diag '${COMBINED} rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" us="$upstream_status" ua="$upstream_addr" proto=$server_protocol up="$http_upgrade" conn="$http_connection" wskey="$http_sec_websocket_key" xff="$http_x_forwarded_for" cid=$connection rid=$request_id';`;

/** What a scenario leaves behind once nginx's files are gone: everything the tests look at, in memory. */
interface Outcome {
  truth: Truth[];
  nodes: ScenarioResult['nodes'];
  front: JsonRecord[];
  back: JsonRecord[] | undefined;
  /** Log path → its lines (UTF-8 text), for checking evidence `file:line`. */
  lines: Map<string, string[]>;
  /** Paths of the logs wsdiag read. */
  inputs: string[];
  report: Report;
  stderr: string;
  /** Wall clock (ms since the epoch) around the whole run: every logged time falls inside it. */
  window: { startMs: number; endMs: number };
  /** Evidence lines asked for per finding (--evidence). */
  evidence: number;
}

function runCli(args: string[]): { report: Report; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--output', 'json', ...args], { env: ENV, encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `wsdiag exited ${r.status}: ${r.stderr}`);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

/**
 * Runs the traffic, runs wsdiag on the chosen logs, reads what the tests need, and always removes
 * nginx's directory (finally), whatever failed.
 */
async function scenario(spec: ScenarioSpec, pick: (res: ScenarioResult) => { inputs: string[]; args: string[] }): Promise<Outcome> {
  const startMs = Date.now();
  const res = await runScenario(spec);
  const endMs = Date.now();
  try {
    const { inputs, args } = pick(res);
    const lines = new Map(inputs.map((p) => [p, readLogLines(p).map((b) => b.toString('utf8'))]));
    const { report, stderr } = runCli(['--evidence', String(EVIDENCE), ...args, ...inputs]);
    return {
      window: { startMs, endMs },
      evidence: EVIDENCE,
      truth: res.truth,
      nodes: res.nodes,
      front: readJsonLog(res.jsonLog),
      back: res.back ? readJsonLog(res.back.jsonLog) : undefined,
      lines,
      inputs,
      report,
      stderr,
    };
  } finally {
    res.cleanup();
  }
}

/** What nginx logged as request_time for these actions, sorted: for failure messages. */
function loggedTimes(o: Outcome, ts: Truth[]): string {
  return ts.map((t) => recordFor(o.front, t)?.['request_time'] ?? '?').sort().join(' ');
}

/** The harness's prediction must hold for every action, or the expected numbers below mean nothing. */
function assertTruthHolds(o: Outcome): void {
  for (const t of o.truth) {
    const r = recordFor(o.front, t);
    const what = `#${t.index} ${t.label ?? t.kind} ${t.requestAtNginx}`;
    assert.ok(r, `${what}: nginx wrote no line`);
    assert.equal(r['status'], String(t.expectedStatus), `${what}: status (harness truth, not wsdiag)`);
    assert.equal(r['server_protocol'], t.protocolAtNginx, `${what}: protocol (harness truth)`);
    const ms = Number(r['request_time']) * 1000;
    assert.ok(Math.abs(ms - t.approxDurationMs) <= TOLERANCE_MS, `${what}: request_time ${r['request_time']} vs ≈${t.approxDurationMs} ms (harness truth)`);
  }
}

const isWs = (t: Truth): boolean => t.kind !== 'plain';
const near = (ms: number, targetMs: number, tolMs = 100): boolean => Math.abs(ms - targetMs) <= tolMs;

function finding(report: Report, id: string, timeoutS?: number): Finding | undefined {
  return report.findings.find((f) => f.id === id && (timeoutS === undefined || (f.timeoutSeconds !== undefined && Math.abs(f.timeoutSeconds - timeoutS) <= 0.1)));
}

function mustFind(report: Report, id: string, timeoutS?: number): Finding {
  const f = finding(report, id, timeoutS);
  assert.ok(f, `no ${id}${timeoutS === undefined ? '' : ` at ≈${timeoutS} s`}; findings: ${report.findings.map((x) => `${x.id}(${x.count}${x.timeoutSeconds === undefined ? '' : ` @${x.timeoutSeconds}`})`).join(', ')}`);
  return f;
}

/** Each distinct item with its count, as a sorted list of "item ×n" for readable diffs. */
function countBy(items: string[]): string[] {
  const m = new Map<string, number>();
  for (const k of items) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m.entries()].map(([k, n]) => `${k} ×${n}`).sort();
}

/** (protocol, status) → count, as a sorted list of "protocol status ×n". */
const tally = (pairs: Array<[string, number]>): string[] => countBy(pairs.map(([p, s]) => `${p} ${s}`));
/** The client addresses of some actions, as "address ×n" (what a finding's clients must be). */
const clientsOf = (ts: Truth[]): string[] => countBy(ts.map((t) => t.clientAddr));
const clientList = (f: Finding): string[] => f.clients.map((c) => `${c.client} ×${c.count}`).sort();

/** Every evidence line of a finding is a real line of the file it names, with the same text. */
function assertEvidenceIsReal(o: Outcome, f: Finding): void {
  for (const e of f.evidence) {
    const lines = o.lines.get(e.file);
    assert.ok(lines, `${f.id}: evidence names ${e.file}, not one of the inputs ${o.inputs.join(', ')}`);
    assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines.length, `${f.id}: ${e.file}:${e.line} is outside 1..${lines.length}`);
    assert.equal(e.text, lines[e.line - 1], `${f.id}: ${e.file}:${e.line} text`);
  }
}

const SEVERITIES: readonly string[] = ['critical', 'warning', 'info'];
/** Findings whose count is of keys (each key on two lines or more); every other finding counts lines. */
const COUNTS_KEYS: ReadonlySet<string> = new Set(['hidden-downgrade', 'reused-key']);
const AT_A_TIMEOUT: ReadonlySet<string> = new Set(['abandoned-at-timeout', 'session-cut-at-timeout']);

/**
 * What every finding of every scenario must carry (DESIGN.md §5): a severity, a count that its clients
 * and breakdown add up to, clients, first/last seen inside the run's wall-clock window, 1..N evidence
 * lines that are real lines of the inputs, a title, an explanation and a fix.
 */
function assertFindingsWellFormed(o: Outcome): void {
  // $time_local has whole seconds: an end time (and the start derived from it) can read up to 1 s early.
  const lo = o.window.startMs - 1000;
  const hi = o.window.endMs;
  const at = (iso: string | null, what: string): number => {
    assert.ok(iso !== null, `${what} is null`);
    const ms = Date.parse(iso);
    assert.ok(ms >= lo && ms <= hi, `${what} ${iso} is outside the run ${new Date(lo).toISOString()}..${new Date(hi).toISOString()}`);
    return ms;
  };
  for (const f of o.report.findings) {
    const what = `${f.id}${f.timeoutSeconds === undefined ? '' : ` @${f.timeoutSeconds}`}`;
    assert.ok(SEVERITIES.includes(f.severity), `${what}: severity ${f.severity}`);
    assert.ok(Number.isInteger(f.count) && f.count > 0, `${what}: count ${f.count}`);
    for (const [name, text] of [['title', f.title], ['explanation', f.explanation], ['fix', f.fix]] as const) assert.ok(text.trim().length > 0, `${what}: empty ${name}`);
    assert.ok(f.clients.length > 0, `${what}: no clients`);
    for (const c of f.clients) assert.ok(c.client !== '' && Number.isInteger(c.count) && c.count > 0, `${what}: client ${JSON.stringify(c)}`);
    const lines = f.clients.reduce((n, c) => n + c.count, 0);
    const broken = Object.values(f.breakdown).reduce((n, c) => n + c, 0);
    assert.equal(broken, lines, `${what}: breakdown ${JSON.stringify(f.breakdown)} vs clients' lines`);
    const shares = f.clients.reduce((n, c) => n + c.share, 0);
    assert.ok(Math.abs(shares - 1) < 0.01 && f.clients.every((c) => c.share > 0 && c.share <= 1), `${what}: client shares ${JSON.stringify(f.clients)}`);
    if (COUNTS_KEYS.has(f.id)) assert.ok(lines >= 2 * f.count, `${what}: ${f.count} keys on only ${lines} lines`);
    else assert.equal(lines, f.count, `${what}: clients' counts add up to the count`);
    assert.equal(f.timeoutSeconds !== undefined, AT_A_TIMEOUT.has(f.id), `${what}: timeoutSeconds`);
    assert.ok(at(f.firstSeen, `${what}: firstSeen`) <= at(f.lastSeen, `${what}: lastSeen`), `${what}: firstSeen after lastSeen`);
    assert.ok(f.evidence.length >= 1 && f.evidence.length <= o.evidence, `${what}: ${f.evidence.length} evidence lines`);
    assertEvidenceIsReal(o, f);
  }
}

/** Keys the driver sent on more than one action: what reused-key must count (0 → no finding). */
function assertReusedKeysMatchTruth(o: Outcome): void {
  const sent = new Map<string, number>();
  for (const t of o.truth) if (t.key !== undefined) sent.set(t.key, (sent.get(t.key) ?? 0) + 1);
  const reused = [...sent.values()].filter((n) => n > 1).length;
  assert.equal(finding(o.report, 'reused-key')?.count ?? 0, reused, 'reused-key counts the keys the driver sent more than once');
  assert.equal(o.report.correlation.reused, reused, 'correlation.reused');
}

/** The tests every scenario runs on its outcome, after its own. */
function commonTests(get: () => Outcome): void {
  test('every finding is well formed: severity, count, clients, first/last seen within the run, real evidence, words', () => assertFindingsWellFormed(get()));
  test('reused-key counts exactly the keys the driver reused', () => assertReusedKeysMatchTruth(get()));
}

function assertAllParsed(o: Outcome): void {
  const n = [...o.lines.values()].reduce((s, l) => s + l.length, 0);
  assert.equal(o.report.lines.total, n, 'every line nginx wrote was read');
  assert.equal(o.report.lines.parsed, o.report.lines.total, `unparsed: ${JSON.stringify(o.report.lines.samples.slice(0, 3))}`);
}

// ─── 1. single tier, the incident format with the key ────────────────────────────────────────────

describe('diagnosis 1: one tier, upstream-ws, pass ×2 / downgrade-strip / downgrade-keep', { skip }, () => {
  const LB_T = 3000;
  const PASS_A = 0;
  const PASS_B = 1;
  const STRIP = 2;
  const KEEP = 3;
  const actions: Action[] = [];
  // Healthy handshakes of various lengths (0.2–2.5 s) through both pass nodes; echoes keep them busy.
  for (let i = 0; i < 8; i++) actions.push({ kind: 'ws-session', via: i % 2 ? PASS_B : PASS_A, path: `/ws/h${i}`, holdMs: 200 + i * 330, messages: 3, label: `healthy ${i}` });
  // strip: no Upgrade reaches nginx; /ws/long/ reads for 10 s, so the LB's 3 s gives up first → HTTP/1.0 499 ≈3 s.
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-session', via: STRIP, path: `/ws/long/s${i}`, label: `strip ${i}`, delayMs: i * 40 });
  // keep: nginx tunnels the HTTP/1.0 handshake; app heartbeats keep it busy until the LB gives up → HTTP/1.0 101 ≈3 s.
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: KEEP, path: `/ws/long/k${i}?beat=500`, label: `keep ${i}`, delayMs: i * 60 });
  // Plain API requests through every node (HTTP/1.0 through the downgrading ones) and direct.
  for (const via of [PASS_A, PASS_B, STRIP, KEEP, STRIP, KEEP]) actions.push({ kind: 'plain', via, path: `/api/p${via}` });
  actions.push({ kind: 'plain', path: '/api/direct' });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      {
        formats: [`log_format incident_ws '${INCIDENT_WS}';`],
        proxyReadTimeout: 2,
        locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
        nodes: [{ mode: 'pass' }, { mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: LB_T }, { mode: 'downgrade-keep', timeoutMs: LB_T }],
        actions,
      },
      (res) => ({ inputs: [res.logs['incident_ws'] as string], args: ['--preset', 'upstream-ws', ...HARNESS_TOLERANCE] }),
    );
  });

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses', () => assertAllParsed(o));

  test('handshakes by protocol and status equal the truth', () => {
    const want = tally(o.truth.filter(isWs).map((t) => [t.protocolAtNginx, t.expectedStatus]));
    const got = o.report.handshakes.byProtocolStatus.map((r) => `${r.protocol} ${r.status} ×${r.count}`).sort();
    assert.deepEqual(got, want);
    assert.equal(o.report.handshakes.total, o.truth.filter(isWs).length);
  });

  test('downgraded-handshake: every HTTP/1.0 handshake, exactly the downgrading nodes', () => {
    const f = mustFind(o.report, 'downgraded-handshake');
    const h10 = o.truth.filter((t) => isWs(t) && t.protocolAtNginx === 'HTTP/1.0');
    assert.equal(f.count, h10.length);
    const downgrading = o.nodes.filter((n) => n.mode !== 'pass').map((n) => n.addr).sort();
    assert.deepEqual(f.clients.map((c) => c.client).sort(), downgrading);
    assert.equal(f.severity, 'critical');
  });

  test('a timeout is inferred at ≈3.0 s and abandoned-at-timeout counts the HTTP/1.0 499s there', () => {
    assert.ok(
      o.report.timeouts.some((c) => Math.abs(c.seconds - LB_T / 1000) <= 0.1),
      `timeouts: ${JSON.stringify(o.report.timeouts.map((c) => [c.seconds, c.series, c.count]))}`,
    );
    const abandoned = o.truth.filter((t) => isWs(t) && t.protocolAtNginx === 'HTTP/1.0' && t.expectedStatus === 499 && near(t.approxDurationMs, LB_T));
    assert.ok(abandoned.length >= 3, 'the scenario produced a cluster');
    const f = mustFind(o.report, 'abandoned-at-timeout', LB_T / 1000);
    assert.equal(f.count, abandoned.length, `request_time ${loggedTimes(o, abandoned)}; ${JSON.stringify(o.report.timeouts)}`);
    assert.deepEqual(f.clients.map((c) => c.client), [o.nodes[STRIP]?.addr]);
  });

  test(
    'downgraded-handshake breakdown: the HTTP/1.0 101s that ended at the LB timeout are "101 at ≈T"',
    {},
    () => {
      const keep = o.truth.filter((t) => isWs(t) && t.protocolAtNginx === 'HTTP/1.0' && t.expectedStatus === 101 && near(t.approxDurationMs, LB_T));
      assert.ok(keep.length >= 3);
      const f = mustFind(o.report, 'downgraded-handshake');
      const at101 = Object.entries(f.breakdown).filter(([label]) => { const m = /^101 at ≈(\d+\.\d{3}) s$/.exec(label); return m !== null && Math.abs(Number(m[1]) - 3) < 0.1; }).reduce((s, [, n]) => s + n, 0);
      assert.equal(at101, keep.length, `${JSON.stringify(f.breakdown)}; request_time ${loggedTimes(o, keep)}`);
    },
  );

  commonTests(() => o);

  test('the pass nodes are healthy in handshakes.byClient', () => {
    for (const i of [PASS_A, PASS_B]) {
      const addr = o.nodes[i]?.addr;
      const row = o.report.handshakes.byClient.find((c) => c.client === addr);
      assert.ok(row, `${addr} missing from byClient`);
      assert.equal(row.assessment, 'healthy', `${addr}: ${JSON.stringify(row)}`);
      assert.equal(row.handshakes, o.truth.filter((t) => isWs(t) && t.clientAddr === addr).length);
    }
    for (const i of [STRIP, KEEP]) {
      const row = o.report.handshakes.byClient.find((c) => c.client === o.nodes[i]?.addr);
      assert.equal(row?.assessment, 'downgrading', JSON.stringify(row));
    }
  });
});

// ─── 2. idle cut and LB give-up at different T in one log ───────────────────────────────────────

describe('diagnosis 2: idle cut at 2.0 s and LB give-up at 3.5 s in one log (combined-ws, auto-detected)', { skip }, () => {
  const IDLE_T = 2000;
  const LB_T = 3500;
  const actions: Action[] = [];
  for (let i = 0; i < 5; i++) actions.push({ kind: 'ws-idle', via: 0, path: `/ws/idle${i}`, label: `idle ${i}`, delayMs: i * 30 });
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/long/s${i}`, label: `strip ${i}`, delayMs: i * 30 });
  // A little healthy traffic around them.
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/ok${i}`, holdMs: 400 + 450 * i, messages: 2, label: `healthy ${i}` });
  actions.push({ kind: 'plain', via: 1, path: '/api/x' }, { kind: 'plain', via: 0, path: '/api/y' });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      {
        formats: [`log_format combined_ws '${COMBINED_WS}';`],
        proxyReadTimeout: IDLE_T / 1000,
        locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
        nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: LB_T }],
        actions,
      },
      (res) => ({ inputs: [res.logs['combined_ws'] as string], args: HARNESS_TOLERANCE }),
    );
  });

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses, with the combined-ws preset detected', () => {
    assertAllParsed(o);
    assert.deepEqual(o.report.meta.formats.map((f) => f.name), ['combined-ws']);
  });

  test('two timeouts: ≈2.0 s among sessions, ≈3.5 s among failed handshakes', () => {
    const desc = `${JSON.stringify(o.report.timeouts.map((c) => [c.seconds, c.series, c.count]))}; request_time ${loggedTimes(o, o.truth.filter(isWs))}`;
    assert.equal(o.report.timeouts.length, 2, desc);
    const idle = o.report.timeouts.find((c) => Math.abs(c.seconds - IDLE_T / 1000) <= 0.1);
    const lb = o.report.timeouts.find((c) => Math.abs(c.seconds - LB_T / 1000) <= 0.1);
    assert.equal(idle?.series, 'sessions', desc);
    assert.equal(lb?.series, 'failed', desc);
  });

  test('session-cut-at-timeout counts the idle sessions, abandoned-at-timeout the 499s', () => {
    const idle = o.truth.filter((t) => t.reason === 'idle-timeout' && t.expectedStatus === 101);
    const gaveUp = o.truth.filter((t) => t.reason === 'lb-timeout' && t.expectedStatus === 499);
    assert.equal(idle.length, 5);
    assert.equal(mustFind(o.report, 'session-cut-at-timeout', IDLE_T / 1000).count, idle.length, `request_time ${loggedTimes(o, idle)}`);
    assert.equal(mustFind(o.report, 'abandoned-at-timeout', LB_T / 1000).count, gaveUp.length, `request_time ${loggedTimes(o, gaveUp)}`);
    assert.equal(finding(o.report, 'abandoned-at-timeout', IDLE_T / 1000), undefined, 'no abandoned finding at the idle T');
    assert.equal(finding(o.report, 'session-cut-at-timeout', LB_T / 1000), undefined, 'no session cut at the LB T');
  });

  commonTests(() => o);
});

// ─── 3. two tiers: the downgrade is visible only by joining keys ────────────────────────────────

describe('diagnosis 3: two tiers, downgrade-keep and downgrade-strip, front + back logs together', { skip }, () => {
  const LB_T = 2500;
  const actions: Action[] = [];
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/a${i}`, holdMs: 500 + 300 * i, messages: 2, label: `pass ${i}` });
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: 2, path: `/ws/long/k${i}?beat=500`, label: `keep ${i}` });
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/long/s${i}`, label: `strip ${i}` });
  actions.push({ kind: 'plain', via: 1, path: '/api/x' }, { kind: 'plain', via: 2, path: '/api/y' }, { kind: 'plain', via: 0, path: '/api/z' });

  let o: Outcome;
  let frontPath = '';
  let backPath = '';
  before(async () => {
    o = await scenario(
      {
        tiers: 2,
        formats: [`log_format incident_ws '${INCIDENT_WS}';`],
        proxyReadTimeout: 2,
        locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
        nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: LB_T }, { mode: 'downgrade-keep', timeoutMs: LB_T }],
        actions,
      },
      (res) => {
        assert.ok(res.back);
        frontPath = res.logs['incident_ws'] as string;
        backPath = res.back.logs['incident_ws'] as string;
        return { inputs: [frontPath, backPath], args: ['--preset', 'upstream-ws', ...HARNESS_TOLERANCE] };
      },
    );
  });

  const keysOf = (records: JsonRecord[] | undefined): Map<string, JsonRecord> =>
    new Map((records ?? []).filter((r) => (r['http_sec_websocket_key'] ?? '') !== '').map((r) => [r['http_sec_websocket_key'] as string, r]));

  test('nginx logged what the harness predicted (front), and the back saw HTTP/1.1', () => {
    assertTruthHolds(o);
    const back = keysOf(o.back);
    for (const t of o.truth.filter((x) => x.key && x.back)) assert.equal(back.get(t.key as string)?.['server_protocol'], 'HTTP/1.1', `#${t.index} ${t.label}`);
  });

  test('every line of both logs parses', () => assertAllParsed(o));

  test('hidden-downgrade counts the keys HTTP/1.0 at the front and HTTP/1.1 at the back', () => {
    const front = keysOf(o.front);
    const back = keysOf(o.back);
    const fromLogs = [...front.entries()].filter(([k, r]) => r['server_protocol'] === 'HTTP/1.0' && back.get(k)?.['server_protocol'] === 'HTTP/1.1').length;
    const fromTruth = o.truth.filter((t) => t.key && t.protocolAtNginx === 'HTTP/1.0' && t.back?.protocol === 'HTTP/1.1').length;
    assert.equal(fromLogs, fromTruth, 'logs and truth agree');
    assert.ok(fromTruth >= 6);
    const f = mustFind(o.report, 'hidden-downgrade');
    assert.equal(f.count, fromTruth);
  });

  test('a handshake logged by both tiers counts once in `handshakes`, twice in `count` (lines)', () => {
    const strip = o.truth.filter((t) => t.nodeMode === 'downgrade-strip' && t.key).length;
    const keep = o.truth.filter((t) => t.nodeMode === 'downgrade-keep' && t.key).length;
    assert.ok(strip >= 3 && keep >= 3);
    // Stripped: the LB gives up at T, front 499 and back 499. Kept: both tiers log the tunnel as 101 ended at T.
    const abandoned = mustFind(o.report, 'abandoned-at-timeout', LB_T / 1000);
    assert.deepEqual([abandoned.count, abandoned.handshakes], [2 * strip, strip]);
    const cut = mustFind(o.report, 'session-cut-at-timeout', LB_T / 1000);
    assert.deepEqual([cut.count, cut.handshakes], [2 * keep, keep]);
    // HTTP/1.0 is logged by the front only: lines are handshakes there.
    const downgraded = mustFind(o.report, 'downgraded-handshake');
    assert.equal(downgraded.handshakes, downgraded.count);
  });

  test('correlation: multiTier = keys in both logs; traced keys show sightings from both files', () => {
    const front = keysOf(o.front);
    const back = keysOf(o.back);
    const both = [...front.keys()].filter((k) => back.has(k));
    assert.equal(both.length, o.truth.filter((t) => t.key && t.back).length, 'logs and truth agree');
    assert.equal(o.report.correlation.multiTier, both.length);
    const traced = o.report.correlation.traced;
    assert.ok(traced.some((k) => k.sightings.some((s) => s.file === frontPath) && k.sightings.some((s) => s.file === backPath)), JSON.stringify(traced));
    // Each sighting says what that tier logged for that key.
    for (const k of traced) {
      for (const s of k.sightings) {
        const rec = (s.file === frontPath ? front : back).get(k.key);
        assert.ok(rec, `${k.key} in ${s.file}`);
        assert.equal(s.protocol, rec['server_protocol'], `${k.key} ${s.file}`);
        assert.equal(String(s.status), rec['status'], `${k.key} ${s.file}`);
        assert.equal(o.lines.get(s.file)?.[s.line - 1]?.endsWith(` ${k.key}`), true, `${s.file}:${s.line} holds the key`);
      }
    }
    // A downgrade-keep handshake: HTTP/1.0 101 at the front, HTTP/1.1 101 at the back.
    const keep = o.truth.find((t) => t.nodeMode === 'downgrade-keep' && t.key);
    const tk = traced.find((k) => k.key === keep?.key);
    assert.ok(tk, 'a downgrade-keep key is traced');
    assert.deepEqual(tk.sightings.map((s) => `${s.file === frontPath ? 'front' : 'back'} ${s.protocol} ${s.status}`).sort(), ['back HTTP/1.1 101', 'front HTTP/1.0 101']);
  });

  test('root cause first: the verdict leads with the downgrade at the front and its LB nodes; a client table per tier', () => {
    // See: issue 18 (the two-tier headline led with the symptom, LB nodes and nginx addresses mixed).
    const r = o.report;
    const downgrading = [1, 2].map((i) => o.nodes[i]?.addr as string);
    const pass = o.nodes[0]?.addr as string;
    const down = o.truth.filter((t) => isWs(t) && t.protocolAtNginx === 'HTTP/1.0');
    assert.deepEqual(r.findings.slice(0, 2).map((f) => f.id), ['downgraded-handshake', 'hidden-downgrade']);
    const h = r.verdict.headline;
    assert.ok(h.startsWith(`${down.length} WebSocket handshakes arrived as HTTP/1.0 at ${frontPath} (RFC 6455 requires HTTP/1.1) through load-balancer nodes `), h);
    for (const addr of downgrading) assert.ok(h.includes(addr), `${addr} in: ${h}`);
    assert.ok(!h.includes(pass), `the healthy node is not named: ${h}`);
    assert.ok(h.includes(`reached ${backPath} as HTTP/1.1`), h);
    // The tiers, told apart by the keys: the front's clients are the LB nodes, the back's the front nginx.
    assert.equal(r.correlation.tierBasis, 'hidden-downgrade');
    assert.deepEqual(r.handshakes.byTier.map((t) => [t.input, t.tier]), [[frontPath, 1], [backPath, 2]]);
    const [t1, t2] = r.handshakes.byTier;
    const nodes = new Set(o.nodes.map((n) => n.addr));
    assert.ok(t1?.byClient.every((c) => nodes.has(c.client)), JSON.stringify(t1?.byClient));
    assert.ok(t2?.byClient.length && t2.byClient.every((c) => !nodes.has(c.client)), JSON.stringify(t2?.byClient));
    for (const addr of downgrading) assert.equal(t1?.byClient.find((c) => c.client === addr)?.assessment, 'downgrading', addr);
    // The back tier saw the front nginx carry the failed handshakes: not healthy.
    assert.ok(t2.byClient.some((c) => c.failed > 0 && c.assessment !== 'healthy'), JSON.stringify(t2.byClient));
  });

  commonTests(() => o);
});

// ─── 4. no key logged: the built-in combined format ─────────────────────────────────────────────

describe('diagnosis 4: combined (no key, no request_time): handshakes by path and 101', { skip }, () => {
  const LB_T = 1500;
  const actions: Action[] = [];
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/c${i}`, holdMs: 300 + 200 * i, messages: 1, label: `pass ${i}` });
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/long/s${i}`, label: `strip ${i}` });
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 2, path: `/ws/long/k${i}?beat=300`, label: `keep ${i}` });
  actions.push({ kind: 'ws-session', via: 1, path: '/ws/long/n?plain=426', label: 'strip, app 426' });
  actions.push({ kind: 'ws-no-upgrade', path: '/ws/noup?plain=426', label: 'no upgrade 426' });
  actions.push({ kind: 'ws-dead', label: 'dead upstream' });
  for (const via of [0, 1, 2]) actions.push({ kind: 'plain', via, path: `/api/p${via}` });
  actions.push({ kind: 'plain', path: '/static/app.js', httpVersion: '1.0' });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      {
        formats: ['combined'],
        proxyReadTimeout: 2,
        locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
        nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: LB_T }, { mode: 'downgrade-keep', timeoutMs: LB_T }],
        actions,
      },
      (res) => ({ inputs: [res.logs['combined'] as string], args: [] }),
    );
  });

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses, with combined detected', () => {
    assertAllParsed(o);
    assert.deepEqual(o.report.meta.formats.map((f) => f.name), ['combined']);
    assert.equal(o.report.correlation.keys, 0, 'no key in this format');
  });

  test('handshakes = the WebSocket actions nginx logged (found by path and 101)', () => {
    const logged = o.truth.filter((t) => isWs(t) && recordFor(o.front, t));
    assert.equal(o.report.handshakes.total, logged.length);
    assert.equal(o.report.handshakes.upgraded, logged.filter((t) => t.expectedStatus === 101).length);
    const want = tally(logged.map((t) => [t.protocolAtNginx, t.expectedStatus]));
    assert.deepEqual(o.report.handshakes.byProtocolStatus.map((r) => `${r.protocol} ${r.status} ×${r.count}`).sort(), want);
  });

  test('downgraded-handshake found from the protocol alone', () => {
    const f = mustFind(o.report, 'downgraded-handshake');
    assert.equal(f.count, o.truth.filter((t) => isWs(t) && t.protocolAtNginx === 'HTTP/1.0').length);
    assert.deepEqual(f.clients.map((c) => c.client).sort(), o.nodes.filter((n) => n.mode !== 'pass').map((n) => n.addr).sort());
  });

  commonTests(() => o);
});

// ─── 5. healthy traffic only: nothing critical ──────────────────────────────────────────────────

describe('diagnosis 5: healthy traffic (spread sessions, HTTP/1.0 plain requests, impatient users)', { skip }, () => {
  const rnd = (lo: number, hi: number): number => Math.round(lo + Math.random() * (hi - lo));
  const actions: Action[] = [];
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-session', via: i % 2, path: `/ws/short${i}`, holdMs: rnd(200, 1400), messages: 2, label: `short ${i}` });
  // Around the 2 s proxy_read_timeout, but ended by the client at random times; heartbeats keep them alive.
  for (let i = 0; i < 6; i++) actions.push({ kind: 'ws-session', via: i % 2, path: `/ws/near${i}?beat=500`, holdMs: rnd(1500, 2500), messages: 1, label: `near-T ${i}` });
  actions.push({ kind: 'ws-session', path: '/ws/direct', holdMs: rnd(500, 2500), messages: 3, label: 'direct' });
  for (let i = 0; i < 4; i++) actions.push({ kind: 'plain', via: i < 2 ? i : 'direct', path: `/api/old${i}`, httpVersion: '1.0', label: `plain 1.0 ${i}` });
  actions.push({ kind: 'plain', via: 0, path: '/static/x.css' });
  // Users who give up waiting for a busy app at random times → 499 (Upgrade sent, so no missing header).
  // Random within slots 500 ms apart, so three of them never agree to the millisecond by chance.
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: i % 2, path: `/ws/busy${i}?stall`, responseTimeoutMs: 600 + 500 * i + rnd(0, 300), label: `gave up ${i}` });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      { formats: [DIAG_DIRECTIVE], proxyReadTimeout: 2, nodes: [{ mode: 'pass' }, { mode: 'pass' }], actions },
      (res) => ({ inputs: [res.logs['diag'] as string], args: ['--log-format', DIAG_DIRECTIVE] }),
    );
  });

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses', () => assertAllParsed(o));

  test('the traffic has what a false alarm could come from: sessions ending near T, impatient 499s, HTTP/1.0', () => {
    const nearT = o.truth.filter((t) => t.expectedStatus === 101 && near(t.approxDurationMs, 2000, 500));
    assert.ok(nearT.length >= 3, `${nearT.length} sessions within 0.5 s of the 2 s proxy_read_timeout`);
    assert.equal(o.truth.filter((t) => t.expectedStatus === 499 && t.reason === 'client-abort').length, 3);
    assert.equal(o.report.requests.http10, o.truth.filter((t) => t.protocolAtNginx === 'HTTP/1.0').length);
    assert.equal(o.report.handshakes.total, o.truth.filter(isWs).length);
  });

  test('no finding at all (no critical, no warning), no timeout, no incident; the verdict is ok', () => {
    assert.deepEqual(o.report.findings.map((f) => `${f.severity} ${f.id} ×${f.count}: ${JSON.stringify(f.breakdown)}`), []);
    assert.equal(o.report.verdict.severity, 'ok', o.report.verdict.headline);
    assert.deepEqual(o.report.timeouts, [], 'spread sessions and scattered 499s are no timeout');
    assert.deepEqual(o.report.timeline.incidents, []);
  });

  commonTests(() => o);
});

// ─── 6. a client that reuses keys, next to nginx's own retry ────────────────────────────────────

describe('diagnosis 6: reused Sec-WebSocket-Keys vs nginx failing over to a second upstream (combined-ws)', { skip }, () => {
  const K1 = newKey();
  const K2 = newKey();
  const actions: Action[] = [];
  // K1 three times (two LB nodes), K2 twice: a client built with a fixed key.
  for (const [i, via] of [0, 0, 1].entries()) actions.push({ kind: 'ws-session', via, key: K1, path: `/ws/k1-${i}`, holdMs: 250 + 100 * i, messages: 1, delayMs: i * 150, label: `K1 #${i}` });
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 1, key: K2, path: `/ws/k2-${i}`, holdMs: 300 + 150 * i, messages: 1, delayMs: 80 + i * 200, label: `K2 #${i}` });
  // Fresh keys: healthy handshakes, and handshakes nginx retries on the backup upstream (one line each).
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-session', via: i % 2, path: `/ws/fresh${i}`, holdMs: 200 + 170 * i, messages: 2, label: `fresh ${i}` });
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: i % 2, path: `/retry/ws/rt${i}`, holdMs: 250 + 120 * i, messages: 1, label: `retry ${i}` });
  actions.push({ kind: 'plain', via: 0, path: '/api/a' }, { kind: 'plain', via: 1, path: '/api/b' });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      { formats: [`log_format combined_ws '${COMBINED_WS}';`], proxyReadTimeout: 2, nodes: [{ mode: 'pass' }, { mode: 'pass' }], actions },
      (res) => ({ inputs: [res.logs['combined_ws'] as string], args: ['--preset', 'combined-ws'] }),
    );
  });
  const input = (): string[] => o.lines.get(o.inputs[0] as string) ?? [];
  const reusedLines = (): number[] => input().flatMap((l, i) => (l.includes(`"${K1}"`) || l.includes(`"${K2}"`) ? [i + 1] : []));

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses', () => assertAllParsed(o));

  test("nginx's failover is one line per handshake with the list `502, 101` and status 101 (not a reused key)", () => {
    const retries = o.truth.filter((t) => t.label?.startsWith('retry'));
    assert.equal(retries.length, 3);
    for (const t of retries) {
      const recs = o.front.filter((r) => r['http_sec_websocket_key'] === t.key);
      assert.equal(recs.length, 1, `${t.label}: one line for its key`);
      assert.equal(recs[0]?.['upstream_status'], '502, 101', t.label);
      assert.equal(recs[0]?.['status'], '101', t.label);
      // The line wsdiag read ends with the same list.
      assert.equal(input().filter((l) => l.includes(`"${t.key}"`) && l.endsWith(' 502, 101')).length, 1, `${t.label}: the combined-ws line`);
    }
    const f = mustFind(o.report, 'reused-key');
    assert.ok(!f.evidence.some((e) => retries.some((t) => e.text.includes(t.key as string))), 'no retry line in the evidence');
  });

  test('reused-key: 2 keys, on the 5 lines that hold them, from the clients that sent them', () => {
    const f = mustFind(o.report, 'reused-key');
    assert.equal(f.count, 2, 'keys, not lines');
    const reusers = o.truth.filter((t) => t.key === K1 || t.key === K2);
    assert.equal(reusers.length, 5);
    assert.deepEqual(reusedLines().length, reusers.length, 'nginx wrote one line per handshake');
    assert.deepEqual(clientList(f), clientsOf(reusers));
    assert.equal(Object.values(f.breakdown).reduce((n, c) => n + c, 0), reusers.length, JSON.stringify(f.breakdown));
    // Evidence: only lines holding a reused key, and both keys shown.
    const lines = new Set(reusedLines());
    for (const e of f.evidence) assert.ok(lines.has(e.line), `${e.file}:${e.line} holds no reused key: ${e.text}`);
    for (const k of [K1, K2]) assert.ok(f.evidence.some((e) => e.text.includes(`"${k}"`)), `${k} in the evidence`);
  });

  test('the failover is no upstream error: the handshakes upgraded; nothing else is found', () => {
    assert.equal(finding(o.report, 'upstream-error'), undefined);
    assert.deepEqual(o.report.findings.map((f) => f.id), ['reused-key']);
    assert.equal(o.report.handshakes.upgraded, o.truth.filter(isWs).length);
  });

  commonTests(() => o);
});

// ─── 7. refused handshakes and upstream errors among healthy traffic ────────────────────────────

describe('diagnosis 7: missing Upgrade, 4xx refusals and 5xx upstream errors among healthy traffic (diag format)', { skip }, () => {
  const actions: Action[] = [];
  for (let i = 0; i < 6; i++) actions.push({ kind: 'ws-session', via: i % 2, path: `/ws/ok${i}`, holdMs: 200 + 180 * i, messages: 2, label: `healthy ${i}` });
  // No Upgrade header: the app answers 426, or hangs until the user gives up (499).
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-no-upgrade', via: i % 2, path: `/ws/noup${i}?plain=426`, label: `no upgrade 426 ${i}` });
  actions.push({ kind: 'ws-no-upgrade', via: 0, path: '/ws/noup-hang', responseTimeoutMs: 800, label: 'no upgrade, user gave up' });
  // The app refuses real handshakes: origin (403), bad version (400), wrong path (404).
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/origin${i}?reject=403`, label: `403 ${i}` });
  actions.push({ kind: 'ws-session', via: 0, path: '/ws/version?reject=400', label: '400' });
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', path: `/missing/ws${i}`, label: `404 ${i}` });
  // Upstream errors: the upstream's port is closed (502); the app never answers (504 at proxy_read_timeout).
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-dead', via: i % 2, path: `/dead/ws/${i}`, label: `502 ${i}` });
  // Both peers of an upstream group dead: nginx tries each, logs `502, 502` and answers 502.
  actions.push({ kind: 'ws-dead', via: 0, path: '/dead/both/ws', label: 'dead pair' });
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/busy${i}?stall`, delayMs: i * 300, label: `504 ${i}` });
  // A dead primary with a live backup: `502, 101`, status 101.
  for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: i, path: `/retry/ws/r${i}`, holdMs: 300, messages: 1, label: `failover ${i}` });
  actions.push({ kind: 'plain', via: 0, path: '/api/a' }, { kind: 'plain', via: 1, path: '/api/b', httpVersion: '1.0' });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      {
        formats: [DIAG_DIRECTIVE],
        proxyReadTimeout: 2,
        // Ports 1 and 2 on loopback: nothing listens (privileged, never bound by the tests).
        httpConfig: 'upstream wsdiag_dead_pair { server 127.0.0.1:1 max_fails=0; server 127.0.0.1:2 max_fails=0; }',
        serverConfig: '    location /dead/both/ { proxy_pass http://wsdiag_dead_pair; }',
        nodes: [{ mode: 'pass' }, { mode: 'pass' }],
        actions,
      },
      (res) => ({ inputs: [res.logs['diag'] as string], args: ['--log-format', DIAG_DIRECTIVE] }),
    );
  });
  const ws = (): Truth[] => o.truth.filter(isWs);
  const byStatus = (ts: Truth[]): Record<string, number> => {
    const m: Record<string, number> = {};
    for (const t of ts) m[String(t.expectedStatus)] = (m[String(t.expectedStatus)] ?? 0) + 1;
    return m;
  };
  const sorted = (r: Record<string, number>): [string, number][] => Object.entries(r).sort();
  /** Evidence of a finding: every line is one of the truth's requests (by X-Test-Id in the xcheck log ↔ $request). */
  const assertEvidenceFrom = (f: Finding, ts: Truth[]): void => {
    for (const e of f.evidence) assert.ok(ts.some((t) => e.text.includes(`"${t.requestAtNginx}"`)), `${f.id}: ${e.text}`);
  };

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses', () => assertAllParsed(o));

  test('missing-upgrade-header: the handshakes sent without Upgrade, by protocol and status', () => {
    const noUp = ws().filter((t) => !t.upgradeAtNginx);
    assert.equal(noUp.length, 4);
    const f = mustFind(o.report, 'missing-upgrade-header');
    assert.equal(f.count, noUp.length);
    assert.deepEqual(sorted(f.breakdown), sorted(Object.fromEntries(Object.entries(byStatus(noUp)).map(([s, n]) => [`HTTP/1.1 ${s}`, n]))));
    assert.deepEqual(clientList(f), clientsOf(noUp));
    assertEvidenceFrom(f, noUp);
  });

  test('handshake-rejected: every 4xx but 499, by status (426 ×3, 403 ×2, 404 ×2, 400 ×1)', () => {
    const refused = ws().filter((t) => t.expectedStatus >= 400 && t.expectedStatus < 500 && t.expectedStatus !== 499);
    const f = mustFind(o.report, 'handshake-rejected');
    assert.equal(f.count, refused.length);
    assert.deepEqual(sorted(f.breakdown), sorted(byStatus(refused)));
    assert.deepEqual(sorted(f.breakdown), sorted({ 426: 3, 403: 2, 404: 2, 400: 1 }), 'the scenario made each status');
    assert.deepEqual(clientList(f), clientsOf(refused));
    assertEvidenceFrom(f, refused);
  });

  test('upstream-error: the 502s and 504s by status, a `502, 502` failover among them; the failovers that ended 101 are not counted', () => {
    const failed5xx = ws().filter((t) => t.expectedStatus >= 500);
    const f = mustFind(o.report, 'upstream-error');
    assert.equal(f.count, failed5xx.length);
    assert.deepEqual(sorted(f.breakdown), sorted({ 502: 4, 504: 2 }));
    const pair = o.truth.find((t) => t.label === 'dead pair') as Truth;
    assert.equal(recordFor(o.front, pair)?.['upstream_status'], '502, 502', 'nginx logged both attempts on one line');
    assert.deepEqual(sorted(f.breakdown), sorted(byStatus(failed5xx)));
    assert.deepEqual(clientList(f), clientsOf(failed5xx));
    assertEvidenceFrom(f, failed5xx);
    const failovers = o.truth.filter((t) => t.label?.startsWith('failover'));
    for (const t of failovers) assert.equal(recordFor(o.front, t)?.['upstream_status'], '502, 101', `${t.label}: nginx logged the failover list`);
    assert.ok(!f.evidence.some((e) => e.text.includes('us="502, 101"')), 'no failover line among the evidence');
  });

  test('handshakes by upstream and by path: what nginx logged as $upstream_addr and $request_uri, by status class', () => {
    // Expected from the cross-check log: the peer whose answer was logged is the last of the list
    // (`127.0.0.1:1, 127.0.0.1:N` after a failover), `-` when nginx answered itself.
    const cls = (s: number): string => (s === 101 ? '101' : s === 499 || s === 408 ? '499' : `${Math.floor(s / 100)}xx`);
    const expect = (name: (r: JsonRecord) => string): string[] => countBy(ws().map((t) => {
      const r = recordFor(o.front, t) as JsonRecord;
      return `${name(r)} ${cls(Number(r['status']))}`;
    }));
    const got = (rows: { handshakes: number; upgraded: number; redirected: number; rejected: number; gaveUp: number; serverError: number; other: number }[], name: (i: number) => string): string[] =>
      countBy(rows.flatMap((r, i) => ([['101', r.upgraded], ['3xx', r.redirected], ['4xx', r.rejected], ['499', r.gaveUp], ['5xx', r.serverError], ['2xx', r.other]] as const)
        .flatMap(([c, n]) => Array.from({ length: n }, () => `${name(i)} ${c}`))));
    const peer = (r: JsonRecord): string => (r['upstream_addr'] ?? '').split(/, | : /).at(-1) || '-';
    const up = o.report.handshakes.byUpstream;
    assert.deepEqual(got(up, (i) => up[i]?.upstream ?? '?'), expect(peer));
    // The dead upstream (a closed port) is a row of its own, every handshake a 5xx; the dead pair's last peer too.
    const dead = o.truth.filter((t) => t.kind === 'ws-dead' && t.label !== 'dead pair').length;
    assert.ok(up.some((r) => r.handshakes === dead && r.serverError === dead), JSON.stringify(up));
    assert.ok(up.some((r) => r.upstream === '127.0.0.1:2' && r.serverError === 1), JSON.stringify(up));
    assert.equal(up[0]?.failed, Math.max(...up.map((r) => r.failed)), 'most failures first');
    const paths = o.report.handshakes.byPath;
    assert.deepEqual(got(paths, (i) => paths[i]?.path ?? '?'), expect((r) => (r['request_uri'] ?? '').split('?')[0] ?? ''));
    assert.ok(!paths.some((r) => r.path.includes('?')), 'no query string');
    for (const r of [...up, ...paths]) assert.equal(r.input, o.inputs[0]);
  });

  test('no downgrade, no timeout finding, no reused key: only the three rules this traffic breaks', () => {
    assert.deepEqual(o.report.findings.map((f) => f.id).sort(), ['handshake-rejected', 'missing-upgrade-header', 'upstream-error']);
    assert.deepEqual(o.report.timeouts, []);
    const healthy = o.truth.filter((t) => t.label?.startsWith('healthy') || t.label?.startsWith('failover'));
    assert.equal(o.report.handshakes.upgraded, healthy.length);
  });

  commonTests(() => o);
});

// ─── 8. incident windows: downgrade bursts in the middle of healthy traffic ─────────────────────

describe('diagnosis 8: two bursts through downgrading nodes amid steady healthy traffic: incident windows', { skip }, () => {
  const LB_T = 1000;
  const STEP = 250;
  /** The bursts, in ms from the start of the traffic, 2.5 s apart: more than two 1 s timeline buckets. */
  const BURSTS = [
    { node: 1, fromMs: 1000, toMs: 2000 },
    { node: 2, fromMs: 4500, toMs: 5500 },
  ];
  /**
   * Timing of the harness: an action's start as nginx logs it ($msec − $request_time) comes after the
   * driver sent it (loopback, the LB hop), by a few ms, more on a busy machine.
   */
  const TIMING_MS = 150;
  /** nginx's time cache and whole-ms rounding on both clocks: the logged start can read a few ms early. */
  const ROUNDING_MS = 5;
  const after = (ms: number, sentAt: number): boolean => ms - sentAt >= -ROUNDING_MS && ms - sentAt <= TIMING_MS;
  const actions: Action[] = [];
  // A healthy handshake every 250 ms for 6.5 s, sessions of 150–450 ms (below any timeout).
  for (let ms = 0, i = 0; ms <= 6500; ms += STEP, i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/steady${i}`, holdMs: 150 + ((i * 37) % 300), messages: 1, delayMs: ms, label: `steady ${i}` });
  // The bursts: each attempt through a strip node hangs until the node gives up at 1 s (HTTP/1.0 499).
  for (const [b, burst] of BURSTS.entries()) {
    for (let ms = burst.fromMs; ms <= burst.toMs; ms += STEP) actions.push({ kind: 'ws-session', via: burst.node, path: `/ws/b${b}-${ms}`, delayMs: ms, label: `burst ${b}` });
  }
  // Plain requests through the downgrading nodes between the bursts succeed: not part of any incident.
  actions.push({ kind: 'plain', via: 1, path: '/api/between', delayMs: 3200 }, { kind: 'plain', via: 2, path: '/api/after', delayMs: 6200 });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      {
        formats: [`log_format incident_ws '${INCIDENT_WS}';`],
        proxyReadTimeout: 2,
        nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: LB_T }, { mode: 'downgrade-strip', timeoutMs: LB_T }],
        actions,
      },
      (res) => ({ inputs: [res.logs['incident_ws'] as string], args: ['--preset', 'upstream-ws', ...HARNESS_TOLERANCE] }),
    );
  });
  const burst = (b: number): Truth[] => o.truth.filter((t) => t.label === `burst ${b}`);

  test('nginx logged what the harness predicted', () => assertTruthHolds(o));

  test('every line parses', () => assertAllParsed(o));

  test('the failures are exactly the burst attempts: HTTP/1.0 499 at ≈1 s', () => {
    const all = [...burst(0), ...burst(1)];
    assert.equal(all.length, 10);
    for (const t of all) assert.equal(`${t.protocolAtNginx} ${t.expectedStatus} ${t.reason}`, 'HTTP/1.0 499 lb-timeout', t.label);
    assert.equal(mustFind(o.report, 'abandoned-at-timeout', LB_T / 1000).count, all.length, `request_time ${loggedTimes(o, all)}`);
    assert.equal(mustFind(o.report, 'downgraded-handshake').count, all.length);
    assert.deepEqual(o.report.findings.map((f) => f.id).sort(), ['abandoned-at-timeout', 'downgraded-handshake']);
  });

  test('one incident per burst: it starts and ends with the burst, counts its attempts, names its node', () => {
    const incidents = o.report.timeline.incidents;
    assert.equal(o.report.timeline.bucketSeconds, 1, 'the gap that separates incidents is two 1 s buckets');
    assert.equal(incidents.length, BURSTS.length, JSON.stringify(incidents));
    for (const [b, inc] of incidents.entries()) {
      const ts = burst(b);
      const first = Math.min(...ts.map((t) => t.sentAt));
      const last = Math.max(...ts.map((t) => t.sentAt));
      const start = Date.parse(inc.start);
      const end = Date.parse(inc.end);
      assert.ok(after(start, first), `burst ${b}: incident starts ${start - first} ms after its first attempt was sent`);
      assert.ok(after(end, last), `burst ${b}: incident ends ${end - last} ms after its last attempt was sent`);
      assert.equal(inc.count, ts.length, `burst ${b}: count`);
      assert.deepEqual(inc.clients, [o.nodes[BURSTS[b]?.node as number]?.addr], `burst ${b}: clients`);
    }
  });

  test('timeline buckets: the failures fall in the buckets of the bursts; healthy handshakes are in every bucket', () => {
    const buckets = o.report.timeline.buckets;
    assert.equal(buckets.reduce((n, b) => n + b.failed, 0), 10);
    assert.equal(buckets.reduce((n, b) => n + b.handshakes, 0), o.truth.filter(isWs).length);
    const bursts = [...burst(0), ...burst(1)];
    for (const b of buckets.filter((x) => x.failed > 0)) {
      const from = Date.parse(b.start);
      const inIt = bursts.filter((t) => t.sentAt + TIMING_MS >= from && t.sentAt < from + 1000);
      assert.ok(inIt.length >= b.failed, `bucket ${b.start}: ${b.failed} failed, ${inIt.length} burst attempts sent around it`);
    }
  });

  test('firstSeen/lastSeen of the downgrade span the bursts: first attempt sent .. last give-up', () => {
    const f = mustFind(o.report, 'downgraded-handshake');
    const bursts = [...burst(0), ...burst(1)];
    const first = Math.min(...bursts.map((t) => t.sentAt));
    const lastEnd = Math.max(...bursts.map((t) => t.sentAt)) + LB_T;
    const seenFirst = Date.parse(f.firstSeen ?? '');
    const seenLast = Date.parse(f.lastSeen ?? '');
    assert.ok(after(seenFirst, first), `firstSeen ${seenFirst - first} ms after the first attempt`);
    assert.ok(Math.abs(seenLast - lastEnd) <= TIMING_MS, `lastSeen ${seenLast - lastEnd} ms from the last give-up`);
  });

  commonTests(() => o);
});

// ─── 9. real traffic beside the failures: health checks, long-polls, a redirect, two close timeouts ─

describe('diagnosis 9: health checks and long-polls on /ws/, the 301 from /ws, 504 at 2.0 s beside HTTP/1.0 499 at 2.4 s (combined-ws)', { skip }, () => {
  // See: issue 14 (items 1–4). nginx's proxy_read_timeout answers 504 at READ_T; the strip node gives up at LB_T.
  const READ_T = 2000;
  const LB_T = 2400;
  const actions: Action[] = [];
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/ok${i}`, holdMs: 300 + 250 * i, messages: 2, label: `healthy ${i}` });
  // A load balancer's health checks through both nodes (HTTP/1.0 through the downgrading one), answered 200 at once.
  for (let i = 0; i < 10; i++) actions.push({ kind: 'plain', via: i % 2, path: `/ws/health?plain=200&n=${i}`, delayMs: i * 40, label: `health ${i}` });
  // Long-polls held 1.5 s by the app, all answered 200 after the same time (a cluster of 200s).
  for (let i = 0; i < 6; i++) actions.push({ kind: 'plain', via: 0, path: `/ws/poll?plain=poll&hold=1500&n=${i}`, delayMs: i * 30, label: `poll ${i}` });
  // The handshake sent to /ws: nginx redirects to /ws/ (only `location /ws/` exists).
  for (let i = 0; i < 3; i++) actions.push({ kind: 'ws-session', via: 0, path: '/ws', label: `redirected ${i}`, delayMs: i * 50 });
  // A busy app: nginx gives up at its proxy_read_timeout (504), many of them.
  for (let i = 0; i < 16; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/busy${i}?stall`, label: `504 ${i}`, delayMs: i * 20 });
  // Through the downgrading node, on a location nginx waits 10 s on: the node gives up first (HTTP/1.0 499 at LB_T).
  for (let i = 0; i < 4; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/long/s${i}`, label: `strip ${i}`, delayMs: i * 40 });

  let o: Outcome;
  before(async () => {
    o = await scenario(
      {
        formats: [`log_format combined_ws '${COMBINED_WS}';`],
        proxyReadTimeout: READ_T / 1000,
        locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
        nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: LB_T }],
        actions,
      },
      (res) => ({ inputs: [res.logs['combined_ws'] as string], args: ['--preset', 'combined-ws', ...HARNESS_TOLERANCE] }),
    );
  });
  const labelled = (prefix: string): Truth[] => o.truth.filter((t) => t.label?.startsWith(prefix));

  test('nginx logged what the harness predicted (200 health checks, 200 long-polls at 1.5 s, 301, 504, HTTP/1.0 499)', () => assertTruthHolds(o));

  test('every line parses', () => assertAllParsed(o));

  test('health checks and long-polls on /ws/ are plain requests: the handshakes are exactly the WebSocket actions', () => {
    const handshakes = o.truth.filter(isWs);
    assert.equal(o.report.handshakes.total, handshakes.length);
    assert.deepEqual(o.report.handshakes.byProtocolStatus.map((r) => `${r.protocol} ${r.status} ×${r.count}`).sort(), tally(handshakes.map((t) => [t.protocolAtNginx, t.expectedStatus])));
    assert.ok(!o.report.timeouts.some((c) => Math.abs(c.seconds - 1.5) < 0.2), `no timeout at the long-polls' 1.5 s: ${JSON.stringify(o.report.timeouts)}`);
    // Only handshakes lack Upgrade here: the ones the downgrading node stripped, not the health checks or polls.
    assert.equal(mustFind(o.report, 'missing-upgrade-header').count, o.truth.filter((t) => isWs(t) && !t.upgradeAtNginx).length);
  });

  test('handshake-redirected: the 301s nginx sent for /ws', () => {
    const redirected = labelled('redirected');
    assert.ok(redirected.every((t) => t.expectedStatus === 301));
    const f = mustFind(o.report, 'handshake-redirected');
    assert.equal(f.count, redirected.length);
    assert.deepEqual(f.breakdown, { 301: redirected.length });
  });

  test('two close timeouts are both found: 504 at ≈2.0 s (16) and the HTTP/1.0 499 at ≈2.4 s (4)', () => {
    const at504 = labelled('504');
    const at499 = labelled('strip');
    assert.ok(at504.every((t) => t.expectedStatus === 504) && at499.every((t) => t.expectedStatus === 499 && t.protocolAtNginx === 'HTTP/1.0'));
    assert.equal(mustFind(o.report, 'abandoned-at-timeout', READ_T / 1000).count, at504.length, `request_time ${loggedTimes(o, at504)}`);
    assert.equal(mustFind(o.report, 'abandoned-at-timeout', LB_T / 1000).count, at499.length, `request_time ${loggedTimes(o, at499)}`);
    const f = mustFind(o.report, 'downgraded-handshake');
    assert.equal(f.count, at499.length, 'the HTTP/1.0 health checks are not downgraded handshakes');
    assert.deepEqual(f.clients.map((c) => c.client), [o.nodes[1]?.addr]);
  });

  test('nothing else: no upstream error (the 504s are at a timeout), no rejection', () => {
    const ids = ['abandoned-at-timeout', 'abandoned-at-timeout', 'downgraded-handshake', 'handshake-redirected', 'missing-upgrade-header'];
    assert.deepEqual(o.report.findings.map((f) => f.id).sort(), ids);
  });

  commonTests(() => o);
});
