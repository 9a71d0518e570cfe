/*!
 * A byte stream (gunzipped file, stdin, pipe) → blocks of whole lines, each a buffer of its own
 * that can be handed to a worker thread, in stream order. A block is filled in place: a stream's
 * chunks copied in, a pipe read straight into it (input/pipe.ts). Lines are cut as LineCapper
 * cuts them (input/line-cap.ts); a block ends just after a `\n` (the last one at the end of the
 * stream). The stream is paused while a block waits to be taken, so memory is a few blocks
 * whatever the stream's length; a stream that goes quiet (a pipe from a live command) still hands
 * on the lines it sent. Reads bytes, parses nothing.
 */
import type { Readable } from 'node:stream';
import { LineCapper } from './line-cap.js';
import { PipeInput } from './pipe.js';

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

/** What StreamBlocks reads: a stream of chunks, or a pipe read straight into its blocks. */
type Input = Readable | PipeInput;

export class StreamBlocks {
  /** The stream ended or failed; blocks may still wait (see `drained`). */
  private finished = false;
  error: Error | null = null;
  private readonly ready: Block[] = [];
  private readonly capper = new LineCapper();
  private stopped = false;
  /** Buffers of `capacity` bytes given back (recycle()), to cut the next blocks into. */
  private readonly free: SharedArrayBuffer[] = [];
  private readonly capacity: number;
  /** The block being filled: its buffer, a view of it, the bytes in it, and how far no newline ends a block. */
  private filling: SharedArrayBuffer;
  private view: Buffer;
  private fill = 0;
  private searched = 0;
  /** The buffer a pipe's next read lands in (not to be cut into again until it has). */
  private lent: SharedArrayBuffer | null = null;
  private quiet: NodeJS.Timeout | null = null;

