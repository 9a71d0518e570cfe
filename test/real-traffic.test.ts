/*
 * Real WebSocket deployments carry traffic the incident sample does not: health checks and
 * long-polls on WebSocket paths, redirects, several timeouts side by side, timeouts of many
 * minutes, logs without $request_time, nothing in the window. Each case runs the built CLI on lines
 * shaped exactly as nginx writes them (`combined`, and `combined-ws`: combined + $request_time
 * "$http_upgrade" "$http_sec_websocket_key" $upstream_status), in the order nginx writes them.
 * See: issue 14 (Real traffic: no false alarm, no missed failure).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { analyze, type Finding, type Report } from '../src/index.js';
import { run } from './helpers/cli.js';
import { prng } from './helpers/prng.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');
const T0 = Date.UTC(2024, 10, 20, 8, 0, 0);

interface Line {
  client: string;
  request: string;
  status: number;
  /** Offset of the request's start from T0, and its request_time, in ms. */
  startMs: number;
  durMs: number;
  /** Logged $http_upgrade and key ('' is written `-`, as nginx writes an absent header). */
  upgrade?: string;
  key?: string;
}

function local(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** A `combined` line: no duration, no key, no Upgrade logged. */
function combined(l: Line): string {
  return `${l.client} - - [${local(T0 + l.startMs + l.durMs)}] "${l.request}" ${l.status} 12 "-" "Mozilla/5.0 (X11; Linux x86_64)"`;
}

/** A `combined-ws` line. */
function combinedWs(l: Line): string {
  const up = l.status === 101 ? '101' : l.status === 499 ? '-' : String(l.status);
  return `${combined(l)} ${(l.durMs / 1000).toFixed(3)} "${l.upgrade || '-'}" "${l.key || '-'}" ${up}`;
}

/** The JSON report of the CLI over these lines (ordered by end, as nginx writes them). */
function report(lines: Line[], shape: (l: Line) => string, args: string[] = []): Report {
  const text = [...lines].sort((a, b) => a.startMs + a.durMs - (b.startMs + b.durMs)).map(shape).join('\n') + '\n';
  const preset = shape === combined ? 'combined' : 'combined-ws';
  const r = run(['--preset', preset, '--output', 'json', ...args, '-'], text);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

const ids = (r: Report): string[] => r.findings.map((f) => `${f.id}×${f.count}${f.timeoutSeconds === undefined ? '' : `@${f.timeoutSeconds}`}`);
const findingOf = (r: Report, id: string): Finding => {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `${id} in ${ids(r).join(', ')}`);
  return f;
};

/** Healthy handshakes: 101 sessions of 1–300 s from `client`, none near a timeout the tests use. */
function healthy(n: number, client: string, seed: number): Line[] {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => ({
    client, request: `GET /ws/chat/${i} HTTP/1.1`, status: 101, startMs: i * 3000, durMs: 1000 + Math.round(rand() * 299_000), upgrade: 'websocket', key: `healthy${String(seed * 1000 + i).padStart(15, '0')}==`,
  }));
}

// ─── 1. plain requests on a WebSocket path ───────────────────────────────────────────────────────

test('issue 14.1: 200 health checks `GET /ws/health HTTP/1.0` answered 200 through two LB nodes are no handshakes, no finding, --fail-on critical exits 0', () => {
  const lines: Line[] = Array.from({ length: 200 }, (_, i) => ({ client: `10.0.0.${1 + (i % 2)}`, request: 'GET /ws/health HTTP/1.0', status: 200, startMs: i * 1000, durMs: 1 }));
  for (const shape of [combined, combinedWs]) {
    const r = report(lines, shape);
    assert.equal(r.handshakes.total, 0, shape.name);
    assert.deepEqual(ids(r), [], shape.name);
    assert.equal(r.requests.http10, 200, 'the HTTP/1.0 requests are still counted as requests');
  }
  const text = lines.map(combined).join('\n') + '\n';
  assert.equal(run(['--preset', 'combined', '--fail-on', 'critical', '-'], text).code, 0);
});

