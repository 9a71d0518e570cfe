/*!
 * The per-client cells (src/core/cells.ts ClientCells) against a plain Map of the same additions:
 * the same cells and counts, in (kind, client) order, however many came between the sorts into the
 * kinds' runs (in any order for a merge), and after a pack and a trip through structured clone (as a part's tally crosses
 * threads) with more added on the other side. Additions come from a seeded PRNG.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';

import { ClientCells } from '../src/core/cells.js';
import { prng } from './helpers/prng.js';

type Cell = [kind: number, client: number, count: number];

function cellsOf(c: ClientCells): Cell[] {
  const out: Cell[] = [];
  c.forEach((kind, client, count) => out.push([kind, client, count]));
  return out;
}

/** A model of the table: counts by "kind,client". */
function modelCells(m: Map<string, number>): Cell[] {
  return [...m].map(([key, count]): Cell => {
    const [kind, client] = key.split(',').map(Number) as [number, number];
    return [kind, client, count];
  }).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

test('ClientCells holds what a Map of the same additions holds, in (kind, client) order, across sorts, packs and thread crossings, whatever room it started with', () => {
  fc.assert(fc.property(fc.integer(), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 40_000 }), fc.nat(3_000), (seed, kinds, clients, n, room) => {
    const rand = prng(seed);
    const pick = (k: number): number => Math.floor(rand() * k);
    let c = new ClientCells(room);
    const m = new Map<string, number>();
    // Kinds appear in order over the run (as new kinds of cell are numbered), clients in any order.
    const cross = pick(n + 1);
    for (let i = 0; i < n; i++) {
      const kind = pick(Math.max(1, Math.ceil((kinds * (i + 1)) / n)));
      const client = pick(clients);
      const count = 1 + pick(3);
      c.add(kind, client, count);
      const key = `${kind},${client}`;
      m.set(key, (m.get(key) ?? 0) + count);
      if (i === cross) {
        c.pack();
        c = ClientCells.revive(structuredClone(c));
      }
      if (i % 997 === 0) {
        assert.equal(c.length, m.size);
        assert.equal(c.has(kind, client), true);
        assert.equal(c.has(kinds, client), m.has(`${kinds},${client}`));
      }
    }
    assert.equal(c.length, m.size);
    // A merge's view: the same cells, in any order (before the sort forEach makes).
    const unsorted: Cell[] = [];
    c.forEachUnsorted((kind, client, count) => unsorted.push([kind, client, count]));
    assert.deepEqual(unsorted.sort((a, b) => a[0] - b[0] || a[1] - b[1]), modelCells(m));
    assert.deepEqual(cellsOf(c), modelCells(m));
  }), { numRuns: 40 });
});
