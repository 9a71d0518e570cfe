/*
 * Tests of the e2e harness itself (no wsdiag code): real nginx logs for real LB → nginx → app traffic
 * must match the harness's ground truth, read from the escape=json cross-check log. These are facts
 * about nginx 1.22 as measured here; if nginx disagrees, the test reports it rather than bending.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  byteStringOf,
  readJsonLog,
  readLogLines,
  recordFor,
  runScenario,
  type Action,
  type JsonRecord,
  type ScenarioResult,
  type Truth,
} from './harness/index.js';
import { freePorts } from '../helpers/ports.js';
import { requireProgram } from '../helpers/requirements.js';

// Every suite here runs real nginx: skipped at once without it (a failure on CI).
const skip = requireProgram('nginx');

const NODE_TIMEOUT_MS = 3000;
const READ_TIMEOUT_S = 2;
/** request_time vs the predicted duration: ±0.3 s (measured error is a few ms). */
const TOLERANCE_MS = 300;

// Hostile bytes on the wire: ", \, UTF-8 (é, 日本), control bytes, invalid UTF-8.
const HOSTILE_QUERY = Buffer.concat([Buffer.from('/api/q?x="\\é日本&y='), Buffer.from([0xff, 0xfe])]);
const HOSTILE_PATH = Buffer.from('/static/"a"\\b/é日本.txt');
const HOSTILE_UA = Buffer.concat([Buffer.from('Mozilla/5.0 "quoted" back\\slash é 日本 '), Buffer.from([0x01, 0x1b, 0xff, 0xfe]), Buffer.from(' end')]);
const CONTROL_IN_TARGET = Buffer.concat([Buffer.from('/api/ctl?a='), Buffer.from([0x01, 0x1b])]);

const PASS = 0;
const STRIP = 1;
const KEEP = 2;
const NODES = [
  { mode: 'pass' as const },
  { mode: 'downgrade-strip' as const, timeoutMs: NODE_TIMEOUT_MS },
  { mode: 'downgrade-keep' as const, timeoutMs: NODE_TIMEOUT_MS },
];
// /ws/long/ lets the LB's 3 s timeout fire before nginx's proxy_read_timeout (the incident's order);
// /ws/ keeps the 2 s read timeout for the idle cut and the race where nginx gives up first.
const LOCATIONS = [{ path: '/ws/long/', proxyReadTimeout: 10 }];

function fmt(r: JsonRecord | undefined): string {
  if (!r) return 'no record';
  const keys = ['remote_addr', 'request', 'status', 'request_time', 'http_upgrade', 'upstream_status', 'upstream_addr'];
  return keys.map((k) => `${k}=${JSON.stringify(r[k])}`).join(' ');
}

function assertDuration(r: JsonRecord, t: Truth, expectedMs = t.approxDurationMs): void {
  const got = Number(r['request_time']) * 1000;
  assert.ok(
    Math.abs(got - expectedMs) <= TOLERANCE_MS,
    `#${t.index} ${t.label ?? t.kind}: request_time ${r['request_time']} s, expected ≈ ${expectedMs / 1000} s ± ${TOLERANCE_MS / 1000}`,
  );
}

/** Checks every ground-truth action against its first-tier cross-check record. */
function assertFrontMatchesTruth(res: ScenarioResult, records: JsonRecord[]): void {
  for (const t of res.truth) {
    const r = recordFor(records, t);
    const what = `#${t.index} ${t.label ?? t.kind} (${fmt(r)})`;
    assert.ok(r, `${what}: no log line`);
    assert.equal(r['status'], String(t.expectedStatus), `${what}: status`);
    // Measured: for a request line nginx rejects (400), $server_protocol is not set (empty in escape=json,
    // so `-` in default mode) although $request still ends in the version the client sent.
    assert.equal(r['server_protocol'], t.reason === 'bad-request' ? '' : t.protocolAtNginx, `${what}: protocol`);
    assert.equal(r['remote_addr'], t.clientAddr, `${what}: remote_addr`);
    assert.equal(r['request'], t.requestAtNginx, `${what}: $request bytes`);
    if (t.key !== undefined) assert.equal(r['http_sec_websocket_key'], t.key, `${what}: key`);
    if (t.reason !== 'bad-request') {
      assert.equal(r['http_user_agent'], t.userAgent, `${what}: user agent bytes`);
      assert.equal(r['http_upgrade'], t.upgradeAtNginx ? 'websocket' : '', `${what}: $http_upgrade`);
    }
    assertDuration(r, t);
  }
}

