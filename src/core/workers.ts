/*!
 * Where parts of inputs are read: a pool of worker threads (core/worker.ts), or this thread
 * (InlinePool, for one thread and small files), each reading one part at a time (a byte range of
 * a regular file, or a block of a stream's lines) into a PartTally (core/part.ts); and
 * ChunkedSource, which hands one input's part tallies to the pipeline in input order however the
 * parts finish. Parts are launched a few ahead of the one being taken, so memory is bounded by
 * those few parts' tallies, not by the input.
 */
import type { Worker } from 'node:worker_threads';
import { compileFormatString, type CompiledFormat, type Escape } from '../format/compile.js';
import { compileJsonFormat } from '../format/json-format.js';
import type { ByteRange } from '../input/chunks.js';
import { PartTally, readPart, type PartRules } from './part.js';
import { WORKER_READY, startWorker, takePrestarted } from './worker-start.js';

/** What a worker needs to compile a format again: CompiledFormats hold caches and do not cross threads. */
export type FormatSpec = { kind: 'template'; name: string; text: string; escape: Escape; assumedFrom?: number } | { kind: 'json'; name: string };

export function formatSpec(f: CompiledFormat): FormatSpec {
  if (f.kind === 'json') return { kind: 'json', name: f.name };
  return { kind: 'template', name: f.name, text: f.text, escape: f.escape, ...(f.assumedFrom === undefined ? {} : { assumedFrom: f.assumedFrom }) };
}

export function compileSpec(s: FormatSpec): CompiledFormat {
  return s.kind === 'json' ? compileJsonFormat(s.name) : compileFormatString(s.text, s.escape, s.name, { assumedFrom: s.assumedFrom });
}

/**
 * One part of an input: a byte range of a file, or a block of whole lines (the first `bytes` of
 * `data`, shared with the worker, which posts it back when done). `inputBytes`: how far into the input (on disk,
 * compressed) the part ends.
 */
export type Part = (ByteRange | { data: SharedArrayBuffer; bytes: number }) & { inputBytes: number };

/** Where a ChunkedSource's parts come from, in input order. */
export interface PartFeed {
  /** The next part, or null when none is ready (more may come unless `drained`). */
  take(): Part | null;
  /** The part take() would give, left in place. */
  peek(): Part | null;
  /** No part will come any more. */
  readonly drained: boolean;
  /** Why the input stopped early (the parts before it still count). */
  readonly error: Error | null;
  /** Takes no more parts. */
  stop(): void;
  /**
   * Reads no more of the input. True when what was read already must still come out as parts
   * (a stream cannot be read again); false when later parts may be dropped (a file's ranges).
   */
  stopReading(): boolean;
  /** A block's buffer, back from the worker that scanned it. */
  recycle?(data: SharedArrayBuffer): void;
}

/** A regular file's byte ranges as a PartFeed, from their ends (input/chunks.ts lineEnds). */
export class FileRanges implements PartFeed {
  readonly error = null;
  private at = 0;

  constructor(private readonly ends: Float64Array) {}

  get drained(): boolean {
    return this.at >= this.ends.length;
  }

  take(): Part | null {
    const p = this.peek();
    if (p !== null) this.at++;
    return p;
  }

  peek(): Part | null {
    const end = this.ends[this.at];
    return end === undefined ? null : { start: this.at === 0 ? 0 : (this.ends[this.at - 1] as number), end, inputBytes: end };
  }

  stop(): void {
    this.at = this.ends.length;
  }

  stopReading(): false {
    this.stop();
    return false;
  }
}

export interface ChunkTask {
  id: number;
  file: string;
  part: Part;
  formats: FormatSpec[];
  /** Indices into `formats`, in the order detection chose for this input. */
  order: number[];
  wsPaths: { source: string; flags: string };
  rules: PartRules;
}

/** A part's tally, then its end (with a block's buffer, to carry a later block) or the error that cut it short. */
export type WorkerReply =
  | { type: 'part'; id: number; tally: PartTally }
  | { type: 'end'; id: number; data?: SharedArrayBuffer }
  | { type: 'error'; id: number; message: string; code: string };

let compiledKey = '';
let compiled: CompiledFormat[] = [];

