/*!
 * The line rules' contract with the diagnosis (src/core/rules/types.ts LineSelector): a selector's
 * label is the same for every duration between two of its edges, so the diagnosis may weigh a
 * group's histogram stretch by stretch. Clusters, tolerances and handshakes are generated; the
 * labels are asked of the rules themselves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { FINE } from '../src/core/grid.js';
import { RULES } from '../src/core/rules/registry.js';
import type { LineSelector, RuleContext } from '../src/core/rules/types.js';
import { defaultTolerance, type Cluster } from '../src/core/timeouts.js';

/** A cluster as inference makes them (bounds on FINE bin edges) or as --timeout does (any bounds). */
const clusterArb = fc.record({ lo: fc.nat(3_000_000), width: fc.nat(5_000), onBins: fc.boolean() }).map(({ lo, width, onBins }): Cluster => {
  const loMs = onBins ? FINE.lo(FINE.bin(lo)) : lo;
  const hiMs = onBins ? FINE.hi(FINE.bin(lo + width)) : lo + width;
  return { centerMs: Math.round((loMs + hiMs) / 2), loMs, hiMs, count: 10, contrast: Infinity, approximate: !onBins };
});

const contextArb = fc.record({
  failed: fc.array(clusterArb, { maxLength: 3 }),
  sessions: fc.array(clusterArb, { maxLength: 3 }),
  tolerance: fc.option(fc.double({ min: 0, max: 3_000, noNaN: true }), { nil: undefined }),
}).map(({ failed, sessions, tolerance }): RuleContext => ({
  clusters: { failed, sessions },
  toleranceMs: (ms) => tolerance ?? defaultTolerance(ms),
  handshakes: 1_000,
}));

const shapeArb = fc.record({
  protocol: fc.nat(5),
  status: fc.constantFrom(101, 200, 301, 400, 426, 444, 499, 502, 504),
  flags: fc.nat(7),
});

function selectorsOf(ctx: RuleContext): LineSelector[] {
  return RULES.flatMap((r) => (r.kind === 'lines' ? r.selectors(ctx) : []));
}

test("a line selector's label is the same for every duration from one of its edges up to the next", () => {
  fc.assert(
    fc.property(contextArb, shapeArb, fc.array(fc.nat(3_100_000), { maxLength: 20 }), (ctx, h, extra) => {
      for (const sel of selectorsOf(ctx)) {
        const edges = [0, ...sel.edgesMs.filter((e) => e > 0)].sort((a, b) => a - b);
        // Durations at, just before and just past every edge of any selector (theirs and others'), and some anywhere.
        const probes = [...selectorsOf(ctx).flatMap((s) => s.edgesMs.flatMap((e) => [e - 1, e, e + 1])), ...extra].filter((ms) => ms >= 0);
        for (const ms of probes) {
          const from = edges.filter((e) => e <= ms).pop() as number;
          const label = (at: number): string | undefined => sel.label(h.protocol, h.status, h.flags, at);
          assert.equal(label(ms), label(from), `${sel.id}: ${ms} ms against ${from} ms (edges ${edges.join(', ')})`);
        }
        if (sel.durationFree) assert.deepEqual(sel.edgesMs, []);
      }
    }),
    { numRuns: 400, seed: 7 },
  );
});
