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

/** One empty array of each kind, put where a posted tally's arrays were. */
const EMPTIES = new Map<unknown, ArrayBufferView>();

function emptyLike(a: ArrayBufferView): ArrayBufferView {
  const kind = Buffer.isBuffer(a) ? Buffer : (a.constructor as new (n: number) => ArrayBufferView);
  let e = EMPTIES.get(kind);
  if (e === undefined) EMPTIES.set(kind, (e = kind === Buffer ? Buffer.alloc(0) : new kind(0)));
  return e;
}

/**
 * Lets go of every typed array a posted tally holds (postMessage copied them; runTask says why a
 * copy): by the end of a part its objects are old, and a young collection keeps whatever old
 * objects point to, dead or not, so the copies left here lived on until this thread's next full
 * collection (two tiers of 1.3M keyed lines peaked at 150 MB instead of 142). Each array is
 * replaced by an empty one of its kind, so that no field changes its type; arrays are only
 * unhooked, never written, so the few constants a tally shares with the next (an empty arena,
 * its caps) stay as they are.
 */
function letGo(o: object, seen = new Set<object>()): void {
  if (seen.has(o)) return;
  seen.add(o);
  if (o instanceof Map) {
    for (const v of o.values()) if (v !== null && typeof v === 'object') letGo(v, seen);
    return;
  }
  const fields = o as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (ArrayBuffer.isView(v)) fields[k] = emptyLike(v);
    else if (v !== null && typeof v === 'object') letGo(v, seen);
  }
}

port.on('message', (task: ChunkTask) => runTask(task, (reply) => {
  port.postMessage(reply);
  if (reply.type === 'part') letGo(reply.tally);
}));
port.postMessage(WORKER_READY);
