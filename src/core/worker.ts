/*!
 * A worker thread's side of parallel reading: reads one byte range of a file at a time, splits
 * it into lines with split2, scans them (core/scan.ts) and posts the batches, in order, with
 * their arrays transferred. Knows nothing of other ranges or inputs; core/workers.ts drives it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, type MessagePort } from 'node:worker_threads';
import split2 from 'split2';
import { LineCapper } from '../input/line-cap.js';
import { Classifier } from './classify.js';
import { LineScanner, BATCH_LINES, batchBuffers, newBatch, type Batch } from './scan.js';
import { compileSpec, type ChunkTask, type WorkerReply } from './workers.js';
import type { CompiledFormat } from '../format/compile.js';

if (parentPort === null) throw new Error('core/worker.js runs as a worker thread');
const port: MessagePort = parentPort;

const READ_BYTES = 1 << 16;

let formatsKey = '';
let formats: CompiledFormat[] = [];

function run(task: ChunkTask): void {
  const key = JSON.stringify(task.formats);
  if (key !== formatsKey) {
    formats = task.formats.map(compileSpec);
    formatsKey = key;
  }
  const scanner = new LineScanner(formats, task.order, new Classifier(new RegExp(task.wsPaths.source, task.wsPaths.flags)), task.detail);
  let batch: Batch = newBatch();
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  const flush = (): void => {
    if (batch.length === 0) return;
    post({ type: 'batch', id: task.id, batch }, batchBuffers(batch));
    batch = newBatch();
  };
  // Synchronous reads: this thread has nothing else to do, and a read through the thread pool
  // left the worker idle a quarter of the time. split2 hands out a write's lines before write()
  // returns, so nothing piles up. 64 KiB reads: 1 MiB ones doubled the system time.
  const lines = split2('\n');
  const capper = new LineCapper();
  lines.on('data', (line: string) => {
    scanner.scan(line, batch);
    if (batch.length === BATCH_LINES) flush();
  });
  let fd = -1;
  let at = task.start;
  try {
    fd = openSync(task.file, 'r');
    while (at < task.end) {
      const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, task.end - at));
      const n = readSync(fd, buf, 0, buf.length, at);
      if (n === 0) break;
      at += n;
      lines.write(capper.cut(n === buf.length ? buf : buf.subarray(0, n)));
    }
    lines.end();
  } catch (err) {
    flush();
    post({ type: 'error', id: task.id, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code ?? '' });
    return;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  lines.once('end', () => {
    flush();
    post({ type: 'end', id: task.id, bytes: at - task.start });
  });
}

port.on('message', (task: ChunkTask) => run(task));
