/*!
 * A gzip file's blocks of whole lines, gunzipped in a thread of its own (input/gunzip-worker.ts)
 * and handed on in order, as StreamBlocks hands on a stream's (the same PartFeed to
 * core/workers.ts ChunkedSource). Driven from the thread that merges tallies (and reads parts
 * too), zlib's callbacks and the copies into blocks held up that thread's parts while a worker
 * waited for them, and the buffers zlib hands out made it collect its heap in full every 15 MB;
 * that thread now only takes the blocks as messages. A block or two is asked for ahead of
 * the ones taken, so memory stays a few blocks whatever the file's length.
 */
import type { Worker } from 'node:worker_threads';
import { AnalyzerError, type ErrorCode } from '../errors.js';
import { startThread } from '../thread.js';
import type { Block } from './blocks.js';

/** What the thread is started with. */
export interface GunzipStart {
  path: string;
  blockBytes: number;
}

/** To the gunzip thread: send `blocks` more; cut into this buffer again; read no more (what was read still comes). */
export type GunzipRequest = { type: 'more'; blocks: number } | { type: 'recycle'; data: SharedArrayBuffer } | { type: 'stop-reading' };

/** From it: a block, then one end (with what stopped the stream early, if anything did). */
export type GunzipReply =
  | { type: 'block'; block: Block }
  | { type: 'end'; error: { message: string; code: string; analyzer: boolean } | null };

/** Blocks asked for or waiting here, beyond the ones taken. */
const AHEAD = 2;

/** The thread's module beside this one: input/gunzip-worker.js, or dist/gunzip-worker.js beside the command's bundle. */
const WORKER_URL = new URL('./gunzip-worker.js', import.meta.url);

export class GunzipThread {
  error: Error | null = null;
  private finished = false;
  private readonly ready: Block[] = [];
  private asked = 0;
  private readonly worker: Worker;

  /** `name`: the input as the user named it, for errors; `onChange` runs when a block arrives and at the end. */
  constructor(name: string, path: string, blockBytes: number, private readonly onChange: () => void) {
    const start: GunzipStart = { path, blockBytes };
    this.worker = startThread(WORKER_URL, { workerData: start, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.on('message', (r: GunzipReply) => {
      if (r.type === 'block') {
        this.asked--;
        this.ready.push(r.block);
      } else {
        const e = r.error;
        this.finish(e === null ? null
          : e.analyzer ? new AnalyzerError(e.code as ErrorCode, e.message, { file: name })
          : Object.assign(new Error(e.message), { code: e.code }));
      }
      this.onChange();
    });
    // A thread that died or stopped before its end takes the rest of the file with it.
    const died = (why: string, cause?: Error): void => {
      if (this.finished) return;
      this.finish(new AnalyzerError('INPUT_UNREADABLE', `${name}: gunzipping stopped (${why})`, { file: name }, { cause }));
      this.onChange();
    };
    this.worker.on('error', (err) => died(err.message, err));
    this.worker.on('exit', (code) => died(`its thread exited with code ${code}`));
    this.ask();
  }

  /** No block will come any more and none waits. */
  get drained(): boolean {
    return this.finished && this.ready.length === 0;
  }

  take(): Block | null {
    const b = this.ready.shift() ?? null;
    this.ask();
    return b;
  }

  peek(): Block | null {
    return this.ready[0] ?? null;
  }

  /** A block's buffer back from the reader that scanned it, for the thread to cut into again. */
  recycle(data: SharedArrayBuffer): void {
    if (!this.finished) this.worker.postMessage({ type: 'recycle', data } satisfies GunzipRequest);
  }

  /** Reads no more; blocks not taken are dropped. */
  stop(): void {
    this.ready.length = 0;
    this.finish(this.error);
  }

  /** Reads no more, but the whole lines read already still come (a stream cannot be read again). */
  stopReading(): true {
    if (!this.finished) this.worker.postMessage({ type: 'stop-reading' } satisfies GunzipRequest);
    return true;
  }

  private ask(): void {
    const n = AHEAD - this.ready.length - this.asked;
    if (n <= 0 || this.finished) return;
    this.asked += n;
    this.worker.postMessage({ type: 'more', blocks: n } satisfies GunzipRequest);
  }

  private finish(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    void this.worker.terminate();
  }
}
