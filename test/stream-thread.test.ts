/*!
 * StreamThread (src/input/stream-thread.ts): a gzip file gunzipped in a thread of its own, or
 * standard input's pipe read there (gunzipped too when it is gzip), handed on as blocks of whole
 * lines. In order the blocks are the input's text (a gzip inside the gzip too), each ending at a
 * newline, with how far into the file each was read; a corrupt or truncated file keeps its whole
 * lines and ends with the error a stream read here would give; a stop ends it early, and the
 * thread with it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { constants, createWriteStream, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { isAnalyzerError } from '../src/errors.js';
import type { Block } from '../src/input/blocks.js';
import { StreamThread } from '../src/input/stream-thread.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-gunzip-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Lines of many lengths (a few longer than a block), numbered so that order and loss show. */
function lines(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += `127.0.0.${i % 7} line ${i} ${'x'.repeat((i * 37) % 300)}${i % 500 === 0 ? 'y'.repeat(9000) : ''}\n`;
  return s;
}

function file(name: string, bytes: Buffer): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

interface Read {
  blocks: Block[];
  texts: string[];
  feed: StreamThread;
}

/** Takes every block as it comes (giving each buffer back), until the feed is drained; `onBlock` may stop it. */
function readAll(input: string | { fd: number }, blockBytes: number, onBlock?: (feed: StreamThread, n: number) => void): Promise<Read> {
  return new Promise((resolve) => {
    const blocks: Block[] = [];
    const texts: string[] = [];
    const feed: StreamThread = new StreamThread('the-log.gz', typeof input === 'string' ? { path: input } : input, blockBytes, () => {
      for (let b = feed.take(); b !== null; b = feed.take()) {
        blocks.push({ ...b });
        texts.push(Buffer.from(b.data, 0, b.bytes).toString('latin1'));
        feed.recycle(b.data);
        onBlock?.(feed, blocks.length);
      }
      if (feed.drained) resolve({ blocks, texts, feed });
    });
  });
}

test('the blocks in order are the gunzipped text, each ending at a newline, with how far into the file each was read', async () => {
  const text = lines(40000);
  const path = file('whole.log.gz', gzipSync(text));
  const { blocks, texts, feed } = await readAll(path, 512 << 10);
  assert.equal(feed.error, null);
  assert.equal(texts.join(''), text);
  assert.ok(blocks.length > 8, `${blocks.length} blocks`);
  for (const t of texts) assert.ok(t.endsWith('\n'));
  const read = blocks.map((b) => b.inputBytes);
  assert.deepEqual(read, [...read].sort((a, b) => a - b));
  assert.equal(read.at(-1), statSync(path).size);
});

test('a gzip inside the gzip is gunzipped too', async () => {
  const text = lines(500);
  const { texts, feed } = await readAll(file('twice.log.gz', gzipSync(gzipSync(text))), 4096);
  assert.equal(feed.error, null);
  assert.equal(texts.join(''), text);
});

test('a truncated file: its whole lines come out, then the error names the file and the compressed byte', async () => {
  const text = lines(3000);
  const whole = gzipSync(text, { level: 1 });
  const cut = Math.floor(whole.length / 2);
  const path = file('cut.log.gz', whole.subarray(0, cut));
  const { texts, feed } = await readAll(path, 8192);
  const got = texts.join('');
  assert.ok(got.length > 0 && text.startsWith(got), 'a prefix of the text');
  assert.ok(got.endsWith('\n'));
  assert.ok(isAnalyzerError(feed.error), String(feed.error));
  assert.equal(feed.error.code, 'INPUT_BAD_GZIP');
  assert.equal(feed.error.where?.file, 'the-log.gz');
  assert.match(feed.error.message, new RegExp(`^${path}: corrupt or truncated gzip data: decompression failed after compressed byte \\d+ of ${cut} \\(zlib: unexpected end of file\\)`));
});

test('a file gone before the thread opens it: no block, and the error says so', async () => {
  const { blocks, feed } = await readAll(join(tmp, 'never-there.gz'), 4096);
  assert.equal(blocks.length, 0);
  assert.ok(isAnalyzerError(feed.error));
  assert.equal(feed.error.code, 'INPUT_NOT_FOUND');
});

test('stop(): no block after it, drained at once, and the thread ends (the test would not)', async () => {
  const path = file('stopped.log.gz', gzipSync(lines(20000)));
  const { blocks, feed } = await readAll(path, 4096, (f, n) => {
    if (n === 3) f.stop();
  });
  assert.equal(blocks.length, 3);
  assert.equal(feed.drained, true);
  assert.equal(feed.take(), null);
});

test('stopReading(): the lines read already still come out, in order, and the feed ends without error', async () => {
  const text = lines(20000);
  const path = file('interrupted.log.gz', gzipSync(text));
  let kept = false;
  const { texts, feed } = await readAll(path, 4096, (f, n) => {
    if (n === 2) kept = f.stopReading();
  });
  assert.equal(kept, true);
  assert.equal(feed.error, null);
  const got = texts.join('');
  assert.ok(texts.length >= 2 && got.length < text.length, `${texts.length} blocks, ${got.length} of ${text.length} bytes`);
  assert.ok(text.startsWith(got) && got.endsWith('\n'));
});

/**
 * A named pipe `bytes` are written into, in `pieces` writes a few milliseconds apart, and its
 * reading end, which the thread closes when done (as it would not close standard input's).
 */
async function pipeOf(name: string, bytes: Buffer, pieces: number): Promise<number> {
  const path = join(tmp, name);
  execFileSync('mkfifo', [path]);
  // Opened without waiting for a writer, which opens it next.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = createWriteStream(path);
  void (async () => {
    const step = Math.ceil(bytes.length / pieces);
    for (let at = 0; at < bytes.length; at += step) {
      if (!writer.write(bytes.subarray(at, at + step))) await once(writer, 'drain');
      await new Promise((r) => setTimeout(r, 2));
    }
    writer.end();
  })();
  return fd;
}

test('standard input\'s pipe, read in the thread straight into the blocks: in order they are its text, each ending at a newline', async () => {
  const text = lines(20000);
  // Writes of 100 KB or so: the first read fills the reader's first buffer.
  const fd = await pipeOf('stdin.pipe', Buffer.from(text), 30);
  const { texts, feed } = await readAll({ fd }, 64 << 10);
  assert.equal(feed.error, null);
  assert.equal(feed.gzipLayers, 0);
  assert.equal(texts.join(''), text);
  assert.ok(texts.length > 8, `${texts.length} blocks`);
  for (const t of texts) assert.ok(t.endsWith('\n'));
});

test('a gzip stream on standard input\'s pipe: told by its first bytes, gunzipped in the thread, and said to be gzip', async () => {
  const text = lines(3000);
  const fd = await pipeOf('stdin-gz.pipe', gzipSync(text, { level: 0 }), 3);
  const { texts, feed } = await readAll({ fd }, 8192);
  assert.equal(feed.error, null);
  assert.equal(feed.gzipLayers, 1);
  assert.equal(texts.join(''), text);
});