test('issue 14.1: without a key or Upgrade logged, the path still makes a handshake of 101, 499 at T, 3xx, 4xx and 5xx', () => {
  const lines: Line[] = [
    ...Array.from({ length: 6 }, (_, i): Line => ({ client: '10.0.0.9', request: `GET /ws/s${i} HTTP/1.0`, status: 499, startMs: i * 700, durMs: 60_000 + i })),
    { client: '10.0.0.8', request: 'GET /ws/a HTTP/1.1', status: 101, startMs: 100, durMs: 12_345 },
    { client: '10.0.0.8', request: 'GET /ws HTTP/1.1', status: 301, startMs: 200, durMs: 0 },
    { client: '10.0.0.8', request: 'GET /ws/b HTTP/1.1', status: 502, startMs: 300, durMs: 2 },
    { client: '10.0.0.8', request: 'GET /ws/c HTTP/1.1', status: 404, startMs: 400, durMs: 1 },
  ];
  // combined-ws with Upgrade and key absent ('-'): the same lines, now with their durations.
  const r = report(lines, combinedWs, ['--ws-path', '/ws']);
  assert.equal(r.handshakes.total, lines.length);
  const abandoned = findingOf(r, 'abandoned-at-timeout');
  assert.equal(abandoned.count, 6);
  assert.equal(findingOf(r, 'handshake-redirected').count, 1);
  const c = report(lines, combined);
  assert.equal(c.handshakes.total, lines.length, 'combined: the same handshakes, by path and status');
});

// ─── 2. long-polling ─────────────────────────────────────────────────────────────────────────────

test('issue 14.2: long-polls held 25 s and answered 200 (`/ws/poll`, socket.io transport=polling) are no failure and no timeout', () => {
  const lines: Line[] = [...healthy(40, '10.0.1.1', 2)];
  for (let i = 0; i < 60; i++) lines.push({ client: '10.0.1.2', request: `GET /ws/poll?since=${i} HTTP/1.1`, status: 200, startMs: i * 5000, durMs: 25_000 + (i % 7) });
  for (let i = 0; i < 60; i++) lines.push({ client: '10.0.1.3', request: `GET /socket.io/?EIO=4&transport=polling&t=P${i} HTTP/1.1`, status: 200, startMs: i * 5000 + 7, durMs: 25_000 + (i % 5) });
  // A poll the browser gave up on (a page closed): 499, still no handshake.
  lines.push({ client: '10.0.1.3', request: 'GET /socket.io/?EIO=4&transport=polling&t=Px HTTP/1.1', status: 499, startMs: 1000, durMs: 3_210 });
  const r = report(lines, combinedWs, ['--ws-path', '/socket.io']);
  assert.equal(r.handshakes.total, 40);
  assert.equal(r.handshakes.failed, 0);
  assert.deepEqual(r.timeouts, []);
  assert.deepEqual(ids(r), []);
  assert.equal(r.verdict.severity, 'ok');
});

// ─── 3. redirected handshakes ────────────────────────────────────────────────────────────────────

