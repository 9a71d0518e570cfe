/*!
 * A worker thread's side of parallel reading: reads one byte range of a file at a time, splits
 * it into lines with split2, scans them (core/scan.ts) and posts the batches, in order, with
 * their arrays transferred. Knows nothing of other ranges or inputs; core/workers.ts drives it.
 */
import { createReadStream } from 'node:fs';
import { parentPort, type MessagePort } from 'node:worker_threads';
import split2 from 'split2';
import { Classifier } from './classify.js';
import { LineScanner, BATCH_LINES, batchBuffers, newBatch, type Batch } from './scan.js';
import { compileSpec, type ChunkTask, type WorkerReply } from './workers.js';
import type { CompiledFormat } from '../format/compile.js';

if (parentPort === null) throw new Error('core/worker.js runs as a worker thread');
const port: MessagePort = parentPort;

let formatsKey = '';
let formats: CompiledFormat[] = [];

function run(task: ChunkTask): void {
  const key = JSON.stringify(task.formats);
  if (key !== formatsKey) {
    formats = task.formats.map(compileSpec);
    formatsKey = key;
  }
  const scanner = new LineScanner(formats, task.order, new Classifier(new RegExp(task.wsPaths.source, task.wsPaths.flags)));
  let batch: Batch = newBatch();
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  const flush = (): void => {
    if (batch.length === 0) return;
    post({ type: 'batch', id: task.id, batch }, batchBuffers(batch));
    batch = newBatch();
  };
  let failed = false;
  const fail = (err: NodeJS.ErrnoException): void => {
    if (failed) return;
    failed = true;
    flush();
    post({ type: 'error', id: task.id, message: err.message, code: err.code ?? '' });
  };
  const input = createReadStream(task.file, { start: task.start, end: task.end - 1, highWaterMark: 1 << 20 });
  const lines = split2('\n');
  input.on('error', fail);
  lines.on('error', fail);
  lines.on('data', (line: string) => {
    scanner.scan(line, batch);
    if (batch.length === BATCH_LINES) flush();
  });
  lines.on('end', () => {
    if (failed) return;
    flush();
    post({ type: 'end', id: task.id, bytes: input.bytesRead });
  });
  input.pipe(lines);
}

port.on('message', (task: ChunkTask) => run(task));
