/*!
 * Keys that left the key window (core/keys.ts), remembered in a fixed table so that a key seen
 * again after it left (20 minutes later, or every 5 minutes for hours) still counts as reused.
 * Per key: 64 bits of it, the inputs it was seen on, whether it was counted reused, and, until it
 * is, its lines so far, the client of its first and when it first started (a key that comes back
 * reused brings them to the finding). Bounded: a 4-way set-associative table; a full set forgets
 * its oldest key, and `forgotten` counts them. A byte a way (its key's tag) in a table of their
 * own, which the caches hold, tells most keys never seen apart without reading their set.
 */

/** Keys remembered at most (4 ways × sets): 262,144 keys in 8.4 MB (32 bytes each, and a tag byte), allocated on first use. */
export const DEPARTED_KEYS = 1 << 18;
const WAYS = 4;

export interface Departed {
  /** Inputs the key was seen on (bit i: input i; inputs past 31 share bit 31). */
  inputs: number;
  /** It was counted as a reused key already. */
  counted: boolean;
  /** Not counted yet: its lines so far (saturating at 255), the client of the first, when the first started. */
  lines: number;
  client: number;
  firstMs: number;
}

/**
 * A way's record, in 32-bit words: the key's two halves, its inputs, its state (0: empty; else
 * 1 + 2 × counted) and lines, its client, its fill stamp, then its first start as a float64 (words
 * 6-7). One record a way, not a column a field: a set's four ways are 128 bytes, two cache lines
 * where a lookup read from eight columns (the table is larger than the caches, and every key that
 * leaves the window lands in a random set).
 */
const HI = 0;
const LO = 1;
const INPUTS = 2;
const STATE = 3;
const CLIENT = 4;
const STAMP = 5;
const WORDS = 8;

export class DepartedKeys {
  /** Keys dropped to make room: a reuse of one of them is missed, so reused keys may be undercounted by at most this. */
  forgotten = 0;
  private readonly sets: number;
  private words = new Uint32Array(0);
  /**
   * Each way's tag (1-255: 8 more bits of its key; 0: empty), four a set: a key that left no
   * record (every key of a log read once, at its first sighting) is mostly told by these 256 KB
   * alone. Reading its set, two cache lines of a table larger than the caches, took a profiled
   * run about 0.6 µs a key.
   */
  private tags = new Uint8Array(0);
  /** The same buffer as float64s: a way's first start at WORDS / 2 × way + 3. */
  private floats = new Float64Array(0);
  /** When each way was filled (a counter, wrapping past 2^32: only which key a full set forgets depends on it). */
  private clock = 0;
  private readonly found: Departed = { inputs: 0, counted: false, lines: 0, client: -1, firstMs: Infinity };

  constructor(capacity = DEPARTED_KEYS) {
    this.sets = Math.max(1, Math.floor(capacity / WAYS));
  }

  /**
   * Remembers a key (`hi`, `lo`: 64 of its bits) that leaves the window; `d.lines` etc. matter only
   * while not counted. The set's ways are told by their tags first: an empty way (tag 0) or the
   * key's own is found without reading the set, whose lines are then only written (a write that
   * misses the caches does not hold the thread up as a read does). Only a full set is read, for
   * its oldest way: the bench's log in 0.99× the time of reading the set at each key (25 pairs).
   */
  add(hi: number, lo: number, d: Departed): void {
    if (this.words.length === 0) this.allocate();
    const w = this.words;
    const h = mixed(hi, lo);
    const set = this.setOf(h);
    const base = set * WAYS * WORDS;
    const tags = this.tags;
    const t = set * WAYS;
    const tag = tagOf(h);
    let way = -1;
    for (let k = 0; k < WAYS; k++) {
      const x = tags[t + k] as number;
      if (x === 0 || (x === tag && w[base + k * WORDS + HI] === hi >>> 0 && w[base + k * WORDS + LO] === lo >>> 0)) {
        way = base + k * WORDS;
        break;
      }
    }
    if (way < 0) {
      // A full set without the key: its oldest way is forgotten.
      let oldest = Infinity;
      for (let k = base; k < base + WAYS * WORDS; k += WORDS) {
        if ((w[k + STAMP] as number) < oldest) {
          oldest = w[k + STAMP] as number;
          way = k;
        }
      }
      this.forgotten++;
    }
    w[way + HI] = hi;
    w[way + LO] = lo;
    w[way + INPUTS] = d.inputs;
    w[way + STATE] = (d.counted ? 3 : 1) | (Math.min(255, d.lines) << 8);
    w[way + CLIENT] = d.client;
    w[way + STAMP] = this.clock;
    this.floats[way / 2 + 3] = d.firstMs;
    tags[t + (way - base) / WORDS] = tag;
    this.clock = (this.clock + 1) >>> 0;
  }

  /** The key's earlier life, removed from the table (it is live again), or null. The result is reused by the next call. */
  take(hi: number, lo: number): Departed | null {
    if (this.words.length === 0) return null;
    const h = mixed(hi, lo);
    const set = this.setOf(h);
    const tag = tagOf(h);
    const tags = this.tags;
    const t = set * WAYS;
    for (let way = 0; way < WAYS; way++) {
      if (tags[t + way] !== tag) continue;
      const k = (t + way) * WORDS;
      const w = this.words;
      const state = w[k + STATE] as number;
      if (state !== 0 && w[k + HI] === hi >>> 0 && w[k + LO] === lo >>> 0) {
        const f = this.found;
        f.inputs = w[k + INPUTS] as number;
        f.counted = (state & 0xff) === 3;
        f.lines = state >>> 8;
        f.client = (w[k + CLIENT] as number) | 0;
        f.firstMs = this.floats[k / 2 + 3] as number;
        w[k + STATE] = 0;
        tags[t + way] = 0;
        return this.found;
      }
    }
    return null;
  }

  /** The set of a key whose bits mixed() gave `h`. */
  private setOf(h: number): number {
    return (h >>> 0) % this.sets;
  }

  private allocate(): void {
    this.words = new Uint32Array(this.sets * WAYS * WORDS);
    this.tags = new Uint8Array(this.sets * WAYS);
    this.floats = new Float64Array(this.words.buffer);
  }
}

/** A key's 64 bits (`hi`, `lo`) mixed (murmur3's finaliser), so structured keys spread too: its set comes from these. */
function mixed(hi: number, lo: number): number {
  let h = Math.imul(hi ^ Math.imul(lo, 0xcc9e2d51), 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A way's tag for a key whose bits mixed() gave `h`: 1-255, from other bits than its set's. */
function tagOf(h: number): number {
  return 1 + (Math.imul(h, 0x9e3779b1) >>> 24) % 255;
}
