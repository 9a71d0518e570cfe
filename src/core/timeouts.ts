/*!
 * Infers the timeouts T that ended connections: tight clusters of request_time in a duration
 * histogram. A timeout kill ends many requests within milliseconds of T; healthy sessions that
 * happen to last about T are spread out. Never assumes 60 s. Pure functions over DurationHistogram
 * (core/grid.ts): clusters are found over the whole range, minutes or days, and their bounds are
 * FINE bin edges, so a duration is inside a cluster exactly when its bin is.
 */
import { FINE, type DurationHistogram } from './grid.js';

export interface Cluster {
  /** Centre of the cluster (median of its members), in ms. */
  centerMs: number;
  loMs: number;
  hiMs: number;
  count: number;
  /** Members per ms in the window ÷ members per ms around it (∞ when nothing is around). */
  contrast: number;
  /** True when its bins are wider than a millisecond (past 65.5 s): T is then within 0.003 %. */
  approximate: boolean;
}

export interface ClusterOptions {
  /** Half-width of the window a cluster may span, in ms. */
  toleranceMs?: number;
  /** Fewest members a cluster needs. */
  minCount?: number;
  /**
   * Weigh every window in every round, not only those whose background holds the last round's
   * clusters: the same clusters, slower (tests compare the two).
   */
  everyWindow?: boolean;
}

/** How much denser than its surroundings a window must be. */
const MIN_CONTRAST = 8;
/**
 * And how unlikely by chance: ln of the largest acceptable P(X ≥ count) for a Poisson count with
 * the surroundings' density. Across the ~10⁵ windows a long log offers, 1e-9 keeps chance
 * coincidences of scattered 499s (impatient users) from passing as timeouts.
 */
const MAX_LN_P = Math.log(1e-9);

/** ln P(X ≥ k) for X ~ Poisson(λ), k > λ: the first term of the tail dominates (Stirling for ln k!). */
function lnPoissonTail(k: number, lambda: number): number {
  if (lambda <= 0) return -Infinity;
  const lnFact = k < 2 ? 0 : k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) + 1 / (12 * k);
  const lnPmf = -lambda + k * Math.log(lambda) - lnFact;
  return lnPmf - Math.log(Math.max(1e-12, 1 - lambda / (k + 1)));
}
/** Durations below this are not timeouts (instant answers pile up near 0). */
const MIN_TIMEOUT_MS = 500;

/** Default tolerance: timeouts fire within tens of ms of T; allow 0.2 % of T for long ones. */
export function defaultTolerance(ms: number): number {
  return Math.max(25, Math.round(ms * 0.002));
}

/**
 * Finds every tight cluster in the histogram, largest first. Rounds: each finds the windows that
 * stand out against their background, keeps the best per neighbourhood, and the next round looks
 * again with the kept clusters taken out of the background, so a big dense cluster does not hide
 * a small tight one beside it (600 × 504 at 55 s next to 40 × 499 at 60 s).
 */
export function findClusters(h: DurationHistogram, opts: ClusterOptions = {}): Cluster[] {
  const kept: Cluster[] = [];
  const tol = (ms: number): number => opts.toleranceMs ?? defaultTolerance(ms);
  const near = (c: Cluster): boolean => kept.some((k) => c.loMs <= k.hiMs + tol(c.centerMs) && c.hiMs >= k.loMs - tol(c.centerMs));
  const m = members(h);
  let fresh: readonly Cluster[] | null = null;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Keep the best window per neighbourhood: most members, then tightest.
    const found = candidates(m, kept, fresh, opts).sort((a, b) => b.count - a.count || (a.hiMs - a.loMs) - (b.hiMs - b.loMs));
    const before = kept.length;
    for (const c of found) if (!near(c)) kept.push(c);
    if (kept.length === before) break;
    fresh = kept.slice(before);
  }
  return kept.sort((a, b) => b.count - a.count);
}

/** Rounds of findClusters: each adds only clusters a kept one hid, so few are ever needed. */
const MAX_ROUNDS = 6;

/**
 * A histogram's members, read once for every round: the non-empty bins in order and the prefix
 * sums of their counts; typed arrays indexed by member, not by bin (sessions of hours span 300,000
 * FINE bins), so a long log's hundreds of thousands of distinct durations cost 20 bytes each.
 */
interface Members {
  bins: Uint32Array;
  /** prefix[i]: the counts of members 0 … i-1 (member i's count: prefix[i + 1] - prefix[i]). */
  prefix: Float64Array;
}

