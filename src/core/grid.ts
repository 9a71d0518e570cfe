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

  /** The first bin whose first ms is at or past `ms`. */
  binFrom(ms: number): number {
    if (ms <= 0) return 0;
    const b = this.bin(ms);
    return this.lo(b) < ms ? b + 1 : b;
  }

  /** The last ms of a bin. */
  hi(bin: number): number {
    return bin + 1 >= this.size ? Number.MAX_SAFE_INTEGER : this.lo(bin + 1) - 1;
  }
}

export const FINE = new Grid(16);
export const COARSE = new Grid(11);
export const SESSION = new Grid(7);

/** A quantile's first ms, and whether it is exact (its bin a millisecond wide) or within 0.003 %. */
export interface Quantile {
  ms: number;
  exact: boolean;
}

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;

/**
 * Distinct bins a histogram keeps as two sorted arrays before it moves to pages (an entry costs 8
 * bytes, a page 16 KB). A part's histogram of sessions lasting minutes to hours has as many bins
 * as lines, and stays below this: it crosses threads as the two arrays it was counted in.
 */
const SORTED_BINS = 1 << 15;

/** Durations a histogram takes one by one before it counts them in its bins (its first buffer holds 64). */
const RAW_MAX = 4096;

/** The runs of a flushed buffer: at most RAW_MAX distinct bins. */
const RUN_BINS = new Uint32Array(RAW_MAX);
const RUN_COUNTS = new Uint32Array(RAW_MAX);
const NO_BINS = new Uint32Array(0);

/**
 * Counts of durations on the FINE grid: its non-empty bins as two sorted arrays at first, then
 * pages of 4096 bins allocated on first use; a log's histogram costs what its durations span, not
 * its length (and a live window's small panes stay small). Exact, and merges by addition.
 * Durations added one at a time wait in a buffer and are counted in sorted runs, merged into the
 * sorted bins in one pass: a part's sessions lasting minutes to hours fall in as many bins as
 * lines, and an update a line cost more than reading the line.
 */