/**
 * Reads a task's part; the replies go to `post`, in order (the same in a worker thread and in this
 * one). A tally crosses threads as a copy, never transferred: moving an ArrayBuffer out detaches
 * it, and the first detach in a thread makes V8 throw away every optimized function that reads
 * typed arrays (the line reader, the generated matcher, …) and compile it again with a check for
 * it at every read. The bench's log took 0.934× the time with copies (20 pairs; CPU 0.921×).
 */
export function runTask(task: ChunkTask, post: (reply: WorkerReply) => void): void {
  const key = JSON.stringify(task.formats);
  if (key !== compiledKey) {
    compiled = task.formats.map(compileSpec);
    compiledKey = key;
  }
  const part = task.part;
  const where = 'data' in part ? { data: part.data, bytes: part.bytes } : { file: task.file, start: part.start, end: part.end };
  const { tally, error } = readPart(where, compiled, task.order, new RegExp(task.wsPaths.source, task.wsPaths.flags), task.rules);
  post({ type: 'part', id: task.id, tally });
  if (error !== null) post({ type: 'error', id: task.id, message: error.message, code: error.code ?? '' });
  else if ('data' in part) post({ type: 'end', id: task.id, data: part.data });
  else post({ type: 'end', id: task.id });
}

/** A part read with `panesLater`, read again in this thread, sliced by pane (its block still held). */
function rereadSliced(task: Omit<ChunkTask, 'id'>): PartTally {
  // Its panes as a part sliced as it is read has them: without the run's bucket width.
  const rules: PartRules = { ...task.rules, panesLater: false };
  delete rules.bucketSeconds;
  const replies: WorkerReply[] = [];
  runTask({ ...task, id: -1, rules }, (r) => replies.push(r));
  for (const r of replies) if (r.type === 'part') return r.tally;
  throw new Error('a part read again gave no tally');
}

/** What the pipeline runs parts on: worker threads, or this thread. */
export interface PartRunner {
  run(task: Omit<ChunkTask, 'id'>, onReply: (r: WorkerReply) => void): number;
  cancel(id: number): void;
  close(): Promise<void>;
}

interface Job {
  task: ChunkTask;
  onReply: (r: WorkerReply) => void;
}

/** A PartRunner's queue: parts numbered and queued, queued ones dropped; how they run is the subclass's. */
abstract class PartQueue implements PartRunner {
  protected readonly queue: Job[] = [];
  protected closed = false;
  private nextId = 0;

  /** Queues a part; `onReply` gets its tally, then one 'end' or 'error'. */
  run(task: Omit<ChunkTask, 'id'>, onReply: (r: WorkerReply) => void): number {
    const id = this.nextId++;
    this.queue.push({ task: { ...task, id }, onReply });
    this.start();
    return id;
  }

  /** Drops a queued part. */
  cancel(id: number): void {
    const i = this.queue.findIndex((j) => j.task.id === id);
    if (i >= 0) this.queue.splice(i, 1);
  }

  abstract close(): Promise<void>;

  /** Starts queued parts, as many as it can now. */
  protected abstract start(): void;
}

/**
 * Parts read in this thread, one per turn of the event loop (so a followed file's new lines and
 * signals are still heard between parts).
 */
export class InlinePool extends PartQueue {
  private scheduled = false;

  /** `onRead` runs after each part (WorkerPool, whose parts this thread also reads, gives the next then). */
  constructor(private readonly onRead?: () => void) {
    super();
  }

  /** A part is waiting for its turn of the event loop. */
  get busy(): boolean {
    return this.scheduled;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
  }

  /** Reads a part numbered elsewhere (WorkerPool's) at the next turn. */
  runJob(job: Job): void {
    this.queue.push(job);
    this.start();
  }

  protected start(): void {
    if (this.scheduled || this.closed || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const job = this.queue.shift();
      if (job !== undefined && !this.closed) runTask(job.task, (r) => job.onReply(r));
      this.start();
      this.onRead?.();
    });
  }
}

/**
 * Parts a worker is given at once: the next ones wait in its port while it reads one, so it does
 * not wait for this thread, which hands out parts only between its own and its merges. With one
 * waiting, the worker of a two-core run sat idle for 12–15 % of it, 6–7 % with two (the run
 * 0.966× the time, 20 pairs; the combined-ws log 0.959×, 14; a gzip file's 1.006×, 20); with
 * three waiting, this thread waited on the worker's parts to merge them in order (1.085× the
 * time of two).
 */
const WORKER_DEPTH = 3;

