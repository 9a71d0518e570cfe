/*!
 * Timeout inference (src/core/timeouts.ts) over DurationHistogram, and the duration grid and
 * histogram of src/core/grid.ts. Inputs come from a seeded PRNG; every expected cluster (bounds, count, median)
 * is computed from the generated values, not copied from the code's output.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { DurationHistogram, FINE, COARSE, SESSION } from '../src/core/grid.js';
import { clusterAt, defaultTolerance, findClusters, type Cluster, type ClusterOptions } from '../src/core/timeouts.js';
import { prng } from './helpers/prng.js';

/** n integers uniform in [lo, hi]. */
function uniform(rand: () => number, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo + 1)));
}

function histogram(values: readonly number[]): DurationHistogram {
  const h = new DurationHistogram();
  for (const v of values) h.add(v);
  return h;
}

/** What a cluster made of exactly these values must report: bounds, count, and the lower median. */
function expected(members: readonly number[]): Omit<Cluster, 'contrast' | 'approximate'> {
  const s = [...members].sort((a, b) => a - b);
  return { centerMs: s[Math.ceil(s.length / 2) - 1] as number, loMs: s[0] as number, hiMs: s[s.length - 1] as number, count: s.length };
}

const strip = (cs: readonly Cluster[]): Omit<Cluster, 'contrast' | 'approximate'>[] => cs.map(({ contrast: _c, approximate: _a, ...rest }) => rest);

// --- data sets (seeded) ---------------------------------------------------------------------------

const r1 = prng(3);
/** 20 LB give-ups at 59.992–60.004 s. */
const AT_60 = uniform(r1, 20, 59_992, 60_004);
/** 200 sessions spread uniformly over 1 s – 600 s. */
const SPREAD = uniform(r1, 200, 1_000, 599_999);

const r2 = prng(2);
const AT_5 = uniform(r2, 15, 5_000, 5_010);
const AT_10 = uniform(r2, 12, 10_000, 10_008);
const AT_5_SMALL = uniform(r2, 12, 5_000, 5_010);
const AT_10_BIG = uniform(r2, 15, 10_000, 10_008);

const r6 = prng(1);
/** 6 LB give-ups at 59.992–60.004 s among 2000 sessions spread over 1 s – 600 s. */
const FEW_AT_60 = uniform(r6, 6, 59_992, 60_004);
const MANY_SPREAD = uniform(r6, 2000, 1_000, 599_999);

const r7 = prng(7);
/** 600 give-ups at 55.000–55.100 s, and 40 at 60.000–60.010 s: beside the 600 the 40 stand out only once the 600 are taken out of their background (a second round). */
const BIG_AT_55 = uniform(r7, 600, 55_000, 55_100);
const HIDDEN_AT_60 = uniform(r7, 40, 60_000, 60_010);

const HEALTHY = uniform(prng(3), 500, 50_000, 70_000);
const INSTANT = [...uniform(prng(4), 1000, 1, 5), ...uniform(prng(5), 50, 6, 400)];

interface ClusterCase {
  name: string;
  values: number[];
  opts?: ClusterOptions;
  /** The clusters findClusters must return, in order (contrast not compared). */
  want: Omit<Cluster, 'contrast' | 'approximate'>[];
  /** Compare only the first `want.length` clusters. */
  prefix?: boolean;
  todo?: string;
}