describe('e2e harness: single tier, LB nodes pass / downgrade-strip / downgrade-keep', { skip }, () => {
  let res: ScenarioResult | undefined;
  after(() => res?.cleanup());

  const actions: Action[] = [
    { kind: 'ws-session', via: PASS, path: '/ws/chat', holdMs: 800, messages: 3, label: 'pass: healthy session' },
    { kind: 'ws-session', via: STRIP, path: '/ws/long/chat', holdMs: 800, label: 'strip: LB gives up first' },
    { kind: 'ws-session', via: KEEP, path: '/ws/long/chat?beat=500', holdMs: 800, label: 'keep: tunnel the LB cannot carry' },
    { kind: 'ws-session', via: STRIP, path: '/ws/chat', holdMs: 800, label: 'strip: nginx read timeout wins' },
    { kind: 'ws-session', via: KEEP, path: '/ws/chat', holdMs: 800, label: 'keep: silent tunnel cut by nginx' },
    { kind: 'ws-session', via: STRIP, path: '/ws/long/chat?plain=426', label: 'strip: app answers 426' },
    { kind: 'ws-idle', path: '/ws/idle', label: 'idle session cut at proxy_read_timeout' },
    { kind: 'ws-no-upgrade', path: '/ws/noup', label: 'missing Upgrade, app hangs' },
    { kind: 'ws-no-upgrade', path: '/ws/noup?plain=426', label: 'missing Upgrade, app 426' },
    { kind: 'ws-no-upgrade', path: '/ws/long/gaveup', responseTimeoutMs: 700, label: 'missing Upgrade, user gives up' },
    { kind: 'ws-dead', label: 'dead upstream' },
    { kind: 'ws-dead', via: KEEP, label: 'dead upstream via keep node' },
    { kind: 'ws-session', path: '/ws/srv?hold=400', holdMs: 1500, localAddress: '127.0.0.50', label: 'server closes' },
    { kind: 'ws-session', path: '/retry/ws/r', holdMs: 300, messages: 1, label: 'dead primary then backup' },
    { kind: 'plain', path: '/api/ok', label: 'api 1.1' },
    { kind: 'plain', path: '/static/app.js', httpVersion: '1.0', label: 'static 1.0' },
    { kind: 'plain', path: '/missing', via: STRIP, label: 'missing via strip' },
    { kind: 'plain', path: '/api/x', via: KEEP, label: 'api via keep' },
    { kind: 'plain', path: '/api/p', via: PASS, httpVersion: '1.0', label: 'api 1.0 via pass' },
    { kind: 'plain', path: HOSTILE_QUERY, userAgent: HOSTILE_UA, label: 'hostile query + UA' },
    { kind: 'plain', path: HOSTILE_PATH, userAgent: HOSTILE_UA, via: STRIP, label: 'hostile path via strip' },
    { kind: 'plain', path: CONTROL_IN_TARGET, label: 'control bytes in target' },
  ];

  test('runs the scenario and every action has exactly one matching line', async () => {
    res = await runScenario({
      nodes: NODES,
      proxyReadTimeout: READ_TIMEOUT_S,
      locations: LOCATIONS,
      formats: [`log_format plain '$remote_addr "$request" $status $request_time';`],
      actions,
    });
    assert.equal(res.nginxVersion.split('.')[0], '1');
    const records = readJsonLog(res.jsonLog);
    assert.equal(records.length, actions.length);
    assert.equal(readLogLines(res.logs['plain'] as string).length, actions.length);
    const ids = new Set(records.map((r) => r['http_x_test_id']).filter(Boolean));
    assert.equal(ids.size, records.filter((r) => r['http_x_test_id']).length, 'one line per tagged request');
  });

  test('cross-check log matches the ground truth per action', () => {
    assert.ok(res);
    assertFrontMatchesTruth(res, readJsonLog(res.jsonLog));
  });

  test('the three faces of a downgrade, as DESIGN.md describes', () => {
    assert.ok(res);
    const records = readJsonLog(res.jsonLog);
    const by = (label: string): [Truth, JsonRecord] => {
      const t = res?.truth.find((x) => x.label === label);
      assert.ok(t, label);
      const r = recordFor(records, t);
      assert.ok(r, label);
      return [t, r];
    };
    // downgrade-strip: HTTP/1.0 499 at ≈ the LB timeout, no upstream status, nothing sent.
    const [st, sr] = by('strip: LB gives up first');
    assert.equal(sr['server_protocol'], 'HTTP/1.0');
    assert.equal(sr['status'], '499');
    assert.equal(sr['remote_addr'], '127.0.0.3');
    assert.equal(sr['upstream_status'], '-');
    assert.equal(sr['upstream_header_time'], '-');
    assert.equal(sr['body_bytes_sent'], '0');
    assert.notEqual(sr['upstream_addr'], '');
    assertDuration(sr, st, NODE_TIMEOUT_MS);
    assert.equal(st.observed.status, 504, 'the client got the LB 504');
    // downgrade-keep: nginx tunnels an HTTP/1.0 request and logs 101 at ≈ the LB timeout.
    const [kt, kr] = by('keep: tunnel the LB cannot carry');
    assert.equal(kr['request'], 'GET /ws/long/chat?beat=500 HTTP/1.0');
    assert.equal(kr['status'], '101');
    assert.equal(kr['upstream_status'], '101');
    assertDuration(kr, kt, NODE_TIMEOUT_MS);
    assert.equal(kt.observed.status, 504, 'the client never saw the 101');
    // app answers the plain GET: HTTP/1.0 426, instant.
    const [, ar] = by('strip: app answers 426');
    assert.equal(ar['status'], '426');
    assert.ok(Number(ar['request_time']) < 0.3);
    // pass node: HTTP/1.1 101 for the whole session.
    const [pt, pr] = by('pass: healthy session');
    assert.equal(pr['status'], '101');
    assert.equal(pr['server_protocol'], 'HTTP/1.1');
    assert.equal(pr['remote_addr'], '127.0.0.2');
    assert.equal(pt.observed.dataFrames, 3, 'three echoes');
    assert.equal(pt.observed.acceptOk, true);
  });

  test('timeouts: idle cut logs 101 at proxy_read_timeout; nginx winning the race logs 504', () => {
    assert.ok(res);
    const records = readJsonLog(res.jsonLog);
    const rec = (label: string): JsonRecord => {
      const t = res?.truth.find((x) => x.label === label);
      assert.ok(t);
      const r = recordFor(records, t);
      assert.ok(r, label);
      return r;
    };
    const idle = rec('idle session cut at proxy_read_timeout');
    assert.equal(idle['status'], '101');
    assert.ok(Math.abs(Number(idle['request_time']) - READ_TIMEOUT_S) < 0.1, `idle ${idle['request_time']}`);
    assert.equal(idle['body_bytes_sent'], '0');
    const race = rec('strip: nginx read timeout wins');
    assert.equal(race['status'], '504');
    assert.equal(race['upstream_status'], '504');
    assert.equal(race['server_protocol'], 'HTTP/1.0');
    const silentKeep = rec('keep: silent tunnel cut by nginx');
    assert.equal(silentKeep['status'], '101');
    assert.equal(silentKeep['server_protocol'], 'HTTP/1.0');
    const gaveUp = rec('missing Upgrade, user gives up');
    assert.equal(gaveUp['status'], '499');
    assert.ok(Math.abs(Number(gaveUp['request_time']) - 0.7) < 0.2);
  });

  test('upstream lists, dead upstream, hostile bytes', () => {
    assert.ok(res);
    const records = readJsonLog(res.jsonLog);
    const rec = (label: string): JsonRecord => {
      const t = res?.truth.find((x) => x.label === label);
      assert.ok(t);
      const r = recordFor(records, t);
      assert.ok(r, label);
      return r;
    };
    const retry = rec('dead primary then backup');
    assert.equal(retry['status'], '101');
    assert.equal(retry['upstream_status'], '502, 101');
    assert.match(retry['upstream_addr'] ?? '', /^127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+$/);
    // The refused attempt never connected: its connect time is `-` inside the list.
    assert.match(retry['upstream_connect_time'] ?? '', /^-, \d+\.\d{3}$/);
    const dead = rec('dead upstream');
    assert.equal(dead['status'], '502');
    assert.equal(dead['upstream_status'], '502');
    assert.equal(dead['upstream_header_time'], '-');

    const hq = rec('hostile query + UA');
    assert.equal(hq['status'], '200');
    assert.equal(hq['request_uri'], byteStringOf(HOSTILE_QUERY), 'raw bytes survive, incl. invalid UTF-8');
    assert.equal(hq['http_user_agent'], byteStringOf(HOSTILE_UA));
    const hp = rec('hostile path via strip');
    assert.equal(hp['status'], '200', 'nginx 1.22 accepts ", \\ and UTF-8 in the path');
    assert.equal(hp['server_protocol'], 'HTTP/1.0');
    // nginx ≥ 1.21.1 rejects control bytes in the request line: 400, no upstream, the raw line logged.
    const ctl = rec('control bytes in target');
    assert.equal(ctl['status'], '400');
    assert.equal(ctl['upstream_addr'], '');
    assert.equal(ctl['request'], `GET ${byteStringOf(CONTROL_IN_TARGET)} HTTP/1.1`);
    assert.equal(ctl['http_user_agent'], '', 'headers are never read');
  });
});

