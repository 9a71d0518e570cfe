/*!
 * --metrics (see: issue 15, live mode): Prometheus metrics served while wsdiag reads a pipe, their
 * counts checked against a batch run over the same lines; the port freed when the run ends (SIGTERM,
 * or the input's end); a port in use is one line and exit 2; --metrics outside live mode and bad
 * addresses are usage errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';

import { parseListenAddress, type Report } from '../src/index.js';
import { FIXTURE, assertNoStack, run, startCli, until } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';

const LOG = readFileSync(FIXTURE, 'utf8');

/** Listens on 127.0.0.1 (`port` 0: any free port); resolves with the server, or null when the port is taken. */
function occupy(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments skipped). */
function samples(text: string): Sample[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l);
    assert.ok(m, `a sample line: ${l}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = (v as string).replace(/\\(.)/g, '$1');
    return { name: m[1] as string, labels, value: Number(m[3]) };
  });
}

/** Sums a metric's samples by the labels named. */
function sumBy(all: Sample[], name: string, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of all.filter((x) => x.name === name)) {
    const k = keys.map((key) => s.labels[key]).join(' ');
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

async function scrape(url: string): Promise<{ status: number; type: string | null; text: string } | null> {
  try {
    const res = await fetch(url);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  } catch {
    return null;
  }
}

test('--metrics while a pipe is read: handshakes, lines and open findings as a batch run counts them; SIGTERM closes the port', async () => {
  // Counted independently: a batch run over the same lines.
  const batch = JSON.parse(run(['--output', 'json', FIXTURE]).stdout) as Report;
  const want = {
    byProtocolStatus: Object.fromEntries(batch.handshakes.byProtocolStatus.map((r) => [`${r.protocol} ${r.status}`, r.count])),
    byClient: Object.fromEntries(batch.handshakes.byClient.map((r) => [r.client, r.handshakes])),
    lines: batch.lines.total,
    requests: batch.requests.total,
    unparsed: batch.lines.unparsed,
  };
  assert.ok(batch.findings.some((f) => f.id === 'downgraded-handshake'), 'the fixture holds the downgrade');

  const port = await freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const r = startCli(['--metrics', `127.0.0.1:${port}`, '--interval', '0.2', '-']);
  let got: Sample[] = [];
  const current = (): typeof want => ({
    byProtocolStatus: sumBy(got, 'wsdiag_handshakes_total', ['protocol', 'status']),
    byClient: sumBy(got, 'wsdiag_handshakes_total', ['client']),
    lines: sumBy(got, 'wsdiag_lines_total', [])[''] ?? -1,
    requests: sumBy(got, 'wsdiag_requests_total', [])[''] ?? -1,
    unparsed: sumBy(got, 'wsdiag_unparsed_lines_total', [])[''] ?? -1,
  });
  const downgradeOpen = (): number | undefined => got.find((s) => s.name === 'wsdiag_finding_open' && s.labels.id === 'downgraded-handshake')?.value;
  try {
    await until(async () => (await scrape(url)) !== null, 4000, `${url} answers`);
    const empty = await scrape(url);
    assert.equal(empty?.status, 200);
    assert.match(empty?.type ?? '', /^text\/plain; version=0\.0\.4/);
    r.write(LOG);
    await until(async () => {
      got = samples((await scrape(url))?.text ?? '');
      return isDeepStrictEqual(current(), want) && downgradeOpen() === 1;
    }, 4000, 'the counts of the whole fixture, and the downgrade open');
    assert.deepEqual(current(), want);
    assert.equal(downgradeOpen(), 1);
    const severity = got.find((s) => s.name === 'wsdiag_finding_open' && s.labels.id === 'downgraded-handshake')?.labels.severity;
    assert.equal(severity, batch.findings.find((f) => f.id === 'downgraded-handshake')?.severity);
    const at = got.find((s) => s.name === 'wsdiag_last_snapshot_timestamp_seconds')?.value ?? 0;
    assert.ok(Math.abs(Date.now() / 1000 - at) < 5, `last snapshot at ${at}`);
    assert.equal((await scrape(`http://127.0.0.1:${port}/`))?.status, 404);
  } finally {
    r.kill('SIGTERM');
  }
  const code = await Promise.race([r.done, new Promise((resolve) => setTimeout(resolve, 4000, 'still running'))]);
  // A pipe still open when the signal came was not read to its end: the report is partial (exit 2).
  assert.equal(code, 2, r.stderr());
  assert.match(r.stdout(), /^CRITICAL {2}17 WebSocket handshakes arrived as HTTP\/1\.0/);
  assert.match(r.stderr(), new RegExp(`^wsdiag: Prometheus metrics at ${url.replace(/\./g, '\\.')}\n`));
  assert.equal(await scrape(url), null, 'nothing answers once the run ended');
  const again = await occupy(port);
  assert.ok(again, `port ${port} is free again`);
  again.close();
});

