/*!
 * Parallel reading of large regular files: a pool of worker threads (core/worker.ts), each
 * scanning one byte range at a time, and ChunkedSource, which hands one input's batches to the
 * pipeline in file order however the ranges finish. Ranges are launched a few ahead of the one
 * being read, so memory is bounded by those few ranges' batches, not by the file.
 */
import { Worker } from 'node:worker_threads';
import { compileFormatString, type CompiledFormat, type Escape } from '../format/compile.js';
import { compileJsonFormat } from '../format/json-format.js';
import type { ByteRange } from '../input/chunks.js';
import type { Batch, BatchSource } from './scan.js';

/** What a worker needs to compile a format again: CompiledFormats hold caches and do not cross threads. */
export type FormatSpec = { kind: 'template'; name: string; text: string; escape: Escape } | { kind: 'json'; name: string };

export function formatSpec(f: CompiledFormat): FormatSpec {
  return f.kind === 'json' ? { kind: 'json', name: f.name } : { kind: 'template', name: f.name, text: f.text, escape: f.escape };
}

export function compileSpec(s: FormatSpec): CompiledFormat {
  return s.kind === 'json' ? compileJsonFormat(s.name) : compileFormatString(s.text, s.escape, s.name);
}

export interface ChunkTask {
  id: number;
  file: string;
  start: number;
  end: number;
  formats: FormatSpec[];
  /** Indices into `formats`, in the order detection chose for this input. */
  order: number[];
  wsPaths: { source: string; flags: string };
  /** Ship each handshake's $upstream_addr too (core/scan.ts LineScanner). */
  detail: boolean;
}

export type WorkerReply =
  | { type: 'batch'; id: number; batch: Batch }
  | { type: 'end'; id: number; bytes: number }
  | { type: 'error'; id: number; message: string; code: string };

interface Job {
  task: ChunkTask;
  onReply: (r: WorkerReply) => void;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url);

/** Run from the TypeScript sources (the tests, under tsx), a worker must register tsx itself first. */
function startWorker(): Worker {
  const options = { resourceLimits: { maxYoungGenerationSizeMb: 16 } };
  if (!FROM_SOURCE) return new Worker(WORKER_URL, options);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/** Worker threads started on demand, up to `size`, each running one range at a time. */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private started = 0;
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number) {}

  /** Queues a range; `onReply` gets its batches in order, then one 'end' or 'error'. */
  run(task: Omit<ChunkTask, 'id'>, onReply: (r: WorkerReply) => void): number {
    const id = this.nextId++;
    this.queue.push({ task: { ...task, id }, onReply });
    this.dispatch();
    return id;
  }

  /** Drops a queued range; one already running finishes unheard. */
  cancel(id: number): void {
    const i = this.queue.findIndex((j) => j.task.id === id);
    if (i >= 0) this.queue.splice(i, 1);
    for (const job of this.running.values()) if (job.task.id === id) job.onReply = () => {};
  }

  /** Stops every worker; call once when the pipeline is done. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    const all = [...this.idle, ...this.running.keys()];
    this.idle.length = 0;
    this.running.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (!this.closed && this.queue.length > 0) {
      let w = this.idle.pop();
      if (w === undefined) {
        if (this.started >= this.size) return;
        w = this.spawn();
      }
      const job = this.queue.shift() as Job;
      this.running.set(w, job);
      w.postMessage(job.task);
    }
  }

  private spawn(): Worker {
    this.started++;
    const w = startWorker();
    w.on('message', (r: WorkerReply) => {
      const job = this.running.get(w);
      if (job === undefined || job.task.id !== r.id) return;
      if (r.type !== 'batch') {
        this.running.delete(w);
        this.idle.push(w);
      }
      job.onReply(r);
      if (r.type !== 'batch') this.dispatch();
    });
    w.on('error', (err) => {
      // A worker that died takes its range with it: that input ends with the error.
      const job = this.running.get(w);
      this.running.delete(w);
      this.started--;
      job?.onReply({ type: 'error', id: job.task.id, message: err.message, code: (err as NodeJS.ErrnoException).code ?? '' });
      this.dispatch();
    });
    return w;
  }
}

interface Pending {
  id: number;
  range: ByteRange;
  batches: Batch[];
  done: boolean;
}

/** One input read as ranges by the pool; its batches come out in file order. */
export class ChunkedSource implements BatchSource {
  ended = false;
  error: Error | null = null;
  private readonly pending: Pending[] = [];
  private next_ = 0;
  private consumed = 0;

  /** `ahead`: ranges launched beyond the one being read. `onChange` runs when a batch or the end arrives. */
  constructor(
    private readonly pool: WorkerPool,
    private readonly ranges: readonly ByteRange[],
    private readonly task: Omit<ChunkTask, 'id' | 'start' | 'end'>,
    private readonly ahead: number,
    private readonly onChange: () => void,
  ) {
    this.launch();
    if (ranges.length === 0) this.ended = true;
  }

  next(): Batch | null {
    for (;;) {
      const head = this.pending[0];
      if (head === undefined || this.ended) return null;
      const b = head.batches.shift();
      if (b !== undefined) return b;
      if (!head.done) return null;
      this.pending.shift();
      this.consumed = head.range.end;
      if (this.pending.length === 0 && this.next_ >= this.ranges.length) this.ended = true;
      this.launch();
    }
  }

  bytesRead(): number {
    return this.consumed;
  }

  close(): void {
    this.ended = true;
    for (const p of this.pending) this.pool.cancel(p.id);
    this.pending.length = 0;
  }

  /** Keeps the batches of the range being read that have arrived; drops every later range. */
  stopReading(): void {
    const head = this.pending[0];
    if (head === undefined) {
      this.next_ = this.ranges.length;
      this.ended = true;
    } else {
      this.pool.cancel(head.id);
      head.done = true;
      this.dropAfter(head);
    }
    this.onChange();
  }

  /** Reads nothing after range `p`: later ranges are cancelled and none is launched any more. */
  private dropAfter(p: Pending): void {
    this.next_ = this.ranges.length;
    for (const q of this.pending.splice(this.pending.indexOf(p) + 1)) this.pool.cancel(q.id);
  }

  private launch(): void {
    while (!this.ended && this.next_ < this.ranges.length && this.pending.length <= this.ahead) {
      const range = this.ranges[this.next_++] as ByteRange;
      const p: Pending = { id: -1, range, batches: [], done: false };
      p.id = this.pool.run({ ...this.task, start: range.start, end: range.end }, (r) => this.reply(p, r));
      this.pending.push(p);
    }
  }

  private reply(p: Pending, r: WorkerReply): void {
    if (r.type === 'batch') p.batches.push(r.batch);
    else if (r.type === 'end') p.done = true;
    else {
      // Lines before the error were analysed; the rest of the file is not read.
      // Ranges before it go on: their lines come first.
      p.done = true;
      this.error = Object.assign(new Error(r.message), { code: r.code });
      this.dropAfter(p);
    }
    this.onChange();
  }
}
