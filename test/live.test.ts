/*!
 * Live mode through the CLI (see: issue "Live: watch the log while the incident happens"): a
 * followed file's incident is announced as it is written and closed once the window has passed it,
 * events as JSON lines; SIGTERM ends with the report over every line read; a pipe that stays open
 * gets its report on SIGTERM too; --fail-on exits 1 the moment a matching finding opens.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';

import type { LiveEvent, Report } from '../src/index.js';
import { FIXTURE, run, startCli, until, type LiveRun } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdiag-live-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LINES = readFileSync(FIXTURE, 'utf8').trimEnd().split('\n');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The fixture's lines as if written now: the window is over the log's own time, so a live test needs live times. */
function writtenNow(lines: readonly string[]): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  const local = `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
  return `${lines.map((l) => l.replace(/^\[[^\]]+\]/, local).replace(/ msec \d+\.\d+ /, ` msec ${(d.getTime() / 1000).toFixed(3)} `)).join('\n')}\n`;
}

const events = (r: LiveRun): LiveEvent[] => r.stdout().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LiveEvent);

test('--follow --output jsonl: the incident opens as its lines are written, closes when the window has passed; SIGTERM gives the report over every line', async () => {
  const file = join(dir, 'access.log');
  writeFileSync(file, `${LINES.slice(0, 10).join('\n')}\n`);
  const r = startCli(['--follow', '--interval', '0.5', '--window', '2s', '--output', 'jsonl', file]);
  // The first snapshot says the file is open (at its end): only then are lines appended.
  await until(() => events(r).some((e) => e.type === 'snapshot'), 10_000, 'a first snapshot');
  const t0 = Date.now();
  appendFileSync(file, writtenNow(LINES.slice(10)));
  await until(() => events(r).some((e) => e.type === 'incident-opened' && e.finding?.id === 'downgraded-handshake'), 3000, 'the downgrade is announced');
  assert.ok(Date.now() - t0 < 3000, `announced ${Date.now() - t0} ms after the lines were written (interval 0.5 s)`);
  await until(() => events(r).some((e) => e.type === 'incident-closed' && e.finding?.id === 'downgraded-handshake'), 5000, 'and closed after the window');
  r.kill('SIGTERM');
  assert.equal(await r.done, 0);
  const last = events(r).at(-1) as LiveEvent & { final?: boolean };
  assert.equal(last.type, 'snapshot');
  assert.equal(last.final, true);
  const report = last.report as Report;
  // From the end by default: the ten lines already there are not read; every line written after is.
  assert.equal(report.lines.total, LINES.length - 10);
  // The same findings as a batch run over the lines written while it followed.
  const rest = join(dir, 'rest.log');
  writeFileSync(rest, `${LINES.slice(10).join('\n')}\n`);
  const batch = JSON.parse(run(['--output', 'json', rest]).stdout) as Report;
  assert.deepEqual(report.findings.map((f) => [f.id, f.count]), batch.findings.map((f) => [f.id, f.count]));
  assert.ok(report.findings.some((f) => f.id === 'downgraded-handshake'));
});

test('a pipe that stays open: verdicts while it runs (on stderr), the report on SIGTERM', async () => {
  const r = startCli(['--interval', '0.5', '-']);
  r.write(`${LINES.join('\n')}\n`);
  await until(() => /incident opened: critical downgraded-handshake/.test(r.stderr()), 4000, 'the incident on stderr');
  r.kill('SIGTERM');
  await r.done;
  assert.match(r.stdout(), /^CRITICAL {2}17 WebSocket handshakes arrived as HTTP\/1\.0/);
});

test('--fail-on critical in live mode exits 1 as soon as a critical finding opens', async () => {
  const file = join(dir, 'fail-on.log');
  writeFileSync(file, '');
  const r = startCli(['--follow', '--from-start', '--interval', '0.5', '--fail-on', 'critical', file]);
  await sleep(300);
  appendFileSync(file, `${LINES.join('\n')}\n`);
  const code = await Promise.race([r.done, sleep(10_000).then(() => 'still running')]);
  assert.equal(code, 1);
  assert.match(r.stderr(), /--fail-on matched: (downgraded-handshake|abandoned-at-timeout)/);
});
