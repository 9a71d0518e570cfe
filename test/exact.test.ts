/*!
 * Exactness at any size (see: issue "Exact at any size, memory flat"): the counts merge
 * (merge(tally(a), tally(b)) = tally(a ++ b), a fast-check property), a run with every cap shrunk
 * gives the counts of an uncapped run, and a key logged again and again links its rows without a
 * cycle (the hang past the old row cap came from a row linked to itself). Parts of an input read
 * apart give what one pass gives: their line digests join, their evidence merges.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';

import { Counts } from '../src/core/counts.js';
import { answeringPeer } from '../src/core/outcomes.js';
import { HandshakeRows } from '../src/core/handshakes.js';
import { EvidenceReservoir, KEY_CLASS, classParts, keptPerClass, readPlacedTexts, type EvidenceRow } from '../src/core/evidence.js';
import { Tally } from '../src/core/tally.js';
import { KeyWindow } from '../src/core/keys.js';
import { LineDigest } from '../src/core/same-lines.js';
import { analyze, type Report } from '../src/index.js';
import { prng } from './helpers/prng.js';

interface Line {
  input: number;
  client: string;
  protocol: number;
  status: number;
  flags: number;
  durationMs: number;
  endMs: number;
  handshake: boolean;
  upstream: string;
  path: string;
}

const line = fc.record({
  input: fc.nat(2),
  client: fc.constantFrom('100.97.88.252', '100.97.89.10', '10.0.0.1', '10.0.0.2', '(other)'),
  protocol: fc.constantFrom(1, 2, 3),
  status: fc.constantFrom(101, 101, 200, 301, 400, 426, 499, 502, 504),
  flags: fc.nat(15),
  durationMs: fc.oneof(fc.constant(-1), fc.nat(5_000), fc.integer({ min: 59_990, max: 60_010 }), fc.integer({ min: 0, max: 200_000_000 })),
  endMs: fc.integer({ min: 1.7e12, max: 1.7e12 + 30 * 86_400_000 }),
  handshake: fc.boolean(),
  upstream: fc.constantFrom('', '10.0.0.5:8080', '10.0.0.6:8080', '10.0.0.5:8080, 10.0.0.6:8080', '(other)'),
  path: fc.constantFrom('/ws/', '/socket.io/', '/cable', '-', '(other)'),
});

function tally(lines: readonly Line[], counts = new Counts()): Counts {
  for (const l of lines) {
    const client = counts.clientId(l.client);
    const start = l.durationMs >= 0 ? l.endMs - l.durationMs : l.endMs;
    counts.request(l.input, client, l.protocol, start, l.endMs);
    if (l.handshake) {
      counts.handshake(l.input, client, l.protocol, l.status, l.flags, l.durationMs, start, l.endMs);
      counts.target(l.input, l.upstream, l.path, l.status);
    }
  }
  return counts;
}

/** Everything a Counts holds, as plain data in a canonical order. */
function dump(c: Counts): unknown {
  const cells: string[] = [];
  c.forEachCell((x) => cells.push(JSON.stringify({ ...x, client: c.clients[x.client] })));
  const groups = [...c.groups.values()].map((g) => {
    const bins: [number, number][] = [];
    g.durations.forEach((b, n) => bins.push([b, n]));
    return JSON.stringify({ input: g.input, protocol: g.protocol, status: g.status, flags: g.flags, count: g.count, n: g.durations.count, max: g.durations.maxMs, bins });
  });
  const buckets = [...c.buckets].map(([k, b]) => JSON.stringify([k, b.handshakes, b.downgraded, b.failed, b.failedFirst, b.failedLast, [...b.failedBy].map(([id, n]) => [c.clients[id], n]).sort()]));
  const clients = c.clientCounts.map((x) => JSON.stringify({ ...x, client: c.clients[x.client] }));
  const outcomes = (t: Counts['byPath']): string[] => t.rows.map((r) => JSON.stringify([r.input, t.names[r.name], r.counts])).sort();
  return {
    totals: [c.requests, c.requestsHttp10, c.handshakes, c.firstMs, c.lastMs, c.bucketSeconds],
    cells: cells.sort(), groups: groups.sort(), buckets: buckets.sort(), clients: clients.sort(),
    byUpstream: outcomes(c.byUpstream), byPath: outcomes(c.byPath), namesCapped: [c.byUpstream.capped, c.byPath.capped],
  };
}