const clusterCases: ClusterCase[] = [
  {
    name: '(a) a 60 s give-up among 200 spread sessions is found first, centred within 5 ms of 60 s',
    values: [...AT_60, ...SPREAD], want: [expected(AT_60)], prefix: true,
  },
  {
    name: '(a) … and it is the only cluster',
    values: [...AT_60, ...SPREAD], want: [expected(AT_60)],
  },
  {
    name: '200 sessions spread over 1–600 s and no timeout → no cluster',
    values: SPREAD, want: [],
  },
  {
    name: '6 give-ups within 12 ms among 2000 spread sessions are found',
    values: [...FEW_AT_60, ...MANY_SPREAD], want: [expected(FEW_AT_60)],
  },
  {
    name: '(b) two timeouts in one histogram (5 s ×15, 10 s ×12), largest first',
    values: [...AT_10, ...AT_5], want: [expected(AT_5), expected(AT_10)],
  },
  {
    name: '(b) two timeouts, the later one larger (5 s ×12, 10 s ×15), largest first',
    values: [...AT_5_SMALL, ...AT_10_BIG], want: [expected(AT_10_BIG), expected(AT_5_SMALL)],
  },
  {
    name: 'a small tight cluster beside a big one (40 at 60 s, 600 at 55 s) is found once the big one is masked',
    values: [...BIG_AT_55, ...HIDDEN_AT_60], want: [expected(BIG_AT_55), expected(HIDDEN_AT_60)],
  },
  {
    name: '(c) healthy sessions only: 500 spread over 50–70 s → no cluster',
    values: HEALTHY, want: [],
  },
  {
    name: '(d) instant answers near 0 ms (1000 at 1–5 ms, 50 up to 400 ms) → no cluster',
    values: INSTANT, want: [],
  },
  {
    name: 'a tight 5 + 5 at 60.000 s and 60.040 s is one cluster with the default tolerance',
    values: [...Array<number>(5).fill(60_000), ...Array<number>(5).fill(60_040)],
    want: [expected([...Array<number>(5).fill(60_000), ...Array<number>(5).fill(60_040)])],
  },
  {
    name: '… and two clusters with toleranceMs 10',
    values: [...Array<number>(5).fill(60_000), ...Array<number>(5).fill(60_040)], opts: { toleranceMs: 10 },
    want: [expected(Array<number>(5).fill(60_000)), expected(Array<number>(5).fill(60_040))],
  },
  {
    name: 'two members are below the default minCount',
    values: [30_000, 30_001], want: [],
  },
  {
    name: '… and a cluster with minCount 2',
    values: [30_000, 30_001], opts: { minCount: 2 }, want: [expected([30_000, 30_001])],
  },
];

