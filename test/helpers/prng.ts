/*
 * Seeded pseudo-random numbers for test data: the same seed gives the same data on every run.
 * Test helper only; nothing here is part of wsdiag.
 */

/** mulberry32: small, seeded, good enough for test data. Returns numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
