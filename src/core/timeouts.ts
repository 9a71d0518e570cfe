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
}

export interface ClusterOptions {
  /** Half-width of the window a cluster may span, in ms. */
  toleranceMs?: number;
  /** Fewest members a cluster needs. */
  minCount?: number;
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

/** Finds every tight cluster in the histogram, largest first. */
export function findClusters(h: DurationHistogram, opts: ClusterOptions = {}): Cluster[] {
  const minCount = opts.minCount ?? 3;
  const nonEmpty: number[] = [];
  h.forEach((b) => nonEmpty.push(b));
  if (nonEmpty.length === 0) return [];
  const n = (nonEmpty.at(-1) as number) + 1;
  const prefix = new Float64Array(n + 1);
  for (let b = 0; b < n; b++) prefix[b + 1] = (prefix[b] as number) + h.at(b);
  /** Count of durations from loMs to hiMs (whole bins from the one holding loMs). */
  const sum = (loMs: number, hiMs: number): number => {
    if (hiMs < 0 || hiMs < loMs) return 0;
    const lo = FINE.bin(Math.max(0, loMs));
    const hi = Math.min(n - 1, FINE.bin(hiMs));
    return lo > hi ? 0 : (prefix[hi + 1] as number) - (prefix[lo] as number);
  };

  const candidates: Cluster[] = [];
  for (const b of nonEmpty) {
    const t = FINE.lo(b);
    if (t < MIN_TIMEOUT_MS) continue;
    const w = opts.toleranceMs ?? defaultTolerance(t);
    // The window [t, t + w] starts at a member; its count decides whether it is a candidate.
    const inWin = sum(t, t + w);
    if (inWin < minCount) continue;
    const r = Math.max(1000, Math.round(t * 0.1));
    const around = sum(t - r, t + w + r) - inWin;
    const density = inWin / (w + 1);
    const background = around / (2 * r);
    const contrast = background === 0 ? Infinity : density / background;
    if (contrast < MIN_CONTRAST) continue;
    const c = tighten(h, b, Math.min(n - 1, FINE.bin(t + w)), inWin, contrast);
    // Chance is judged over the members' own span: six give-ups within 13 ms are no coincidence.
    if (lnPoissonTail(inWin, background * (c.hiMs - c.loMs + 1)) > MAX_LN_P) continue;
    candidates.push(c);
  }
  // Keep the best window per neighbourhood: most members, then tightest.
  candidates.sort((a, b) => b.count - a.count || (a.hiMs - a.loMs) - (b.hiMs - b.loMs));
  const kept: Cluster[] = [];
  for (const c of candidates) {
    const w = opts.toleranceMs ?? defaultTolerance(c.centerMs);
    if (kept.some((k) => c.loMs <= k.hiMs + w && c.hiMs >= k.loMs - w)) continue;
    kept.push(c);
  }
  return kept;
}

/** Shrinks bins [lo, hi] to its first and last members and finds the median member. */
function tighten(h: DurationHistogram, lo: number, hi: number, count: number, contrast: number): Cluster {
  while (lo < hi && h.at(lo) === 0) lo++;
  while (hi > lo && h.at(hi) === 0) hi--;
  let seen = 0;
  let center = lo;
  for (let b = lo; b <= hi; b++) {
    seen += h.at(b);
    if (seen * 2 >= count) {
      center = b;
      break;
    }
  }
  return { centerMs: FINE.lo(center), loMs: FINE.lo(lo), hiMs: FINE.hi(hi), count, contrast };
}

/** A cluster around a timeout the user named (--timeout), with the given tolerance. */
export function clusterAt(h: DurationHistogram, ms: number, toleranceMs: number): Cluster {
  const lo = Math.max(0, ms - toleranceMs);
  const hi = ms + toleranceMs;
  return { centerMs: ms, loMs: lo, hiMs: hi, count: h.countBetween(lo, hi), contrast: Infinity };
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