test('merge(tally(a), tally(b)) equals tally(a ++ b)', () => {
  fc.assert(fc.property(fc.array(line, { maxLength: 300 }), fc.array(line, { maxLength: 300 }), (a, b) => {
    const merged = tally(a);
    merged.merge(tally(b));
    assert.deepEqual(dump(merged), dump(tally([...a, ...b])));
  }), { numRuns: 150 });
});

test('a packed Counts (cut to length, as a part crosses threads) merges, and counts on, as if it had not been packed', () => {
  fc.assert(fc.property(fc.array(line, { maxLength: 300 }), fc.array(line, { maxLength: 300 }), (a, b) => {
    const whole = dump(tally([...a, ...b]));
    const part = tally(b);
    part.pack();
    const merged = tally(a);
    merged.merge(part);
    assert.deepEqual(dump(merged), whole);
    // Packed, then more lines: the tables grow again from their cut length, the index built anew.
    const resumed = tally(a);
    resumed.pack();
    assert.deepEqual(dump(tally(b, resumed)), whole);
  }), { numRuns: 150 });
});

test('a line digest taken over parts and joined equals the digest of the whole, wherever the parts are cut', () => {
  fc.assert(fc.property(fc.array(fc.integer(), { maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 6 }), (values, cuts) => {
    const whole = new LineDigest();
    for (const v of values) whole.add(v);
    const points = [0, ...[...new Set(cuts.map((c) => Math.min(c, values.length)))].sort((a, b) => a - b), values.length];
    const joined = new LineDigest();
    for (let i = 1; i < points.length; i++) {
      const part = new LineDigest();
      for (const v of values.slice(points[i - 1], points[i])) part.add(v);
      joined.join(part);
    }
    assert.equal(joined.value, whole.value);
  }));
  const a = new LineDigest();
  a.add(1);
  a.add(2);
  const b = new LineDigest();
  b.add(2);
  b.add(1);
  assert.notEqual(a.value, b.value, 'order counts');
});

test('a parsed line\'s digest step takes each of its facts: lines that differ in one give inputs that differ', () => {
  const facts = fc.tuple(fc.integer(), fc.integer(), fc.integer({ min: -1 }), fc.nat(5), fc.integer(), fc.integer({ min: -1, max: 999 }));
  fc.assert(fc.property(facts, fc.nat(5), fc.integer(), (line, which, other) => {
    fc.pre(line[which] !== other);
    const changed = [...line] as typeof line;
    changed[which] = other;
    const a = new LineDigest();
    a.addLine(...line);
    const b = new LineDigest();
    b.addLine(...changed);
    assert.notEqual(a.value, b.value);
  }));
});

/** A reservoir's lines per class: the earliest (as a set) and the latest. */
function kept(r: EvidenceReservoir, classes: readonly number[]): unknown {
  return classes.map((cls) => r.candidates((c) => c === cls).map((x) => `${x.input}:${x.line}@${x.endMs}`));
}

