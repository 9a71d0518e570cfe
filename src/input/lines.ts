/*!
 * Byte stream → lines, through split2 (default /\r?\n/, no mapper, no skipOverflow, so no line is
 * dropped and line numbers never drift). Calls a synchronous handler per line; line numbering is
 * the caller's. Resolves when the stream ends, rejects with the stream's error.
 */
import type { Readable } from 'node:stream';
import split2 from 'split2';

/**
 * 'data' events rather than `for await`: one async step per line costs more than the parse
 * itself on short lines (measure with `npm run bench`).
 */
export function forEachLine(input: Readable, onLine: (text: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = split2();
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => {
      input.unpipe(lines);
      lines.destroy();
      finish();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    input.on('error', (err) => finish(err));
    lines.on('error', (err) => finish(err));
    lines.on('data', onLine);
    lines.on('end', () => finish());
    input.pipe(lines);
  });
}
