/*!
 * A byte stream (gunzipped file, stdin, pipe) → blocks of whole lines, each a buffer of its own
 * that can be handed to a worker thread, in stream order. Lines are cut as LineCapper cuts them (input/line-cap.ts); a
 * block ends just after a `\n` (the last one at the end of the stream). The stream is paused
 * while a block waits to be taken, so memory is a few blocks whatever the stream's length; a
 * stream that goes quiet (a pipe from a live command) still hands on the lines it sent.
 * Reads bytes, parses nothing.
 */
import type { Readable } from 'node:stream';
import { LineCapper } from './line-cap.js';

/**
 * Lines of the stream, in order: the first `bytes` bytes of `data`, and the input bytes read when
 * it was cut (for progress).
 */
export interface Block {
  data: SharedArrayBuffer;
  bytes: number;
  inputBytes: number;
}

/** Bytes a block gathers before it is cut: large enough that a worker's per-block cost vanishes. */
export const BLOCK_BYTES = 4 << 20;
/** Room past BLOCK_BYTES for the line that crosses it (a longer one makes a block of its own size). */
const SLACK = 1 << 20;
/** Returned buffers kept for reuse. */
const FREE_MAX = 8;
/** Whole lines gathered are cut into a block when no more bytes came for this long. */
const QUIET_MS = 250;

export class StreamBlocks {
  /** The stream ended or failed; blocks may still wait (see `drained`). */
  private finished = false;
  error: Error | null = null;
  private readonly ready: Block[] = [];
  private parts: Buffer[] = [];
  private partBytes = 0;
  private readonly capper = new LineCapper();
  private stopped = false;
  /** Buffers of `capacity` bytes given back (recycle()), to cut the next blocks into. */
  private readonly free: SharedArrayBuffer[] = [];
  private readonly capacity: number;
  private quiet: NodeJS.Timeout | null = null;

  /** `inputBytes()`: input bytes read so far; `onChange` runs when a block is ready and at the end. */
  constructor(
    private readonly input: Readable,
    private readonly inputBytes: () => number,
    private readonly onChange: () => void,
    private readonly blockBytes = BLOCK_BYTES,
  ) {
    this.capacity = blockBytes + SLACK;
    // A stream of strings (Readable.from(['…'])) is read as UTF-8, as a Writable would take it.
    input.on('data', (chunk: Buffer | string) => this.add(this.capper.cut(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
    input.on('end', () => {
      if (this.partBytes > 0) this.cut(this.partBytes);
      this.end(null);
    });
    input.on('error', (err: Error) => this.end(err));
  }

  /** No block will come any more and none waits. */
  get drained(): boolean {
    return this.finished && this.ready.length === 0;
  }

  /** The next block, or null when none is ready (onChange runs when one is). */
  take(): Block | null {
    const b = this.ready.shift() ?? null;
    if (this.ready.length === 0 && this.input.isPaused() && !this.finished) this.input.resume();
    return b;
  }

  /** The first block, without taking it; null until it is ready (or when the stream had no bytes). */
  peek(): Block | null {
    return this.ready[0] ?? null;
  }

  /**
   * Takes back a block's buffer once its lines are scanned: blocks are cut into the same few
   * buffers rather than leaving one a block for the collector, which threads that allocate little
   * else run seldom (without this, the bench's gzip file peaked at 275–313 MB instead of 200).
   */
  recycle(data: SharedArrayBuffer): void {
    if (data.byteLength === this.capacity && this.free.length < FREE_MAX) this.free.push(data);
  }

  /** Reads no more; blocks ready already are dropped. */
  stop(): void {
    this.stopReading();
    this.ready.length = 0;
  }

  /**
   * Reads no more, but the whole lines read already still come out (the last ones as one more
   * block): a stream cannot be read again. True, for PartFeed.
   */
  stopReading(): true {
    if (!this.stopped) {
      this.stopped = true;
      this.input.pause();
      this.input.destroy();
      this.end(null);
    }
    return true;
  }

  private add(chunk: Buffer): void {
    if (this.stopped) return;
    this.parts.push(chunk);
    this.partBytes += chunk.length;
    if (this.quiet !== null) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.cutWholeLines(), QUIET_MS).unref();
    // Cut after the first newline that ends a block's size, as often as there is one (a read may
    // hold several blocks); a line longer than a block waits for its end. Only the newest read can
    // hold that newline: the bytes before it past the size were looked at as they came.
    while (this.partBytes >= this.blockBytes) {
      const last = this.parts[this.parts.length - 1] as Buffer;
      const lastStart = this.partBytes - last.length;
      const nl = last.indexOf(10, Math.max(0, this.blockBytes - 1 - lastStart));
      if (nl < 0) return;
      // Paused first: the block's taker may resume the stream from within cut().
      this.input.pause();
      this.cut(lastStart + nl + 1);
    }
  }

  /** Makes a block of the first `bytes` gathered bytes; the rest stays gathered. */
  private cut(bytes: number): void {
    // Shared, not transferred: a buffer moved into a thread counts there as new memory outside its
    // heap, and the thread that passed every gzip block on collected its heap in full 23 times a
    // run instead of 8 (3% of the run). A block is written only while no thread reads it: cut
    // here, read by one reader, then given back (recycle()).
    const data = bytes <= this.capacity ? (this.free.pop() ?? new SharedArrayBuffer(this.capacity)) : new SharedArrayBuffer(bytes);
    const block = Buffer.from(data);
    let at = 0;
    const rest: Buffer[] = [];
    for (const p of this.parts) {
      const n = Math.min(p.length, bytes - at);
      if (n > 0) p.copy(block, at, 0, n);
      at += n;
      if (n < p.length) rest.push(p.subarray(n));
    }
    this.parts = rest;
    this.partBytes -= bytes;
    this.ready.push({ data, bytes, inputBytes: this.inputBytes() });
    this.onChange();
  }

  /** Cuts the whole lines gathered (up to the last newline) into a block, if there are any. */
  private cutWholeLines(): void {
    this.quiet = null;
    let nl = -1;
    let before = this.partBytes;
    for (let i = this.parts.length - 1; i >= 0 && nl < 0; i--) {
      const p = this.parts[i] as Buffer;
      before -= p.length;
      nl = p.lastIndexOf(10);
    }
    if (nl < 0) return;
    if (!this.finished) this.input.pause();
    this.cut(before + nl + 1);
  }

  /** No more bytes: the whole lines gathered make a last block; a line cut short by an error or a stop is dropped. */
  private end(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    if (this.quiet !== null) clearTimeout(this.quiet);
    this.cutWholeLines();
    this.parts = [];
    this.partBytes = 0;
    this.onChange();
  }
}
