/*!
 * A large regular file as byte ranges that start and end at line boundaries, so workers can read
 * them side by side and the lines of all ranges, in order, are the lines of the file; and the
 * first lines of a file or a buffer, for format detection before any range is read. Reads bytes,
 * parses nothing.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export interface ByteRange {
  start: number;
  end: number;
}

const PROBE = 1 << 16;
/** A cut's first look for its line's end: lines are rarely longer (a look of PROBE at each cut read 19 MB of a 0.6 GB file). */
const FIRST_LOOK = 1 << 12;

/** Cuts looked up at once (each with its own buffer). */
const LOOKS_AT_ONCE = 16;

/** Offset just after the first `\n` at or after `from` (the file's size when there is none); `buf` holds PROBE bytes. */
async function lineStartAfter(fh: FileHandle, from: number, size: number, buf: Buffer): Promise<number> {
  let look = FIRST_LOOK;
  for (let at = from; at < size; at += look, look = Math.min(PROBE, 2 * look)) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(look, size - at), at);
    if (bytesRead === 0) break;
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl >= 0) return at + nl + 1;
  }
  return size;
}

/**
 * [0, size) cut into ranges of about `chunkBytes`, each ending just after a `\n` (the last at
 * `size`), as the ranges' ends in order (a range starts where the one before ends; 8 bytes a range,
 * for a file of any size). The cuts are looked up side by side; a line longer than a range takes the
 * next cut's range into its own.
 */
export async function lineEnds(name: string, size: number, chunkBytes: number): Promise<Float64Array> {
  const fh = await open(name, 'r');
  try {
    const cuts = Math.max(0, Math.ceil(size / chunkBytes) - 1);
    const found = new Float64Array(cuts + 1);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(LOOKS_AT_ONCE, cuts) }, async () => {
      const buf = Buffer.allocUnsafe(PROBE);
      for (let k = next++; k < cuts; k = next++) found[k] = await lineStartAfter(fh, (k + 1) * chunkBytes - 1, size, buf);
    }));
    found[cuts] = size;
    // Ends that do not move on (a line longer than a range) are dropped.
    let n = 0;
    for (let k = 0; k <= cuts; k++) {
      const end = found[k] as number;
      if (end > (n === 0 ? 0 : (found[n - 1] as number))) found[n++] = end;
    }
    return found.slice(0, n);
  } finally {
    await fh.close();
  }
}

/**
 * The first `count` lines of a file (fewer when it is shorter), split at `\n` as split2 splits
 * them and without a trailing `\r`, for format detection. Reads at most `maxBytes`; a line cut there is left out.
 */
export async function headLines(name: string, count: number, maxBytes = 1 << 20): Promise<string[]> {
  const fh = await open(name, 'r');
  try {
    const buf = Buffer.allocUnsafe(maxBytes);
    let have = 0;
    let newlines = 0;
    while (have < maxBytes && newlines < count) {
      const { bytesRead } = await fh.read(buf, have, Math.min(PROBE, maxBytes - have), have);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(10, have); i >= 0 && i < have + bytesRead; i = buf.indexOf(10, i + 1)) newlines++;
      have += bytesRead;
    }
    return firstLines(buf.subarray(0, have), count, have < maxBytes && newlines < count);
  } finally {
    await fh.close();
  }
}

/**
 * The first `count` lines of `buf` (fewer when it holds fewer), as headLines gives them. `whole`:
 * buf is all of its input, so a last line without a `\n` counts; else a line cut short is left out.
 */
export function firstLines(buf: Buffer, count: number, whole: boolean): string[] {
  const end = whole ? buf.length : buf.lastIndexOf(10) + 1;
  const decoder = new StringDecoder('utf8');
  const lines = (decoder.write(buf.subarray(0, end)) + decoder.end()).split('\n', count + 1);
  if (lines.length <= count && lines[lines.length - 1] === '') lines.pop();
  // As the scanner reads them: a `\r` before the `\n` is not part of the line.
  return lines.slice(0, count).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}
