/*!
 * Keys that left the key window (core/keys.ts), remembered in a fixed table so that a key seen
 * again after it left (20 minutes later, or every 5 minutes for hours) still counts as reused.
 * Per key: 64 bits of it, the inputs it was seen on, whether it was counted reused, and, until it
 * is, its lines so far, the client of its first and when it first started (a key that comes back
 * reused brings them to the finding). Bounded: a 4-way set-associative table; a full set forgets
 * its oldest key, and `forgotten` counts them.
 */

/** Keys remembered at most (4 ways × sets): 262,144 keys in 7.9 MB (30 bytes each), allocated on first use. */
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

export class DepartedKeys {
  /** Keys dropped to make room: a reuse of one of them is missed, so reused keys may be undercounted by at most this. */
  forgotten = 0;
  private readonly sets: number;
  private hi = new Uint32Array(0);
  private lo = new Uint32Array(0);
  private inputs = new Uint32Array(0);
  /** 0: empty; else 1 + 2 × counted. */
  private state = new Uint8Array(0);
  private lines = new Uint8Array(0);
  private client = new Int32Array(0);
  private firstMs = new Float64Array(0);
  /** When each way was filled (a counter, wrapping past 2^32: only which key a full set forgets depends on it). */
  private stamp = new Uint32Array(0);
  private clock = 0;
  private readonly found: Departed = { inputs: 0, counted: false, lines: 0, client: -1, firstMs: Infinity };

  constructor(capacity = DEPARTED_KEYS) {
    this.sets = Math.max(1, Math.floor(capacity / WAYS));
  }

  /** Remembers a key (`hi`, `lo`: 64 of its bits) that leaves the window; `d.lines` etc. matter only while not counted. */
  add(hi: number, lo: number, d: Departed): void {
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
    this.inputs[way] = d.inputs;
    this.state[way] = d.counted ? 3 : 1;
    this.lines[way] = Math.min(255, d.lines);
    this.client[way] = d.client;
    this.firstMs[way] = d.firstMs;
    this.stamp[way] = this.clock;
    this.clock = (this.clock + 1) >>> 0;
  }

  /** The key's earlier life, removed from the table (it is live again), or null. The result is reused by the next call. */
  take(hi: number, lo: number): Departed | null {
    if (this.state.length === 0) return null;
    const base = this.set(hi, lo);
    for (let k = base; k < base + WAYS; k++) {
      if (this.state[k] !== 0 && this.hi[k] === hi && this.lo[k] === lo) {
        const f = this.found;
        f.inputs = this.inputs[k] as number;
        f.counted = this.state[k] === 3;
        f.lines = this.lines[k] as number;
        f.client = this.client[k] as number;
        f.firstMs = this.firstMs[k] as number;
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
    this.lines = new Uint8Array(n);
    this.client = new Int32Array(n);
    this.firstMs = new Float64Array(n);
    this.stamp = new Uint32Array(n);
  }
}
