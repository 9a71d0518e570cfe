/*!
 * wsdiag with no inputs on a terminal (see: issue 15, "Ctrl-C on a terminal returns at once"): it
 * says it reads standard input and waits; Ctrl-C typed there returns at once with the report over
 * what was typed, as partial (exit 2). Runs the built CLI under a pseudo-terminal made by
 * util-linux's `script`, which turns a typed \x03 into SIGINT as a real terminal does.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';

import { CLI, ENV, FIXTURE } from './helpers/cli.js';

const SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' });
const skip = SCRIPT.status === 0 && /util-linux/.test(SCRIPT.stdout) ? false : 'needs script(1) from util-linux (Debian: bsdutils) for a pseudo-terminal';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

interface Typed {
  output: string;
  code: number | null;
  /** Milliseconds from Ctrl-C to the exit. */
  ms: number;
}

/** Starts the CLI on a pseudo-terminal, waits for its stdin hint, types `text`, then Ctrl-C. */
async function typeThenInterrupt(text: string): Promise<Typed> {
  // `exec`: a shell left between them would take the SIGINT too and exit 130 in wsdiag's place.
  const child = spawn('script', ['-qfec', `exec ${quote(process.execPath)} ${quote(CLI)}`, '/dev/null'], { env: { ...ENV, COLUMNS: '100' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  try {
    const t0 = Date.now();
    while (!output.includes('reading standard input') && Date.now() - t0 < 5000) await sleep(20);
    assert.match(output, /wsdiag: reading standard input/);
    if (text !== '') {
      child.stdin.write(text);
      // The terminal echoes what is typed; once it has, the line has reached wsdiag.
      while (!output.includes(text.trim().slice(-20)) && Date.now() - t0 < 5000) await sleep(20);
      await sleep(200);
    }
    child.stdin.write('\x03');
    const sent = Date.now();
    const code = await Promise.race([exited, sleep(3000).then(() => 'still running' as const)]);
    assert.notEqual(code, 'still running', `no exit within 3 s of Ctrl-C; output so far:\n${output}`);
    return { output: output.replace(/\r\n/g, '\n'), code: code as number | null, ms: Date.now() - sent };
  } finally {
    child.kill('SIGKILL');
  }
}

test('Ctrl-C on a terminal with nothing typed: at once, the (empty) report, exit 2', { skip }, async () => {
  const r = await typeThenInterrupt('');
  assert.ok(r.ms < 2000, `${r.ms} ms`);
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /interrupted; reporting what was read so far/);
  assert.match(r.output, /Nothing was analysed/);
  assert.match(r.output, /the report is partial/);
});

test('Ctrl-C on a terminal after a line was typed: at once, the report over that line, exit 2', { skip }, async () => {
  const line = readFileSync(FIXTURE, 'utf8').split('\n')[0] as string;
  const r = await typeThenInterrupt(`${line}\n`);
  assert.ok(r.ms < 2000, `${r.ms} ms`);
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /1 parsed, 0 unparsed; 1 WebSocket handshake \(1 upgraded\)/);
});