test('evidence per class is its earliest lines and its latest, however the lines are cut into reservoirs and merged', () => {
  // Classes as handshakes make them (past 2^32: one whose low 32 bits are another's) and the key findings' negative ones.
  const classes = [1, 1 + 2 ** 32, EvidenceReservoir.classOf(2, 0, 499, 3), KEY_CLASS.hidden, KEY_CLASS.reused];
  const row = fc.record({ cls: fc.constantFrom(...classes), endMs: fc.integer({ min: 0, max: 50 }), input: fc.nat(1) });
  fc.assert(fc.property(fc.array(row, { maxLength: 120 }), fc.array(fc.nat(120), { maxLength: 5 }), (spec, cuts) => {
    // Lines numbered in order; cut into runs, as a live window's panes hold them.
    const lines = spec.map((x, i) => ({ cls: x.cls, row: { input: x.input, line: i + 1, client: 'c', protocol: 2, status: 499, flags: 0, durationMs: 1, endMs: x.endMs, at: -1, bytes: 0, text: `line ${i + 1}` } }));
    // What the reservoir must keep: per class, the 3 earliest by (time, input, line), then the latest of the rest.
    const order = (a: (typeof lines)[number], b: (typeof lines)[number]): number => a.row.endMs - b.row.endMs || a.row.input - b.row.input || a.row.line - b.row.line;
    const expected = classes.map((cls) => {
      const all = lines.filter((l) => l.cls === cls).sort(order);
      return [...all.slice(0, 3), ...all.slice(3).slice(-1)].map((l) => `${l.row.input}:${l.row.line}@${l.row.endMs}`);
    });
    const merged = new EvidenceReservoir(3, 1000);
    const points = [0, ...[...new Set(cuts.map((c) => Math.min(c, lines.length)))].sort((a, b) => a - b), lines.length];
    for (let i = 1; i < points.length; i++) {
      const part = new EvidenceReservoir(3, 1000);
      for (const l of lines.slice(points[i - 1], points[i])) part.offer(l.cls, l.row);
      merged.merge(part);
    }
    assert.deepEqual(kept(merged, classes), expected);
  }));
});

test('a class keeps its earliest lines and its latest when lines share their time or have none, in whatever order they are offered', () => {
  // Few times (and none: NaN, the earliest of all) so that lines tie on time and are told apart by input, then line.
  const classes = [7, 8];
  const row = fc.record({ cls: fc.constantFrom(...classes), endMs: fc.constantFrom(NaN, 5, 5, 6, 7), input: fc.nat(2), turn: fc.nat() });
  fc.assert(fc.property(fc.array(row, { minLength: 8, maxLength: 60 }), (spec) => {
    const lines = spec.map((x, i) => ({ cls: x.cls, turn: x.turn, row: { input: x.input, line: i + 1, client: 'c', protocol: 2, status: 499, flags: 0, durationMs: 1, endMs: x.endMs, at: -1, bytes: 0, text: `line ${i + 1}` } }));
    const time = (ms: number): number => (Number.isNaN(ms) ? -Infinity : ms);
    const order = ({ row: a }: (typeof lines)[number], { row: b }: (typeof lines)[number]): number =>
      time(a.endMs) !== time(b.endMs) ? (time(a.endMs) < time(b.endMs) ? -1 : 1) : a.input - b.input || a.line - b.line;
    const expected = classes.map((cls) => {
      const all = lines.filter((l) => l.cls === cls).sort(order);
      return [...all.slice(0, 3), ...all.slice(3).slice(-1)].map((l) => `${l.row.input}:${l.row.line}@${l.row.endMs}`);
    });
    const r = new EvidenceReservoir(3, 1000);
    for (const l of [...lines].sort((a, b) => a.turn - b.turn)) r.offer(l.cls, l.row);
    assert.deepEqual(kept(r, classes), expected);
  }), { numRuns: 300 });
});

test('more evidence asked for grows the budget in proportion: a class that comes after several full ones still keeps the lines asked for', () => {
  // Eight classes in the order they come, thirty lines each, under a budget of 60 rows (sized for 5 lines a finding).
  const classes = Array.from({ length: 8 }, (_, k) => EvidenceReservoir.classOf(2, 0, 101, k));
  const late = classes[classes.length - 1] as number;
  for (const evidence of [5, 20]) {
    const tally = new Tally({ evidence, caps: { evidenceRows: 60 } });
    let line = 0;
    for (const cls of classes) {
      for (let i = 0; i < 30; i++, line++) tally.evidence.offer(cls, { input: 0, line, client: 'c', protocol: 2, status: 101, flags: 0, durationMs: 1, endMs: line, at: -1, bytes: 0, text: `line ${line}` });
    }
    // Its earliest lines (a finding's few and some to choose from) and its latest.
    assert.equal(tally.evidence.candidates((c) => c === late).length, keptPerClass(evidence) + 1, `--evidence ${evidence}`);
  }
});

