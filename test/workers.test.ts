/*!
 * ChunkedSource (src/core/workers.ts) with a scripted pool in place of worker threads: batches come
 * out in file order whatever order the ranges answer in, and a range that fails stops the ranges
 * after it, never the ones before it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { newBatch, type Batch } from '../src/core/scan.js';
import { ChunkedSource, type ChunkTask, type WorkerPool, type WorkerReply } from '../src/core/workers.js';

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

function batch(tag: number): Batch {
  const b = newBatch();
  b.length = tag;
  return b;
}

const TASK = { file: 'f', formats: [], order: [], wsPaths: { source: 'x', flags: '' }, detail: false };

function drain(s: ChunkedSource): number[] {
  const out: number[] = [];
  for (let b = s.next(); b !== null; b = s.next()) out.push(b.length);
  return out;
}

test('batches come out in range order, whichever range answers first', () => {
  const pool = new ScriptedPool();
  const s = new ChunkedSource(pool as unknown as WorkerPool, [{ start: 0, end: 10 }, { start: 10, end: 20 }], TASK, 2, () => {});
  const [r0, r1] = pool.jobs;
  r1?.reply({ type: 'batch', id: 1, batch: batch(21) });
  r1?.reply({ type: 'end', id: 1, bytes: 10 });
  assert.deepEqual(drain(s), []);
  r0?.reply({ type: 'batch', id: 0, batch: batch(11) });
  r0?.reply({ type: 'end', id: 0, bytes: 10 });
  assert.deepEqual(drain(s), [11, 21]);
  assert.equal(s.ended, true);
  assert.equal(s.error, null);
});

test('a later range that fails leaves the earlier one running: its lines come first, then the error ends the input', () => {
  const pool = new ScriptedPool();
  const ranges = [{ start: 0, end: 10 }, { start: 10, end: 20 }, { start: 20, end: 30 }];
  const s = new ChunkedSource(pool as unknown as WorkerPool, ranges, TASK, 3, () => {});
  const [r0, r1, r2] = pool.jobs;
  r1?.reply({ type: 'batch', id: 1, batch: batch(21) });
  r1?.reply({ type: 'error', id: 1, message: 'read failed', code: 'EIO' });
  assert.equal(r2?.cancelled, true, 'the range after the failed one is dropped');
  assert.equal(r0?.cancelled, false, 'the range before it is not');
  r0?.reply({ type: 'batch', id: 0, batch: batch(11) });
  r0?.reply({ type: 'end', id: 0, bytes: 10 });
  assert.deepEqual(drain(s), [11, 21]);
  assert.equal(s.ended, true);
  assert.equal(s.error?.message, 'read failed');
});

test('stopReading keeps what the range being read has sent and drops the rest', () => {
  const pool = new ScriptedPool();
  const s = new ChunkedSource(pool as unknown as WorkerPool, [{ start: 0, end: 10 }, { start: 10, end: 20 }], TASK, 2, () => {});
  const [r0, r1] = pool.jobs;
  r0?.reply({ type: 'batch', id: 0, batch: batch(11) });
  r1?.reply({ type: 'batch', id: 1, batch: batch(21) });
  s.stopReading();
  r0?.reply({ type: 'batch', id: 0, batch: batch(12) });
  assert.deepEqual(drain(s), [11]);
  assert.equal(s.ended, true);
});
