/*!
 * A stream's blocks of whole lines, read in a thread of its own (input/stream-worker.ts): a gzip
 * file gunzipped there, or standard input's pipe (gunzipped too if it is gzip); handed on in
 * order, as StreamBlocks hands on a stream's (the same PartFeed to core/workers.ts
 * ChunkedSource). Driven from the thread that merges tallies (and reads parts too), zlib's
 * callbacks and the copies into blocks held up that thread's parts while a worker waited for
 * them, and the buffers zlib hands out made it collect its heap in full every 15 MB; a pipe is
 * read only when that thread's loop comes round, 64 KiB a turn between its parts (the bench's log
 * piped in took twice the time of the file). That thread now only takes the blocks as messages.
 * A few blocks are asked for ahead of the ones taken (AHEAD_BYTES), so memory stays a few
 * blocks whatever the input's length.
 */
import type { Worker } from 'node:worker_threads';
import { AnalyzerError, type ErrorCode } from '../errors.js';
import { startThread } from '../thread.js';
import type { Block } from './blocks.js';

/** What the thread is started with: a gzip file's path, or the descriptor of a pipe (input/pipe.ts isPipe). */
export interface StreamStart {
  path?: string;
  fd?: number;
  blockBytes: number;
}

/** To the thread: send `blocks` more; cut into this buffer again; read no more (what was read still comes). */
export type StreamRequest = { type: 'more'; blocks: number } | { type: 'recycle'; data: SharedArrayBuffer } | { type: 'stop-reading' };

/** From it: how many gzip layers the input has once it is open, blocks, then one end (with what stopped the stream early, if anything did). */
export type StreamReply =
  | { type: 'opened'; gzipLayers: number }
  | { type: 'block'; block: Block }
  | { type: 'end'; error: { message: string; code: string; analyzer: boolean } | null };

/**
 * Bytes of blocks asked for or waiting here, beyond the ones taken (two blocks at least: a pipe's
 * 4 MiB ones). The thread that takes them turns its loop only between its parts and merges, tens
 * of ms apart, some cold ones a hundred: with two 2 MiB blocks of a gzip file ahead the gunzip
 * stood still while blocks waited to be heard. Against two, the bench's gzip file took 0.956× the
 * time with four (12 pairs; peak 167.5 against 161.0 MiB) and 0.958× with six (12 pairs; 181.1 MiB).
 */
const AHEAD_BYTES = 8 << 20;
/** And at most this many blocks, however small (`chunkBytes`): each is a buffer of a block's size and 1 MiB more. */
const MAX_AHEAD = 8;

/** The thread's module beside this one: input/stream-worker.js, or dist/stream-worker.js beside the command's bundle. */
const WORKER_URL = new URL('./stream-worker.js', import.meta.url);

export class StreamThread {
  error: Error | null = null;
  /** Gzip layers the input was found to have (0 until it is open). */
  gzipLayers = 0;
  private finished = false;
  private readonly ready: Block[] = [];
  private asked = 0;
  private readonly ahead: number;
  private readonly worker: Worker;

  /** `name`: the input as the user named it, for errors; `onChange` runs when a block arrives and at the end. */
  constructor(name: string, input: { path: string } | { fd: number }, blockBytes: number, private readonly onChange: () => void) {
    const start: StreamStart = { ...input, blockBytes };
    this.ahead = Math.min(MAX_AHEAD, Math.max(2, Math.floor(AHEAD_BYTES / blockBytes)));
    this.worker = startThread(WORKER_URL, { workerData: start, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.on('message', (r: StreamReply) => {
      if (r.type === 'opened') {
        this.gzipLayers = r.gzipLayers;
        return;
      }
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
      this.finish(new AnalyzerError('INPUT_UNREADABLE', `${name}: reading stopped (${why})`, { file: name }, { cause }));
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
    if (!this.finished) this.worker.postMessage({ type: 'recycle', data } satisfies StreamRequest);
  }

  /** Reads no more; blocks not taken are dropped. */
  stop(): void {
    this.ready.length = 0;
    this.finish(this.error);
  }

  /** Reads no more, but the whole lines read already still come (a stream cannot be read again). */
  stopReading(): true {
    if (!this.finished) this.worker.postMessage({ type: 'stop-reading' } satisfies StreamRequest);
    return true;
  }

  private ask(): void {
    const n = this.ahead - this.ready.length - this.asked;
    if (n <= 0 || this.finished) return;
    this.asked += n;
    this.worker.postMessage({ type: 'more', blocks: n } satisfies StreamRequest);
  }

  private finish(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    void this.worker.terminate();
  }
}