test('a class\'s span holds exactly the durations of its class: the diagnosis leaves out a class by its span before reading its lines', () => {
  fc.assert(fc.property(fc.constantFrom(101, 200, 499, 502), fc.oneof(fc.nat(70_000), fc.integer({ min: 0, max: 2 ** 31 + 5 })), (status, ms) => {
    const cls = EvidenceReservoir.classFor(1, status, 0, ms);
    const { bin } = classParts(cls);
    const { lo, hi } = EvidenceReservoir.binSpan(status, bin);
    assert.ok(lo <= ms && ms <= hi, `${ms} ms in [${lo}, ${hi}]`);
    assert.equal(EvidenceReservoir.classFor(1, status, 0, lo), cls);
    if (hi < Number.MAX_SAFE_INTEGER) assert.equal(EvidenceReservoir.classFor(1, status, 0, hi), cls);
    if (lo > 0) assert.notEqual(EvidenceReservoir.classFor(1, status, 0, lo - 1), cls);
    if (hi < 2 ** 31) assert.notEqual(EvidenceReservoir.classFor(1, status, 0, hi + 1), cls);
  }), { seed: 11 });
});

test('each class\'s latest line keeps its text while lines of every length move the classes about the arena, offered or merged', () => {
  // Lines longer than the room a class has move it to the arena's end; a full arena is compacted.
  const spec = fc.record({ cls: fc.nat(40), len: fc.oneof(fc.nat(30), fc.integer({ min: 200, max: 900 })), wide: fc.boolean(), bytes: fc.boolean() });
  // Then 40 more classes of two long lines each: the arena is compacted after the last of the random ones.
  const tail = Array.from({ length: 80 }, (_, k) => ({ cls: 100 + (k % 40), len: 1_900, wide: false, bytes: k % 3 === 0 }));
  fc.assert(fc.property(fc.array(spec, { minLength: 1, maxLength: 400 }), fc.array(fc.nat(480), { maxLength: 4 }), (random, cuts) => {
    const rows = [...random, ...tail].map((x, i) => {
      const text = `${i}:${(x.wide ? 'é' : 'a').repeat(x.len)}`;
      const source = x.bytes ? { source: { b: Buffer.from(`>${text}<`), start: 1, end: 1 + Buffer.byteLength(text) } } : {};
      return { cls: x.cls, row: { input: 0, line: i + 1, client: 'c', protocol: 2, status: 499, flags: 0, durationMs: 1, endMs: i, at: -1, bytes: 0, text, ...source } };
    });
    // One earliest line a class, then its latest: the text of its last line, when it has two.
    const want = new Map<number, string[]>();
    for (const r of rows) want.set(r.cls, [...(want.get(r.cls) ?? []).slice(0, 1), r.row.text]);
    const direct = new EvidenceReservoir(1, 1000);
    for (const r of rows) direct.offer(r.cls, r.row);
    const merged = new EvidenceReservoir(1, 1000);
    const points = [0, ...[...new Set(cuts.map((c) => Math.min(c, rows.length)))].sort((a, b) => a - b), rows.length];
    for (let i = 1; i < points.length; i++) {
      const part = new EvidenceReservoir(1, 1000);
      for (const r of rows.slice(points[i - 1], points[i])) part.offer(r.cls, r.row);
      merged.merge(part);
    }
    for (const r of [direct, merged]) for (const [cls, texts] of want) assert.deepEqual(r.candidates((c) => c === cls).map((x) => x.text), texts);
  }), { numRuns: 200, seed: 13 });
});

