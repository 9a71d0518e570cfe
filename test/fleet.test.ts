/*
 * Fleet scale (issue 17): a real clickhouse-server from Debian on loopback (two, for a Distributed
 * table over two shards), loaded with `wsdiag ingest`, must give the same JSON report as a local
 * run over the same logs: the incident fixture's two tiers, and real nginx logs from the e2e
 * harness (two tiers, LB nodes that downgrade). Also: the SQL duration bins equal core/grid.ts,
 * re-runs add nothing, --columns maps another table, and each failure is one line with exit 2.
 * See: issue 17.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COARSE, FINE } from '../src/core/grid.js';
import { answeringPeer, handshakePath } from '../src/core/outcomes.js';
import { answeringPeerSql, binSql, GRID_BITS, handshakePathSql, lit } from '../src/fleet/sql.js';
import { analyze, analyzeClickHouse, ingest, type Report } from '../src/index.js';
import { assertNoStack, run } from './helpers/cli.js';
import { LOCKED_USER, startClickHouse, type ClickHouse } from './helpers/clickhouse.js';
import { requireProgram } from './helpers/requirements.js';
import { writeTwoTier } from './helpers/two-tier.js';
import { runScenario, type Action } from './e2e/harness/index.js';

const skip = requireProgram('clickhouse');
const HOST = 'fleet-test';

/** The report without what a table cannot know: input sizes on disk and whether they were gzip. */
function comparable(r: Report): unknown {
  const j = JSON.parse(JSON.stringify(r)) as Report;
  for (const i of j.meta.inputs) {
    (i as { bytes?: number }).bytes = 0;
    (i as { gzip?: boolean }).gzip = false;
  }
  return j;
}

async function sql(ch: ClickHouse, query: string): Promise<string> {
  const res = await fetch(`${ch.url}/`, { method: 'POST', body: query });
  const text = await res.text();
  if (!res.ok) throw new Error(`${query}: ${text}`);
  return text;
}

