/*!
 * Key correlation in bounded memory (src/core/keys.ts): the base64 codec, the windowed table
 * checked against a plain Map model with fast-check, and the pipeline's time-ordered merge of
 * several inputs that lets a window shorter than the logs still join tiers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';

import { DepartedKeys, type Departed } from '../src/core/departed.js';
import { EvidenceReservoir } from '../src/core/evidence.js';
import { KEY_WINDOW_MS, KeyWindow, decodeKey, encodeKey, isHiddenDowngrade, type Sighting as KeySighting } from '../src/core/keys.js';
import { analyze } from '../src/index.js';

test('decodeKey reads canonical RFC 6455 keys and round-trips through encodeKey', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
    const key = Buffer.from(bytes).toString('base64');
    const w = new Uint32Array(4);
    assert.equal(decodeKey(key, w), true);
    assert.equal(encodeKey(w), key);
  }));
});

test('decodeKey refuses what is not a canonical 16-byte base64 key', () => {
  const w = new Uint32Array(4);
  for (const bad of ['', '-', 'dGhlIHNhbXBsZSBub25jZQ=', 'dGhlIHNhbXBsZSBub25jZQ==x', 'dGhlIHNhbXBsZSBub25jZR==', 'dGhlIHNhbXBsZSBub25j*Q==', 'dGhlIHNhbXBsZSBub25jé==']) {
    assert.equal(decodeKey(bad, w), false, bad);
  }
  assert.equal(decodeKey('dGhlIHNhbXBsZSBub25jZQ==', w), true);
});

interface Sighting {
  key: number;
  input: number;
  protocol: number;
  dt: number;
}

/**
 * The table's contract, written the obvious way: a live key leaves once the log's time is more
 * than the window past its last sighting, whichever keys came before or after it; a key that comes
 * back after it left is the same key, and reused when it comes back on an input it was seen on
 * (counted once however often it comes back).
 */
interface Totals {
  keys: number;
  multiTier: number;
  reused: number;
  mismatch: number;
  hidden: number;
  /** Keys seen on several inputs, as "name mismatch" (a name can come back as a new key once its window passed). */
  multi: Set<string>;
}

function model(sightings: readonly Sighting[], windowMs: number, names: readonly string[]): Totals {
  type St = { name: string; inputs: number; prior: number; counted: boolean; i10: number; i11: number; repeated: number; last: number };
  const live = new Map<string, St>();
  const past = new Map<string, { inputs: number; counted: boolean }>();
  const out: Totals = { keys: 0, multiTier: 0, reused: 0, mismatch: 0, hidden: 0, multi: new Set() };
  const fold = (s: St): void => {
    const multi = (s.inputs & (s.inputs - 1)) !== 0;
    const mixed = s.i10 !== 0 && s.i11 !== 0;
    if (multi) out.multiTier++;
    if (s.repeated && !s.counted) out.reused++;
    past.set(s.name, { inputs: s.inputs | s.prior, counted: s.repeated !== 0 || s.counted });
    if (mixed) out.mismatch++;
    if (isHiddenDowngrade(s.i10, s.i11)) out.hidden++;
    if (multi) out.multi.add(`${s.name} ${mixed}`);
  };
  let now = 0;
  for (const x of sightings) {
    now += x.dt;
    for (const [k, s] of live) {
      if (s.last >= now - windowMs) continue;
      fold(s);
      live.delete(k);
    }
    const name = names[x.key] as string;
    let s = live.get(name);
    const bit = 1 << x.input;
    if (!s) {
      const p = past.get(name);
      past.delete(name);
      s = { name, inputs: 0, prior: p?.inputs ?? 0, counted: p?.counted ?? false, i10: 0, i11: 0, repeated: 0, last: now };
      live.set(name, s);
      if (!p) out.keys++;
    }
    if ((s.inputs | s.prior) & bit) s.repeated |= bit;
    s.inputs |= bit;
    if (x.protocol === 1) s.i10 |= bit;
    if (x.protocol === 2) s.i11 |= bit;
    s.last = now;
  }
  for (const s of live.values()) fold(s);
  return out;
}

function sighting(input: number, protocol: number, endMs: number): KeySighting {
  return { input, line: 1, client: 'c', clientId: 0, protocol, status: 101, durationMs: -1, endMs, flags: 0, at: -1, bytes: 0, text: 'line', row: -1 };
}

