/*
 * Reading what nginx wrote, for the e2e harness: wait until a log has N lines (nginx writes a line when
 * a request ENDS; for a tunnel, when it closes), split logs into byte-exact lines, and parse the
 * escape=json cross-check log without assuming valid UTF-8. Owns no nginx process or traffic.
 */
import { existsSync, readFileSync } from 'node:fs';

/**
 * A "byte string": each char holds one byte (latin1). escape=json passes bytes ≥ 0x80 raw, so a log
 * line may be invalid UTF-8; decoding each line as latin1 before JSON.parse keeps every byte, and
 * JSON escapes (\u0001, \", \\) decode to the same single-byte chars. Compare with other byte strings,
 * or convert with bytesOf()/utf8Of().
 */
export type ByteString = string;
export type JsonRecord = Record<string, ByteString>;

export function bytesOf(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Decode a byte string as UTF-8 (invalid sequences become U+FFFD). */
export function utf8Of(s: ByteString): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** A JS string as the byte string of its UTF-8 encoding. */
export function byteStringOf(v: string | Buffer): ByteString {
  return (typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('latin1');
}

export function countLines(file: string): number {
  if (!existsSync(file)) return 0;
  const buf = readFileSync(file);
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** Poll until `file` holds at least n complete lines; throws after timeoutMs with what it found. */
export async function waitForLines(file: string, n: number, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const have = countLines(file);
    if (have >= n) return have;
    if (Date.now() > deadline) throw new Error(`${file}: expected ≥ ${n} lines, found ${have} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Complete lines of a log as Buffers (without the trailing \n). */
export function readLogLines(file: string): Buffer[] {
  const buf = readFileSync(file);
  const out: Buffer[] = [];
  let start = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, start)) {
    out.push(buf.subarray(start, i));
    start = i + 1;
  }
  return out;
}

/** Parse the escape=json cross-check log: one object per line, values as byte strings. */
export function readJsonLog(file: string): JsonRecord[] {
  return readLogLines(file).map((line, i) => {
    try {
      return JSON.parse(line.toString('latin1')) as JsonRecord;
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message}): ${line.toString('latin1').slice(0, 200)}`);
    }
  });
}
