/*!
 * StreamBlocks (src/input/blocks.ts): a byte stream cut into blocks of whole lines. Whatever the
 * chunking, the blocks in order are the stream's bytes; the stream waits while a block does; an
 * error or a stop keeps the whole lines read and drops a line cut short; a stream that goes quiet
 * hands on its whole lines (a pipe read straight into the blocks too, a read that lands after
 * such a cut going on the next, and a pipe's first two bytes told gzip however they came);
 * buffers are reused, a block's only once the part read from it is merged (its lines are read in
 * place until then). And a regular file's byte ranges (lineEnds in src/input/chunks.ts): each
 * ends after a line, and in order they are the file.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { constants, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

import { StreamBlocks, type Block } from '../src/input/blocks.js';
import { PipeInput } from '../src/input/pipe.js';
import { DEFAULT_COUNT_CAPS } from '../src/core/counts.js';
import type { PartRules } from '../src/core/part.js';
import { ChunkedSource, InlinePool, formatSpec, type PartFeed } from '../src/core/workers.js';
import { compilePreset, findPreset, type Preset } from '../src/format/presets.js';
import { lineEnds } from '../src/input/chunks.js';

function text(b: Block): string {
  return Buffer.from(b.data, 0, b.bytes).toString('latin1');
}

/** Takes every block as it comes, until the stream is done. */
function collect(input: Readable, blockBytes: number): Promise<{ blocks: string[]; feed: StreamBlocks }> {
  return new Promise((resolve) => {
    const blocks: string[] = [];
    const feed = new StreamBlocks(input, () => 0, () => {
      for (let b = feed.take(); b !== null; b = feed.take()) {
        blocks.push(text(b));
        feed.recycle(b.data);
      }
      if (feed.drained) resolve({ blocks, feed });
    }, blockBytes);
  });
}

test('property: any chunking of any lines gives blocks that are the stream, each ending at the first newline that ends a block\'s size', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n'), maxLength: 40 }), { maxLength: 30 }),
    fc.integer({ min: 1, max: 64 }),
    async (chunks, blockBytes) => {
      const all = chunks.join('');
      const { blocks, feed } = await collect(Readable.from(chunks.filter((c) => c.length > 0).map((c) => Buffer.from(c, 'latin1'))), blockBytes);
      assert.equal(blocks.join(''), all);
      assert.equal(feed.error, null);
      blocks.slice(0, -1).forEach((b) => {
        assert.ok(b.endsWith('\n'), JSON.stringify(b));
        // About a block's size whatever the reads: one read may hold several blocks, or none.
        assert.ok(b.length >= blockBytes && b.indexOf('\n', blockBytes - 1) === b.length - 1, `${JSON.stringify(b)} (blocks of ${blockBytes})`);
      });
      assert.ok(blocks.every((b) => b.length > 0));
    },
  ), { numRuns: 300 });
});

test('the stream is paused while a block waits to be taken, and goes on when it is', async () => {
  const input = new PassThrough();
  let changes = 0;
  // A block's size that the first write's two lines just make.
  const feed = new StreamBlocks(input, () => 0, () => changes++, 18);
  input.write('line one\nline two\n');
  await new Promise((r) => setImmediate(r));
  assert.equal(feed.peek() !== null, true);
  assert.equal(input.isPaused(), true);
  input.write('line three\n');
  await new Promise((r) => setImmediate(r));
  const first = feed.take();
  assert.equal(first !== null && text(first), 'line one\nline two\n');
  assert.equal(input.isPaused(), false);
  input.end();
  await new Promise((r) => setImmediate(r));
  const second = feed.take();
  assert.equal(second !== null && text(second), 'line three\n');
  assert.equal(feed.drained, true);
  assert.ok(changes >= 3);
});