test('a latest line with fewer characters than its class has room for but more bytes moves the class, not over the next class\'s text', () => {
  const r = new EvidenceReservoir(1, 1000);
  const texts = new Map<number, string>();
  let line = 0;
  const offer = (cls: number, text: string): void => {
    texts.set(cls, text);
    r.offer(cls, { input: 0, line: ++line, client: 'c', protocol: 2, status: 499, flags: 0, durationMs: 1, endMs: line, at: -1, bytes: 0, text });
  };
  // Classes 1 and 2 get rooms side by side for 800 bytes each; then 600 characters of 2 bytes for class 1.
  for (const cls of [1, 2]) {
    offer(cls, 'first');
    offer(cls, 'a'.repeat(800));
  }
  offer(1, 'é'.repeat(600));
  for (const [cls, text] of texts) assert.equal(r.candidates((c) => c === cls).at(-1)?.text, text);
});

test('a file\'s lines are kept by place, without their texts, and the cited ones read back as the lines, cut as held texts are', () => {
  // Lines of assorted lengths, two longer than the 2,000 characters a text keeps (one among its
  // class's earliest, one its latest), and two of exactly 2,000 characters: among the earliest, of
  // two bytes each; a class's latest, of one.
  const exact = (i: number): string | undefined => (i === 12 ? `${i}:${'é'.repeat(1_997)}` : i === 59 ? `${i}:${'x'.repeat(1_997)}` : undefined);
  const lines = Array.from({ length: 60 }, (_, i) => exact(i) ?? `${i}:${'x'.repeat(i === 7 || i === 57 ? 5_000 : 20 + ((i * 37) % 300))}`);
  const file = Buffer.from(`${lines.join('\n')}\n`);
  const offsets: number[] = [];
  for (let i = 0, at = 0; i < lines.length; at += Buffer.byteLength(lines[i] as string) + 1, i++) offsets.push(at);
  const rowOf = (i: number, byPlace: boolean): EvidenceRow => {
    const start = offsets[i] as number;
    const bytes = Buffer.byteLength(lines[i] as string);
    return {
      input: 0, line: i + 1, client: 'c', protocol: 2, status: 499, flags: 0, durationMs: 1, endMs: i,
      at: byPlace ? start : -1, bytes: byPlace ? bytes : 0, text: byPlace ? '' : (lines[i] as string), source: { b: file, start, end: start + bytes },
    };
  };
  const run = (byPlace: boolean): EvidenceRow[] => {
    const merged = new EvidenceReservoir(3, 1000);
    for (const [from, to] of [[0, 25], [25, 60]] as const) {
      const part = new EvidenceReservoir(3, Infinity);
      for (let i = from; i < to; i++) part.offer(i % 5, rowOf(i, byPlace));
      merged.merge(part);
    }
    return [0, 1, 2, 3, 4].flatMap((cls) => merged.candidates((c) => c === cls));
  };
  const held = run(false);
  const placed = run(true);
  assert.equal(held.length, 5 * 4);
  for (const r of placed) assert.ok(r.text === '' && r.at === offsets[r.line - 1], `line ${r.line} kept by place, no text`);
  readPlacedTexts(placed, (_, at, bytes) => file.toString('utf8', at, at + bytes));
  const cited = (rows: EvidenceRow[]): [number, string][] => rows.map((r) => [r.line, r.text]);
  assert.deepEqual(cited(placed), cited(held));
  assert.ok(held.some((r) => r.line === 8 && r.text.length === 2_000 && r.text.endsWith('…')) && held.some((r) => r.line === 58 && r.text.endsWith('…')));
  for (const i of [12, 59]) assert.ok(held.some((r) => r.line === i + 1 && r.text === lines[i]), `line ${i + 1}, of 2,000 characters, is kept whole`);
});

