// Faults as users meet them, through the built CLI: corrupt gzip, inputs that cannot be read,
// a reader that goes away (| head -1), Ctrl-C during a read, and no file written anywhere.
// See: issue 7; DESIGN.md "Exit codes".
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, openSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CLI, ENV, FIXTURE, assertNoStack, run } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-faults-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const TEXT = readFileSync(FIXTURE);
const LINES = TEXT.toString('utf8').split('\n').filter((l) => l !== '');

interface JsonReport {
  lines: { total: number; parsed: number; unparsed: number; empty: number };
  meta: { partial: boolean; inputs: { name: string; lines: number; parsed: number; status: string; error: { code: string; message: string } | null }[] };
}

/** "… after compressed byte N of M …" → [N, M]. */
function gzipOffset(message: string): [number, number] {
  const m = /decompression failed after compressed byte (\d+) of (\d+) /.exec(message);
  assert.ok(m, message);
  return [Number(m[1]), Number(m[2])];
}

test('a truncated gzip file: the error names the file and the byte; what was read is reported, marked partial; exit 2', () => {
  const whole = gzipSync(TEXT);
  const file = join(tmp, 'truncated.log.gz');
  const cut = Math.floor(whole.length / 2);
  writeFileSync(file, whole.subarray(0, cut));

  const table = run([file]);
  assert.equal(table.code, 2);
  assertNoStack(table.stderr);
  assert.match(table.stderr, new RegExp(`^wsdiag: read part-way: ${file}: corrupt or truncated gzip data: decompression failed after compressed byte ${cut} of ${cut} \\(zlib: unexpected end of file\\)`, 'm'));
  assert.match(table.stdout, /^PARTIAL REPORT: not every input was read to the end/m);
  // The item may wrap (a hanging indent of 4) to fit the width.
  assert.match(table.stdout.replace(/\n {4}/g, ' '), new RegExp(`^ {2}partial \\(\\d+ lines analysed\\): ${file}: corrupt or truncated gzip data`, 'm'));

  const r = run([file, '-o', 'json']);
  assert.equal(r.code, 2);
  const j = JSON.parse(r.stdout) as JsonReport;
  assert.equal(j.meta.partial, true);
  assert.equal(j.meta.inputs[0]?.status, 'partial');
  assert.equal(j.meta.inputs[0]?.error?.code, 'INPUT_BAD_GZIP');
  assert.ok(j.lines.parsed > 0 && j.lines.parsed < LINES.length, `part of the lines were analysed (${j.lines.parsed})`);
  assert.equal(j.lines.unparsed, 0, 'no half line from the cut is counted as a bad line');
});

test('corrupt gzip data in the middle of a 2 MB file: the byte named is where decompression failed, not how far the file was read', () => {
  // Stored (level 0) deflate blocks: a block header's LEN/NLEN pair is checked, so breaking one
  // makes zlib fail exactly there ("invalid stored block lengths").
  const text = Buffer.concat(Array.from({ length: 40 }, () => TEXT));
  const gz = gzipSync(text, { level: 0 });
  let block = 10;
  while (block < 1_500_000) block += 5 + gz.readUInt16LE(block + 1);
  gz[block + 3] = (gz[block + 3] as number) ^ 0xff;
  const file = join(tmp, 'corrupt.gz');
  writeFileSync(file, gz);

  const r = run([file, '-o', 'json']);
  assert.equal(r.code, 2);
  assertNoStack(r.stderr);
  const j = JSON.parse(r.stdout) as JsonReport;
  const error = j.meta.inputs[0]?.error;
  assert.equal(error?.code, 'INPUT_BAD_GZIP');
  assert.match(error.message, /invalid stored block lengths/);
  const [offset, size] = gzipOffset(error.message);
  assert.equal(size, gz.length);
  assert.ok(offset <= block && offset > block - 70_000, `failed at ${block}, reported ${offset}`);
  // The lines before the failure point were analysed: about `offset` bytes of text.
  const analysed = j.lines.total * (text.length / (LINES.length * 40));
  assert.ok(Math.abs(analysed - offset) < 70_000, `${j.lines.total} lines ≈ ${Math.round(analysed)} bytes analysed, failure near ${offset}`);
  assert.equal(j.meta.partial, true);
});