describe('fleet: the report from ClickHouse equals the local one', { skip }, () => {
  let servers: ClickHouse[] = [];
  let dir = '';
  let a: ClickHouse;
  let b: ClickHouse;
  let files: { front: string; back: string };

  before(async () => {
    servers = await startClickHouse({ hosts: ['127.0.0.1', '127.0.0.2'] });
    [a, b] = servers as [ClickHouse, ClickHouse];
    dir = mkdtempSync(path.join(os.tmpdir(), 'wsdiag-fleet-'));
    files = writeTwoTier(dir);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('the SQL duration bins equal core/grid.ts FINE and COARSE', async () => {
    const values = [0, 1, 2047, 2048, 2049, 4095, 4096, 59_999, 60_000, 65_535, 65_536, 65_537, 131_071, 131_072, 999_999, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 33];
    const out = await sql(a, `SELECT x, ${binSql(GRID_BITS.fine, 'x')}, ${binSql(GRID_BITS.coarse, 'x')} FROM (SELECT arrayJoin([${values.join(',')}]) AS x) FORMAT TSV`);
    const got = out.trim().split('\n').map((l) => l.split('\t').map(Number));
    assert.deepEqual(got, values.map((v) => [v, FINE.bin(v), COARSE.bin(v)]));
  });

  test('the SQL upstream and path names equal core/outcomes.ts answeringPeer and handshakePath', async () => {
    const addrs = ['', '-', '10.0.0.1:80', '10.0.0.1:80, 10.0.0.2:80', '10.0.0.1:80 : 10.0.0.3:80', 'a:80, b:80 : c:80', 'a:80 : b:80, c:80', 'a:80, -', 'a, : b', 'unix:/run/app.sock'];
    const targets = ['', '/ws/', '/ws/?id=1', '/ws#frag', '/ws?a#b', '?only=query', '#', '/w?s#x?y'];
    const q = (vals: string[], f: (x: string) => string): Promise<string> => sql(a, `SELECT ${f('x')} FROM (SELECT arrayJoin([${vals.map(lit).join(', ')}]) AS x) FORMAT TSV`);
    assert.deepEqual((await q(addrs, answeringPeerSql)).split('\n').slice(0, -1), addrs.map(answeringPeer));
    assert.deepEqual((await q(targets, handshakePathSql)).split('\n').slice(0, -1), targets.map(handshakePath));
  });

  test('plain table: the incident fixture two tiers, same JSON; the answers stay small', async (t) => {
    const inputs = [files.back, files.front];
    const loaded = await ingest({ clickhouse: a.url, table: 'default.plain', create: true, host: HOST, inputs });
    assert.equal(loaded.rows, readFileSync(files.back, 'utf8').split('\n').length - 1 + readFileSync(files.front, 'utf8').split('\n').length - 1);
    const local = await analyze({ inputs });
    const { report, wire } = await analyzeClickHouse({ clickhouse: a.url, table: 'default.plain' });
    assert.ok(report.findings.some((f) => f.id === 'hidden-downgrade'), 'the key join found the hidden downgrade');
    assert.deepEqual(comparable(report), comparable(local));
    // A window: lines outside it are counted as filtered, the rest analysed, as a local run does.
    const window = { since: '2018-03-09T07:30:00Z', until: '2018-03-09T09:00:00Z' };
    const windowed = await analyzeClickHouse({ clickhouse: a.url, table: 'default.plain', ...window });
    assert.ok(windowed.report.lines.filtered > 0);
    assert.deepEqual(comparable(windowed.report), comparable(await analyze({ inputs, ...window })));
    // --where narrows every query: one tier's rows are that tier's report.
    const front = await analyzeClickHouse({ clickhouse: a.url, table: 'default.plain', where: "input LIKE '%front.log'" });
    assert.deepEqual(comparable(front.report), comparable(await analyze({ inputs: [files.front] })));
    t.diagnostic(`${loaded.rows} rows ingested (${loaded.wire.sent} bytes sent); report: ${wire.queries} queries, ${wire.sent} bytes sent, ${wire.received} bytes received`);
  });

  test('ingest again: nothing doubles; a grown file adds only its new lines', async () => {
    const table = 'default.again';
    const grown = path.join(dir, 'grown.log');
    const lines = readFileSync(files.front, 'utf8').split('\n').filter(Boolean);
    writeFileSync(grown, `${lines.slice(0, 50).join('\n')}\n`);
    const first = await ingest({ clickhouse: a.url, table, create: true, host: HOST, inputs: [grown] });
    const again = await ingest({ clickhouse: a.url, table, host: HOST, inputs: [grown] });
    assert.equal(first.rows, 50);
    assert.equal(again.rows, 0);
    appendFileSync(grown, `${lines.slice(50).join('\n')}\n`);
    const more = await ingest({ clickhouse: a.url, table, host: HOST, inputs: [grown] });
    assert.equal(more.rows, lines.length - 50);
    assert.equal((await sql(a, `SELECT count(), uniqExact(line) FROM ${table}`)).trim(), `${lines.length}\t${lines.length}`);
    const { report } = await analyzeClickHouse({ clickhouse: a.url, table });
    assert.deepEqual(comparable(report), comparable(await analyze({ inputs: [grown] })));
  });

  test('unparsed and empty lines: counted and sampled as a local run does', async () => {
    const messy = path.join(dir, 'messy.log');
    const lines = readFileSync(files.front, 'utf8').split('\n').filter(Boolean);
    writeFileSync(messy, `${[...lines.slice(0, 30), 'not a log line', '', ...lines.slice(30, 60), '\tanother one \\x41'].join('\n')}\n`);
    await ingest({ clickhouse: a.url, table: 'default.messy', create: true, host: HOST, inputs: [messy] });
    const { report } = await analyzeClickHouse({ clickhouse: a.url, table: 'default.messy' });
    assert.equal(report.lines.unparsed, 2);
    assert.equal(report.lines.empty, 1);
    assert.deepEqual(comparable(report), comparable(await analyze({ inputs: [messy] })));
  });

  test('reused keys: counted, apportioned and cited as a local run does', async () => {
    const reused = path.join(dir, 'reused.log');
    let copies = 0;
    const lines = readFileSync(files.front, 'utf8').split('\n').filter(Boolean).flatMap((l) => (l.endsWith('==') && copies++ < 3 ? [l, l] : [l]));
    writeFileSync(reused, `${lines.join('\n')}\n`);
    const inputs = [files.back, reused];
    await ingest({ clickhouse: a.url, table: 'default.reused', create: true, host: HOST, inputs });
    const { report } = await analyzeClickHouse({ clickhouse: a.url, table: 'default.reused' });
    assert.equal(report.findings.find((f) => f.id === 'reused-key')?.count, 3);
    assert.deepEqual(comparable(report), comparable(await analyze({ inputs })));
  });

  test('a combined log (no $request_time): meta.notLogged, and outcomes by path and upstream, as a local run', async () => {
    const plain = path.join(dir, 'combined.log');
    const at = (s: number): string => `09/Mar/2018:16:${String(10 + Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')} +0800`;
    const statuses = [101, 101, 301, 404, 499, 502, 101, 200, 504, 101];
    writeFileSync(plain, `${statuses.map((st, i) => `10.0.0.${i % 3} - - [${at(i)}] "GET /ws/${i % 2 === 0 ? 'chat' : 'feed'}?id=${i} HTTP/1.1" ${st} 0 "-" "test"`).join('\n')}\n`);
    await ingest({ clickhouse: a.url, table: 'default.combined', create: true, host: HOST, inputs: [plain], preset: ['combined'] });
    const { report } = await analyzeClickHouse({ clickhouse: a.url, table: 'default.combined' });
    const local = await analyze({ inputs: [plain], preset: ['combined'] });
    assert.ok(local.meta.notLogged !== null);
    assert.ok(local.handshakes.byPath.length > 0);
    assert.deepEqual(comparable(report), comparable(local));
  });

  test('log rotation: the rotated file resumes under its old name; the new file gets its own', async () => {
    const table = 'default.rotated';
    const live = path.join(dir, 'access.log');
    const lines = readFileSync(files.front, 'utf8').split('\n').filter(Boolean);
    writeFileSync(live, `${lines.slice(0, 40).join('\n')}\n`);
    assert.equal((await ingest({ clickhouse: a.url, table, create: true, host: HOST, inputs: [live] })).rows, 40);
    // Ten more lines, then logrotate: access.log → access.log.1, and a fresh access.log.
    appendFileSync(live, `${lines.slice(40, 50).join('\n')}\n`);
    renameSync(live, `${live}.1`);
    writeFileSync(live, `${lines.slice(50, 70).join('\n')}\n`);
    const rotated = await ingest({ clickhouse: a.url, table, host: HOST, inputs: [`${live}.1`] });
    assert.deepEqual(rotated.inputs.map((i) => [i.name, i.inserted, i.skipped]), [[live, 10, 40]]);
    const fresh = await ingest({ clickhouse: a.url, table, host: HOST, inputs: [live] });
    assert.equal(fresh.inputs[0]?.inserted, 20);
    assert.match(fresh.inputs[0]?.name ?? '', /access\.log@[0-9a-f]{8}$/);
    assert.equal((await sql(a, `SELECT input = ${JSON.stringify(live).replace(/"/g, "'")}, count(), max(line) FROM ${table} GROUP BY input ORDER BY input FORMAT TSV`)).trim(), '1\t50\t50\n0\t20\t20');
  });

  test('Distributed table over two shards (one tier on each): same JSON', async () => {
    await ingest({ clickhouse: a.url, table: 'default.shard', create: true, host: HOST, inputs: [files.back] });
    await ingest({ clickhouse: b.url, table: 'default.shard', create: true, host: HOST, inputs: [files.front] });
    await sql(a, 'CREATE TABLE default.fleet AS default.shard ENGINE = Distributed(two_shards, default, shard)');
    const { report } = await analyzeClickHouse({ clickhouse: a.url, table: 'default.fleet' });
    assert.deepEqual(comparable(report), comparable(await analyze({ inputs: [files.back, files.front] })));
    assert.ok(report.correlation.multiTier > 0, 'keys joined across the shards');
  });

  test('--columns maps another shipper\'s table', async () => {
    await sql(a, `CREATE TABLE default.vector (ts DateTime, remote_addr String, request String, status UInt16, request_time Float64, sec_key String, file String)
      ENGINE = MergeTree ORDER BY ts`);
    await sql(a, `INSERT INTO default.vector SELECT time, client, concat(method, ' ', path, ' ', protocol), status, duration_ms / 1000, key, input FROM default.plain WHERE kind = 0`);
    const r = run(['--clickhouse', a.url, '--table', 'default.vector', '--output', 'json', '--columns',
      'time=ts,client=remote_addr,protocol=splitByChar(\' \', request)[3],path=splitByChar(\' \', request)[2],duration_ms=toInt32(round(request_time * 1000)),key=sec_key,input=file']);
    assert.equal(r.code, 0, r.stderr);
    const mapped = JSON.parse(r.stdout) as Report;
    const local = await analyze({ inputs: [files.back, files.front] });
    assert.equal(mapped.handshakes.total, local.handshakes.total);
    assert.deepEqual(mapped.findings.map((f) => [f.id, f.count]), local.findings.map((f) => [f.id, f.count]));
    assert.deepEqual(mapped.handshakes.byProtocolStatus, local.handshakes.byProtocolStatus);
  });

  test('the CLI: every output; bytes transferred on stderr', () => {
    for (const output of ['table', 'markdown', 'json', 'html']) {
      const r = run(['--clickhouse', a.url, '--table', 'default.plain', '--output', output]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length > 100, output);
      assert.match(r.stderr, /ClickHouse: \d+ queries, [\d,]+ bytes sent, [\d,]+ bytes received/);
    }
    const csv = run(['--clickhouse', a.url, '--table', 'default.plain', '--output', 'csv', '--csv', 'findings']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /hidden-downgrade/);
  });

  test('failures: one line each, exit 2', async () => {
    const closed = await startClickHouse().then(async ([s]) => {
      await (s as ClickHouse).stop();
      return (s as ClickHouse).url;
    });
    const cases: [string[], RegExp][] = [
      [['--clickhouse', closed, '--table', 'default.plain'], /^wsdiag: cannot reach ClickHouse at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n$/],
      [['--clickhouse', a.url.replace('//', `//${LOCKED_USER.name}:wrong@`), '--table', 'default.plain'], /^wsdiag: ClickHouse at .*: Wrong password for user locked\n$/],
      [['--clickhouse', a.url, '--table', 'default.missing'], /^wsdiag: ClickHouse has no table default\.missing .*\n$/],
      [['--clickhouse', a.url, '--table', 'default.plain', '--columns', 'client=remote_addr'], /^wsdiag: table default\.plain has no column remote_addr .*\n$/],
      [['--clickhouse', a.url, '--table', 'default.vector'], /^wsdiag: table default\.vector has no column time; map one with --columns time=COLUMN\n$/],
      [['--clickhouse', a.url, '--table', 'default.vector', '--columns', 'time=ts'], /^wsdiag: table default\.vector has no column client; map one with --columns client=COLUMN\n$/],
      [['ingest', '--clickhouse', a.url, '--table', 'default.nothere', files.front], /^wsdiag: ClickHouse at .*: Table default\.nothere doesn't exist\n$/],
    ];
    for (const [args, want] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assertNoStack(r.stderr);
    }
    // With the right password the same user reads the table.
    assert.equal(run(['--clickhouse', a.url.replace('//', `//${LOCKED_USER.name}:${LOCKED_USER.password}@`), '--table', 'default.plain', '-o', 'json']).code, 0);
  });
});

describe('fleet: real nginx logs (two tiers, downgrading LB nodes) through ClickHouse', { skip: skip || requireProgram('nginx') }, () => {
  const INCIDENT_WS =
    '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';
  let servers: ClickHouse[] = [];
  let dir = '';
  let inputs: string[] = [];

  before(async () => {
    const actions: Action[] = [];
    for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/a${i}`, holdMs: 300, messages: 2, label: `pass ${i}` });
    for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 2, path: `/ws/long/k${i}?beat=500`, label: `keep ${i}` });
    for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/long/s${i}`, label: `strip ${i}` });
    actions.push({ kind: 'plain', via: 1, path: '/api/x' }, { kind: 'plain', via: 0, path: '/api/z' });
    const res = await runScenario({
      tiers: 2, formats: [`log_format incident_ws '${INCIDENT_WS}';`], proxyReadTimeout: 2, locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
      nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: 1500 }, { mode: 'downgrade-keep', timeoutMs: 1500 }], actions,
    });
    try {
      dir = mkdtempSync(path.join(os.tmpdir(), 'wsdiag-fleet-nginx-'));
      const back = path.join(dir, 'back.log');
      const front = path.join(dir, 'front.log');
      writeFileSync(back, readFileSync(res.back?.logs['incident_ws'] as string));
      writeFileSync(front, readFileSync(res.logs['incident_ws'] as string));
      inputs = [back, front];
    } finally {
      res.cleanup();
    }
    servers = await startClickHouse({ hosts: ['127.0.0.1', '127.0.0.2'] });
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('plain table and Distributed table: the same JSON as the local run', async (t) => {
    const [a, b] = servers as [ClickHouse, ClickHouse];
    const local = comparable(await analyze({ inputs, preset: 'upstream-ws' }));
    await ingest({ clickhouse: a.url, table: 'default.nginx', create: true, host: HOST, inputs, preset: 'upstream-ws' });
    const plain = await analyzeClickHouse({ clickhouse: a.url, table: 'default.nginx' });
    assert.ok(plain.report.findings.some((f) => f.id === 'downgraded-handshake'));
    assert.deepEqual(comparable(plain.report), local);
    await ingest({ clickhouse: a.url, table: 'default.shard', create: true, host: HOST, inputs: [inputs[0] as string], preset: 'upstream-ws' });
    await ingest({ clickhouse: b.url, table: 'default.shard', create: true, host: HOST, inputs: [inputs[1] as string], preset: 'upstream-ws' });
    await sql(a, 'CREATE TABLE default.fleet AS default.shard ENGINE = Distributed(two_shards, default, shard)');
    const dist = await analyzeClickHouse({ clickhouse: a.url, table: 'default.fleet' });
    assert.deepEqual(comparable(dist.report), local);
    t.diagnostic(`plain: ${plain.wire.received} bytes received in ${plain.wire.queries} queries; distributed: ${dist.wire.received} bytes`);
  });
});