test('an error mid-stream: the whole lines before it come out, the line it cut short does not, the error is kept', async () => {
  const input = new PassThrough();
  const feed = new StreamBlocks(input, () => 0, () => {}, 1 << 20);
  input.write('first\nsecond\nthir');
  await new Promise((r) => setImmediate(r));
  input.destroy(new Error('unexpected end of file'));
  await new Promise((r) => setImmediate(r));
  const b = feed.take();
  assert.equal(b !== null && text(b), 'first\nsecond\n');
  assert.equal(feed.take(), null);
  assert.equal(feed.drained, true);
  assert.equal(feed.error?.message, 'unexpected end of file');
});

test('stopReading (Ctrl-C): the lines read so far make a last block and the input is read no more', async () => {
  const input = new PassThrough();
  const feed = new StreamBlocks(input, () => 0, () => {}, 1 << 20);
  input.write('a\nb\nc');
  await new Promise((r) => setImmediate(r));
  assert.equal(feed.stopReading(), true);
  input.write('d\n');
  const b = feed.take();
  assert.equal(b !== null && text(b), 'a\nb\n');
  assert.equal(feed.drained, true);
  assert.equal(input.destroyed, true);
});

test('a buffer given back carries a later block', async () => {
  const input = new PassThrough();
  const feed = new StreamBlocks(input, () => 0, () => {}, 4);
  input.write('1234\n');
  await new Promise((r) => setImmediate(r));
  const first = feed.take() as Block;
  feed.recycle(first.data);
  // The next block was being filled already when the first was cut: the one after it is cut into the buffer given back.
  input.write('5678\n');
  await new Promise((r) => setImmediate(r));
  const second = feed.take() as Block;
  assert.notEqual(second.data, first.data);
  input.write('9abc\n');
  await new Promise((r) => setImmediate(r));
  const third = feed.take() as Block;
  assert.equal(third.data, first.data);
  assert.equal(text(third), '9abc\n');
  input.end();
});

test('a stream of strings is read as UTF-8 bytes', async () => {
  const { blocks } = await collect(Readable.from(['héllo\nwör', 'ld\n']), 4);
  assert.equal(Buffer.from(blocks.join(''), 'latin1').toString('utf8'), 'héllo\nwörld\n');
});

test('a stream that goes quiet: the whole lines it sent come out as a block before it ends', async () => {
  const input = new PassThrough();
  const feed = new StreamBlocks(input, () => 0, () => {}, 1 << 20);
  input.write('first\nsecond\nthi');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(feed.peek(), null, 'not while bytes keep coming');
  await new Promise((r) => setTimeout(r, 400));
  const b = feed.take();
  assert.equal(b !== null && text(b), 'first\nsecond\n');
  input.end('rd\n');
  await new Promise((r) => setImmediate(r));
  const rest = feed.take();
  assert.equal(rest !== null && text(rest), 'third\n');
  assert.equal(feed.drained, true);
});

