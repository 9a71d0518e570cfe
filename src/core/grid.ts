/*!
 * Duration bins: exact milliseconds below 2^b ms, then log-linear bins (2^(b-1) per octave) up to
 * 2^31 ms (24.8 days). Two grids: FINE (b = 16: exact to 65.5 s, then within 0.003 %) for the
 * histograms that timeouts, counts and percentiles come from, COARSE (b = 11: exact to 2 s, then
 * within 0.1 %) for the per-client cells and the evidence classes of failed handshakes, and
 * SESSION (b = 7: within 1.6 %) for the evidence classes of upgraded sessions, whose durations
 * spread over hours (one class per COARSE bin made thousands). Pure arithmetic; owns no state.
 */
import { resized } from './columns.js';

export class Grid {
  /** Number of bins; the last one also holds anything longer than 2^31 ms. */
  readonly size: number;
  private readonly exact: number;
  private readonly half: number;

  constructor(private readonly bits: number) {
    this.exact = 2 ** bits;
    this.half = 2 ** (bits - 1);
    this.size = this.exact + (31 - bits) * this.half;
  }

  /** The bin of a duration in ms (≥ 0). */
  bin(ms: number): number {
    if (ms < this.exact) return ms < 0 ? 0 : ms;
    if (ms >= 2147483648) return this.size - 1;
    const e = 31 - Math.clz32(ms);
    const shift = e - this.bits + 1;
    return this.exact + (e - this.bits) * this.half + ((ms >>> shift) - this.half);
  }

  /** The first ms of a bin (in integer arithmetic: every bin starts below 2^31 ms). */
  lo(bin: number): number {
    if (bin < this.exact) return bin;
    const k = bin - this.exact;
    const octave = k >>> (this.bits - 1);
    return ((k & (this.half - 1)) + this.half) * (1 << (octave + 1));
  }

  /** The last ms of a bin. */
  hi(bin: number): number {
    return bin + 1 >= this.size ? Number.MAX_SAFE_INTEGER : this.lo(bin + 1) - 1;
  }
}

export const FINE = new Grid(16);
export const COARSE = new Grid(11);
export const SESSION = new Grid(7);

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;

/** Distinct bins a histogram keeps in a map before it moves to pages (a map entry costs about 40 bytes, a page 16 KB). */
const SPARSE_BINS = 2048;

/** Durations a histogram takes one by one before it counts them in its bins (its first buffer holds 64). */
const RAW_MAX = 4096;

/**
 * Counts of durations on the FINE grid: a map of its few bins at first, then pages of 4096 bins
 * allocated on first use; a log's histogram costs what its durations span, not its length (and a
 * live window's small panes stay small). Exact, and merges by addition. Durations added one at a
 * time wait in a buffer and are counted in sorted runs, one bin update a run: a part's sessions
 * lasting minutes to hours fall in as many bins as lines, and a map update a line cost more than
 * reading the line.
 */
export class DurationHistogram {
  count = 0;
  maxMs = -1;
  private sparse: Map<number, number> | null = new Map();
  private pages: (Uint32Array | undefined)[] = [];
  /** Set by pack(): the non-empty bins in order and their counts (read-only until unpacked). */
  private packed: { bins: Uint32Array; counts: Uint32Array } | null = null;
  /** Durations added and not yet in the bins: the first rawN of raw. */
  private raw: Int32Array | null = null;
  private rawN = 0;

  add(ms: number, n = 1): void {
    this.count += n;
    if (ms > this.maxMs) this.maxMs = ms;
    if (n !== 1 || ms > 0x7fffffff) {
      this.addBin(FINE.bin(ms), n);
      return;
    }
    let raw = this.raw;
    if (raw === null || this.rawN === raw.length) {
      if (raw !== null && raw.length >= RAW_MAX) this.flush();
      else this.raw = raw === null ? new Int32Array(64) : resized(raw, 2 * raw.length);
      raw = this.raw as Int32Array;
    }
    raw[this.rawN++] = ms;
  }

  /** The buffered durations counted in their bins, in sorted runs. */
  private flush(): void {
    const raw = this.raw;
    const n = this.rawN;
    if (raw === null || n === 0) return;
    this.rawN = 0;
    const sorted = raw.subarray(0, n).sort();
    let bin = FINE.bin(sorted[0] as number);
    let run = 0;
    for (let i = 0; i < n; i++) {
      const b = FINE.bin(sorted[i] as number);
      if (b !== bin) {
        this.addBin(bin, run);
        bin = b;
        run = 0;
      }
      run++;
    }
    this.addBin(bin, run);
  }