for (const c of clusterCases) {
  test(`findClusters: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    const got = findClusters(histogram(c.values), c.opts);
    assert.deepEqual(strip(c.prefix ? got.slice(0, c.want.length) : got), c.want);
    for (const k of got) assert.ok(k.contrast >= 8, `contrast ${k.contrast}`);
  });
}

test('findClusters: weighing again only the windows near the last round\'s clusters finds what weighing every window finds', () => {
  // A big timeout and small ones anywhere in its neighbourhood (which it hides until masked, most
  // of all at the neighbourhood's edges), over scattered durations; the default rounds against
  // rounds that weigh every window.
  const small = fc.record({ at: fc.double({ min: 0.4, max: 2.2, noNaN: true }), n: fc.integer({ min: 3, max: 30 }), spread: fc.integer({ min: 0, max: 10 }) });
  fc.assert(
    fc.property(
      fc.integer({ min: 1_000, max: 300_000 }), fc.integer({ min: 100, max: 600 }), fc.array(small, { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 400 }), fc.integer(), fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
      (bigMs, bigN, smalls, scattered, seed, tolerance) => {
        const rand = prng(seed);
        const values = [...uniform(rand, scattered, 500, 700_000), ...uniform(rand, bigN, bigMs, bigMs + 15)];
        for (const t of smalls) {
          const ms = Math.round(bigMs * t.at);
          values.push(...uniform(rand, t.n, ms, ms + t.spread));
        }
        const h = histogram(values);
        const opts: ClusterOptions = tolerance === undefined ? {} : { toleranceMs: tolerance };
        assert.deepEqual(findClusters(h, opts), findClusters(h, { ...opts, everyWindow: true }));
      },
    ),
    { numRuns: 300, seed: 22 },
  );
});

test('findClusters: the seeded data is what the cases say', () => {
  // Preconditions that make "count = the members, bounds = theirs" exact: no spread value near 60 s.
  assert.ok(SPREAD.every((v) => Math.abs(v - 60_000) > 2_000));
  assert.ok(MANY_SPREAD.every((v) => v < 59_992 - 125 || v > 60_004 + 125));
  const e = expected(AT_60);
  assert.equal(e.count, 20);
  assert.ok(Math.abs(e.centerMs - 60_000) <= 5, `centre ${e.centerMs}`);
});

// --- clusterAt ------------------------------------------------------------------------------------

const AROUND = [1_000, 59_879, 59_880, 59_881, 60_000, 60_000, 60_119, 60_120, 60_121, 599_999, 700_500];

const clusterAtCases: { name: string; ms: number; tol: number; values?: number[] }[] = [
  { name: '60 s ± 120 ms: both edges inclusive', ms: 60_000, tol: 120 },
  { name: '60 s ± 0', ms: 60_000, tol: 0 },
  { name: '60 s ± 1', ms: 60_000, tol: 1 },
  { name: 'lower edge clamped to 0', ms: 1_000, tol: 5_000 },
  { name: 'a bin wider than 1 ms (599.999 s ± 0) still holds its value', ms: 599_999, tol: 0 },
  { name: 'nothing there', ms: 30_000, tol: 25 },
  { name: 'coarse range (whole seconds), 700.0 s ± 1 s', ms: 700_000, tol: 1_000 },
];

for (const c of clusterAtCases) {
  test(`clusterAt: ${c.name}`, () => {
    const values = c.values ?? AROUND;
    const lo = Math.max(0, c.ms - c.tol);
    const hi = c.ms + c.tol;
    const want: Cluster = { centerMs: c.ms, loMs: lo, hiMs: hi, count: values.filter((v) => v >= lo && v <= hi).length, contrast: Infinity, approximate: false };
    assert.deepEqual(clusterAt(histogram(values), c.ms, c.tol), want);
  });
}

// --- defaultTolerance -----------------------------------------------------------------------------

const toleranceCases: { ms: number; want: number }[] = [
  { ms: 0, want: 25 },
  { ms: 5_000, want: 25 },
  { ms: 12_500, want: 25 },
  { ms: 13_000, want: 26 },
  { ms: 30_000, want: 60 },
  { ms: 60_000, want: 120 },
  { ms: 100_000, want: 200 },
  { ms: 3_600_000, want: 7_200 },
];

for (const c of toleranceCases) {
  test(`defaultTolerance(${c.ms}) = max(25 ms, 0.2 %) = ${c.want}`, () => {
    assert.equal(defaultTolerance(c.ms), c.want);
  });
}

// --- quantiles ------------------------------------------------------------------------------------

const QS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1];

/** Nearest-rank quantile of sorted values. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

const logUniform = (seed: number, n: number, maxMs: number): number[] => {
  const rand = prng(seed);
  return Array.from({ length: n }, () => Math.round(Math.exp(rand() * Math.log(maxMs))));
};

const quantileCases: { name: string; values: number[] }[] = [
  { name: 'log-uniform 1 ms – 1 h', values: logUniform(11, 5000, 3_600_000) },
  { name: 'log-uniform up to 30 days', values: logUniform(12, 2000, 30 * 86_400_000) },
  { name: 'uniform 50–70 s', values: uniform(prng(13), 3000, 50_000, 70_000) },
  { name: 'one value repeated', values: Array<number>(100).fill(60_000) },
  { name: 'tiny values 0–5 ms', values: uniform(prng(14), 1000, 0, 5) },
  { name: 'one value', values: [12_345] },
];

for (const c of quantileCases) {
  test(`DurationHistogram quantiles: exact to the ms below 65.5 s, the value's bin (within 0.003 %) above: ${c.name}`, () => {
    const h = histogram(c.values);
    const sorted = [...c.values].sort((a, b) => a - b);
    for (const q of QS) {
      const want = exactQuantile(sorted, q);
      const got = h.quantile(q);
      const bin = FINE.bin(want);
      assert.equal(got.ms, Math.min(FINE.lo(bin), sorted.at(-1) as number), `q=${q}`);
      assert.equal(got.exact, want < 65_536, `q=${q}: exact flag`);
      // Past 2^31 ms (24.8 days) everything shares the last bin.
      const reach = Math.min(want, FINE.lo(FINE.size - 1));
      assert.ok(reach - got.ms <= reach * 0.00004, `q=${q}: ${got.ms} vs ${want}`);
    }
    // Several at once, in one pass, asked in any order: each as when asked alone.
    const asked = [...QS].reverse().concat(QS[0] as number);
    assert.deepEqual(h.quantiles(asked), asked.map((q) => h.quantile(q)));
  });
}

test('DurationHistogram: merging two halves equals adding everything to one', () => {
  const values = logUniform(21, 4000, 3_600_000);
  const all = new DurationHistogram();
  const a = new DurationHistogram();
  const b = new DurationHistogram();
  values.forEach((v, i) => {
    all.add(v);
    (i % 2 === 0 ? a : b).add(v);
  });
  a.merge(b);
  assert.deepEqual([a.count, a.maxMs, QS.map((q) => a.quantile(q))], [all.count, all.maxMs, QS.map((q) => all.quantile(q))]);
});

test('DurationHistogram.sumOf: one histogram is itself (not a copy of its bins), several their merge', () => {
  const values = logUniform(23, 3000, 3_600_000);
  const parts = [new DurationHistogram(), new DurationHistogram(), new DurationHistogram()];
  const all = new DurationHistogram();
  values.forEach((v, i) => {
    all.add(v);
    (parts[i % 3] as DurationHistogram).add(v);
  });
  assert.equal(DurationHistogram.sumOf([parts[0] as DurationHistogram]), parts[0]);
  const sum = DurationHistogram.sumOf(parts);
  assert.ok(!parts.includes(sum));
  assert.deepEqual([sum.count, sum.maxMs, QS.map((q) => sum.quantile(q))], [all.count, all.maxMs, QS.map((q) => all.quantile(q))]);
  assert.equal(parts[0]?.count, 1000, 'the parts are left as they were');
});