test('issue 14.3: `GET /ws HTTP/1.1` answered 301 is handshake-redirected: count, status, clients, evidence, fix', () => {
  const lines: Line[] = [...healthy(30, '10.0.2.1', 3)];
  for (let i = 0; i < 14; i++) lines.push({ client: '10.0.2.2', request: 'GET /ws HTTP/1.1', status: 301, startMs: 500 + i * 4000, durMs: 0, upgrade: 'websocket', key: `redirected${String(i).padStart(12, '0')}==` });
  lines.push({ client: '10.0.2.3', request: 'GET /ws/chat/ HTTP/1.1', status: 302, startMs: 900, durMs: 3, upgrade: 'websocket', key: 'redirectedKey00000000A==' });
  const r = report(lines, combinedWs);
  const f = findingOf(r, 'handshake-redirected');
  assert.equal(f.count, 15);
  assert.deepEqual(f.breakdown, { 301: 14, 302: 1 });
  assert.deepEqual(f.clients.map((c) => `${c.client} ${c.count}`), ['10.0.2.2 14', '10.0.2.3 1']);
  assert.ok(f.evidence.length > 0 && f.evidence.every((e) => / 30[12] /.test(e.text)));
  assert.match(f.fix, /\/ws\//);
  assert.match(f.nginxConfig ?? '', /location = \/ws/);
  assert.equal(f.severity, 'critical', '15 of 45 handshakes failed');
  assert.deepEqual(ids(r), ['handshake-redirected×15']);
  assert.equal(r.timeline.buckets.reduce((n, b) => n + b.failed, 0), 15, 'redirects are failed attempts on the timeline');
});

// ─── 7. logs without $request_time ───────────────────────────────────────────────────────────────

test('issue 14.7: combined (no $request_time): HTTP/1.0 499s say their duration is not logged, and the report recommends the log_format line once', () => {
  const lines: Line[] = [...healthy(20, '10.0.7.1', 7)];
  for (let i = 0; i < 5; i++) lines.push({ client: '10.0.7.2', request: `GET /ws/chat/${i} HTTP/1.0`, status: 499, startMs: i * 2000, durMs: 60_000 });
  const r = report(lines, combined);
  const f = findingOf(r, 'downgraded-handshake');
  assert.deepEqual(f.breakdown, { '499 (duration not logged)': 5 });
  assert.deepEqual(r.timeouts, []);
  assert.deepEqual(r.meta.notLogged?.variables, ['$request_time', '$http_upgrade', '$http_sec_websocket_key', '$upstream_status']);
  assert.equal(
    r.meta.notLogged?.logFormat,
    `log_format wsdiag '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status';`,
  );
  const text = [...lines].sort((a, b) => a.startMs + a.durMs - (b.startMs + b.durMs)).map(combined).join('\n') + '\n';
  for (const output of ['table', 'markdown', 'html']) {
    const out = run(['--preset', 'combined', '--output', output, '-'], text).stdout;
    assert.equal(out.split('log_format wsdiag').length - 1, 1, `${output}: the log_format line once`);
    assert.match(out, /durations are not logged/, output);
  }
  assert.equal(report(lines, combinedWs).meta.notLogged, null, 'combined-ws logs all four');
});

// ─── 8. client assessment from outcomes ──────────────────────────────────────────────────────────

test('issue 14.8: a client whose handshakes are nearly all redirected is "failing", not "healthy"', () => {
  const lines: Line[] = [...healthy(20, '10.0.8.1', 8)];
  for (let i = 0; i < 14; i++) lines.push({ client: '10.0.8.2', request: 'GET /ws HTTP/1.1', status: 301, startMs: i * 1000, durMs: 0 });
  lines.push({ client: '10.0.8.2', request: 'GET /ws/chat/x HTTP/1.1', status: 101, startMs: 20_000, durMs: 5_000 });
  const r = report(lines, combined);
  const row = (c: string): string | undefined => r.handshakes.byClient.find((x) => x.client === c)?.assessment;
  assert.equal(row('10.0.8.2'), 'failing');
  assert.equal(row('10.0.8.1'), 'healthy');
});

// ─── 9. never "OK" about nothing ─────────────────────────────────────────────────────────────────

test('issue 14.9: an empty input, or --since excluding every line, says nothing was analysed and why (not OK)', () => {
  const empty = run(['--output', 'json', '-'], '');
  assert.equal(empty.code, 0, empty.stderr);
  const e = JSON.parse(empty.stdout) as Report;
  assert.notEqual(e.verdict.severity, 'ok');
  assert.match(e.verdict.headline, /^Nothing was analysed: the input is empty/);
  assert.doesNotMatch(run(['-'], '').stdout, /^OK/);

  const old = healthy(30, '10.0.9.1', 9);
  const r = report(old, combined, ['--since', '2h']);
  assert.equal(r.lines.filtered, 30);
  assert.notEqual(r.verdict.severity, 'ok');
  assert.match(r.verdict.headline, /^Nothing was analysed: all 30 parsed lines fall outside the --since\/--until window/);
  assert.match(r.verdict.fix ?? '', /--since/);
});

// ─── 4–6. timeouts: side by side, of any length, and not by coincidence ─────────────────────────

let keyNo = 0;
/** A fresh 24-character key per handshake, as browsers make them. */
const freshKey = (): string => `fresh${String(++keyNo).padStart(17, '0')}==`;
const ws = (client: string, request: string, status: number, startMs: number, durMs: number): Line => ({ client, request, status, startMs, durMs, upgrade: 'websocket', key: freshKey() });

test('issue 14.4: 600 × 504 at 55 s do not hide 40 × HTTP/1.0 499 within 12 ms of 60 s beside them', () => {
  const rand = prng(4);
  const lines: Line[] = [...healthy(100, '10.0.4.1', 4)];
  for (let i = 0; i < 600; i++) lines.push(ws('10.0.4.2', `GET /ws/a${i} HTTP/1.1`, 504, i * 500, 55_000 + Math.round(rand() * 4)));
  for (let i = 0; i < 40; i++) lines.push({ client: '10.0.4.3', request: `GET /ws/b${i} HTTP/1.0`, status: 499, startMs: i * 7000 + 3, durMs: 59_994 + Math.round(rand() * 12) });
  const r = report(lines, combinedWs);
  const at = (s: number): Finding | undefined => r.findings.find((f) => f.id === 'abandoned-at-timeout' && Math.abs((f.timeoutSeconds ?? 0) - s) < 0.05);
  assert.equal(at(55)?.count, 600, ids(r).join(', '));
  assert.equal(at(60)?.count, 40, ids(r).join(', '));
  assert.deepEqual(findingOf(r, 'downgraded-handshake').breakdown, { '499 at ≈60.000 s': 40 });
});

test('issue 14.5: sessions cut at 900 s, at 1 h and at 24 h are inferred as timeouts (no --timeout)', () => {
  for (const T of [900_000, 3_600_000, 86_400_000]) {
    const rand = prng(T);
    const lines: Line[] = [...healthy(60, '10.0.5.1', 5)];
    // Cut by an idle timeout to the millisecond, as nginx logs it (900.003 … 900.061).
    for (let i = 0; i < 50; i++) lines.push(ws('10.0.5.2', `GET /ws/long${i} HTTP/1.1`, 101, i * 61_000, T + 3 + Math.round(rand() * 58)));
    const r = report(lines, combinedWs);
    const f = findingOf(r, 'session-cut-at-timeout');
    assert.equal(f.count, 50, `T = ${T / 1000} s: ${ids(r).join(', ')}`);
    // Past 65.5 s durations are binned within 0.003 %: T is that close, and marked approximate.
    assert.ok(Math.abs((f.timeoutSeconds ?? 0) - T / 1000) <= (T / 1000) * 3e-5 + 0.1, `T = ${T / 1000} s: found ${f.timeoutSeconds}`);
    assert.equal(r.timeouts.find((c) => c.series === 'sessions')?.approximate, true);
    assert.notEqual(r.verdict.severity, 'ok');
  }
});

test('issue 14.6: three impatient 499s at 41.21, 41.23, 41.25 s among 40 scattered ones are no timeout', () => {
  const rand = prng(6);
  const lines: Line[] = [...healthy(100, '10.0.6.1', 6)];
  // Users giving up at random, 1–120 s, none within 5 s of 41.2 s (so nothing is "around" the trio).
  for (let i = 0; lines.length < 140; i++) {
    const d = 1000 + Math.round(rand() * 119_000);
    if (Math.abs(d - 41_230) > 5000) lines.push(ws(`10.0.6.${2 + (i % 5)}`, `GET /ws/x${i} HTTP/1.1`, 499, i * 9000, d));
  }
  for (const [i, d] of [41_210, 41_230, 41_250].entries()) lines.push(ws('10.0.6.9', `GET /ws/y${i} HTTP/1.1`, 499, 400_000 + i * 60_000, d));
  const r = report(lines, combinedWs);
  assert.deepEqual(r.timeouts, []);
  assert.deepEqual(ids(r), []);
});

// ─── 10. reused keys over the whole input ───────────────────────────────────────────────────────

test('issue 14.10: a key sent again 20 minutes later, and a key re-sent every 5 minutes for 2 hours, are reused keys (one each)', () => {
  const lines: Line[] = [...healthy(100, '10.0.10.1', 10)];
  const once = { client: '10.0.10.2', request: 'GET /ws/a HTTP/1.1', status: 101, durMs: 4_000, upgrade: 'websocket', key: 'AAAAAAAAAAAAAAAAAAAAAA==' };
  lines.push({ ...once, startMs: 0 }, { ...once, startMs: 20 * 60_000 });
  const every = { client: '10.0.10.3', request: 'GET /ws/b HTTP/1.1', status: 101, durMs: 2_000, upgrade: 'websocket', key: 'BBBBBBBBBBBBBBBBBBBBBA==' };
  for (let m = 0; m <= 120; m += 5) lines.push({ ...every, startMs: m * 60_000 + 1 });
  const r = report(lines, combinedWs);
  const f = findingOf(r, 'reused-key');
  assert.equal(f.count, 2, 'keys, not lines');
  assert.deepEqual(f.clients.map((c) => `${c.client} ${c.count}`), ['10.0.10.3 25', '10.0.10.2 2'], 'their lines, by client');
  assert.equal(r.correlation.reused, 2);
  assert.equal(r.correlation.keys, 102, 'a key seen again is one key');
  assert.equal(r.correlation.reusedMissedAtMost, 0);
  assert.equal(f.approximate, undefined);
});

test('issue 14.10: past the memory kept for keys that left the window, the report says by how much reused-key may be short', async () => {
  // 400 keys 10 s apart, each sent twice, 20 minutes apart (outside the window), with room to
  // remember 128: about 120 keys leave between a key's two lines, and a full set forgets some.
  const rows: Line[] = [];
  for (let i = 0; i < 400; i++) {
    const b = Buffer.alloc(16, 7);
    b.writeUInt32BE(i * 2654435761 >>> 0, 4);
    const key = b.toString('base64');
    for (const later of [0, 20 * 60_000]) rows.push({ client: '10.0.10.5', request: 'GET /ws/c HTTP/1.1', status: 101, startMs: i * 10_000 + later, durMs: 500, upgrade: 'websocket', key });
  }
  const text = rows.sort((a, b) => a.startMs - b.startMs).map(combinedWs).join('\n') + '\n';
  const run = (caps?: object): Promise<Report> => analyze({ inputs: ['-'], preset: 'combined-ws', stdin: Readable.from([text]), ...(caps ? { caps } : {}) });
  const free = await run();
  assert.equal(findingOf(free, 'reused-key').count, 400);
  const capped = await run({ departedKeys: 128 });
  const f = findingOf(capped, 'reused-key');
  assert.equal(f.approximate, true);
  assert.ok(f.missedAtMost !== undefined && f.missedAtMost > 0);
  assert.equal(capped.correlation.reusedMissedAtMost, f.missedAtMost);
  assert.ok(f.count <= 400 && f.count + f.missedAtMost >= 400, `${f.count} + at most ${f.missedAtMost} missed covers the 400 reused keys`);
});