/**
 * Worker threads started on demand, up to `size`, each reading one part at a time with the next
 * ones waiting; and, with `here`, this thread too, between its turns of the event loop (one thread
 * fewer to start, and one isolate fewer in memory, for the same cores).
 */
export class WorkerPool extends PartQueue {
  private readonly workers: Worker[] = [];
  /**
   * Workers given parts: one started by the pool once it has loaded its modules (about 0.1 s,
   * while parts posted earlier would wait there and this thread, done with its own, wait for them
   * in turn); the prestarted one at once, as it began loading when the process did and is ready
   * about when this thread reads its first part (its parts waited for this thread to finish one
   * of its own when it said so: the bench's log took 0.97× the time, 10 pairs; an 8 MB log
   * 0.97×, 16 MB 0.98×, 64 MB 1.00×).
   */
  private readonly ready = new Set<Worker>();
  /** Each worker's parts, in the order posted (it answers them in that order). */
  private readonly running = new Map<Worker, Job[]>();
  private readonly here: InlinePool | null;

  constructor(private readonly size: number, here = false) {
    super();
    this.here = here ? new InlinePool(() => this.start()) : null;
  }

  /** Drops a queued part; one already given to a worker finishes unheard. */
  override cancel(id: number): void {
    super.cancel(id);
    this.here?.cancel(id);
    for (const jobs of this.running.values()) for (const job of jobs) if (job.task.id === id) job.onReply = () => {};
  }

  /** Stops every worker; call once when the pipeline is done. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.here?.close();
    const all = this.workers.splice(0);
    this.ready.clear();
    this.running.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  protected start(): void {
    while (!this.closed && this.queue.length > 0) {
      const w = this.withRoom();
      if (w === null) break;
      const job = this.queue.shift() as Job;
      (this.running.get(w) as Job[]).push(job);
      w.postMessage(job.task);
    }
    // This thread takes a part when every worker has its next ones waiting (WORKER_DEPTH).
    if (this.here !== null && !this.closed && !this.here.busy && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.here.runJob(job);
    }
  }

  /**
   * A ready worker with room for a part, the least busy; a new one is started while none is idle
   * and the pool may grow (it takes parts once ready).
   */
  private withRoom(): Worker | null {
    let best: Worker | null = null;
    let least = WORKER_DEPTH;
    for (const w of this.ready) {
      const n = (this.running.get(w) as Job[]).length;
      if (n < least) {
        best = w;
        least = n;
      }
    }
    if ((best === null || least > 0) && this.workers.length < this.size) {
      const w = this.spawn();
      if (this.ready.has(w)) return w;
    }
    return best;
  }

  /** A new worker: the prestarted one if there is one (given parts at once), else one started now. */
  private spawn(): Worker {
    const early = takePrestarted();
    const w = early ?? startWorker();
    w.ref();
    this.workers.push(w);
    this.running.set(w, []);
    if (early !== null) this.ready.add(w);
    w.on('message', (r: WorkerReply | typeof WORKER_READY) => {
      if (r === WORKER_READY) {
        this.ready.add(w);
        this.start();
        return;
      }
      const jobs = this.running.get(w);
      const job = jobs?.[0];
      if (jobs === undefined || job === undefined || job.task.id !== r.id) return;
      if (r.type !== 'part') jobs.shift();
      job.onReply(r.type === 'part' ? { ...r, tally: PartTally.revive(r.tally) } : r);
      if (r.type !== 'part') this.start();
    });
    w.on('error', (err) => {
      // A worker that died takes its parts with it: their inputs end with the error.
      const jobs = this.running.get(w) ?? [];
      this.running.delete(w);
      this.ready.delete(w);
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
      for (const job of jobs) job.onReply({ type: 'error', id: job.task.id, message: err.message, code: (err as NodeJS.ErrnoException).code ?? '' });
      this.start();
    });
    return w;
  }
}

interface Pending {
  id: number;
  part: Part;
  tallies: PartTally[];
  done: boolean;
  /** A tally holds the part's block (PartTally.release gives it back). */
  holdsBlock: boolean;
}

/** The task of every part of one input; `order` may wait for the input's first part (see ChunkedSource). */
export type InputTask = Omit<ChunkTask, 'id' | 'part' | 'order' | 'rules'> & {
  /** The rules of the input's next part, made as it is launched (`first`: the input's first part). */
  rules: (first: boolean) => PartRules;
};

