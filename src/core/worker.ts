/*!
 * A worker thread's side of reading in parallel: takes one part of an input at a time and posts
 * its tally (core/workers.ts runTask: the same work this thread would do with one thread), then
 * its end; says it is ready first. Knows nothing of other parts or inputs; core/workers.ts drives it.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { runTask, type ChunkTask } from './workers.js';
import { WORKER_READY } from './worker-start.js';

if (parentPort === null) throw new Error('core/worker.js runs as a worker thread');
const port: MessagePort = parentPort;

port.on('message', (task: ChunkTask) => runTask(task, (reply) => port.postMessage(reply)));
port.postMessage(WORKER_READY);
