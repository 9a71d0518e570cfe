/*!
 * ChunkedSource (src/core/workers.ts) with a scripted pool in place of worker threads: part tallies come
 * out in file order whatever order the ranges answer in, and a range that fails stops the ranges
 * after it, never the ones before it. A stream's blocks: the format order waits for the first,
 * buffers go back to the feed, and a stop keeps every block read already. And a worker started
 * early (core/worker-start.ts): the first real pool takes it, and one never taken lets the process end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PartTally } from '../src/core/part.js';
import { DEFAULT_CAPS } from '../src/core/tally.js';
import { prestartWorker, takePrestarted } from '../src/core/worker-start.js';
import { ChunkedSource, FileRanges, WorkerPool, formatSpec, type ChunkTask, type WorkerReply } from '../src/core/workers.js';
import { compilePreset, findPreset, type Preset } from '../src/format/presets.js';

/** Runs nothing: the test answers for each range; a cancelled range's later answers go unheard, as in WorkerPool. */
class ScriptedPool {
  readonly jobs: { task: Omit<ChunkTask, 'id'>; reply: (r: WorkerReply) => void; cancelled: boolean }[] = [];

  run(task: Omit<ChunkTask, 'id'>, onReply: (r: WorkerReply) => void): number {
    const id = this.jobs.length;
    const job = { task, cancelled: false, reply: (r: WorkerReply): void => (job.cancelled ? undefined : onReply(r)) };
    this.jobs.push(job);
    return id;
  }

  cancel(id: number): void {
    const job = this.jobs[id];
    if (job) job.cancelled = true;
  }
}

/** A part's tally, told apart by its line count. */
function tally(tag: number): PartTally {
  const t = new PartTally();
  t.lines = tag;
  return t;
}

const RULES = { input: 0, gate: true, sinceMs: -Infinity, untilMs: Infinity, paneMs: 0, windowMs: 0, caps: DEFAULT_CAPS, keyTexts: false, textsByPlace: false };
const TASK = { file: 'f', formats: [], wsPaths: { source: 'x', flags: '' }, rules: (first: boolean) => ({ ...RULES, gate: first }) };

function drain(s: ChunkedSource): number[] {
  const out: number[] = [];
  for (let t = s.next(); t !== null; t = s.next()) out.push(t.lines);
  return out;
}

test('part tallies come out in range order, whichever range answers first', () => {
  const pool = new ScriptedPool();
  const s = new ChunkedSource(pool as unknown as WorkerPool, new FileRanges(new Float64Array([10, 20])), TASK, [], 2, () => {});
  const [r0, r1] = pool.jobs;
  r1?.reply({ type: 'part', id: 1, tally: tally(21) });
  r1?.reply({ type: 'end', id: 1 });
  assert.deepEqual(drain(s), []);
  r0?.reply({ type: 'part', id: 0, tally: tally(11) });
  r0?.reply({ type: 'end', id: 0 });
  assert.deepEqual(drain(s), [11, 21]);
  assert.equal(s.ended, true);
  assert.equal(s.error, null);
});

test('a later range that fails leaves the earlier one running: its lines come first, then the error ends the input', () => {
  const pool = new ScriptedPool();
  const ranges = new Float64Array([10, 20, 30]);
  const s = new ChunkedSource(pool as unknown as WorkerPool, new FileRanges(ranges), TASK, [], 3, () => {});
  const [r0, r1, r2] = pool.jobs;
  r1?.reply({ type: 'part', id: 1, tally: tally(21) });
  r1?.reply({ type: 'error', id: 1, message: 'read failed', code: 'EIO' });
  assert.equal(r2?.cancelled, true, 'the range after the failed one is dropped');
  assert.equal(r0?.cancelled, false, 'the range before it is not');
  r0?.reply({ type: 'part', id: 0, tally: tally(11) });
  r0?.reply({ type: 'end', id: 0 });
  assert.deepEqual(drain(s), [11, 21]);
  assert.equal(s.ended, true);
  assert.equal(s.error?.message, 'read failed');
});

test('stopReading keeps what the range being read has sent and drops the rest', () => {
  const pool = new ScriptedPool();
  const s = new ChunkedSource(pool as unknown as WorkerPool, new FileRanges(new Float64Array([10, 20])), TASK, [], 2, () => {});
  const [r0, r1] = pool.jobs;
  r0?.reply({ type: 'part', id: 0, tally: tally(11) });
  r1?.reply({ type: 'part', id: 1, tally: tally(21) });
  s.stopReading();
  r0?.reply({ type: 'part', id: 0, tally: tally(12) });
  assert.deepEqual(drain(s), [11]);
  assert.equal(s.ended, true);
});

/** A stream's blocks as the test hands them out; stopReading keeps them, as StreamBlocks does. */
class ScriptedBlocks {
  readonly ready: { data: SharedArrayBuffer; bytes: number; inputBytes: number }[] = [];
  finished = false;
  error: Error | null = null;
  readonly recycled: SharedArrayBuffer[] = [];

  get drained(): boolean {
    return this.finished && this.ready.length === 0;
  }

  add(text: string): void {
    const data = new SharedArrayBuffer(Buffer.byteLength(text));
    Buffer.from(data).write(text);
    this.ready.push({ data, bytes: data.byteLength, inputBytes: 0 });
  }

  take(): (typeof this.ready)[number] | null {
    return this.ready.shift() ?? null;
  }