/** The same sightings through a real KeyWindow, summed up like the model. */
function replay(sightings: readonly Sighting[], windowMs: number, names: readonly string[]): ReturnType<typeof model> {
  const table = new KeyWindow(new EvidenceReservoir(4, 100), undefined, windowMs);
  let now = 0;
  for (const x of sightings) {
    now += x.dt;
    table.see(names[x.key] as string, sighting(x.input, x.protocol, now));
  }
  table.finish();
  const c = table.counts;
  return { keys: c.keys, multiTier: c.multiTier, reused: c.reused, mismatch: c.protocolMismatch, hidden: c.hidden.keys, multi: new Set(c.traced.map((k) => `${k.key} ${k.mismatch}`)) };
}

const c = (s: Set<string>, kind: string): number => [...s].filter((k) => k.endsWith(` ${kind}`)).length;

/** Totals equal; traced keys are multi-tier keys of the model with the same mismatch, at most 10 of each kind, some when there are any. */
function assertMatches(got: Totals, want: Totals): void {
  assert.deepEqual({ ...got, multi: undefined }, { ...want, multi: undefined });
  for (const k of got.multi) assert.ok(want.multi.has(k), `traced ${k}`);
  for (const kind of ['true', 'false']) assert.ok(c(got.multi, kind) <= 10);
  assert.equal(got.multi.size > 0, want.multi.size > 0, 'some key is traced when some key is on several inputs');
}

test('KeyWindow equals the model: totals, hidden downgrades and traced keys, through window expiry, growth and index deletion', () => {
  // Half the keys are canonical base64 whose first word (the index hash) takes only 8 values, at
  // both ends of the 2048-place index, so probe chains are long and wrap around, and deletions
  // must mend them; half arbitrary text (fingerprinted).
  const names = Array.from({ length: 400 }, (_, i) => {
    if (i % 2 === 1) return `key ${i}`;
    const b = Buffer.alloc(16);
    b.writeUInt32BE(i & 8 ? 2047 - (i & 3) : i & 3, 0);
    b.writeUInt32BE(i, 4);
    return b.toString('base64');
  });
  const sighting = fc.record({ key: fc.nat(names.length - 1), input: fc.nat(2), protocol: fc.constantFrom(1, 2), dt: fc.constantFrom(0, 1, 2, 40) });
  fc.assert(fc.property(fc.array(sighting, { minLength: 200, maxLength: 4000, size: 'max' }), fc.constantFrom(30, 300, Infinity), (sightings, windowMs) => {
    assertMatches(replay(sightings, windowMs, names), model(sightings, windowMs, names));
  }), { numRuns: 60 });
});

test('KeyWindow equals the model when the ring grows after it has wrapped (slow traffic, then a burst)', () => {
  const n = 6000;
  const names = Array.from({ length: n }, (_, i) => {
    if (i % 3 === 0) return `odd key ${i}`;
    const b = Buffer.alloc(16, i % 251);
    b.writeUInt32BE(Math.imul(i, 0x9e3779b1) >>> 0, 0);
    return b.toString('base64');
  });
  // Key i first at start(i), again 250 ms later; 1 ms apart for the first 2000 keys, then 0.1 ms.
  const start = (i: number): number => (i < 2000 ? i : 2000 + (i - 2000) / 10);
  const events = [...Array.from({ length: n }, (_, i) => ({ at: start(i), key: i, input: 0 })), ...Array.from({ length: n }, (_, i) => ({ at: start(i) + 250, key: i, input: i % 2 }))]
    .sort((a, b) => a.at - b.at);
  let prev = 0;
  const sightings: Sighting[] = events.map((e) => {
    const dt = e.at - prev;
    prev = e.at;
    return { key: e.key, input: e.input, protocol: 2, dt };
  });
  const want = model(sightings, 300, names);
  assert.equal(want.keys, n);
  assertMatches(replay(sightings, 300, names), want);
});

test('a key seen again after it left the window is the same key, reused (issue 14.10)', () => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const t = new KeyWindow(new EvidenceReservoir(4, 100), undefined, 1000);
  t.see(key, sighting(0, 2, 0));
  t.see('AAAAAAAAAAAAAAAAAAAAAA==', sighting(0, 2, 1001));
  t.see(key, sighting(0, 2, 1002));
  t.see(key, sighting(0, 2, 1500));
  t.finish();
  assert.equal(t.counts.keys, 2);
  assert.equal(t.counts.reused, 1);
  assert.equal(t.counts.reusedKeys.keys, 1);
});