function members(h: DurationHistogram): Members {
  const { bins, counts } = h.toArrays();
  const prefix = new Float64Array(bins.length + 1);
  for (let k = 0; k < bins.length; k++) prefix[k + 1] = (prefix[k] as number) + (counts[k] as number);
  return { bins, prefix };
}

/** The first member whose bin starts at or past `ms`. */
function memberFrom(m: Members, ms: number): number {
  return firstWhere(m, (k) => FINE.lo(m.bins[k] as number) >= ms);
}

/** The first member k for which `past(k)` holds, `past` being false and then true as k grows. */
function firstWhere(m: Members, past: (k: number) => boolean): number {
  let lo = 0;
  let hi = m.bins.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (past(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Ranges of members [from, to), in order and apart: those whose bins start inside one of the
 * clusters (the masked members of a round), or whose windows' backgrounds reach into one.
 */
type Spans = [number, number][];

function merged(spans: Spans): Spans {
  const out: Spans = [];
  for (const [from, to] of spans.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1];
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

/** A window at t: its width w (the tolerance). */
function widthAt(t: number, opts: ClusterOptions): number {
  return opts.toleranceMs ?? defaultTolerance(t);
}

/** A window at t: the reach r of the durations around it (±10 % of t, at least ±1 s). */
function reachAt(t: number): number {
  return Math.max(1000, Math.round(t * 0.1));
}

/**
 * The whole background of a window at t (around it and the wider neighbourhood): from
 * backgroundLo to backgroundHi ms, both growing with t (as w and r do).
 */
function backgroundLo(t: number): number {
  return Math.min(t - reachAt(t), Math.round(t / 2));
}

function backgroundHi(t: number, opts: ClusterOptions): number {
  return Math.max(t + widthAt(t, opts) + reachAt(t), Math.round(t * 1.5) + widthAt(t, opts));
}

/**
 * The first member at or past a bin, for bins that only grow from call to call (a window's edges
 * move on with its start): a pointer that walks, so a round over every member stays linear.
 */
class Cursor {
  private at = 0;

  constructor(private readonly bins: Uint32Array) {}

  from(bin: number): number {
    while (this.at < this.bins.length && (this.bins[this.at] as number) < bin) this.at++;
    return this.at;
  }
}

/**
 * Windows [t, t + w] starting at a member that are significant against their background: the
 * durations around them (±10 % of t, at least ±1 s) and the wider neighbourhood (t/2 … 3t/2),
 * whichever is denser, with the `masked` clusters left out of both. After the first round
 * (`fresh`: the clusters the last one kept) only windows whose background holds a fresh cluster
 * are weighed again: any other's verdict is the last round's, and a window that passed then was
 * kept, so masked now, or was near one kept, so near it still. Those windows' members are found
 * by binary search (a background's bounds grow with t), and the background's sums are the
 * members' less the masked ones' (a few ranges of members): a round that finds a small cluster
 * beside a big one reads the members near them, not all of them.
 */
function candidates(members: Members, masked: readonly Cluster[], fresh: readonly Cluster[] | null, opts: ClusterOptions): Cluster[] {
  const minCount = opts.minCount ?? 3;
  const { bins, prefix } = members;
  if (bins.length === 0) return [];
  const holes = merged(masked.map((c) => [memberFrom(members, c.loMs), memberFrom(members, c.hiMs + 1)]));
  /** The background's count among members a … b-1: theirs, less the masked ones'. */
  const bg = (a: number, b: number): number => {
    if (b <= a) return 0;
    let n = (prefix[b] as number) - (prefix[a] as number);
    for (const [from, to] of holes) {
      const x = Math.max(a, from);
      const y = Math.min(b, to);
      if (y > x) n -= (prefix[y] as number) - (prefix[x] as number);
    }
    return n;
  };
  // The background from fromMs to toMs (whole bins from the one holding fromMs): both edges only
  // grow with the window's start, each edge of each sum a cursor of its own.
  const aroundLo = new Cursor(bins);
  const aroundHi = new Cursor(bins);
  const wideLo = new Cursor(bins);
  const wideHi = new Cursor(bins);
  const sum = (lo: Cursor, hi: Cursor, fromMs: number, toMs: number): number => bg(lo.from(FINE.bin(Math.max(0, fromMs))), hi.from(FINE.bin(toMs) + 1));

  const first = memberFrom(members, MIN_TIMEOUT_MS);
  const spans: Spans = fresh === null || opts.everyWindow === true
    ? [[first, bins.length]]
    : merged(fresh.map((c) => [
      Math.max(first, firstWhere(members, (k) => backgroundHi(FINE.lo(bins[k] as number), opts) >= c.loMs)),
      firstWhere(members, (k) => backgroundLo(FINE.lo(bins[k] as number)) > c.hiMs),
    ]));
  const out: Cluster[] = [];
  // The window's members are i … j: j moves on with i, as t + w only grows.
  let j = 0;
  for (const [from, to] of spans) {
    for (let i = from; i < to; i++) {
      const t = FINE.lo(bins[i] as number);
      const w = widthAt(t, opts);
      const r = reachAt(t);
      const last = FINE.bin(t + w);
      if (j < i) j = i;
      while (j + 1 < bins.length && (bins[j + 1] as number) <= last) j++;
      const inWin = (prefix[j + 1] as number) - (prefix[i] as number);
      if (inWin < minCount) continue;
      const own = bg(i, j + 1);
      const density = inWin / (w + 1);
      const around = (sum(aroundLo, aroundHi, t - r, t + w + r) - own) / (2 * r);
      // The background is at least what is around: most windows stop here, the wider sum unread.
      if (around > 0 && density / around < MIN_CONTRAST) continue;
      const wide = (sum(wideLo, wideHi, Math.round(t / 2), Math.round(t * 1.5) + w) - own) / Math.max(1, t);
      const background = Math.max(around, wide);
      const contrast = background === 0 ? Infinity : density / background;
      if (contrast < MIN_CONTRAST) continue;
      // Chance is judged over the members' own span: six give-ups within 13 ms are no coincidence.
      const hiMs = FINE.hi(bins[j] as number);
      if (lnPoissonTail(inWin, background * (hiMs - t + 1)) > MAX_LN_P) continue;
      if (overlapsAny(masked, t, hiMs)) continue;
      out.push(clusterOfMembers(members, i, j, inWin, contrast));
    }
  }
  return out;
}

/** Does a cluster of `cs` overlap [lo, hi] ms? A loop, not some(): called per window, a closure each would be garbage. */
function overlapsAny(cs: readonly Cluster[], lo: number, hi: number): boolean {
  for (const c of cs) if (c.loMs <= hi && c.hiMs >= lo) return true;
  return false;
}

/** The cluster of members i … j (`count` in all): their bounds and the median member. */
function clusterOfMembers(m: Members, i: number, j: number, count: number, contrast: number): Cluster {
  let center = m.bins[i] as number;
  for (let k = i; k <= j; k++) {
    if (((m.prefix[k + 1] as number) - (m.prefix[i] as number)) * 2 >= count) {
      center = m.bins[k] as number;
      break;
    }
  }
  const hi = m.bins[j] as number;
  // Past 65.5 s a bin is wider than a millisecond: its middle is the best estimate of T.
  const approximate = FINE.hi(hi) > FINE.lo(hi);
  const centerMs = FINE.hi(center) === FINE.lo(center) ? FINE.lo(center) : Math.round((FINE.lo(center) + FINE.hi(center)) / 2);
  return { centerMs, loMs: FINE.lo(m.bins[i] as number), hiMs: FINE.hi(hi), count, contrast, approximate };
}

/**
 * Where clusterOf(cs, ms)'s answer may change as ms grows (its LineSelector edges): for each
 * cluster, the first ms of the bin holding its start and the first ms past the bin holding its end.
 */
export function clusterEdges(cs: readonly Cluster[]): number[] {
  return cs.flatMap((c) => [FINE.lo(FINE.bin(Math.max(0, c.loMs))), FINE.hi(FINE.bin(Math.max(0, c.hiMs))) + 1]);
}

/** A cluster around a timeout the user named (--timeout), with the given tolerance. */
export function clusterAt(h: DurationHistogram, ms: number, toleranceMs: number): Cluster {
  const lo = Math.max(0, ms - toleranceMs);
  const hi = ms + toleranceMs;
  return { centerMs: ms, loMs: lo, hiMs: hi, count: h.countBetween(lo, hi), contrast: Infinity, approximate: false };
}

/**
 * The cluster holding a duration, if any: the one its FINE bin overlaps (inferred clusters end on
 * bin edges, so for them this is the bin lying inside).
 */
export function clusterOf(cs: readonly Cluster[], ms: number): Cluster | undefined {
  if (ms < 0) return undefined;
  const b = FINE.bin(ms);
  const lo = FINE.lo(b);
  const hi = FINE.hi(b);
  for (const c of cs) if (hi >= c.loMs && lo <= c.hiMs) return c;
  return undefined;
}
