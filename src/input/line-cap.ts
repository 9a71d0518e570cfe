/*!
 * Bytes → the same bytes, with every line cut to at most MAX_LINE_BYTES (the rest of an
 * over-long line is dropped up to its newline). A file with no newline, or a binary blob, then
 * costs one bounded unparsed line instead of a string past V8's limit. Line count is unchanged.
 */

/** Far above any real access-log line (a 10 MB one still parses), far below V8's string limit. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** The cut, chunk by chunk: for the bytes of a file's range (core/part.ts) and of a stream's blocks (input/blocks.ts). */
export class LineCapper {
  /** Bytes of the current line passed on so far. */
  private run = 0;

  constructor(private readonly max = MAX_LINE_BYTES) {}

  cut(chunk: Buffer): Buffer {
    const max = this.max;
    const first = chunk.indexOf(10);
    // Common case: the line in progress stays under the cap, and so does every line inside the chunk.
    if (first < 0 ? this.run + chunk.length <= max : this.run + first <= max && chunk.length <= max) {
      this.run = first < 0 ? this.run + chunk.length : chunk.length - chunk.lastIndexOf(10) - 1;
      return chunk;
    }
    const parts: Buffer[] = [];
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(10, from);
      const end = nl < 0 ? chunk.length : nl;
      const keep = Math.max(0, Math.min(end - from, max - this.run));
      if (keep > 0) parts.push(chunk.subarray(from, from + keep));
      this.run += end - from;
      if (nl < 0) break;
      parts.push(chunk.subarray(nl, nl + 1));
      this.run = 0;
      from = nl + 1;
    }
    return Buffer.concat(parts);
  }
}