test('a file cut into ranges: each ends just after a line (the last at the end), none is empty, and in order they are the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-ranges-'));
  try {
    const file = join(dir, 'a.log');
    // Lines of 0 to 9,000 bytes (longer than a cut's first look, and than a range), the last one with or without its newline.
    const line = fc.nat(9000).map((n) => 'x'.repeat(n));
    await fc.assert(fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 40 }), fc.boolean(), fc.integer({ min: 1, max: 20_000 }), async (lines, newlineLast, chunkBytes) => {
      const body = Buffer.from(lines.join('\n') + (newlineLast ? '\n' : ''));
      writeFileSync(file, body);
      let at = 0;
      for (const end of await lineEnds(file, body.length, chunkBytes)) {
        assert.ok(end > at);
        if (end < body.length) assert.equal(body[end - 1], 10);
        at = end;
      }
      assert.equal(at, body.length);
    }), { numRuns: 60 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a block stays with its part until the part is merged: its handshakes are read from it in place, then it is cut into again', async () => {
  const log = readFileSync('fixtures/incident/front.log');
  const recycled: SharedArrayBuffer[] = [];
  let wake = (): void => {};
  const blocks = new StreamBlocks(Readable.from([log]), () => 0, () => wake(), 4096);
  const feed: PartFeed = {
    take: () => blocks.take(),
    peek: () => blocks.peek(),
    get drained() {
      return blocks.drained;
    },
    error: null,
    stop: () => blocks.stop(),
    stopReading: () => blocks.stopReading(),
    recycle: (data) => {
      recycled.push(data);
      blocks.recycle(data);
    },
  };
  const preset = findPreset('upstream-ws') as Preset;
  const rules = (first: boolean): PartRules => ({
    input: 0, gate: first, sinceMs: -Infinity, untilMs: Infinity, paneMs: 0, windowMs: 0,
    caps: DEFAULT_COUNT_CAPS, keyTexts: true, textsByPlace: false,
  });
  const source = new ChunkedSource(new InlinePool(), feed, { file: '-', formats: [formatSpec(compilePreset(preset))], wsPaths: { source: '/ws', flags: '' }, rules }, [0], 2, () => wake());
  const lines = new Set(log.toString('utf8').split('\n'));
  let parts = 0;
  let handshakes = 0;
  for (;;) {
    const t = source.next();
    if (t === null) {
      if (source.ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
      continue;
    }
    parts++;
    const block = t.block as Buffer;
    assert.ok(block !== null, 'a block\'s part comes with its block');
    assert.ok(!recycled.includes(block.buffer as SharedArrayBuffer), 'not given back before the part is merged');
    const w = t.sightings;
    for (let i = 0; i < w.line.length; i++) {
      const at = w.textAt[i] as number;
      assert.equal(w.text.bytesOf(i), 0, 'no copy of the line travels with the part');
      assert.ok(lines.has(block.toString('utf8', at, at + (w.textBytes[i] as number))), 'the place is the handshake\'s line');
      handshakes++;
    }
    t.release();
    assert.ok(recycled.includes(block.buffer as SharedArrayBuffer), 'given back once merged');
  }
  assert.ok(parts > 3, `${parts} blocks`);
  assert.ok(handshakes > 20, `${handshakes} handshakes`);
});

/** A named pipe in a directory of its own: its reading end (opened without waiting for a writer; the reader closes it when done) and its writer. */
function namedPipe(): { fd: number; writer: WriteStream; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-pipe-'));
  const path = join(dir, 'stdin.pipe');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return { fd, writer: createWriteStream(path), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Resolves once `done()` holds, looking every 10 ms (at most 10 s). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
}

test('a pipe read straight into the blocks: a quiet pipe hands on its whole lines, and a read that lands after that cut goes on the next block', async () => {
  const { fd, writer, remove } = namedPipe();
  try {
    writer.write('a\nb');
    const pipe = await PipeInput.open(fd);
    assert.equal(pipe.gzip, false);
    const texts: string[] = [];
    let feed: StreamBlocks | null = null;
    const done = new Promise<void>((resolve) => {
      feed = new StreamBlocks(pipe, () => pipe.bytesRead, () => {
        for (let b = feed?.take() ?? null; b !== null; b = feed?.take() ?? null) {
          texts.push(text(b));
          feed?.recycle(b.data);
        }
        if (feed?.drained === true) resolve();
      }, 1024);
    });
    await until(() => texts.length > 0);
    assert.deepEqual(texts, ['a\n'], 'the whole lines of a quiet pipe');
    writer.end('c\nd\ne');
    await done;
    assert.deepEqual(texts, ['a\n', 'bc\nd\ne']);
    assert.equal(pipe.bytesRead, 8);
  } finally {
    remove();
  }
});

test('a pipe whose first read brings one byte: its first two are still looked at, and a gzip stream is told by them', async () => {
  const { fd, writer, remove } = namedPipe();
  try {
    const gz = gzipSync('a line\n');
    writer.write(gz.subarray(0, 1));
    const opening = PipeInput.open(fd);
    await new Promise((r) => setTimeout(r, 50));
    writer.end(gz.subarray(1));
    const pipe = await opening;
    assert.equal(pipe.gzip, true);
    const chunks: Buffer[] = [];
    for await (const c of pipe.stream()) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), gz);
  } finally {
    remove();
  }
});
