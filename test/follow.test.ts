/*!
 * Following a file like `tail -F` (src/input/follow.ts): lines appended after the start, rotation
 * by rename + a new file, delete + recreate, and copytruncate lose no line and repeat none; a stop
 * keeps what the file held.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';

import { followFile } from '../src/input/follow.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdiag-follow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Collects what the stream gives, as text. */
function collect(stream: NodeJS.ReadableStream): { text: () => string; ended: Promise<void> } {
  let text = '';
  stream.on('data', (b: Buffer) => {
    text += b.toString('utf8');
  });
  return { text: () => text, ended: new Promise((resolve) => stream.once('end', () => resolve())) };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await sleep(50);
  assert.ok(cond(), what);
}

test('from the end by default, then every appended line; --from-start reads what was there', async () => {
  const file = join(dir, 'a.log');
  writeFileSync(file, 'old 1\nold 2\n');
  const stop = new AbortController();
  const f = await followFile(file, { signal: stop.signal, pollMs: 20 });
  const got = collect(f.stream);
  appendFileSync(file, 'new 1\n');
  await until(() => got.text() === 'new 1\n', 'the appended line');
  appendFileSync(file, 'new 2\n');
  stop.abort();
  await got.ended;
  assert.equal(got.text(), 'new 1\nnew 2\n', 'a stop still reads what the file held');

  const again = new AbortController();
  const g = await followFile(file, { signal: again.signal, fromStart: true, pollMs: 20 });
  const all = collect(g.stream);
  await until(() => all.text().includes('new 2'), 'the whole file');
  again.abort();
  await all.ended;
  assert.equal(all.text(), 'old 1\nold 2\nnew 1\nnew 2\n');
});

test('rotation by rename + new file, by delete + recreate, and copytruncate: every line once', async () => {
  const file = join(dir, 'b.log');
  writeFileSync(file, '');
  const stop = new AbortController();
  const f = await followFile(file, { signal: stop.signal, pollMs: 20 });
  const got = collect(f.stream);
  const want: string[] = [];
  const write = (line: string, into = file): void => {
    appendFileSync(into, `${line}\n`);
    want.push(line);
  };
  write('1');
  await until(() => got.text().includes('1\n'), 'line 1');
  // logrotate's default: rename; the writer still has the old file open and writes a last line there,
  // then reopens (nginx USR1) a new file at the path.
  renameSync(file, `${file}.1`);
  write('2 (old file after the rename)', `${file}.1`);
  writeFileSync(file, '');
  write('3 (new file)');
  await until(() => got.text().includes('3 (new file)'), 'the new file');
  // delete + recreate
  rmSync(file);
  writeFileSync(file, '');
  write('4 (recreated)');
  await until(() => got.text().includes('4 (recreated)'), 'the recreated file');
  // copytruncate: the file is copied away and emptied in place, then written again.
  truncateSync(file, 0);
  write('5 (after truncate)');
  await until(() => got.text().includes('5 (after truncate)'), 'after the truncate');
  stop.abort();
  await got.ended;
  assert.deepEqual(got.text().trimEnd().split('\n'), want);
});

test('a file that does not exist is an input error, not a wait', async () => {
  await assert.rejects(followFile(join(dir, 'missing.log')), { code: 'INPUT_NOT_FOUND' });
});