test('DurationHistogram: durations added one by one (buffered, then counted in sorted runs) land in their FINE bins', () => {
  // Past the buffer's 4,096, in any order, with counts of several, beyond 2^31 ms, read in between and packed.
  const rand = prng(5);
  const values = [...logUniform(22, 9_000, 7_200_000), ...uniform(rand, 3_000, 59_990, 60_010), 0, 2 ** 31 + 5, 2 ** 40];
  const want = new Map<number, number>();
  const h = new DurationHistogram();
  values.forEach((v, i) => {
    const n = i % 7 === 0 ? 3 : 1;
    h.add(v, n);
    want.set(FINE.bin(v), (want.get(FINE.bin(v)) ?? 0) + n);
    if (i === 5_000) assert.equal(h.at(FINE.bin(values[0] as number)), want.get(FINE.bin(values[0] as number)));
  });
  const read = (x: DurationHistogram): [number, number][] => {
    const got: [number, number][] = [];
    x.forEach((b, n) => got.push([b, n]));
    return got;
  };
  const sorted = [...want].sort((a, b) => a[0] - b[0]);
  assert.deepEqual(read(h), sorted);
  assert.deepEqual([h.count, h.maxMs], [[...want.values()].reduce((a, b) => a + b, 0), 2 ** 40]);
  const packed = histogram([]);
  packed.merge(h);
  h.pack();
  assert.deepEqual(read(h), sorted);
  assert.deepEqual(read(packed), sorted);
});

/** A histogram's bins as [bin, count] pairs, in order. */
function binsOf(h: DurationHistogram): [number, number][] {
  const got: [number, number][] = [];
  h.forEach((b, n) => got.push([b, n]));
  return got;
}

/** What forEachStretch must give: per stretch between ascending cuts that holds bins, its first bin and their sum. */
function stretchesOf(bins: readonly [number, number][], cuts: readonly number[]): [number, number][] {
  const out = new Map<number, [number, number]>();
  for (const [b, n] of bins) {
    const k = cuts.filter((c) => c <= b).length;
    const s = out.get(k);
    if (s === undefined) out.set(k, [b, n]);
    else s[1] += n;
  }
  return [...out.values()];
}

/** The histogram's stretches and arrays, against its bins as a plain list. */
function assertStretches(h: DurationHistogram, want: readonly [number, number][], cuts: readonly number[]): void {
  const got: [number, number][] = [];
  h.forEachStretch(cuts, (b, n) => got.push([b, n]));
  assert.deepEqual(got, stretchesOf(want, cuts));
  const { bins, counts } = h.toArrays();
  assert.deepEqual([...bins].map((b, i) => [b, counts[i]]), want);
}