export class DurationHistogram {
  count = 0;
  maxMs = -1;
  /** Until it moves to pages: the first `n` of bins (ascending) and their counts. */
  private bins = NO_BINS;
  private counts = NO_BINS;
  private n = 0;
  private pages: (Uint32Array | undefined)[] | null = null;
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
    let runs = 0;
    let bin = FINE.bin(sorted[0] as number);
    let run = 0;
    for (let i = 0; i < n; i++) {
      const b = FINE.bin(sorted[i] as number);
      if (b !== bin) {
        RUN_BINS[runs] = bin;
        RUN_COUNTS[runs++] = run;
        bin = b;
        run = 0;
      }
      run++;
    }
    RUN_BINS[runs] = bin;
    RUN_COUNTS[runs++] = run;
    this.addRuns(RUN_BINS, RUN_COUNTS, runs);
  }

  /** Adds `m` runs (bins ascending, each with its count). */
  private addRuns(bins: Uint32Array, counts: Uint32Array, m: number): void {
    if (this.pages !== null) {
      for (let j = 0; j < m; j++) this.addToPage(bins[j] as number, counts[j] as number);
      return;
    }
    // From the ends, into the room past the n sorted bins: each new bin, from the last, finds by
    // binary search the old ones above it, which move up in one native copy (a part's few bins
    // into a run's thousands: a live run merges one for every pane of every part), then lands
    // above them, its count added to an old bin's that it equals. Bins met in both leave a gap
    // between the old bins in place and the merged ones, closed at the end.
    const na = this.n;
    if (na + m > this.bins.length) {
      const room = Math.max(2 * this.bins.length, na + m, 64);
      this.bins = resized(this.bins, room);
      this.counts = resized(this.counts, room);
    }
    const a = this.bins;
    const ac = this.counts;
    /** Old bins a[0, i) not moved yet; merged ones from k on. */
    let i = na;
    let k = na + m;
    for (let j = m - 1; j >= 0; j--) {
      const y = bins[j] as number;
      let lo = 0;
      let hi = i;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((a[mid] as number) > y) hi = mid;
        else lo = mid + 1;
      }
      if (lo < i) {
        a.copyWithin(k - (i - lo), lo, i);
        ac.copyWithin(k - (i - lo), lo, i);
        k -= i - lo;
        i = lo;
      }
      const same = i > 0 && a[i - 1] === y;
      const n = (counts[j] as number) + (same ? (ac[i - 1] as number) : 0);
      if (same) i--;
      a[--k] = y;
      ac[k] = n;
    }
    const gap = k - i;
    if (gap > 0) {
      a.copyWithin(i, k, na + m);
      ac.copyWithin(i, k, na + m);
    }
    this.n = na + m - gap;
    if (this.n > SORTED_BINS) this.toPages();
  }

  /**
   * Its bins as two arrays cut to length, to cross threads: a part's histogram of
   * sessions lasting minutes to hours would touch many pages with a few counts each (measured: 65
   * pages, 1 MB, for 2,358 values).
   */
  pack(): void {
    this.flush();
    this.raw = null;
    if (this.pages !== null || this.bins.length !== this.n) {
      const { bins, counts } = this.toArrays();
      this.pages = null;
      this.bins = bins;
      this.counts = counts;
      this.n = bins.length;
    }
  }

  /** A histogram that crossed threads (packed, a plain object) made whole again. */
  static revive(o: DurationHistogram): DurationHistogram {
    return Object.setPrototypeOf(o, DurationHistogram.prototype) as DurationHistogram;
  }

  /**
   * The sum of some histograms: the one itself when there is only one (to be read, not changed),
   * else a new one. A log's upgraded sessions are mostly one group, whose copy would cost what its
   * hours of durations span.
   */
  static sumOf(hs: readonly DurationHistogram[]): DurationHistogram {
    if (hs.length === 1) return hs[0] as DurationHistogram;
    const sum = new DurationHistogram();
    for (const h of hs) sum.merge(h);
    return sum;
  }

  /** Adds n to one bin (a duration past 2^31 ms, or several at once). */
  private addBin(b: number, n: number): void {
    if (this.pages !== null) return this.addToPage(b, n);
    const i = this.indexOf(b);
    if (i < this.n && this.bins[i] === b) {
      this.counts[i] = (this.counts[i] as number) + n;
      return;
    }
    RUN_BINS[0] = b;
    RUN_COUNTS[0] = n;
    this.addRuns(RUN_BINS, RUN_COUNTS, 1);
  }

  private addToPage(b: number, n: number): void {
    const pages = this.pages as (Uint32Array | undefined)[];
    const p = b >>> PAGE_BITS;
    let page = pages[p];
    if (page === undefined) page = pages[p] = new Uint32Array(PAGE);
    page[b & (PAGE - 1)] = (page[b & (PAGE - 1)] as number) + n;
  }

  private toPages(): void {
    const { bins, counts, n } = this;
    this.pages = new Array<Uint32Array | undefined>(Math.ceil(FINE.size / PAGE)).fill(undefined);
    for (let i = 0; i < n; i++) this.addToPage(bins[i] as number, counts[i] as number);
    this.bins = NO_BINS;
    this.counts = NO_BINS;
    this.n = 0;
  }

  /** The index of the first sorted bin ≥ b. */
  private indexOf(b: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.bins[mid] as number) < b) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Count in one FINE bin. */
  at(bin: number): number {
    this.flush();
    if (this.pages === null) {
      const i = this.indexOf(bin);
      return i < this.n && this.bins[i] === bin ? (this.counts[i] as number) : 0;
    }
    const page = this.pages[bin >>> PAGE_BITS];
    return page === undefined ? 0 : (page[bin & (PAGE - 1)] as number);
  }

  merge(other: DurationHistogram): void {
    other.flush();
    if (other.pages === null) this.addRuns(other.bins, other.counts, other.n);
    else other.forEach((b, n) => this.addBin(b, n));
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

  /** Calls fn for every non-empty bin from `first` to `last`, in order. */
  forEachBetween(first: number, last: number, fn: (bin: number, n: number) => void): void {
    this.flush();
    if (this.pages === null) {
      for (let i = this.indexOf(first); i < this.n && (this.bins[i] as number) <= last; i++) fn(this.bins[i] as number, this.counts[i] as number);
      return;
    }
    for (let b = first; b <= last; b++) {
      const n = this.at(b);
      if (n !== 0) fn(b, n);
    }
  }

  /**
   * The non-empty bins by stretches: `cuts` (ascending bins) cut the grid into stretches (below
   * the first cut, between two, from the last on); fn(first non-empty bin, count) for each
   * stretch that holds any. One pass over the bins, no call per bin: a log's upgraded sessions
   * fill 100,000s of bins, and the diagnosis reads them once, in code not yet optimized.
   */
  forEachStretch(cuts: readonly number[], fn: (firstBin: number, n: number) => void): void {
    this.flush();
    let k = 0;
    let next = cuts.length > 0 ? (cuts[0] as number) : Infinity;
    let first = -1;
    let sum = 0;
    const last = this.pages === null ? this.n : this.pages.length << PAGE_BITS;
    for (let i = 0; i < last; i++) {
      let b: number;
      let n: number;
      if (this.pages === null) {
        b = this.bins[i] as number;
        n = this.counts[i] as number;
      } else {
        const page = this.pages[i >>> PAGE_BITS];
        if (page === undefined) {
          i |= PAGE - 1;
          continue;
        }
        n = page[i & (PAGE - 1)] as number;
        if (n === 0) continue;
        b = i;
      }
      if (b >= next) {
        if (first >= 0) fn(first, sum);
        first = -1;
        while (k < cuts.length && b >= (cuts[k] as number)) k++;
        next = k < cuts.length ? (cuts[k] as number) : Infinity;
      }
      if (first < 0) {
        first = b;
        sum = 0;
      }
      sum += n;
    }
    if (first >= 0) fn(first, sum);
  }

  /** The non-empty bins and their counts, in order. */
  toArrays(): { bins: Uint32Array<ArrayBuffer>; counts: Uint32Array<ArrayBuffer> } {
    this.flush();
    if (this.pages === null) return { bins: this.bins.slice(0, this.n), counts: this.counts.slice(0, this.n) };
    let m = 0;
    for (const page of this.pages) if (page !== undefined) for (let i = 0; i < PAGE; i++) if (page[i] !== 0) m++;
    const bins = new Uint32Array(m);
    const counts = new Uint32Array(m);
    m = 0;
    this.pages.forEach((page, p) => {
      if (page === undefined) return;
      for (let i = 0; i < PAGE; i++) {
        if (page[i] === 0) continue;
        bins[m] = (p << PAGE_BITS) + i;
        counts[m++] = page[i] as number;
      }
    });
    return { bins, counts };
  }

  /** Count of durations whose bin overlaps [loMs, hiMs] (core/timeouts.ts clusterOf's rule). */
  countBetween(loMs: number, hiMs: number): number {
    if (hiMs < 0) return 0;
    let n = 0;
    this.forEachBetween(FINE.bin(Math.max(0, loMs)), FINE.bin(hiMs), (_, count) => {
      n += count;
    });
    return n;
  }

  /**
   * The q-quantile (nearest rank): the first ms of its bin, and whether that bin is wider than a
   * millisecond (the value is then within 0.003 %, not exact). -1 when empty.
   */
  quantile(q: number): Quantile {
    return this.quantiles([q])[0] as Quantile;
  }

  /** quantile() of each of `qs`, in one pass over the bins (a log's sessions fill 100,000s). */
  quantiles(qs: readonly number[]): Quantile[] {
    const found = qs.map(() => -1);
    if (this.count === 0) return found.map(() => ({ ms: -1, exact: true }));
    const ranks = qs.map((q) => Math.max(1, Math.ceil(q * this.count)));
    const order = ranks.map((_, i) => i).sort((a, b) => (ranks[a] as number) - (ranks[b] as number));
    let next = 0;
    let seen = 0;
    this.forEachUntil((b, n) => {
      seen += n;
      for (; next < order.length && (ranks[order[next] as number] as number) <= seen; next++) found[order[next] as number] = b;
      return next === order.length;
    });
    return found.map((bin) => {
      if (bin < 0) return { ms: this.maxMs, exact: true };
      const lo = FINE.lo(bin);
      return FINE.hi(bin) === lo ? { ms: lo, exact: true } : { ms: Math.min(lo, this.maxMs), exact: false };
    });
  }

  private forEachUntil(fn: (bin: number, n: number) => boolean): void {
    this.flush();
    if (this.pages === null) {
      for (let i = 0; i < this.n; i++) if (fn(this.bins[i] as number, this.counts[i] as number)) return;
      return;
    }
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      if (page === undefined) continue;
      for (let i = 0; i < PAGE; i++) if (page[i] !== 0 && fn((p << PAGE_BITS) + i, page[i] as number)) return;
    }
  }
}