test('a key seen every 30 s for two hours does not hold the keys behind it in the window: they leave on time, none early', () => {
  // A live cap of 64, where the 2-minute window holds about 25 keys at a time.
  const t = new KeyWindow(new EvidenceReservoir(4, 100), undefined, 120_000, 64);
  const every = 'dGhlIHNhbXBsZSBub25jZQ==';
  const b = Buffer.alloc(16, 9);
  for (let ms = 0; ms < 2 * 3_600_000; ms += 5_000) {
    if (ms % 30_000 === 0) t.see(every, sighting(0, 2, ms));
    b.writeUInt32BE(ms, 0);
    t.see(b.toString('base64'), sighting(0, 2, ms + 1));
  }
  t.finish();
  assert.equal(t.counts.evictedEarly, 0);
  assert.equal(t.counts.keys, 1 + (2 * 3_600_000) / 5_000);
  assert.equal(t.counts.reused, 1);
});

test('keys that left the window are told apart by all their bits: keys alike in half their words are not taken for reused ones', () => {
  // Words [i, j, i, j]: word 0 xor word 2 and word 1 xor word 3 are the same for every key.
  const t = new KeyWindow(new EvidenceReservoir(4, 100), undefined, 1000);
  const b = Buffer.alloc(16);
  let at = 0;
  for (let i = 1; i <= 40; i++) {
    for (let j = 1; j <= 40; j++) {
      b.writeUInt32BE(i, 0);
      b.writeUInt32BE(j, 4);
      b.writeUInt32BE(i, 8);
      b.writeUInt32BE(j, 12);
      // Each key leaves the window before the next comes.
      t.see(b.toString('base64'), sighting(0, 2, (at += 2000)));
    }
  }
  t.finish();
  assert.equal(t.counts.keys, 1600);
  assert.equal(t.counts.reused, 0);
});

