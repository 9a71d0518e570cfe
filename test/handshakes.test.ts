/*!
 * The handshake row table (src/core/handshakes.ts): rows keep their values as the columns grow in
 * place, and each kept key reads back as it was logged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HandshakeTable } from '../src/core/handshakes.js';

test('50,000 rows through many in-place growths read back exactly, keys included', () => {
  const t = new HandshakeTable(true);
  const n = 50_000;
  const key = (i: number): string => (i % 7 === 0 ? `odd key ${i}` : Buffer.alloc(16, i % 251).fill(i & 0xff, 0, 1).toString('base64'));
  for (let i = 0; i < n; i++) {
    const at = t.add({ input: i % 3, line: i + 1, client: i % 97, protocol: 1 + (i % 2), status: 101 + (i % 400), durationMs: i * 7, endMs: 1.5e12 + i, flags: i % 8, upstream: i % 5 }, '');
    assert.equal(at, i);
    t.keys?.set(at, key(i));
  }
  assert.equal(t.length, n);
  assert.ok(t.input.length >= n && t.input.length < n * 1.25 + 1024, `capacity ${t.input.length} for ${n} rows`);
  for (let i = 0; i < n; i += 997) {
    assert.deepEqual(
      [t.input[i], t.line[i], t.client[i], t.protocol[i], t.status[i], t.durationMs[i], t.endMs[i], t.flags[i], t.keys?.upstream[i], t.nextSameKey[i], t.keys?.text(i)],
      [i % 3, i + 1, i % 97, 1 + (i % 2), 101 + (i % 400), i * 7, 1.5e12 + i, i % 8, i % 5, -1, key(i)],
    );
  }
});