describe('e2e harness: two tiers (front nginx → back nginx → app)', { skip }, () => {
  let res: ScenarioResult | undefined;
  after(() => res?.cleanup());

  const actions: Action[] = [
    { kind: 'ws-session', via: PASS, path: '/ws/a', holdMs: 600, messages: 2, label: 'pass' },
    { kind: 'ws-session', via: KEEP, path: '/ws/long/k?beat=500', label: 'keep' },
    { kind: 'ws-session', via: STRIP, path: '/ws/long/s', label: 'strip' },
    { kind: 'ws-idle', path: '/ws/idle', label: 'idle' },
    { kind: 'plain', path: '/api/x', via: STRIP, label: 'api via strip' },
    { kind: 'ws-dead', label: 'dead' },
    { kind: 'plain', path: CONTROL_IN_TARGET, userAgent: HOSTILE_UA, label: 'control bytes' },
  ];

  test('runs, and the front tier matches the ground truth', async () => {
    res = await runScenario({ tiers: 2, nodes: NODES, proxyReadTimeout: READ_TIMEOUT_S, locations: LOCATIONS, actions });
    assert.ok(res.back);
    const front = readJsonLog(res.jsonLog);
    assert.equal(front.length, actions.length);
    assertFrontMatchesTruth(res, front);
  });

  test('the back tier logs HTTP/1.1 from 127.0.0.1 for every forwarded request', () => {
    assert.ok(res?.back);
    const back = readJsonLog(res.back.jsonLog);
    assert.equal(back.length, res.truth.filter((t) => t.back !== null).length);
    for (const t of res.truth) {
      const r = recordFor(back, t, 'back');
      if (t.back === null || t.back === undefined) {
        assert.equal(r, undefined, `#${t.index} should not reach the back tier`);
        continue;
      }
      const what = `#${t.index} ${t.label} back (${fmt(r)})`;
      assert.ok(r, `${what}: no back line`);
      assert.equal(r['server_protocol'], 'HTTP/1.1', what);
      assert.equal(r['remote_addr'], t.back.clientAddr, what);
      assert.ok([t.back.expectedStatus, ...t.back.alsoPossible].map(String).includes(r['status'] ?? ''), `${what}: status`);
      assertDuration(r, t, t.back.approxDurationMs);
      // The front appends the LB node's address via $proxy_add_x_forwarded_for.
      if (t.node && t.nodeMode !== 'pass') assert.match(r['http_x_forwarded_for'] ?? '', new RegExp(`${t.node.replace(/\./g, '\\.')}$`));
    }
  });

  test('hidden downgrade: same key HTTP/1.0 at the front, HTTP/1.1 at the back', () => {
    assert.ok(res?.back);
    const front = readJsonLog(res.jsonLog);
    const back = readJsonLog(res.back.jsonLog);
    const keep = res.truth.find((t) => t.label === 'keep');
    assert.ok(keep?.key);
    const f = front.find((r) => r['http_sec_websocket_key'] === keep.key);
    const b = back.find((r) => r['http_sec_websocket_key'] === keep.key);
    assert.ok(f && b);
    assert.equal(f['request'], 'GET /ws/long/k?beat=500 HTTP/1.0');
    assert.equal(f['status'], '101');
    assert.equal(b['request'], 'GET /ws/long/k?beat=500 HTTP/1.1');
    assert.equal(b['status'], '101');
    // Measured (nginx 1.22.1): with `proxy_set_header Upgrade $http_upgrade` + the $connection_upgrade map
    // the front forwards Upgrade/Connection: upgrade for an HTTP/1.0 client request too — nginx does not
    // look at the client's version — so the back tier sees a valid HTTP/1.1 handshake and tunnels it.
    assert.equal(b['http_upgrade'], 'websocket');
    assert.equal(b['http_connection'], 'upgrade');
    assertDuration(b, keep, NODE_TIMEOUT_MS);

    // downgrade-strip: the front has no Upgrade to forward; the back sees a plain HTTP/1.1 GET
    // (Connection: close) on /ws/, which hangs until the front's client goes away → 499 at both tiers.
    const strip = res.truth.find((t) => t.label === 'strip');
    assert.ok(strip?.key);
    const fs = front.find((r) => r['http_sec_websocket_key'] === strip.key);
    const bs = back.find((r) => r['http_sec_websocket_key'] === strip.key);
    assert.ok(fs && bs);
    assert.equal(fs['status'], '499');
    assert.equal(fs['server_protocol'], 'HTTP/1.0');
    assert.equal(bs['status'], '499');
    assert.equal(bs['server_protocol'], 'HTTP/1.1');
    assert.equal(bs['http_upgrade'], '');
    assert.equal(bs['http_connection'], 'close');
  });
});

