// The command line as users run it: spawns dist/cli.js (built by `npm test`) with a clean
// environment and checks stdout, stderr and the exit code. See: DESIGN.md "Exit codes"; issue 2.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FIXTURE, assertNoStack, run } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function json(args: string[], input?: string | Buffer): Record<string, unknown> & { lines: { total: number; parsed: number; unparsed: number; samples: { file: string; line: number }[] }; findings: { id: string; count: number }[]; handshakes: { total: number } } {
  const r = run([...args, '--output', 'json'], input);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('demo: the verdict comes first and names the downgrade', () => {
  const r = run([FIXTURE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0] ?? '', /^CRITICAL {2}\d+ WebSocket handshakes arrived as HTTP\/1\.0/);
  assert.match(r.stdout, /downgraded-handshake/);
  assert.match(r.stdout, /abandoned-at-timeout/);
  assert.ok(!r.stdout.includes("\u001b["), 'no colour when NO_COLOR is set and stdout is not a TTY');
});

test('JSON carries the contract fields', () => {
  const j = json([FIXTURE]);
  for (const k of ['schemaVersion', 'lines', 'handshakes', 'timeouts', 'findings', 'correlation']) assert.ok(k in j, k);
  const h = j.handshakes as unknown as { byProtocolStatus: { protocol: string; status: number; count: number }[]; byClient: { client: string; total: number; http10: number }[] };
  assert.ok(h.byProtocolStatus.every((r) => typeof r.protocol === 'string' && typeof r.status === 'number' && r.count > 0));
  assert.ok(h.byClient.every((c) => typeof c.client === 'string' && c.total >= c.http10));
  const c = j.correlation as { keys: number; multiTier: number };
  assert.equal(typeof c.keys, 'number');
  assert.equal(c.multiTier, 0);
});

test('stdin ("-") and a gzip file (found by its magic bytes, whatever its name) give the same report as the file', () => {
  const plain = json([FIXTURE]);
  const text = readFileSync(FIXTURE);
  const viaStdin = json(['-'], text);
  const gz = join(tmp, 'front-log-rotated');
  writeFileSync(gz, gzipSync(text));
  const viaGzip = json([gz]);
  const twice = join(tmp, 'twice.gz');
  writeFileSync(twice, gzipSync(gzipSync(text)));
  const viaTwice = json([twice]);
  for (const other of [viaStdin, viaGzip, viaTwice]) {
    assert.deepEqual(other.lines.total, plain.lines.total);
    assert.deepEqual(other.findings.map((f) => [f.id, f.count]), plain.findings.map((f) => [f.id, f.count]));
  }
});

test('--fail-on: exit 1 only when a named finding or severity is present', () => {
  assert.equal(run([FIXTURE, '--fail-on', 'downgraded-handshake', '-o', 'json']).code, 1);
  assert.equal(run([FIXTURE, '--fail-on', 'critical', '-o', 'json']).code, 1);
  assert.equal(run([FIXTURE, '--fail-on', 'session-cut-at-timeout', '-o', 'json']).code, 0);
  assert.equal(run([FIXTURE, '-o', 'json']).code, 0);
});

test('unparsed lines are counted and shown with file:line; the rest is still analysed', () => {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n');
  lines.splice(30, 0, '2018/03/09 15:20:01 [error] 1234#0: *5 upstream timed out (110: Connection timed out)', 'garbage');
  const mixed = join(tmp, 'mixed.log');
  writeFileSync(mixed, lines.join('\n'));
  const r = run([mixed]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /2 of 156 lines did not match/);
  assert.match(r.stderr, new RegExp(`${mixed}:31: `));
  assert.match(r.stderr, new RegExp(`${mixed}:32: `));
  const j = json([mixed]);
  assert.equal(j.lines.unparsed, 2);
  assert.deepEqual(j.lines.samples.map((s) => s.line), [31, 32]);
});

test('a format that matches nothing: exit 2, the format tried and the first bad line, no stack', () => {
  const r = run(['--log-format', '$remote_addr [$time_local] $status', FIXTURE]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^wsdiag: .*match no format tried \("log-format"\); first at fixtures\/incident\/front\.log:1: /m);
  assert.match(r.stderr, /hint: /);
  assertNoStack(r.stderr);
  assert.equal(r.stdout, '');
});

test('an invalid log_format: exit 2 with the column', () => {
  const r = run(['--log-format', '$remote_addr$status', FIXTURE]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /column 13/);
  assertNoStack(r.stderr);
});

test('a missing input is named, the others analysed, exit 2', () => {
  const r = run([join(tmp, 'nope.log'), FIXTURE, '-o', 'json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nope\.log: no such file/);
  const j = JSON.parse(r.stdout) as { lines: { parsed: number }; meta: { inputs: { error: { code: string } | null }[] } };
  assert.ok(j.lines.parsed > 0);
  assert.equal(j.meta.inputs[0]?.error?.code, 'INPUT_NOT_FOUND');
  assert.equal(j.meta.inputs[1]?.error, null);
  assertNoStack(r.stderr);
});

test('usage errors exit 2', () => {
  const r = run(['--no-such-flag', FIXTURE]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown argument/);
  const p = run(['--preset', 'nope', FIXTURE]);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /Unknown preset "nope"; presets: /);
});

test('--workers: 1 thread and 2 workers print the same report for a file large enough to be split; 0 is refused', () => {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
  const big = join(tmp, 'big.log');
  // ≈ 5 MB: past the size below which a file is read in one thread.
  writeFileSync(big, `${Array.from({ length: 16_000 }, (_, i) => lines[i % lines.length]).join('\n')}\n`);
  const one = run(['--workers', '1', '--output', 'json', big]);
  const two = run(['--workers', '2', '--output', 'json', big]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.stdout, one.stdout);
  assert.equal((JSON.parse(one.stdout) as { lines: { parsed: number } }).lines.parsed, 16_000);
  const bad = run(['--workers', '0', FIXTURE]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^wsdiag: Invalid option --workers: expected a positive integer, got "0"/);
  assertNoStack(bad.stderr);
});