test('DurationHistogram: any adds, merges, packs and reads give the bins (and their stretches between cuts) a plain map counts', () => {
  // Adds one by one or several at once, into any of three histograms, merged in any order,
  // packed (as a part is before it crosses threads) at any point; read between steps.
  const step = fc.oneof(
    fc.record({ op: fc.constant('add' as const), h: fc.nat(2), ms: fc.oneof(fc.nat(70_000), fc.nat(2 ** 32), fc.constantFrom(0, 59_999, 60_000, 2 ** 31)), n: fc.constantFrom(1, 1, 1, 2, 7) }),
    fc.record({ op: fc.constant('burst' as const), h: fc.nat(2), from: fc.nat(3_000_000), n: fc.integer({ min: 1, max: 6_000 }) }),
    fc.record({ op: fc.constantFrom('merge' as const, 'pack' as const, 'read' as const), h: fc.nat(2), from: fc.nat(2) }),
  );
  const cutsArb = fc.uniqueArray(fc.oneof(fc.nat(FINE.size), fc.constantFrom(0, FINE.bin(60_000), FINE.bin(60_001))), { maxLength: 6 }).map((c) => c.sort((a, b) => a - b));
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), cutsArb, (steps, cuts) => {
      const hs = [0, 1, 2].map(() => new DurationHistogram());
      const want = [0, 1, 2].map(() => new Map<number, number>());
      const add = (h: number, ms: number, n: number): void => {
        (hs[h] as DurationHistogram).add(ms, n);
        const w = want[h] as Map<number, number>;
        w.set(FINE.bin(ms), (w.get(FINE.bin(ms)) ?? 0) + n);
      };
      for (const s of steps) {
        if (s.op === 'add') add(s.h, s.ms, s.n);
        else if (s.op === 'burst') for (let i = 0; i < s.n; i++) add(s.h, s.from + ((i * 7919) % (4 * s.n)), 1);
        else if (s.op === 'merge' && s.from !== s.h) {
          (hs[s.h] as DurationHistogram).merge(hs[s.from] as DurationHistogram);
          for (const [b, n] of want[s.from] as Map<number, number>) (want[s.h] as Map<number, number>).set(b, ((want[s.h] as Map<number, number>).get(b) ?? 0) + n);
        } else if (s.op === 'pack') (hs[s.h] as DurationHistogram).pack();
        else if (s.op === 'read') assert.equal((hs[s.h] as DurationHistogram).at(FINE.bin(60_000)), (want[s.h] as Map<number, number>).get(FINE.bin(60_000)) ?? 0);
      }
      hs.forEach((h, i) => {
        const w = [...(want[i] as Map<number, number>)].sort((a, b) => a[0] - b[0]);
        assert.deepEqual(binsOf(h), w);
        assertStretches(h, w, cuts);
        assert.equal(h.count, w.reduce((t, [, n]) => t + n, 0));
        assert.equal(h.countBetween(1_000, 90_000), w.filter(([b]) => FINE.hi(b) >= 1_000 && FINE.lo(b) <= 90_000).reduce((t, [, n]) => t + n, 0));
        for (const [first, last] of [[FINE.bin(1_000), FINE.bin(90_000)], [0, FINE.size - 1], [FINE.bin(60_000), FINE.bin(60_000)]] as const) {
          const between: [number, number][] = [];
          h.forEachBetween(first, last, (b, n) => between.push([b, n]));
          assert.deepEqual(between, w.filter(([b]) => b >= first && b <= last));
        }
      });
    }),
    { numRuns: 150, seed: 16 },
  );
});

test('DurationHistogram: 40,000 distinct bins (past the 32,768 kept as sorted arrays, then pages) count, merge and pack alike', () => {
  // 40,000 distinct bins (more than the 32,768 kept as sorted arrays), merged into one still sorted.
  const many = new DurationHistogram();
  for (let ms = 0; ms < 40_000; ms++) many.add(ms, 1 + (ms % 3));
  const few = histogram([5, 5, 39_999, 50_000]);
  few.merge(many);
  many.merge(histogram([5, 5, 39_999, 50_000]));
  const want = Array.from({ length: 40_000 }, (_, ms): [number, number] => [ms, 1 + (ms % 3) + (ms === 5 ? 2 : ms === 39_999 ? 1 : 0)]);
  want.push([50_000, 1]);
  for (const h of [few, many]) {
    assert.deepEqual(binsOf(h), want);
    assert.equal(h.countBetween(39_999, 50_000), 1 + (39_999 % 3) + 1 + 1);
    const between: [number, number][] = [];
    h.forEachBetween(39_998, 50_000, (b, n) => between.push([b, n]));
    assert.deepEqual(between, want.slice(39_998));
    for (const cuts of [[], [0], [5, 6, 39_999, 40_000, 49_999], [50_001, 60_000]]) assertStretches(h, want, cuts);
    h.pack();
    assert.deepEqual(binsOf(h), want);
  }
});

test('empty DurationHistogram answers -1', () => {
  assert.equal(new DurationHistogram().quantile(0.5).ms, -1);
});

test('the grids tile 0 ms to 2^31 ms without gaps, each duration in the bin whose bounds hold it', () => {
  for (const g of [FINE, COARSE, SESSION]) {
    let next = 0;
    for (let b = 0; b < g.size - 1; b++) {
      assert.equal(g.lo(b), next);
      next = g.hi(b) + 1;
      if (b % 97 === 0) for (const ms of [g.lo(b), g.hi(b)]) assert.equal(g.bin(ms), b);
    }
    assert.equal(g.bin(2 ** 31 + 5), g.size - 1);
  }
  // Relative width: FINE within 2^-15 past 65.5 s, COARSE within 2^-10 past 2 s.
  assert.equal(FINE.hi(FINE.bin(900_000)) - FINE.lo(FINE.bin(900_000)) + 1, 16);
  assert.equal(COARSE.hi(COARSE.bin(60_000)) - COARSE.lo(COARSE.bin(60_000)) + 1, 32);
});
