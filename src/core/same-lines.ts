/*!
 * Telling inputs that hold the same lines (`front.log` given with its copy `front.log.gz`, or one
 * file named twice): a running 64-bit hash of each line's facts, fed by the pipeline as it replays
 * the lines, and the match of whole inputs once all are read. What to do about a match (warn;
 * the lines are counted as given) is the pipeline's and the report's business.
 */

/** Two 32-bit lanes, each a multiply-xorshift (murmur's mixing step): cheap enough for every line. */
export class LineDigest {
  private a = 0x6a09e667;
  private b = 0x3c6ef372;

  add(v: number): void {
    let a = Math.imul(this.a ^ v, 0x5bd1e995);
    let b = Math.imul(this.b ^ v, 0x85ebca6b);
    a ^= a >>> 15;
    b ^= b >>> 13;
    this.a = a;
    this.b = Math.imul(b, 0xc2b2ae35) ^ a;
  }

  /** A number that may exceed 32 bits (a time in ms): both halves. */
  addNumber(v: number): void {
    this.add(v | 0);
    this.add(Math.floor(v / 0x1_0000_0000) | 0);
  }

  get value(): string {
    return `${(this.a >>> 0).toString(16)}${(this.b >>> 0).toString(16).padStart(8, '0')}`;
  }
}

/** A string's hash on its own (a client address, an unparsed line), to feed a LineDigest. */
export function hashText(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

export interface DigestedInput {
  lines: number;
  digest: string;
  /** Only inputs read to the end (no error) are compared. */
  complete: boolean;
}

/**
 * For each input, the index of an earlier one holding the same lines (as many, each giving the
 * same facts), or -1. Empty inputs hold no lines and match nothing.
 */
export function sameAsEarlier(inputs: readonly DigestedInput[]): number[] {
  const first = new Map<string, number>();
  return inputs.map((input, i) => {
    if (!input.complete || input.lines === 0) return -1;
    const id = `${input.lines}:${input.digest}`;
    const earlier = first.get(id);
    if (earlier !== undefined) return earlier;
    first.set(id, i);
    return -1;
  });
}
