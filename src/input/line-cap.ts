/*!
 * Bytes → the same bytes, with every line cut to at most MAX_LINE_BYTES (the rest of an
 * over-long line is dropped up to its newline). A file with no newline, or a binary blob, then
 * costs one bounded unparsed line instead of a string past V8's limit. Line count is unchanged.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Far above any real access-log line (a 10 MB one still parses), far below V8's string limit. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export function capLines(max = MAX_LINE_BYTES): Transform {
  /** Bytes of the current line passed on so far. */
  let run = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      const first = chunk.indexOf(10);
      // Common case: the line in progress stays under the cap, and so does every line inside the chunk.
      if (first < 0 ? run + chunk.length <= max : run + first <= max && chunk.length <= max) {
        run = first < 0 ? run + chunk.length : chunk.length - chunk.lastIndexOf(10) - 1;
        done(null, chunk);
        return;
      }
      const parts: Buffer[] = [];
      let from = 0;
      while (from < chunk.length) {
        const nl = chunk.indexOf(10, from);
        const end = nl < 0 ? chunk.length : nl;
        const keep = Math.max(0, Math.min(end - from, max - run));
        if (keep > 0) parts.push(chunk.subarray(from, from + keep));
        run += end - from;
        if (nl < 0) break;
        parts.push(chunk.subarray(nl, nl + 1));
        run = 0;
        from = nl + 1;
      }
      done(null, Buffer.concat(parts));
    },
  });
}