test('two tiers whose logs are longer than the key window still join on the key (inputs read side by side by time)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-keys-'));
  try {
    const key = 'x3JJHMbDL1EzLkh9GBhXDw==';
    const span = (KEY_WINDOW_MS * 3) / 1000;
    const t0 = 1_700_000_000;
    // One handshake at t0 on both tiers, then filler for three windows on each.
    const line = (s: number, proto: string, status: number, k: string): string =>
      `127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /ws HTTP/${proto}" ${status} 0 "-" "ua" 1.000 "websocket" "${k}" ${status} ${(t0 + s).toFixed(3)}`;
    const front = [line(1, '1.0', 499, key)];
    const back = [line(1.002, '1.1', 101, key)];
    const filler = (tier: number, s: number): string => {
      const b = Buffer.alloc(16, tier);
      b.writeUInt32BE(s, 0);
      return b.toString('base64');
    };
    for (let s = 2; s < span; s += 7) {
      front.push(line(s, '1.1', 101, filler(1, s)));
      back.push(line(s + 0.5, '1.1', 101, filler(2, s)));
    }
    writeFileSync(join(dir, 'front.log'), `${front.join('\n')}\n`);
    writeFileSync(join(dir, 'back.log'), `${back.join('\n')}\n`);
    const report = await analyze({
      inputs: [join(dir, 'front.log'), join(dir, 'back.log')],
      logFormat: ['$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status $msec'],
    });
    const hidden = report.findings.find((f) => f.id === 'hidden-downgrade');
    assert.equal(hidden?.count, 1);
    assert.equal(report.correlation.multiTier, 1);
    assert.equal(report.correlation.windowSeconds, KEY_WINDOW_MS / 1000);
    assert.deepEqual(report.correlation.traced.map((k) => k.key), [key]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('traced keys are listed by their first line, not by the order they left the window in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-keys-'));
  try {
    const [a, b] = [Buffer.alloc(16, 1).toString('base64'), Buffer.alloc(16, 2).toString('base64')];
    const t0 = 1_700_000_000;
    const line = (s: number, k: string): string =>
      `127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /ws HTTP/1.1" 101 0 "-" "ua" 1.000 "websocket" "${k}" 101 ${(t0 + s).toFixed(3)}`;
    // a's first line comes first (the back tier's line 1), but its last comes last: b leaves the window first.
    writeFileSync(join(dir, 'front.log'), `${[line(1.002, b), line(1.005, a)].join('\n')}\n`);
    writeFileSync(join(dir, 'back.log'), `${[line(1, a), line(1.001, b)].join('\n')}\n`);
    const report = await analyze({
      inputs: [join(dir, 'front.log'), join(dir, 'back.log')],
      logFormat: ['$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status $msec'],
    });
    assert.equal(report.correlation.multiTier, 2);
    assert.deepEqual(report.correlation.traced.map((k) => [k.key, `${k.sightings[0]?.file.endsWith('back.log')}:${k.sightings[0]?.line}`]), [[a, 'true:1'], [b, 'true:2']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key that left the window reads back as it was stored: inputs, counted, lines (saturating), client (-1 too), first start; a full set forgets its oldest', () => {
  const d = new DepartedKeys(4);
  const keys: [number, number, Departed][] = [
    [1, 2, { inputs: 0b101, counted: false, lines: 7, client: 3, firstMs: 1_520_524_800_039 }],
    [0xffffffff, 0x80000000, { inputs: 0x80000001, counted: true, lines: 300, client: -1, firstMs: -Infinity }],
    [5, 6, { inputs: 1, counted: false, lines: 0, client: 0, firstMs: 12.5 }],
  ];
  for (const [hi, lo, r] of keys) d.add(hi, lo, r);
  for (const [hi, lo, r] of keys) assert.deepEqual({ ...d.take(hi, lo) }, { ...r, lines: Math.min(255, r.lines) });
  assert.equal(d.take(1, 2), null, 'taken once');
  // One set of four ways: a fifth key forgets the one filled first.
  for (let k = 0; k < 5; k++) d.add(100 + k, 0, { inputs: 1, counted: false, lines: 1, client: k, firstMs: k });
  assert.equal(d.forgotten, 1);
  assert.equal(d.take(100, 0), null);
  for (let k = 1; k < 5; k++) assert.equal(d.take(100 + k, 0)?.client, k);
});

test('departed keys: one set of four ways, against the obvious table (the first way empty or holding the key, else the one filled first)', () => {
  const pool = fc.constantFrom(...Array.from({ length: 10 }, (_, i) => [Math.imul(i + 1, 0x9e3779b1), i * 7] as const));
  const op = fc.record({ take: fc.boolean(), key: pool, lines: fc.nat(300) });
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const d = new DepartedKeys(4);
    const ways: ({ hi: number; lo: number; lines: number; stamp: number } | null)[] = [null, null, null, null];
    let clock = 0;
    let forgotten = 0;
    for (const { take, key: [hi, lo], lines } of ops) {
      const at = ways.findIndex((w) => w !== null && w.hi === hi && w.lo === lo);
      if (take) {
        const got = d.take(hi, lo);
        assert.equal(got?.lines ?? null, at < 0 ? null : Math.min(255, (ways[at] as { lines: number }).lines));
        if (at >= 0) ways[at] = null;
        continue;
      }
      d.add(hi, lo, { inputs: 1, counted: false, lines, client: 0, firstMs: 0 });
      let way = ways.findIndex((w) => w === null || (w.hi === hi && w.lo === lo));
      if (way < 0) {
        way = ways.reduce((best, w, i) => ((w as { stamp: number }).stamp < (ways[best] as { stamp: number }).stamp ? i : best), 0);
        forgotten++;
      }
      ways[way] = { hi, lo, lines, stamp: clock++ };
    }
    assert.equal(d.forgotten, forgotten);
    // What the set holds at the end, way by way (a key added again while held may hold two).
    for (const w of ways) if (w !== null) assert.equal(d.take(w.hi, w.lo)?.lines, Math.min(255, w.lines));
  }), { numRuns: 300 });
});

test('departed keys: a key never added is not found, though its tag byte matches a way\'s', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(fc.integer(), fc.integer()), { minLength: 2000, maxLength: 2000, selector: ([hi, lo]) => `${hi >>> 0}:${lo >>> 0}` }), (keys) => {
    // One set of four ways: every other key of the 2,000 shares one of its four tags (of 255) some 30 times.
    const d = new DepartedKeys(4);
    const kept = keys.slice(0, 4);
    kept.forEach(([hi, lo], i) => d.add(hi, lo, { inputs: 1, counted: false, lines: 1, client: i, firstMs: i }));
    for (const [hi, lo] of keys.slice(4)) assert.equal(d.take(hi, lo), null);
    kept.forEach(([hi, lo], i) => assert.equal(d.take(hi, lo)?.client, i));
  }), { numRuns: 20 });
});
