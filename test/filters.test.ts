/*!
 * --since/--until, --bad-lines and the progress line (issue 5). The window is checked by
 * equivalence: analysing the whole fixture with a window must equal analysing a copy that holds
 * only the lines whose `msec` falls inside it (selected here with a regex, not with wsdiag).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { analyze, type Report } from '../src/index.js';
import { parseWhen } from '../src/options.js';
import { ProgressLine, progressText } from '../src/sinks.js';

const FIXTURE = 'fixtures/incident/front.log';
const CLI = 'dist/cli.js';
const ENV = { PATH: process.env.PATH ?? '', NO_COLOR: '1', TZ: 'UTC' };
const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-filters-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

test('parseWhen: ages, epoch seconds, nginx time, ISO with and without offset', () => {
  const cases: [string, number][] = [
    ['2h', NOW - 2 * 3_600_000],
    ['30m', NOW - 30 * 60_000],
    ['90s', NOW - 90_000],
    ['1.5d', NOW - 1.5 * 86_400_000],
    ['1w ago', NOW - 604_800_000],
    ['1520579072', 1_520_579_072_000],
    ['1520579072.716', 1_520_579_072_716],
    ['09/Mar/2018:15:04:32 +0800', Date.UTC(2018, 2, 9, 7, 4, 32)],
    ['[09/Mar/2018:15:04:32 +0800]', Date.UTC(2018, 2, 9, 7, 4, 32)],
    ['2018-03-09T07:04:32Z', Date.UTC(2018, 2, 9, 7, 4, 32)],
    ['2018-03-09T15:04:32+08:00', Date.UTC(2018, 2, 9, 7, 4, 32)],
    ['2018-03-09 15:04+08:00', Date.UTC(2018, 2, 9, 7, 4)],
    ['2018-03-09T07:04', Date.UTC(2018, 2, 9, 7, 4)],
    ['2018-03-09', Date.UTC(2018, 2, 9)],
  ];
  for (const [text, want] of cases) assert.equal(parseWhen('since', text, NOW), want, text);
  assert.equal(parseWhen('since', undefined, NOW), undefined);
  for (const bad of ['yesterday', '2h30', '09/Mar/2018', '2018-13-45T99:00Z', '-5m']) {
    assert.throws(() => parseWhen('since', bad, NOW), (e: Error) => /Invalid option --since: expected a time/.test(e.message), bad);
  }
});

test('a since/until window equals analysing only the lines logged inside it', async () => {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
  const msec = (l: string): number => Number(/ msec (\d+\.\d+) /.exec(l)?.[1]) * 1000;
  const since = Date.UTC(2018, 2, 9, 7, 30);
  const until = Date.UTC(2018, 2, 9, 8, 40);
  const inside = lines.filter((l) => msec(l) >= since && msec(l) <= until);
  assert.ok(inside.length > 20 && inside.length < lines.length - 20, 'the window cuts the fixture');
  const copy = join(tmp, 'inside.log');
  writeFileSync(copy, `${inside.join('\n')}\n`);

  const windowed = await analyze({ inputs: [FIXTURE], since: new Date(since).toISOString(), until: '09/Mar/2018:16:40:00 +0800' });
  const direct = await analyze({ inputs: [copy] });
  assert.equal(windowed.lines.filtered, lines.length - inside.length);
  assert.equal(windowed.lines.parsed, lines.length);
  assert.deepEqual(windowed.meta.window, { since: new Date(since).toISOString(), until: new Date(until).toISOString() });
  const gist = (r: Report): unknown => ({
    handshakes: r.handshakes.total,
    groups: r.handshakes.byProtocolStatus.map((g) => [g.protocol, g.status, g.count]),
    findings: r.findings.map((f) => [f.id, f.count, f.clients.map((c) => c.client)]),
    timeouts: r.timeouts.map((t) => [t.series, t.count]),
  });
  assert.deepEqual(gist(windowed), gist(direct));
  assert.ok(windowed.findings.length > 0);
});

test('--since after --until is refused', async () => {
  await assert.rejects(analyze({ inputs: [FIXTURE], since: '2018-03-09T09:00Z', until: '2018-03-09T08:00Z' }), /--since .* is after --until/);
});

test('--bad-lines writes every unparsed line, exactly, with file:line; the report still samples', () => {
  const good = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '').slice(0, 40);
  const junk = Array.from({ length: 30 }, (_, i) => `2018/03/09 15:04:${String(i).padStart(2, '0')} [error] 1234#0: *${i} upstream timed out (110: Connection timed out)`);
  const mixed: string[] = [];
  const wantBad: string[] = [];
  good.forEach((l, i) => {
    mixed.push(l);
    if (i % 4 === 3) {
      const j = junk.pop() as string;
      mixed.push(j);
      wantBad.push(`${join(tmp, 'mixed.log')}:${mixed.length}\t${j}`);
    }
  });
  const log = join(tmp, 'mixed.log');
  const out = join(tmp, 'bad.txt');
  writeFileSync(log, `${mixed.join('\n')}\n`);
  const r = spawnSync(process.execPath, [CLI, '--bad-lines', out, '--output', 'json', log], { env: ENV, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.lines.unparsed, wantBad.length);
  assert.deepEqual(readFileSync(out, 'utf8').split('\n').filter((l) => l !== ''), wantBad);
  assert.match(r.stderr, new RegExp(`${wantBad.length} unparsed lines written to `));
  assert.doesNotMatch(r.stderr, /\r/, 'no progress line when stderr is not a terminal');
});

test('--bad-lines into a place that cannot be written: a one-line error, exit 2', () => {
  const r = spawnSync(process.execPath, [CLI, '--bad-lines', join(tmp, 'no-such-dir', 'bad.txt'), FIXTURE], { env: ENV, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^wsdiag: Invalid option --bad-lines: cannot write .*no-such-dir/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('progressText: bytes, lines and rate in a short line', () => {
  assert.equal(progressText(412 * 1048576, 1_300_000, 3170), 'wsdiag: 412 MB read, 1.3M lines, 410k lines/s');
  assert.equal(progressText(1048576 / 2, 900, 1000), 'wsdiag: 0.5 MB read, 900 lines, 900 lines/s');
});

test('ProgressLine: silent for the first second, then redrawn in place, and cleared at the end', () => {
  const written: string[] = [];
  const stream = { write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const realNow = Date.now;
  let clock = 1_000_000;
  Date.now = () => clock;
  try {
    const p = new ProgressLine(stream, 250, 1000);
    p.update(100, 10);
    clock += 900;
    p.update(200, 20);
    assert.deepEqual(written, [], 'nothing during the first second');
    clock += 200;
    p.update(300, 30);
    clock += 100;
    p.update(400, 40);
    assert.equal(written.length, 1, 'at most one redraw per 250 ms');
    assert.equal(written[0], "\rwsdiag: 0.0 MB read, 30 lines, 27 lines/s\u001b[K");
    p.clear();
    assert.equal(written[1], '\r\x1b[K');
  } finally {
    Date.now = realNow;
  }
});

test('progress appears on a real terminal during a long run, and not with --quiet', { skip: spawnSync('script', ['--version']).status === 0 ? false : 'util-linux script not installed' }, () => {
  // 40k lines, fed in two halves 1.5 s apart: the second half's progress update falls after the first second.
  const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
  const half = join(tmp, 'half.log');
  writeFileSync(half, `${Array.from({ length: 20_000 }, (_, i) => lines[i % lines.length]).join('\n')}\n`);
  const onTty = (flags: string): string => {
    const cmd = `(cat ${half}; sleep 1.5; cat ${half}) | "${process.execPath}" ${CLI} -o json ${flags} - > /dev/null`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: ENV, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stdout);
    return r.stdout;
  };
  const shown = onTty('');
  assert.match(shown, /\rwsdiag: [\d.]+ MB read, [\d.]+k lines, [\d.]+k? lines\/s/);
  assert.ok(shown.includes('\r\u001b[K'), 'the progress line is cleared before the notes');
  assert.doesNotMatch(onTty('--quiet'), /lines\/s/);
});