  /**
   * Its bins as two arrays, to cross threads: a part's histogram of sessions lasting minutes to
   * hours touches many pages with a few counts each (measured: 65 pages, 1 MB, for 2,358 values).
   */
  pack(): void {
    this.flush();
    this.raw = null;
    const bins: number[] = [];
    const counts: number[] = [];
    this.forEach((b, n) => {
      bins.push(b);
      counts.push(n);
    });
    this.packed = { bins: Uint32Array.from(bins), counts: Uint32Array.from(counts) };
    this.sparse = null;
    this.pages = [];
  }

  /** A histogram that crossed threads (packed, a plain object) made whole again. */
  static revive(o: DurationHistogram): DurationHistogram {
    return Object.setPrototypeOf(o, DurationHistogram.prototype) as DurationHistogram;
  }

  private unpack(): void {
    const p = this.packed;
    if (p === null) return;
    this.packed = null;
    this.sparse = new Map();
    p.bins.forEach((b, i) => this.addBin(b, p.counts[i] as number));
  }

  private addBin(b: number, n: number): void {
    if (this.packed !== null) this.unpack();
    const sparse = this.sparse;
    if (sparse !== null) {
      sparse.set(b, (sparse.get(b) ?? 0) + n);
      if (sparse.size > SPARSE_BINS) this.toPages(sparse);
      return;
    }
    const p = b >>> PAGE_BITS;
    let page = this.pages[p];
    if (page === undefined) page = this.pages[p] = new Uint32Array(PAGE);
    page[b & (PAGE - 1)] = (page[b & (PAGE - 1)] as number) + n;
  }

  private toPages(sparse: Map<number, number>): void {
    this.sparse = null;
    this.pages = new Array<Uint32Array | undefined>(Math.ceil(FINE.size / PAGE)).fill(undefined);
    for (const [b, n] of sparse) this.addBin(b, n);
  }

  /** Count in one FINE bin. */
  at(bin: number): number {
    this.flush();
    if (this.packed !== null) this.unpack();
    if (this.sparse !== null) return this.sparse.get(bin) ?? 0;
    const page = this.pages[bin >>> PAGE_BITS];
    return page === undefined ? 0 : (page[bin & (PAGE - 1)] as number);
  }

  merge(other: DurationHistogram): void {
    other.forEach((b, n) => this.addBin(b, n));
    this.count += other.count;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** Calls fn for every non-empty bin, in order. */
  forEach(fn: (bin: number, n: number) => void): void {
    this.forEachUntil((b, n) => {
      fn(b, n);
      return false;
    });
  }

  /** Count of durations whose bin overlaps [loMs, hiMs] (core/timeouts.ts clusterOf's rule). */
  countBetween(loMs: number, hiMs: number): number {
    let n = 0;
    if (hiMs < 0) return 0;
    const last = FINE.bin(hiMs);
    for (let b = FINE.bin(Math.max(0, loMs)); b <= last; b++) n += this.at(b);
    return n;
  }

  /**
   * The q-quantile (nearest rank): the first ms of its bin, and whether that bin is wider than a
   * millisecond (the value is then within 0.003 %, not exact). -1 when empty.
   */
  quantile(q: number): { ms: number; exact: boolean } {
    if (this.count === 0) return { ms: -1, exact: true };
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    let found = -1;
    this.forEachUntil((b, n) => {
      seen += n;
      if (seen >= rank) found = b;
      return found >= 0;
    });
    if (found < 0) return { ms: this.maxMs, exact: true };
    const lo = FINE.lo(found);
    return FINE.hi(found) === lo ? { ms: lo, exact: true } : { ms: Math.min(lo, this.maxMs), exact: false };
  }

  private forEachUntil(fn: (bin: number, n: number) => boolean): void {
    this.flush();
    const p = this.packed;
    if (p !== null) {
      for (let i = 0; i < p.bins.length; i++) if (fn(p.bins[i] as number, p.counts[i] as number)) return;
      return;
    }
    if (this.sparse !== null) {
      for (const b of [...this.sparse.keys()].sort((x, y) => x - y)) if (fn(b, this.sparse.get(b) as number)) return;
      return;
    }
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      if (page === undefined) continue;
      for (let i = 0; i < PAGE; i++) if (page[i] !== 0 && fn((p << PAGE_BITS) + i, page[i] as number)) return;
    }
  }
}
