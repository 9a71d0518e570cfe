// The incident in DESIGN.md, end to end through the library: its own lines inside realistic
// traffic (fixtures/incident/front.log). Expectations come from an independent scan of the file
// (plain regular expressions, not wsdiag's parser), so the test checks wsdiag against the data.
// See: DESIGN.md "The incident it is built from"; issue 2.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze, type Report } from '../src/index.js';

const FIXTURE = 'fixtures/incident/front.log';

interface Truth { client: string; protocol: string; status: number; seconds: number; ws: boolean; key: string | null; line: number }

function scan(): Truth[] {
  return readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean).map((text, i) => {
    const m = /^\[[^\]]+\] (\S+) .* (GET|POST) (\S+) (HTTP\/1\.[01]) upstream_response_time .* request_time ([\d.]+) status (\d{3}) /.exec(text);
    assert.ok(m, `fixture line ${i + 1} has the incident format`);
    // From 16:00 the format appends the key: a real one, or `-` on requests without one.
    const key = / (-|[A-Za-z0-9+/]{22}==)$/.exec(text);
    return { client: m[1] as string, protocol: m[4] as string, status: Number(m[6]), seconds: Number(m[5]), ws: (m[3] as string).startsWith('/ws/'), key: key ? key[1] as string : null, line: i + 1 };
  });
}

const truth = scan();
let report: Report;

test('the incident sample: every line parses, with both formats of the log', async () => {
  report = await analyze({ inputs: [FIXTURE] });
  assert.equal(report.lines.total, truth.length);
  assert.equal(report.lines.parsed, truth.length);
  assert.equal(report.lines.unparsed, 0);
  const withKey = truth.filter((t) => t.key !== null).length;
  const byFormat = Object.fromEntries(report.meta.formats.map((f) => [f.name, f.lines]));
  assert.deepEqual(byFormat, { 'upstream-ws': withKey, upstream: truth.length - withKey });
});

test('handshakes by protocol × status match the file', () => {
  const want = new Map<string, number>();
  for (const t of truth.filter((x) => x.ws)) want.set(`${t.protocol} ${t.status}`, (want.get(`${t.protocol} ${t.status}`) ?? 0) + 1);
  const got = new Map(report.handshakes.byProtocolStatus.map((r) => [`${r.protocol} ${r.status}`, r.count]));
  assert.deepEqual(got, want);
  assert.equal(report.handshakes.total, truth.filter((x) => x.ws).length);
});

test('downgraded-handshake names every HTTP/1.0 handshake and the nodes that sent them', () => {
  const down = truth.filter((t) => t.ws && t.protocol === 'HTTP/1.0');
  const f = report.findings.find((x) => x.id === 'downgraded-handshake');
  assert.ok(f, 'downgraded-handshake found');
  assert.equal(f.severity, 'critical');
  assert.equal(f.count, down.length);
  assert.deepEqual(new Set(f.clients.map((c) => c.client)), new Set(down.map((t) => t.client)));
  for (const c of f.clients) assert.equal(c.count, down.filter((t) => t.client === c.client).length);
  assert.ok(f.evidence.length > 0 && f.evidence.length <= 5);
  for (const e of f.evidence) {
    const t = truth[e.line - 1] as Truth;
    assert.equal(e.file, FIXTURE);
    assert.equal(t.protocol, 'HTTP/1.0', `evidence ${e.file}:${e.line} is an HTTP/1.0 handshake`);
    assert.equal(e.text, readFileSync(FIXTURE, 'utf8').split('\n')[e.line - 1]);
  }
  // The user who closed after 36.755 s is a downgrade but not a timeout.
  assert.equal(Object.entries(f.breakdown).find(([k]) => k.startsWith('499 at'))?.[1], down.filter((t) => t.status === 499 && Math.abs(t.seconds - 60) < 0.05).length);
  assert.match(report.verdict.headline, /arrived as HTTP\/1\.0/);
  assert.equal(report.verdict.severity, 'critical');
});

test('the 60 s timeout is inferred from the data, and abandoned-at-timeout counts the 499s in it', () => {
  const at60 = truth.filter((t) => t.ws && t.status === 499 && Math.abs(t.seconds - 60) < 0.05);
  const t = report.timeouts.find((x) => x.series === 'failed');
  assert.ok(t, 'a timeout among failed handshakes');
  assert.ok(Math.abs(t.seconds - 60) < 0.01, `T ≈ 60 s, got ${t.seconds}`);
  assert.equal(t.count, at60.length);
  assert.ok(t.spreadMs <= 20);
  const f = report.findings.find((x) => x.id === 'abandoned-at-timeout');
  assert.ok(f);
  assert.equal(f.count, at60.length);
  assert.ok(f.timeoutSeconds !== undefined && Math.abs(f.timeoutSeconds - 60) < 0.01);
  // Healthy 101 sessions are spread out: no session cut is reported.
  assert.equal(report.findings.find((x) => x.id === 'session-cut-at-timeout'), undefined);
});

test('per-client table: the downgrading nodes send only HTTP/1.0, the healthy ones none', () => {
  for (const row of report.handshakes.byClient) {
    const mine = truth.filter((t) => t.client === row.client);
    assert.equal(row.total, mine.length);
    assert.equal(row.http10, mine.filter((t) => t.protocol === 'HTTP/1.0').length);
    assert.equal(row.handshakesHttp10, mine.filter((t) => t.ws && t.protocol === 'HTTP/1.0').length);
    assert.equal(row.assessment, row.handshakesHttp10 === 0 ? 'healthy' : row.handshakesHttp10 === row.handshakes ? 'downgrading' : 'mixed');
  }
});

test('--timeout overrides inference', async () => {
  const r = await analyze({ inputs: [FIXTURE], timeout: 36.755, tolerance: 5 });
  assert.equal(r.meta.timeoutSource, 'option');
  const f = r.findings.find((x) => x.id === 'abandoned-at-timeout');
  assert.ok(f);
  assert.equal(f.count, truth.filter((t) => t.ws && t.status === 499 && Math.abs(t.seconds - 36.755) <= 0.005).length);
});