  /** `inputBytes()`: input bytes read so far; `onChange` runs when a block is ready and at the end. */
  constructor(
    private readonly input: Input,
    private readonly inputBytes: () => number,
    private readonly onChange: () => void,
    private readonly blockBytes = BLOCK_BYTES,
  ) {
    this.capacity = blockBytes + SLACK;
    this.filling = new SharedArrayBuffer(this.capacity);
    this.view = Buffer.from(this.filling);
    if (input instanceof PipeInput) {
      input.read({ room: () => this.room(), arrived: (into, n) => this.arrived(into, n), ended: (err) => this.ended(err) });
      return;
    }
    // A stream of strings (Readable.from(['…'])) is read as UTF-8, as a Writable would take it.
    input.on('data', (chunk: Buffer | string) => this.add(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    input.on('end', () => this.ended(null));
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
   * Takes back a block's buffer once its part is merged: blocks are cut into the same few
   * buffers rather than leaving one a block for the collector, which threads that allocate little
   * else run seldom (without this, the bench's gzip file peaked at 275–313 MB instead of 200).
   */
  recycle(data: SharedArrayBuffer): void {
    if (data.byteLength === this.capacity && this.free.length < FREE_MAX && data !== this.lent) this.free.push(data);
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

  /**
   * A chunk of a stream, copied in after the bytes gathered: up to the first newline that ends a
   * block's size, when it holds one, which cuts the block, then the rest into the next (no byte is
   * copied twice); a line longer than a block waits for its end.
   */
  private add(chunk: Buffer): void {
    if (this.stopped) return;
    let c = this.capper.cut(chunk);
    while (c.length > 0) {
      const nl = this.fill + c.length < this.blockBytes ? -1 : c.indexOf(10, Math.max(0, this.blockBytes - 1 - this.fill));
      const n = nl < 0 ? c.length : nl + 1;
      this.makeRoom(n);
      this.fill += c.copy(this.view, this.fill, 0, n);
      if (nl >= 0) this.cutAt(this.fill);
      c = c.subarray(n);
    }
    this.quietLater();
  }

  /** Where a pipe's next read goes: the rest of the block being filled (a pipe's read holds at most 64 KiB). */
  private room(): Buffer {
    this.makeRoom(1 << 16);
    this.lent = this.filling;
    return this.view.subarray(this.fill);
  }

  /**
   * `n` bytes of a pipe: where room() pointed, after the bytes gathered, or at the start of `into`
   * (a read that landed where room() pointed before a block was cut), then copied there. Blocks
   * are cut after the first newline that ends a block's size, as often as there is one; the bytes
   * after it are copied into the next.
   */
  private arrived(into: Buffer, n: number): void {
    if (this.stopped) return;
    if (into.buffer !== this.filling || into.byteOffset !== this.fill) {
      this.makeRoom(n);
      into.copy(this.view, this.fill, 0, n);
    }
    const got = this.view.subarray(this.fill, this.fill + n);
    const cut = this.capper.cut(got);
    // An over-long line's rest dropped: the bytes kept, moved to where they start.
    if (cut !== got) cut.copy(this.view, this.fill);
    this.fill += cut.length;
    while (this.fill >= this.blockBytes) {
      const nl = this.view.subarray(0, this.fill).indexOf(10, Math.max(this.blockBytes - 1, this.searched));
      if (nl < 0) {
        this.searched = this.fill;
        break;
      }
      this.cutAt(nl + 1);
    }
    this.quietLater();
  }

  /** The whole lines gathered are cut into a block if nothing more comes for QUIET_MS. */
  private quietLater(): void {
    if (this.quiet !== null) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.cutWholeLines(), QUIET_MS).unref();
  }

  /** A block's end, as bytes come: the stream waits until the block is taken. */
  private cutAt(bytes: number): void {
    // Paused first: the block's taker may resume the stream from within cut().
    this.input.pause();
    this.cut(bytes);
  }

  /** Room for `bytes` more in the block being filled: a larger buffer for a line longer than a block's slack. */
  private makeRoom(bytes: number): void {
    if (this.fill + bytes <= this.view.length) return;
    const grown = new SharedArrayBuffer(Math.max(2 * this.view.length, this.fill + bytes));
    this.view.copy(Buffer.from(grown), 0, 0, this.fill);
    this.filling = grown;
    this.view = Buffer.from(grown);
  }

  /** Makes a block of the first `bytes` gathered bytes; the rest starts the next. */
  private cut(bytes: number): void {
    // Shared, not transferred: a buffer moved into a thread counts there as new memory outside its
    // heap, and the thread that passed every gzip block on collected its heap in full 23 times a
    // run instead of 8 (3% of the run). A block is written only while no thread reads it: filled
    // here, read by one reader, then given back (recycle()).
    const block: Block = { data: this.filling, bytes, inputBytes: this.inputBytes() };
    const rest = this.fill - bytes;
    this.filling = (rest <= this.capacity ? this.free.pop() : undefined) ?? new SharedArrayBuffer(Math.max(this.capacity, rest));
    const view = Buffer.from(this.filling);
    this.view.copy(view, 0, bytes, this.fill);
    this.view = view;
    this.fill = rest;
    this.searched = 0;
    this.ready.push(block);
    this.onChange();
  }

  /** Cuts the whole lines gathered (up to the last newline) into a block, if there are any. */
  private cutWholeLines(): void {
    this.quiet = null;
    const nl = this.view.subarray(0, this.fill).lastIndexOf(10);
    if (nl < 0) return;
    if (!this.finished) this.input.pause();
    this.cut(nl + 1);
  }

  /** The input's end: its last line, even without a newline, makes the last block. */
  private ended(err: Error | null): void {
    if (err === null && this.fill > 0 && !this.stopped) this.cut(this.fill);
    this.end(err);
  }

  /** No more bytes: the whole lines gathered make a last block; a line cut short by an error or a stop is dropped. */
  private end(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    if (this.quiet !== null) clearTimeout(this.quiet);
    this.cutWholeLines();
    this.fill = 0;
    this.onChange();
  }
}
