/*!
 * The per-handshake row table (src/core/handshakes.ts, kept only for one CSV row per handshake):
 * rows keep their values as the columns grow, keys read back as logged, and a key's rows learn
 * where it was seen when it leaves the window.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HandshakeRows } from '../src/core/handshakes.js';
import { KEY_HIDDEN } from '../src/core/keys.js';

test('50,000 rows through many growths read back exactly, keys included', () => {
  const t = new HandshakeRows();
  const n = 50_000;
  const key = (i: number): string => (i % 7 === 0 ? `odd key ${i}` : Buffer.alloc(16, i % 251).fill(i & 0xff, 0, 1).toString('base64'));
  for (let i = 0; i < n; i++) {
    const at = t.add({ input: i % 3, line: i + 1, client: i % 97, protocol: 1 + (i % 2), status: 101 + (i % 400), durationMs: i * 7, endMs: 1.5e12 + i, flags: i % 8, upstream: t.upstreamId(`u${i % 5}`) }, key(i));
    assert.equal(at, i);
  }
  assert.equal(t.length, n);
  for (let i = 0; i < n; i += 997) {
    assert.deepEqual(
      [t.input[i], t.line[i], t.client[i], t.protocol[i], t.status[i], t.durationMs[i], t.endMs[i], t.flags[i], t.upstreams[t.upstream[i] as number], t.key(i)],
      [i % 3, i + 1, i % 97, 1 + (i % 2), 101 + (i % 400), i * 7, 1.5e12 + i, i % 8, `u${i % 5}`, key(i)],
    );
  }
});

test('a folded key reaches every row linked to it, and no other', () => {
  const t = new HandshakeRows();
  const row = (line: number): number => t.add({ input: 0, line, client: 0, protocol: 2, status: 101, durationMs: 1, endMs: 1, flags: 0, upstream: 0 }, '');
  const [a, b, c] = [row(1), row(2), row(3)] as [number, number, number];
  t.link(a, c);
  t.folded(a, 3, 1, 2, KEY_HIDDEN);
  assert.deepEqual([t.keyInputs[a], t.keyInputs[b], t.keyInputs[c]], [3, 0, 3]);
  assert.deepEqual([t.keyFindings[a], t.keyFindings[b], t.keyFindings[c]], [KEY_HIDDEN, 0, KEY_HIDDEN]);
});
