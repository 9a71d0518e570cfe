/*!
 * Lines of a regular file read back by their place (byte offset, length): the text of a keyed
 * handshake, whose part kept only where it lies (core/part.ts), read when the key window cites it.
 * Cited lines come in the file's order, often many close together (each line of a finding): they
 * are read through a window of the file, one read per WINDOW_BYTES. The file is opened when its
 * ranges are planned, so a rename meanwhile (log rotation) still reads the file that was
 * analysed; close() gives the descriptor back.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Bytes b[start, end). */
export interface ByteSpan {
  b: Buffer;
  start: number;
  end: number;
}

const EMPTY = Buffer.alloc(0);

/** Dense citations (every line of a finding) share a read; sparse ones cost little more than their line. */
const WINDOW_BYTES = 16 << 10;

export class LinesByPlace {
  private window = Buffer.allocUnsafe(WINDOW_BYTES);
  /** The file's bytes from `from` to `to` are in `window`. */
  private from = 0;
  private to = 0;
  private readonly view: ByteSpan = { b: EMPTY, start: 0, end: 0 };

  private constructor(private fd: number) {}

  /** The file at `path`, opened now; null when it cannot be. */
  static open(path: string): LinesByPlace | null {
    try {
      return new LinesByPlace(openSync(path, 'r'));
    } catch {
      return null;
    }
  }

  /** The line of `bytes` bytes at `at`; '' when it can no longer be read (the file was cut short). */
  read(at: number, bytes: number): string {
    const v = this.bytesAt(at, bytes);
    return v === null ? '' : v.b.toString('utf8', v.start, v.end);
  }

  /**
   * The same line's bytes where they lie in the window (good until the next call; fewer when the
   * file was cut short), or null when they cannot be read: a caller that copies them makes no string.
   */
  bytesAt(at: number, bytes: number): ByteSpan | null {
    if (this.fd < 0) return null;
    try {
      if (at < this.from || at + bytes > this.to) {
        if (bytes > this.window.length) this.window = Buffer.allocUnsafe(bytes);
        this.from = 0; // nothing held while reading
        this.to = 0;
        const n = readSync(this.fd, this.window, 0, this.window.length, at);
        this.from = at;
        this.to = at + n;
      }
      const v = this.view;
      v.b = this.window;
      v.start = at - this.from;
      v.end = Math.max(v.start, Math.min(at + bytes, this.to) - this.from);
      return v;
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
