/*!
 * Telling inputs that hold the same lines (`front.log` given with its copy `front.log.gz`, or one
 * file named twice): a 64-bit hash of each line's facts, taken over parts of an input where they
 * are read (core/part.ts) and joined in input order, and the match of whole inputs once all are
 * read. What to do about a match (warn; the lines are counted as given) is the pipeline's and the
 * report's business.
 */

/** Multipliers of the two lanes (odd, so no lane ever loses a value). */
const P1 = 0x01000193;
const P2 = 0x5bd1e995;

/** murmur3's finaliser: every bit of v moves every bit of the result. */
function mix(v: number): number {
  let h = v | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** murmur3's step for one 32-bit word `k` of a block into the running hash `h`. */
function fold(h: number, k: number): number {
  let x = Math.imul(k | 0, 0xcc9e2d51);
  x = Math.imul((x << 15) | (x >>> 17), 0x1b873593);
  const y = h ^ x;
  return (Math.imul((y << 13) | (y >>> 19), 5) + 0xe6546b64) | 0;
}

/** p^n modulo 2^32. */
function power(p: number, n: number): number {
  let r = 1;
  let b = p;
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
  }
  return r;
}

/**
 * A polynomial hash of a sequence of numbers in two 32-bit lanes: h = h·P + mix(v). Parts of an
 * input are digested apart (by the threads that read them) and joined in input order, giving
 * what one pass over the whole input gives wherever the parts were cut.
 */
export class LineDigest {
  private a = 0;
  private b = 0;
  /** Values added. */
  private n = 0;

  add(v: number): void {
    const m = mix(v);
    this.a = (Math.imul(this.a, P1) + m) | 0;
    this.b = (Math.imul(this.b, P2) + mix(m ^ 0x3c6ef372)) | 0;
    this.n++;
  }

  /**
   * A parsed line's facts as one value: its end time in ms as its two 32-bit halves (`v | 0` and
   * `Math.floor(v / 0x1_0000_0000) | 0`: small integers, where the number itself would be made
   * an object on the heap by a call V8 did not inline), its duration, protocol, client's hash and,
   * for a handshake, its status (else -1). The words are folded as murmur3 folds a block's, and
   * the line is one step of the lanes (five steps, one a fact, took about a tenth of a line's reading).
   */
  addLine(endLow: number, endHigh: number, durationMs: number, protocol: number, clientHash: number, status: number): void {
    let h = fold(0x9747b28c, endLow);
    h = fold(h, endHigh);
    h = fold(h, durationMs);
    h = fold(h, protocol);
    h = fold(h, clientHash);
    this.add(fold(h, status));
  }

  /** Appends what `o` digested, as if its values had been added here after these. */
  join(o: LineDigest): void {
    this.a = (Math.imul(this.a, power(P1, o.n)) + o.a) | 0;
    this.b = (Math.imul(this.b, power(P2, o.n)) + o.b) | 0;
    this.n += o.n;
  }

  get value(): string {
    return `${(this.a >>> 0).toString(16)}${(this.b >>> 0).toString(16).padStart(8, '0')}`;
  }

  /** A digest that crossed threads (a plain object) made a LineDigest again. */
  static revive(o: LineDigest): LineDigest {
    return Object.setPrototypeOf(o, LineDigest.prototype) as LineDigest;
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
