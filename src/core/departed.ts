/*!
 * Keys that left the key window (core/keys.ts), remembered in a fixed table so that a key seen
 * again after it left (20 minutes later, or every 5 minutes for hours) still counts as reused.
 * Per key: 64 bits of it, the inputs it was seen on, whether it was counted reused. Bounded: a
 * 4-way set-associative table; a full set forgets its oldest key, and `forgotten` counts them.
 */

/** Keys remembered at most (4 ways × sets): 262,144 keys in 5.5 MB (21 bytes each), allocated on first use. */
export const DEPARTED_KEYS = 1 << 18;
const WAYS = 4;

export interface Departed {
  /** Inputs the key was seen on (bit i: input i; inputs past 31 share bit 31). */
  inputs: number;
  /** It was counted as a reused key already. */
  counted: boolean;
}

export class DepartedKeys {
  /** Keys dropped to make room: a reuse of one of them is missed, so reused keys may be undercounted by at most this. */
  forgotten = 0;
  private readonly sets: number;
  private hi = new Uint32Array(0);
  private lo = new Uint32Array(0);
  private inputs = new Uint32Array(0);
  /** 0: empty; else 1 + 2 × counted. */
  private state = new Uint8Array(0);
  /** When each way was filled (a counter), to forget the oldest of a full set. */
  private stamp = new Float64Array(0);
  private clock = 0;
  private readonly found: Departed = { inputs: 0, counted: false };

  constructor(capacity = DEPARTED_KEYS) {
    this.sets = Math.max(1, Math.floor(capacity / WAYS));
  }

  /** Remembers a key (`hi`, `lo`: 64 of its bits) that leaves the window. */
  add(hi: number, lo: number, inputs: number, counted: boolean): void {
    if (this.state.length === 0) this.allocate();
    const base = this.set(hi, lo);
    let way = -1;
    let oldest = Infinity;
    for (let k = base; k < base + WAYS; k++) {
      if (this.state[k] === 0 || (this.hi[k] === hi && this.lo[k] === lo)) {
        way = k;
        break;
      }
      if ((this.stamp[k] as number) < oldest) {
        oldest = this.stamp[k] as number;
        way = k;
      }
    }
    if (this.state[way] !== 0 && !(this.hi[way] === hi && this.lo[way] === lo)) this.forgotten++;
    this.hi[way] = hi;
    this.lo[way] = lo;
    this.inputs[way] = inputs;
    this.state[way] = counted ? 3 : 1;
    this.stamp[way] = this.clock++;
  }

  /** The key's earlier life, removed from the table (it is live again), or null. The result is reused by the next call. */
  take(hi: number, lo: number): Departed | null {
    if (this.state.length === 0) return null;
    const base = this.set(hi, lo);
    for (let k = base; k < base + WAYS; k++) {
      if (this.state[k] !== 0 && this.hi[k] === hi && this.lo[k] === lo) {
        this.found.inputs = this.inputs[k] as number;
        this.found.counted = this.state[k] === 3;
        this.state[k] = 0;
        return this.found;
      }
    }
    return null;
  }

  /** The first way of the key's set: its 64 bits mixed (murmur3's finaliser), so structured keys spread too. */
  private set(hi: number, lo: number): number {
    let h = Math.imul(hi ^ Math.imul(lo, 0xcc9e2d51), 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (((h ^ (h >>> 16)) >>> 0) % this.sets) * WAYS;
  }

  private allocate(): void {
    const n = this.sets * WAYS;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.inputs = new Uint32Array(n);
    this.state = new Uint8Array(n);
    this.stamp = new Float64Array(n);
  }
}
