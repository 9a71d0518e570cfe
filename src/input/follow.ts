/*!
 * A followed file as a never-ending byte stream, like `tail -F`: from the end (or the start), on
 * through rotation by rename or delete + a new file at the same path (the old file is read to its
 * end first, then the new one from its start), and through copytruncate (the file shrank, or the
 * bytes last read are no longer where they were: read again from its start). Polls; ends only when
 * the signal aborts, after reading what the file holds then. Knows nothing of lines.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AnalyzerError } from '../errors.js';

/** How often the file is looked at when nothing new was found. */
const POLL_MS = 200;
const READ_BYTES = 1 << 16;
/** Bytes compared at each look to notice a truncated file that has grown past where reading stood. */
const TAIL_BYTES = 64;

export interface FollowOptions {
  /** Read what the file holds already (default: start at its end). */
  fromStart?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

/** Opens `path` for following; fails with INPUT_NOT_FOUND / INPUT_UNREADABLE if it cannot be opened now. */
export async function followFile(path: string, opts: FollowOptions = {}): Promise<{ stream: Readable; bytesRead: () => number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AnalyzerError(e.code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { file: path });
  }
  const first = await fh.stat();
  let ino = first.ino;
  let pos = opts.fromStart ? 0 : first.size;
  let total = 0;
  const pollMs = opts.pollMs ?? POLL_MS;
  const buf = Buffer.allocUnsafe(READ_BYTES);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => undefined);
  };

  /** The last bytes read (ending at `pos`): when they are no longer there, the file was truncated. */
  let seen = Buffer.alloc(0);
  const check = Buffer.allocUnsafe(TAIL_BYTES);

  /** Reads what is new in the open file; null when nothing is. */
  const readMore = async (): Promise<Buffer | null> => {
    const { size } = await fh.stat();
    // copytruncate: the file was emptied behind us, and may have grown again past where we were.
    let truncated = size < pos;
    if (!truncated && seen.length > 0) {
      const { bytesRead } = await fh.read(check, 0, seen.length, pos - seen.length);
      truncated = bytesRead !== seen.length || !check.subarray(0, bytesRead).equals(seen);
    }
    if (truncated) {
      pos = 0;
      seen = Buffer.alloc(0);
    }
    if (size === pos) return null;
    const { bytesRead } = await fh.read(buf, 0, Math.min(READ_BYTES, size - pos), pos);
    pos += bytesRead;
    total += bytesRead;
    if (bytesRead === 0) return null;
    const chunk = Buffer.from(buf.subarray(0, bytesRead));
    seen = Buffer.from(chunk.subarray(Math.max(0, bytesRead - TAIL_BYTES)));
    return chunk;
  };

  /** After the open file is read to its end: has the path moved on to a new file? Then switch to it (true). */
  const reopenIfRotated = async (): Promise<boolean> => {
    const now = await stat(path).catch(() => null);
    if (now === null || now.ino === ino) return false;
    const next = await open(path, 'r').catch(() => null);
    if (next === null) return false;
    await fh.close().catch(() => undefined);
    fh = next;
    ino = now.ino;
    pos = 0;
    seen = Buffer.alloc(0);
    return true;
  };

  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const sleep = (): Promise<void> => new Promise((resolve) => {
    wake = resolve;
    timer = setTimeout(resolve, pollMs);
  });
  let wanted = false;
  let stopping = false;
  let looping: Promise<void> | null = null;
  const loop = async (): Promise<void> => {
    try {
      while (wanted && !closed && !stopping) {
        const chunk = await readMore();
        if (chunk !== null) {
          wanted = stream.push(chunk);
          continue;
        }
        // The old file is drained (nginx may write its last lines before reopening on USR1): now a new one.
        if (await reopenIfRotated()) continue;
        await sleep();
      }
    } catch (err) {
      if (!closed) stream.destroy(err as Error);
    } finally {
      looping = null;
    }
  };
  const stream = new Readable({
    highWaterMark: 1 << 20,
    read() {
      wanted = true;
      looping ??= loop();
    },
    destroy(err, cb) {
      if (timer !== undefined) clearTimeout(timer);
      void close().then(() => cb(err));
    },
  });
  /** Stopping keeps every line already written: what the file holds now is read before the end. */
  const stop = (): void => {
    stopping = true;
    if (timer !== undefined) clearTimeout(timer);
    wake?.();
    void (async () => {
      await looping;
      try {
        for (let chunk = await readMore(); chunk !== null; chunk = await readMore()) stream.push(chunk);
      } catch {
        // The file went away as we stopped: what was read stands.
      }
      await close();
      stream.push(null);
    })();
  };
  if (opts.signal?.aborted) stop();
  else opts.signal?.addEventListener('abort', stop, { once: true });
  return { stream, bytesRead: () => total };
}