test('--metrics: the run also ends, and the port is freed, when the piped input ends', async () => {
  const port = await freePort();
  const r = run(['--metrics', String(port), '--interval', '0.2', '-'], LOG, { timeout: 5000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^wsdiag: Prometheus metrics at http://127\\.0\\.0\\.1:${port}/metrics$`, 'm'));
  assert.match(r.stdout, /^CRITICAL {2}17 WebSocket handshakes arrived as HTTP\/1\.0/);
  const again = await occupy(port);
  assert.ok(again, `port ${port} is free again`);
  again.close();
});

test('--metrics on a port in use: one line, exit 2, no stack trace', async () => {
  const taken = await occupy(0) as Server;
  const port = (taken.address() as { port: number }).port;
  try {
    const r = run(['--metrics', `127.0.0.1:${port}`, '-'], LOG, { timeout: 5000 });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `wsdiag: cannot serve --metrics on 127.0.0.1:${port}: the port is in use (another wsdiag, or an exporter, listens there); choose another port\n`);
    assert.equal(r.stdout, '');
    assertNoStack(r.stderr);
  } finally {
    taken.close();
  }
});

test('--metrics outside live mode, or with an address that is not [HOST:]PORT: a usage error, exit 2', () => {
  const batch = run(['--metrics', '9464', FIXTURE]);
  assert.equal(batch.code, 2);
  assert.match(batch.stderr, /^wsdiag: Invalid option --metrics: metrics are served while wsdiag runs live; add --follow, or pipe the log in/);
  const bad = run(['--metrics', 'localhost', '-'], LOG);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^wsdiag: Invalid option --metrics: expected PORT or HOST:PORT \(9464, 127\.0\.0\.1:9464, \[::1\]:9464\), got "localhost"\n$/);
});

const ADDRESSES = [
  { given: '9464', want: { host: '127.0.0.1', port: 9464 } },
  { given: '127.0.0.2:9464', want: { host: '127.0.0.2', port: 9464 } },
  { given: '0.0.0.0:80', want: { host: '0.0.0.0', port: 80 } },
  { given: 'metrics.internal:9464', want: { host: 'metrics.internal', port: 9464 } },
  { given: '[::1]:9464', want: { host: '::1', port: 9464 } },
  { given: 'localhost' },
  { given: ':9464' },
  { given: '9464:' },
  { given: '0' },
  { given: '65536' },
  { given: '::1:9464' },
  { given: '' },
] as const;

for (const a of ADDRESSES) {
  test(`--metrics ${JSON.stringify(a.given)}: ${'want' in a ? `${a.want.host} port ${a.want.port}` : 'refused'}`, () => {
    if ('want' in a) assert.deepEqual(parseListenAddress('metrics', a.given), a.want);
    else assert.throws(() => parseListenAddress('metrics', a.given), { code: 'OPTION_INVALID' });
  });
}