/** As root, chmod 000 does not stop reads: run the CLI as an unprivileged user then. */
function unprivileged(): { uid: number; gid: number } | null | 'skip' {
  if (process.getuid?.() !== 0) return null;
  const probe = run(['--version'], undefined, { uid: 65534, gid: 65534 });
  return probe.code === 0 ? { uid: 65534, gid: 65534 } : 'skip';
}

test('inputs that are missing, a directory, unreadable: each named with why, the others analysed, exit 2', (t) => {
  const user = unprivileged();
  if (user === 'skip') return t.skip('running as root and cannot run the CLI as uid 65534, so a chmod 000 file stays readable');
  const dir = join(tmp, 'inputs');
  mkdirSync(join(dir, 'a-directory'), { recursive: true });
  const secret = join(dir, 'secret.log');
  copyFileSync(FIXTURE, secret);
  chmodSync(secret, 0o000);
  const good = join(dir, 'front.log');
  copyFileSync(FIXTURE, good);
  for (const p of [tmp, dir, good]) chmodSync(p, 0o755);
  const missing = join(dir, 'missing.log');
  const args = [missing, join(dir, 'a-directory'), secret, good];
  const opts = user ? user : {};

  const table = run(args, undefined, opts);
  assert.equal(table.code, 2);
  assertNoStack(table.stderr);
  assert.match(table.stderr, new RegExp(`^wsdiag: skipped: ${missing}: no such file$`, 'm'));
  assert.match(table.stderr, new RegExp(`^wsdiag: skipped: ${dir}/a-directory: cannot read \\(is a directory\\)$`, 'm'));
  assert.match(table.stderr, new RegExp(`^wsdiag: skipped: ${secret}: cannot read \\(permission denied\\)$`, 'm'));
  assert.match(table.stdout, /^inputs: 1 of 4 read to the end; 3 skipped/m);
  assert.match(table.stdout, new RegExp(`^ {2}skipped: ${dir}/a-directory: cannot read \\(is a directory\\)$`, 'm'));
  assert.match(table.stdout, /abandoned-at-timeout/, 'the readable input is analysed');

  const r = run([...args, '-o', 'json'], undefined, opts);
  assert.equal(r.code, 2);
  const j = JSON.parse(r.stdout) as JsonReport;
  assert.deepEqual(j.meta.inputs.map((i) => [i.status, i.error?.code ?? null]), [
    ['skipped', 'INPUT_NOT_FOUND'], ['skipped', 'INPUT_UNREADABLE'], ['skipped', 'INPUT_UNREADABLE'], ['read', null],
  ]);
  assert.equal(j.lines.parsed, LINES.length);
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the CLI; `withChild` may drive it (signals, stdin) before it exits. */
function spawnCli(args: string[], withChild: (c: ChildProcess) => void): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const c: ChildProcess = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: 'pipe' });
    let out = '';
    let err = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    c.on('error', reject);
    c.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
    withChild(c);
  });
}

