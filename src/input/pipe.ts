/*!
 * Standard input that is a pipe or a socket (`zcat … | wsdiag -`), read into buffers the reader
 * hands out (net.Socket's `onread`): the bytes land where the blocks are cut (input/blocks.ts),
 * not in a buffer of node's per read. A read buffer a read (64 KiB) was copied into the block and
 * left for the collector; the main thread copying 640 MB and collecting its heap in full 45 times
 * over the bench's log fed the worker too slowly (twice the time of the same file read directly).
 * A gzip stream is told by its first bytes and handed on as a stream (input/open.ts gunzips it).
 */
import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';

/** Where a pipe's bytes go, read by read. */
export interface PipeSink {
  /** The buffer the next read is to fill (at least a byte). */
  room(): Buffer;
  /** `n` bytes came into `into`, the buffer room() gave last. */
  arrived(into: Buffer, n: number): void;
  /** No more bytes: the end (null), or what stopped them. */
  ended(err: Error | null): void;
}

/** The first read's buffer; a read of a pipe gives at most what the pipe holds (64 KiB on Linux). */
const HEAD_BYTES = 1 << 16;

/** True when `fd` is a pipe or a socket (input that may keep coming, which PipeInput reads), not a file or a terminal. */
export function isPipe(fd: number): boolean {
  try {
    const s = fstatSync(fd);
    return s.isFIFO() || s.isSocket();
  } catch {
    return false;
  }
}

export class PipeInput {
  /** Bytes read so far. */
  bytesRead = 0;
  /** The first bytes are a gzip stream's (known once open() resolved). */
  gzip = false;
  private readonly socket: Socket;
  private sink: PipeSink | null = null;
  private head: Buffer | null = Buffer.allocUnsafe(HEAD_BYTES);
  private headBytes = 0;
  private done = false;
  private error: Error | null = null;
  private paused = false;
  private first: (() => void) | null = null;

  /** Reads `fd` (a pipe or a socket: isPipe()) up to its first two bytes (or its end); read() says where the rest goes. */
  static async open(fd: number): Promise<PipeInput> {
    const p = new PipeInput(fd);
    await new Promise<void>((resolve) => (p.first = resolve));
    return p;
  }

  private constructor(fd: number) {
    // `onread` as net.connect() takes it, which node's Socket takes too (its types list it for connect() only).
    const options = {
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer: () => this.sink?.room() ?? this.headRoom(),
        callback: (n: number, into: Buffer) => this.arrived(n, into),
      },
    };
    this.socket = new Socket(options);
    this.socket.on('end', () => this.end(null));
    this.socket.on('error', (err: Error) => this.end(err));
    this.socket.on('close', () => this.end(null));
  }

  /** The bytes read go to `sink`, those read already first. */
  read(sink: PipeSink): void {
    this.sink = sink;
    const head = this.head as Buffer;
    this.head = null;
    if (this.headBytes > 0) {
      const into = sink.room();
      sink.arrived(into, head.copy(into, 0, 0, this.headBytes));
    }
    if (this.done) sink.ended(this.error);
    else this.resume();
  }

  /** The bytes as a stream (each read copied), those read already first: for a gzip stream, which input/open.ts gunzips. */
  stream(): Readable {
    const out = new PassThrough();
    const scratch = Buffer.allocUnsafe(HEAD_BYTES);
    out.on('drain', () => this.resume());
    out.on('close', () => this.destroy());
    this.read({
      room: () => scratch,
      arrived: (into, n) => {
        if (!out.write(Buffer.from(into.subarray(0, n)))) this.pause();
      },
      ended: (err) => (err === null ? out.end() : out.destroy(err)),
    });
    return out;
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket.resume();
  }

  isPaused(): boolean {
    return this.paused;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private arrived(n: number, into: Buffer): boolean {
    this.bytesRead += n;
    if (this.sink !== null) {
      this.sink.arrived(into, n);
      return !this.paused;
    }
    // The first reads, before anyone asked for the bytes: kept until there are two (a gzip
    // stream's magic), and reading waits.
    this.headBytes += n;
    if (this.headBytes < 2) return true;
    this.opened();
    this.paused = true;
    return false;
  }

  /**
   * Where a read goes before read(): after the bytes kept, while fewer than two came; then (reading
   * waits) anywhere in the head, which read() copies out before reading goes on.
   */
  private headRoom(): Buffer {
    const head = this.head as Buffer;
    return this.headBytes < 2 ? head.subarray(this.headBytes) : head;
  }

  private end(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    this.opened();
    this.sink?.ended(err);
  }

  /** The first bytes are in (or the end came first): open() resolves, with what they say. */
  private opened(): void {
    if (this.first === null) return;
    const head = this.head as Buffer;
    this.gzip = this.headBytes >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    this.first();
    this.first = null;
  }
}