  peek(): (typeof this.ready)[number] | null {
    return this.ready[0] ?? null;
  }

  stop(): void {
    this.finished = true;
    this.ready.length = 0;
  }

  stopReading(): boolean {
    this.finished = true;
    return true;
  }

  recycle(data: SharedArrayBuffer): void {
    this.recycled.push(data);
  }
}

test('a stream: the format order waits for its first block, and every block is scanned with it', () => {
  const pool = new ScriptedPool();
  const blocks = new ScriptedBlocks();
  const seen: string[] = [];
  const s = new ChunkedSource(pool as unknown as WorkerPool, blocks, TASK, (first) => {
    seen.push(first !== null && 'data' in first ? Buffer.from(first.data).toString() : 'none');
    return [1, 0];
  }, 1, () => {});
  assert.equal(drain(s).length, 0);
  assert.equal(pool.jobs.length, 0, 'nothing is launched before the order is known');
  blocks.add('a\nb\n');
  blocks.add('c\n');
  blocks.add('d\n');
  assert.deepEqual(drain(s), []);
  assert.deepEqual(seen, ['a\nb\n']);
  assert.equal(pool.jobs.length, 2, 'one block scanned, one launched ahead');
  assert.deepEqual(pool.jobs.map((j) => j.task.order), [[1, 0], [1, 0]]);
  const first = tally(1);
  pool.jobs[0]?.reply({ type: 'part', id: 0, tally: first });
  pool.jobs[0]?.reply({ type: 'end', id: 0, data: new SharedArrayBuffer(8) });
  assert.deepEqual(drain(s), [1]);
  assert.equal(blocks.recycled.length, 0, "a block's buffer stays with its part until the part is merged");
  first.release();
  assert.equal(blocks.recycled.length, 1, 'then it goes back to the feed');
  assert.equal(pool.jobs.length, 3);
  blocks.finished = true;
  pool.jobs[1]?.reply({ type: 'end', id: 1 });
  pool.jobs[2]?.reply({ type: 'part', id: 2, tally: tally(3) });
  pool.jobs[2]?.reply({ type: 'end', id: 2 });
  assert.deepEqual(drain(s), [3]);
  assert.equal(s.ended, true);
  assert.deepEqual(seen, ['a\nb\n'], 'the order is chosen once');
});

test('a stream that is stopped (Ctrl-C): the blocks read already are still scanned, nothing is dropped', () => {
  const pool = new ScriptedPool();
  const blocks = new ScriptedBlocks();
  blocks.add('a\n');
  blocks.add('b\n');
  blocks.add('c\n');
  const s = new ChunkedSource(pool as unknown as WorkerPool, blocks, TASK, [0], 1, () => {});
  assert.equal(pool.jobs.length, 2);
  s.stopReading();
  for (const [i, job] of pool.jobs.entries()) {
    job.reply({ type: 'part', id: i, tally: tally(10 + i) });
    job.reply({ type: 'end', id: i });
  }
  assert.deepEqual(drain(s), [10, 11]);
  const last = pool.jobs[2];
  assert.ok(last, 'the third block is launched after the first two');
  last.reply({ type: 'part', id: 2, tally: tally(12) });
  last.reply({ type: 'end', id: 2 });
  assert.deepEqual(drain(s), [12]);
  assert.equal(s.ended, true);
  assert.equal(pool.jobs.filter((j) => j.cancelled).length, 0);
});

test('an empty stream: the order is chosen with no block, and the source ends', () => {
  const pool = new ScriptedPool();
  const blocks = new ScriptedBlocks();
  let chosen = 0;
  const s = new ChunkedSource(pool as unknown as WorkerPool, blocks, TASK, (first) => {
    chosen++;
    assert.equal(first, null);
    return [0];
  }, 2, () => {});
  assert.equal(s.ended, false);
  blocks.finished = true;
  assert.deepEqual(drain(s), []);
  assert.equal(s.ended, true);
  assert.equal(chosen, 1);
  assert.equal(pool.jobs.length, 0);
});

test('a prestarted worker never taken does not keep the process alive', () => {
  const start = new URL('../src/core/worker-start.ts', import.meta.url).href;
  const code = `const m = await import(${JSON.stringify(start)}); m.prestartWorker();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { timeout: 30_000, encoding: 'utf8' });
  assert.equal(r.signal, null, 'the process was still running at the timeout');
  assert.equal(r.status, 0, r.stderr);
});

test('the first pool reads its parts on the prestarted worker instead of starting another', async () => {
  prestartWorker();
  // Give it time to say it is ready, so the pool takes a worker that is ready already.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const pool = new WorkerPool(1);
  try {
    const file = fileURLToPath(new URL('../fixtures/incident/front.log', import.meta.url));
    const format = compilePreset(findPreset('upstream') as Preset);
    const lines = await new Promise<number>((resolve, reject) => {
      let n = -1;
      pool.run({ file, part: { start: 0, end: statSync(file).size, inputBytes: 0 }, formats: [formatSpec(format)], order: [0], wsPaths: { source: '^/ws', flags: '' }, rules: RULES }, (r) => {
        if (r.type === 'part') n = r.tally.lines;
        else if (r.type === 'end') resolve(n);
        else reject(new Error(r.message));
      });
    });
    assert.equal(lines, readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length);
    assert.equal(takePrestarted(), null, 'the prestarted worker was left waiting');
  } finally {
    await pool.close();
  }
});