describe('e2e harness: many concurrent connections per node', { skip }, () => {
  test('60 concurrent actions through pass / strip / keep nodes all match the truth', async () => {
    const actions: Action[] = [];
    for (let i = 0; i < 15; i++) {
      actions.push({ kind: 'ws-session', via: PASS, path: `/ws/c${i}`, holdMs: 300 + 20 * i, messages: 2 });
      actions.push({ kind: 'plain', via: STRIP, path: `/api/c${i}` });
      actions.push({ kind: 'plain', via: KEEP, path: `/static/c${i}`, httpVersion: '1.0' });
      actions.push({ kind: 'ws-dead', via: KEEP, path: `/dead/ws/c${i}` });
    }
    const res = await runScenario({ nodes: NODES, proxyReadTimeout: READ_TIMEOUT_S, actions });
    try {
      const records = readJsonLog(res.jsonLog);
      assert.equal(records.length, actions.length);
      assertFrontMatchesTruth(res, records);
    } finally {
      res.cleanup();
    }
  });
});

describe('e2e harness: failures surface and clean up', { skip }, () => {
  test('a bad log_format fails with nginx error text', async () => {
    await assert.rejects(
      runScenario({ formats: [`log_format bad '$no_such_variable_here';`], actions: [] }),
      (e: Error) => /unknown "no_such_variable_here" variable/.test(e.message),
    );
  });
});

test('freePorts: the ports of one call are distinct, and each can be listened on', async () => {
  // One after another, a port just released could come back: an nginx then proxied to itself.
  const { createServer } = await import('node:net');
  for (let round = 0; round < 20; round++) {
    const ports = await freePorts(4);
    assert.equal(new Set(ports).size, 4, `${ports}`);
    const servers = ports.map(() => createServer());
    await Promise.all(servers.map((srv, i) => new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(ports[i], '127.0.0.1', () => resolve());
    })));
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  }
});
