/*!
 * A worker thread's side of parallel scanning: takes one part of an input at a time (reads a byte
 * range of a file, or is handed a block of a stream's lines), splits it into lines with split2,
 * scans them (core/scan.ts) and posts the batches, in order, with their arrays transferred.
 * Knows nothing of other parts or inputs; core/workers.ts drives it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, type MessagePort } from 'node:worker_threads';
import split2 from 'split2';
import { LineCapper } from '../input/line-cap.js';
import { Classifier } from './classify.js';
import { LineScanner, BATCH_CHARS, BATCH_LINES, batchBuffers, newBatch, type Batch } from './scan.js';
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
  const scanner = new LineScanner(formats, task.order, new Classifier(new RegExp(task.wsPaths.source, task.wsPaths.flags)));
  let batch: Batch = newBatch();
  let chars = 0;
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  const flush = (): void => {
    if (batch.length === 0) return;
    post({ type: 'batch', id: task.id, batch }, batchBuffers(batch));
    batch = newBatch();
    chars = 0;
  };
  // Synchronous reads: this thread has nothing else to do, and a read through the thread pool
  // left the worker idle a quarter of the time. split2 hands out a write's lines before write()
  // returns, so nothing piles up. 64 KiB reads: 1 MiB ones doubled the system time.
  const lines = split2('\n');
  const capper = new LineCapper();
  lines.on('data', (line: string) => {
    scanner.scan(line, batch);
    chars += line.length;
    if (batch.length === BATCH_LINES || chars >= BATCH_CHARS) flush();
  });
  const part = task.part;
  lines.once('end', () => {
    flush();
    // A block's buffer goes back, to carry a later block.
    if ('data' in part) post({ type: 'end', id: task.id, data: part.data }, [part.data]);
    else post({ type: 'end', id: task.id });
  });
  if ('data' in part) {
    // A block of whole lines, cut to length by the main thread already. Written in reads' sizes:
    // a block-sized string would go to V8's large-object space, freed only by full collections.
    const block = Buffer.from(part.data, 0, part.bytes);
    for (let at = 0; at < block.length; at += READ_BYTES) lines.write(block.subarray(at, at + READ_BYTES));
    lines.end();
    return;
  }
  let fd = -1;
  try {
    fd = openSync(task.file, 'r');
    // One buffer for every read: split2 decodes a write's bytes before write() returns.
    const buf = Buffer.allocUnsafe(READ_BYTES);
    for (let at = part.start; at < part.end;) {
      const n = readSync(fd, buf, 0, Math.min(READ_BYTES, part.end - at), at);
      if (n === 0) break;
      at += n;
      lines.write(capper.cut(buf.subarray(0, n)));
    }
    lines.end();
  } catch (err) {
    lines.removeAllListeners('end');
    flush();
    post({ type: 'error', id: task.id, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code ?? '' });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

port.on('message', (task: ChunkTask) => run(task));