/** Where the pipeline takes an input's part tallies from, in input order. */
export interface PartSource {
  /** The next part's tally, or null when none is ready; onChange runs when one is. */
  next(): PartTally | null;
  /** No tally will come any more (end of input, error, or close()). */
  readonly ended: boolean;
  readonly error: Error | null;
  /** Input bytes (compressed, for gzip) read and tallied so far. */
  bytesRead(): number;
  /** Stops reading; tallies not yet taken are dropped. */
  close(): void;
  /** Stops reading; what was read already still comes out of next(). */
  stopReading(): void;
}

/** One input read in parts by a pool; its part tallies come out in input order. */
export class ChunkedSource implements PartSource {
  ended = false;
  error: Error | null = null;
  private readonly pending: Pending[] = [];
  private consumed = 0;
  private launched = 0;

  /**
   * `order`: the format order of every part, or how to choose it from the input's first part
   * (called once, with null for an input without a byte). `ahead`: parts launched beyond the one
   * being read. `onChange` runs when a part's tally or the end arrives.
   */
  constructor(
    private readonly pool: PartRunner,
    private readonly feed: PartFeed,
    private readonly task: InputTask,
    private order: number[] | ((first: Part | null) => number[]),
    private readonly ahead: number,
    private readonly onChange: () => void,
  ) {
    this.launch();
  }

  next(): PartTally | null {
    for (;;) {
      this.launch();
      const head = this.pending[0];
      if (this.ended || head === undefined) return null;
      const t = head.tallies.shift();
      if (t !== undefined) return t;
      if (!head.done) return null;
      this.pending.shift();
      this.consumed = head.part.inputBytes;
    }
  }

  bytesRead(): number {
    return this.consumed;
  }

  close(): void {
    this.ended = true;
    for (const p of this.pending) this.pool.cancel(p.id);
    this.pending.length = 0;
    this.feed.stop();
  }

  /**
   * A stream's parts read already all come out; of a file's, the part being read if it has
   * arrived, and no later part.
   */
  stopReading(): void {
    const keep = this.feed.stopReading();
    const head = this.pending[0];
    if (!keep && head !== undefined) {
      this.pool.cancel(head.id);
      head.done = true;
      this.dropAfter(head);
    }
    this.launch();
    this.onChange();
  }

  /** Reads nothing after part `p`: later parts are cancelled and none is taken any more. */
  private dropAfter(p: Pending): void {
    this.feed.stop();
    for (const q of this.pending.splice(this.pending.indexOf(p) + 1)) this.pool.cancel(q.id);
  }

  /** Launches parts while there is room; ends the source when the feed and the parts are done. */
  private launch(): void {
    if (this.ended) return;
    if (typeof this.order === 'function') {
      const first = this.feed.peek();
      if (first === null && !this.feed.drained) return;
      this.order = this.order(first);
    }
    const order = this.order;
    while (this.pending.length <= this.ahead) {
      const part = this.feed.take();
      if (part === null) break;
      const p: Pending = { id: -1, part, tallies: [], done: false, holdsBlock: false };
      const task = { ...this.task, rules: this.task.rules(this.launched++ === 0), order, part };
      p.id = this.pool.run(task, (r) => this.reply(p, r, task));
      this.pending.push(p);
    }
    if (this.pending.length === 0 && this.feed.drained) {
      this.ended = true;
      this.error ??= this.feed.error;
    }
  }

  private reply(p: Pending, r: WorkerReply, task: Omit<ChunkTask, 'id'>): void {
    if (r.type === 'part') {
      const part = p.part;
      // A block's part keeps its lines as places in the block: the block goes back to be cut into
      // again once the part is merged (PartTally.release), not when the part is read.
      if ('data' in part) {
        r.tally.block = Buffer.from(part.data, 0, part.bytes);
        r.tally.recycle = () => this.feed.recycle?.(part.data);
        p.holdsBlock = true;
        if (task.rules.panesLater === true) r.tally.reread = () => rereadSliced(task);
      }
      p.tallies.push(r.tally);
    } else if (r.type === 'end') {
      p.done = true;
      if (r.data !== undefined && !p.holdsBlock) this.feed.recycle?.(r.data);
    }
    else {
      // Lines before the error were analysed; the rest of the input is not read.
      // Parts before it go on: their lines come first.
      p.done = true;
      this.error = Object.assign(new Error(r.message), { code: r.code });
      this.dropAfter(p);
    }
    this.onChange();
  }
}
