/*!
 * Live mode through the CLI (see: issue "Live: watch the log while the incident happens"): a
 * followed file's incident is announced as it is written and closed once the window has passed it,
 * events as JSON lines; SIGTERM ends with the report over every line read; a pipe that stays open
 * gets its report on SIGTERM too; --fail-on exits 1 the moment a matching finding opens.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';

import type { LiveEvent, Report } from '../src/index.js';
import { CLI, ENV, FIXTURE, run } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdiag-live-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LINES = readFileSync(FIXTURE, 'utf8').trimEnd().split('\n');

interface Run {
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
  kill: (sig: NodeJS.Signals) => void;
  write: (text: string) => void;
  end: () => void;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  return {
    stdout: () => out,
    stderr: () => err,
    done: new Promise((resolve) => child.once('close', (code) => resolve(code))),
    kill: (sig) => child.kill(sig),
    write: (text) => child.stdin.write(text),
    end: () => child.stdin.end(),
  };
}

const events = (r: Run): LiveEvent[] => r.stdout().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LiveEvent);

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await sleep(50);
  assert.ok(cond(), `${what} (after ${ms} ms)`);
}

test('--follow --output jsonl: the incident opens as its lines are written, closes when the window has passed; SIGTERM gives the report over every line', async () => {
  const file = join(dir, 'access.log');
  writeFileSync(file, `${LINES.slice(0, 10).join('\n')}\n`);
  const r = start(['--follow', '--interval', '0.5', '--window', '2s', '--output', 'jsonl', file]);
  // The first snapshot says the file is open (at its end): only then are lines appended.
  await until(() => events(r).some((e) => e.type === 'snapshot'), 10_000, 'a first snapshot');
  const t0 = Date.now();
  appendFileSync(file, `${LINES.slice(10).join('\n')}\n`);
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
  const r = start(['--interval', '0.5', '-']);
  r.write(`${LINES.join('\n')}\n`);
  await until(() => /incident opened: critical downgraded-handshake/.test(r.stderr()), 4000, 'the incident on stderr');
  r.kill('SIGTERM');
  await r.done;
  assert.match(r.stdout(), /^CRITICAL {2}17 WebSocket handshakes arrived as HTTP\/1\.0/);
});

test('--fail-on critical in live mode exits 1 as soon as a critical finding opens', async () => {
  const file = join(dir, 'fail-on.log');
  writeFileSync(file, '');
  const r = start(['--follow', '--from-start', '--interval', '0.5', '--fail-on', 'critical', file]);
  await sleep(300);
  appendFileSync(file, `${LINES.join('\n')}\n`);
  const code = await Promise.race([r.done, sleep(10_000).then(() => 'still running')]);
  assert.equal(code, 1);
  assert.match(r.stderr(), /--fail-on matched: (downgraded-handshake|abandoned-at-timeout)/);
});