test('wsdiag … | head -1 (a real pipe): the first line arrives, wsdiag exits 0 without a word', () => {
  const big = join(tmp, 'big.log');
  writeFileSync(big, Buffer.concat(Array.from({ length: 20 }, () => TEXT)));
  for (const output of ['table', 'json']) {
    // --top/--evidence (and --verbose --wide: every evidence line, whole) make the report
    // (~150 KB) larger than a pipe buffer (64 KB): head exits after one line and wsdiag's next
    // write fails with EPIPE.
    const script = `{ "${process.execPath}" "${CLI}" "${big}" -o ${output} --top 500 --evidence 50 --verbose --wide; echo "wsdiag exited $?" >&2; } | head -1`;
    const r = spawnSync('sh', ['-c', script], { env: ENV, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0);
    assert.match(r.stdout, output === 'json' ? /^\{\n$/ : /^CRITICAL {2}\d+ WebSocket handshakes arrived as HTTP\/1\.0[^\n]*\n$/);
    assert.equal(r.stderr, 'wsdiag exited 0\n', 'no stack, no EPIPE, no notes after the reader left');
  }
});

test('a stdout that cannot take the report (a full disk, /dev/full): the error is named, exit 2, no stack', (t) => {
  if (!existsSync('/dev/full')) return t.skip('no /dev/full on this system');
  const full = openSync('/dev/full', 'w');
  try {
    const r = run([FIXTURE], undefined, { stdio: ['ignore', full, 'pipe'] });
    assert.equal(r.code, 2);
    assertNoStack(r.stderr);
    assert.match(r.stderr, /^wsdiag: cannot write the report to standard output \(ENOSPC: no space left on device/m);
  } finally {
    closeSync(full);
  }
});

/** 19 real lines (< the 20 auto-detection looks at before choosing) padded to ~110 KB each: more than a pipe buffer. */
function longLines(n: number): Buffer {
  const lines = LINES.slice(0, n).map((l) => l.replace(/ \/ws\/(\S*)/, (_, q: string) => ` /ws/${q}${q.includes('?') ? '&' : '?'}pad=${'a'.repeat(110_000)}`));
  return Buffer.from(lines.map((l) => `${l}\n`).join(''));
}

for (const [label, input] of [['before the format is chosen (19 lines)', longLines(19)], ['after (all the sample, 10 times)', Buffer.concat(Array.from({ length: 10 }, () => TEXT))]] as const) {
  test(`SIGINT while reading stdin, ${label}: stops, prints the report of the lines read, marked partial; exit 2`, async () => {
    for (const output of ['table', 'json']) {
      const r = await spawnCli(['-', '-o', output], (c) => {
        const stdin = c.stdin as NonNullable<typeof c.stdin>;
        // write() answers false while the pipe is full; 'drain' means the CLI is reading (its handler is set).
        assert.equal(stdin.write(input), false, 'the input is larger than the pipe buffer');
        stdin.once('drain', () => c.kill('SIGINT'));
      });
      assert.equal(r.signal, null, 'not killed by the signal');
      assert.equal(r.code, 2);
      assertNoStack(r.stderr);
      assert.match(r.stderr, /^wsdiag: interrupted; reporting what was read so far$/m);
      if (output === 'table') {
        assert.match(r.stdout, /^PARTIAL REPORT/m);
        assert.match(r.stdout, /^ {2}partial \([\d,]+ lines? analysed\): -: interrupted after line \d+$/m);
        continue;
      }
      const j = JSON.parse(r.stdout) as JsonReport;
      assert.equal(j.meta.partial, true);
      assert.deepEqual([j.meta.inputs[0]?.status, j.meta.inputs[0]?.error?.code], ['partial', 'INPUT_INTERRUPTED']);
      assert.ok(j.lines.total > 0 && j.lines.total <= input.toString().split('\n').length - 1, `some lines read (${j.lines.total})`);
      assert.equal(j.lines.parsed, j.lines.total, 'every line read is analysed');
    }
  });
}

/** Every file under `dir`, relative to it. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

test('nothing is written anywhere the user did not ask for (cwd, HOME, TMPDIR)', () => {
  const root = join(tmp, 'quiet');
  const [cwd, home, tmpd] = ['cwd', 'home', 'tmp'].map((d) => join(root, d)) as [string, string, string];
  for (const d of [cwd, home, tmpd]) mkdirSync(d, { recursive: true });
  copyFileSync(FIXTURE, join(cwd, 'front.log'));
  writeFileSync(join(cwd, 'front.log.gz'), gzipSync(TEXT));
  const before = statSync(join(cwd, 'front.log')).mtimeMs;
  const env = { ...ENV, HOME: home, TMPDIR: tmpd, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') };
  for (const args of [['front.log'], ['-o', 'json', 'front.log.gz'], ['missing.log', 'front.log'], ['--log-format', '$status', 'front.log'], ['--help'], ['-']]) {
    const r = run(args, args[0] === '-' ? TEXT : undefined, { cwd, env });
    assert.ok(r.code !== null && r.stdout.length + r.stderr.length > 0, `${args.join(' ')} ran`);
  }
  assert.deepEqual(listFiles(cwd), ['front.log', 'front.log.gz']);
  assert.deepEqual(listFiles(home), []);
  assert.deepEqual(listFiles(tmpd), []);
  assert.equal(statSync(join(cwd, 'front.log')).mtimeMs, before);
});