test('past the cap on upstreams and paths, the rest count as (other): totals per input and outcome stay exact', () => {
  const caps = { clients: 100, cells: 1 << 20, timeBuckets: 64, names: 2 };
  // Which names keep their own row depends on the order they came in (as for clients); the totals do not.
  const totals = (t: Counts['byPath']): string[] => {
    const m = new Map<number, number[]>();
    for (const r of t.rows) {
      const sum = m.get(r.input) ?? [0, 0, 0, 0, 0, 0];
      r.counts.forEach((n, k) => (sum[k] = (sum[k] as number) + n));
      m.set(r.input, sum);
    }
    return [...m].map((x) => JSON.stringify(x)).sort();
  };
  fc.assert(fc.property(fc.array(line, { maxLength: 200 }), fc.array(line, { maxLength: 200 }), (a, b) => {
    const merged = tally(a, new Counts(caps));
    merged.merge(tally(b, new Counts(caps)));
    const whole = tally([...a, ...b], new Counts(caps));
    for (const which of ['byUpstream', 'byPath'] as const) {
      assert.deepEqual(totals(merged[which]), totals(whole[which]));
      for (const t of [merged[which], whole[which]]) {
        assert.ok(t.names.length <= caps.names + 1, 'the cap, and (other)');
        assert.equal(t.rows.reduce((n, r) => n + r.counts.reduce((x, y) => x + y, 0), 0), whole.handshakes);
      }
      const distinct = new Set([...a, ...b].filter((l) => l.handshake).map((l) => (which === 'byPath' ? l.path : answeringPeer(l.upstream)))).size;
      if (distinct <= caps.names) assert.equal(whole[which].capped, false);
      if (distinct > caps.names + 1) assert.equal(whole[which].capped, true, 'folded');
    }
  }), { numRuns: 100 });
});

test('merging stays exact when the time buckets of one side had to widen', () => {
  // One side spans 30 days at a small bucket cap, so its buckets step up the ladder; the other is short.
  const rand = prng(5);
  const lines = (n: number, spanMs: number): Line[] => Array.from({ length: n }, () => ({
    input: 0, client: `10.0.0.${Math.floor(rand() * 9)}`, protocol: 1 + Math.floor(rand() * 2), status: rand() < 0.5 ? 101 : 499,
    flags: 0, durationMs: Math.floor(rand() * 90_000), endMs: 1.7e12 + Math.floor(rand() * spanMs), handshake: true, upstream: '', path: '/ws/',
  }));
  const a = lines(2000, 30 * 86_400_000);
  const b = lines(500, 3_600_000);
  const caps = { clients: 100, cells: 1 << 20, timeBuckets: 64, names: 100 };
  const merged = tally(b, new Counts(caps));
  merged.merge(tally(a, new Counts(caps)));
  assert.deepEqual(dump(merged), dump(tally([...b, ...a], new Counts(caps))));
});

test('a part counted in buckets as wide as its run\'s (as the pipeline launches it) merges to the counts of the lines read in one go', () => {
  const caps = { clients: 100, cells: 1 << 20, timeBuckets: 4, names: 100 };
  // Handshakes started within an hour: the run's width moves a few steps up the ladder, not straight to a day.
  const hour = fc.array(line.map((l) => ({ ...l, endMs: 1.7e12 + ((l.endMs - 1.7e12) % 3_600_000), durationMs: Math.min(l.durationMs, 5_000) })), { minLength: 10, maxLength: 200 });
  fc.assert(fc.property(hour, hour, hour, (a, b, c) => {
    const run = tally(a, new Counts(caps));
    for (const next of [b, c]) {
      const part = new Counts(caps);
      part.bucketsAtLeast(run.bucketSeconds);
      run.merge(tally(next, part));
    }
    assert.deepEqual(dump(run), dump(tally([...a, ...b, ...c], new Counts(caps))));
  }), { numRuns: 200 });
});

