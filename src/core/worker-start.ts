/*!
 * Starting the worker threads that read parts (core/worker.ts): as a pool asks (core/workers.ts),
 * or one prestarted by the command before it loads its own modules, which the first pool then
 * takes. Kept small: the command imports it before anything else.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../thread.js';

/** A worker's first message: its modules are loaded, and it takes parts from now on. */
export const WORKER_READY = 'ready';

/** Files smaller than this are read in the pipeline's own thread (a worker's start costs about as much). */
export const MIN_WORKER_BYTES = 4 << 20;

/** Beside this module: core/worker.js for the library, or the command's worker bundle dist/worker.js beside its dist/cli.js. */
const WORKER_URL = new URL('./worker.js', import.meta.url);

export function startWorker(): Worker {
  // A small young generation: a line's strings die young. 16 MB cost each worker about 40 MiB
  // more (a part's tally then lives in the young generation longer) for about 5 % less time.
  return startThread(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 6 } });
}

let early: Worker | null = null;

/**
 * Starts a worker now, for the first pool to take: a worker loads its modules in about 0.1 s,
 * which it then does on another core while this thread loads the command's. Until taken it does
 * not keep the process alive; one never taken ends with the process.
 */
export function prestartWorker(): void {
  if (early !== null) return;
  const w = startWorker();
  w.unref();
  w.once('error', () => {
    if (early === w) early = null;
  });
  early = w;
}

/** The prestarted worker, once (null if none was started or it died); the taker refs it and listens to it. */
export function takePrestarted(): Worker | null {
  const w = early;
  early = null;
  return w;
}
