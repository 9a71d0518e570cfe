/*!
 * Starting a worker thread from a module beside the caller's: its built `.js`, or, run from the
 * TypeScript sources (the tests, under tsx), its `.ts` with tsx registered in the thread first.
 * Every thread's start sets V8's flags back to the command line's, so the process's own are set
 * again once it is online (src/heap.ts).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { reassertHeapFlags } from './heap.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** `url`: the module's built file (`new URL('./x.js', import.meta.url)`); run from source, the `.ts` beside it. */
export function startThread(url: URL, options: WorkerOptions = {}): Worker {
  const href = FROM_SOURCE ? url.href.replace(/\.js$/, '.ts') : url.href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(href)}); });`;
  const w = FROM_SOURCE ? new Worker(boot, { ...options, eval: true }) : new Worker(url, options);
  w.once('online', reassertHeapFlags);
  return w;
}