test('a key logged on many lines links each row once: the chain ends, and visits every row', () => {
  const rows = new HandshakeRows();
  const keys = new KeyWindow(new EvidenceReservoir(4, 100), rows);
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const n = 5000;
  for (let i = 0; i < n; i++) {
    const row = rows.add({ input: i % 2, line: i + 1, client: 0, protocol: 2, status: 101, durationMs: 10, endMs: 1000 + i, flags: 1, upstream: 0 }, key);
    keys.see(key, { input: i % 2, line: i + 1, client: 'c', clientId: 0, protocol: 2, status: 101, durationMs: 10, endMs: 1000 + i, flags: 1, at: -1, bytes: 0, text: 't', row });
  }
  keys.finish();
  // Every row was told where its key was seen (both inputs): the fold walked the whole chain.
  for (let r = 0; r < n; r++) assert.equal(rows.keyInputs[r], 3, `row ${r}`);
});

/** A generated log: 3,000 handshakes from many clients, 30 % HTTP/1.0 given up at 60 s, the rest sessions of up to 10 minutes. */
function generatedLog(dir: string): { file: string; logFormat: string[] } {
  const rand = prng(11);
  const t0 = 1_700_000_000;
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const down = rand() < 0.3;
    const dur = down ? 59_998 + Math.floor(rand() * 4) : 1_000 + Math.floor(rand() * 600_000);
    const end = t0 + i * 0.7 + dur / 1000;
    const key = Buffer.alloc(16, i % 256).fill(Math.floor(rand() * 256), 0, 4).toString('base64');
    out.push(`10.1.${Math.floor(rand() * 40)}.${Math.floor(rand() * 250)} - - [14/Nov/2023:22:13:20 +0000] "GET /ws/ HTTP/${down ? '1.0' : '1.1'}" ${down ? 499 : 101} 0 "-" "ua" "websocket" ${(dur / 1000).toFixed(3)} ${end.toFixed(3)} "${key}"`);
  }
  const file = join(dir, 'a.log');
  writeFileSync(file, `${out.join('\n')}\n`);
  return { file, logFormat: ['$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_upgrade" $request_time $msec "$http_sec_websocket_key"'] };
}

test('every cap shrunk: the same counts as an uncapped run, and the report says where detail was folded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-caps-'));
  try {
    const { file, logFormat } = generatedLog(dir);
    const run = (caps?: object): Promise<Report> => analyze({ inputs: [file], logFormat, workers: 1, ...(caps ? { caps } : {}) });
    const [free, capped] = await Promise.all([run(), run({ clients: 5, cells: 16, timeBuckets: 4, liveKeys: 8, evidenceRows: 3 })]);
    assert.equal(capped.meta.clientsFolded, true);
    assert.ok(capped.correlation.evicted > 0, 'the key cap was passed');
    const counts = (r: Report): unknown => ({
      lines: r.lines, handshakes: { ...r.handshakes, byClient: undefined },
      timeouts: r.timeouts, findings: r.findings.filter((f) => f.id !== 'reused-key').map((f) => [f.id, f.count, f.handshakes, f.breakdown, f.timeoutSeconds]),
      timeline: r.timeline.buckets.reduce((n, b) => n + b.handshakes + b.failed, 0), histogram: r.histogram,
    });
    assert.deepEqual(counts(capped), counts(free));
    // With the clients past the cap folded into (other), every line of a finding is still some client's.
    for (const f of capped.findings.filter((x) => x.id !== 'reused-key')) assert.equal(f.clients.reduce((n, c) => n + c.count, 0), f.count, f.id);
    for (const f of capped.findings) assert.ok(f.evidence.length >= 1, `${f.id} keeps evidence`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('the evidence budget spent: the same report from one part as from many parts read by several threads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-budget-'));
  try {
    const { file, logFormat } = generatedLog(dir);
    // A budget far below the classes (sessions of up to 10 minutes in 1.6 % bins): most classes keep one earliest line.
    const caps = { evidenceRows: 40 };
    const one = await analyze({ inputs: [file], logFormat, workers: 1, caps });
    const many = await analyze({ inputs: [file], logFormat, workers: 3, chunkBytes: 2048, caps });
    assert.ok(one.findings.some((f) => f.evidence.length > 0));
    assert.deepEqual(many, one);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
