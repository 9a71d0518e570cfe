/*
 * Diagnosis details that the real-nginx scenarios cannot pin down cheaply: when the timeline dates a
 * failure (incident windows over minutes of log), evidence for rare key findings among many
 * healthy lines, and the lines a timeout finding cites when their duration bins straddle its window. Lines are in the incident's format (DESIGN.md) with the times nginx writes for each
 * case: a line is written when the request ends, $request_time is the whole session.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { analyze, type Finding, type Report } from '../src/index.js';
import { prng } from './helpers/prng.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');
const T0 = Date.UTC(2018, 2, 9, 9, 0, 0);

interface Line {
  client: string;
  protocol: 'HTTP/1.0' | 'HTTP/1.1';
  status: number;
  /** Offset of the request's start from T0, and its request_time, in ms. */
  startMs: number;
  durMs: number;
  key?: string;
}

/** One line of the `upstream-ws` preset, as nginx writes it when the request ends. */
function line(l: Line): string {
  const end = T0 + l.startMs + l.durMs;
  const d = new Date(end);
  const local = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  const secs = (ms: number): string => (ms / 1000).toFixed(3);
  return `[${local}] ${l.client} - - - 10.0.20.11 to: 10.0.20.11:8011: GET /ws/ ${l.protocol} upstream_response_time ${l.status === 499 ? '-' : secs(l.durMs)} msec ${secs(end)} request_time ${secs(l.durMs)} status ${l.status} client - Mozilla/5.0 (X11; Linux x86_64) ${l.key ?? '-'}`;
}

/** Lines in the order nginx writes them (by end time). */
async function report(lines: Line[], timeout: { timeout?: number; tolerance?: number } = {}): Promise<Report> {
  const text = [...lines].sort((a, b) => a.startMs + a.durMs - (b.startMs + b.durMs)).map(line).join('\n') + '\n';
  return analyze({ inputs: ['-'], preset: 'upstream-ws', stdin: Readable.from([text]), ...timeout });
}

const at = (ms: number): string => new Date(T0 + ms).toISOString();
const findingOf = (r: Report, id: string): Finding => {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `${id} in ${r.findings.map((x) => x.id).join(', ')}`);
  return f;
};

/** The timeouts the tests below put in the log. */
const TIMEOUTS_MS = [30_000, 60_000];

/**
 * 200 healthy HTTP/1.1 sessions starting over 10 minutes, lasting 1–300 s (spread: no cluster), none
 * within 1 s of a test's timeout (one that ends at T would rightly count as cut).
 */
function healthy(seed: number): Line[] {
  const rand = prng(seed);
  const out: Line[] = [];
  while (out.length < 200) {
    const durMs = 1000 + Math.floor(rand() * 299_000);
    const startMs = Math.floor(rand() * 600_000);
    if (TIMEOUTS_MS.some((t) => Math.abs(durMs - t) < 1000)) continue;
    out.push({ client: `100.97.88.${10 + (out.length % 4)}`, protocol: 'HTTP/1.1', status: 101, startMs, durMs });
  }
  return out;
}

test('an idle cut is dated when the sessions were cut (their end), not when they started', async () => {
  // Six sessions start at 10–15 s and are cut by a 60 s timeout: the incident is at 70–75 s.
  const cut: Line[] = Array.from({ length: 6 }, (_, i) => ({ client: '100.97.89.3', protocol: 'HTTP/1.1', status: 101, startMs: 10_000 + i * 1000, durMs: 60_000 + (i % 3) }));
  const r = await report([...healthy(7), ...cut]);
  assert.equal(findingOf(r, 'session-cut-at-timeout').count, cut.length);
  assert.deepEqual(r.timeline.incidents, [{ start: at(70_000), end: at(75_002), count: 6, clients: ['100.97.89.3'] }]);
  // Buckets count failed attempts (by their start); a cut session was no failed attempt.
  assert.equal(r.timeline.buckets.reduce((n, b) => n + b.failed, 0), 0);
});

test('failed attempts are dated when they started: an LB give-up burst and HTTP/1.0 101s at T', async () => {
  // 499 at 60 s for attempts started at 100–110 s; HTTP/1.0 101 at 30 s (a downgrade-keep node) started at 400–403 s.
  const gaveUp: Line[] = Array.from({ length: 6 }, (_, i) => ({ client: '100.97.88.252', protocol: 'HTTP/1.0', status: 499, startMs: 100_000 + i * 2000, durMs: 59_998 + (i % 5) }));
  const keep: Line[] = Array.from({ length: 4 }, (_, i) => ({ client: '100.97.89.10', protocol: 'HTTP/1.0', status: 101, startMs: 400_000 + i * 1000, durMs: 30_000 + i }));
  const r = await report([...healthy(11), ...gaveUp, ...keep]);
  assert.equal(findingOf(r, 'downgraded-handshake').count, gaveUp.length + keep.length);
  assert.deepEqual(r.timeline.incidents, [
    { start: at(100_000), end: at(110_000), count: 6, clients: ['100.97.88.252'] },
    { start: at(400_000), end: at(403_000), count: 4, clients: ['100.97.89.10'] },
  ]);
});

test('reused-key has evidence even when its lines share their cell with many healthy ones', async () => {
  const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
  // Forty healthy sub-second handshakes first: they fill the evidence allowance of HTTP/1.1 101 < 1 s.
  const fresh: Line[] = Array.from({ length: 40 }, (_, i) => ({ client: '100.97.88.10', protocol: 'HTTP/1.1', status: 101, startMs: i * 100, durMs: 200 + i, key: `${String(i).padStart(22, 'A')}==` }));
  const reused: Line[] = [0, 1, 2].map((i) => ({ client: '100.97.88.11', protocol: 'HTTP/1.1', status: 101, startMs: 10_000 + i * 100, durMs: 300 + i, key: KEY }));
  const r = await report([...fresh, ...reused]);
  const f = findingOf(r, 'reused-key');
  assert.equal(f.count, 1);
  assert.deepEqual(f.clients, [{ client: '100.97.88.11', count: 3, share: 1 }]);
  assert.ok(f.evidence.length >= 1, 'some evidence');
  for (const e of f.evidence) assert.ok(e.text.endsWith(` ${KEY}`), e.text);
});

test('two tiers: a handshake logged at the front and at the back counts once in `handshakes`; lines stay in `count`', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-tiers-'));
  try {
    const keyOf = (i: number): string => Buffer.alloc(16, i + 1).toString('base64');
    const front: Line[] = [...healthy(7)];
    const back: Line[] = [];
    // 12 handshakes the LB gave up on at 60 s: the front logs 499, and so does the back when the front hangs up.
    for (let i = 0; i < 12; i++) {
      const gaveUp = { protocol: 'HTTP/1.1' as const, status: 499, startMs: 5_000 + i * 20_000, durMs: 60_000 + (i % 3), key: keyOf(i) };
      front.push({ ...gaveUp, client: '100.97.88.252' });
      back.push({ ...gaveUp, client: '10.0.20.11', durMs: gaveUp.durMs - 1 });
    }
    // One client retried twice with the same key: 2 attempts, each logged by both tiers.
    for (const startMs of [400_000, 401_000]) {
      front.push({ client: '100.97.88.252', protocol: 'HTTP/1.1', status: 502, startMs, durMs: 3, key: keyOf(99) });
      back.push({ client: '10.0.20.11', protocol: 'HTTP/1.1', status: 502, startMs, durMs: 2, key: keyOf(99) });
    }
    const write = (name: string, lines: Line[]): string => {
      const file = join(dir, name);
      writeFileSync(file, `${[...lines].sort((a, b) => a.startMs + a.durMs - (b.startMs + b.durMs)).map(line).join('\n')}\n`);
      return file;
    };
    const files = [write('front.log', front), write('back.log', back)];
    const r = await analyze({ inputs: files, preset: 'upstream-ws' });
    const abandoned = findingOf(r, 'abandoned-at-timeout');
    assert.equal(abandoned.count, 24);
    assert.equal(abandoned.handshakes, 12);
    assert.match(abandoned.explanation, /^12 handshakes \(24 log lines: one handshake can be logged by each tier\) ended/);
    const upstream = findingOf(r, 'upstream-error');
    assert.equal(upstream.count, 4);
    assert.equal(upstream.handshakes, 2, 'two attempts with one key, each seen at both tiers');
    const single = await analyze({ inputs: [files[0] as string], preset: 'upstream-ws' });
    assert.equal(findingOf(single, 'abandoned-at-timeout').count, 12);
    assert.equal(findingOf(single, 'abandoned-at-timeout').handshakes, undefined, 'one input: lines are handshakes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("clients are apportioned (and said to be) only where a per-client duration bin straddles the timeout window's edge", async () => {
  // T = 60 s ± 2 ms: 59,998–60,002 ms. Per-client cells count durations in bins 32 ms wide at 60 s
  // (59,968–59,999 and 60,000–60,031), which here hold give-ups at T and one 499 that is not.
  const atT = [59_998, 59_999, 60_000, 60_000, 60_001, 60_001, 60_002, 60_002];
  const gaveUp = (durs: number[], client: string): Line[] => durs.map((durMs, i) => ({ client, protocol: 'HTTP/1.1', status: 499, startMs: 1_000 * i, durMs }));
  const straddled = await report([...gaveUp(atT, '100.97.88.1'), ...gaveUp([59_975, 60_020], '100.97.88.2')], { timeout: 60, tolerance: 2 });
  const f = findingOf(straddled, 'abandoned-at-timeout');
  assert.equal(f.count, atT.length, 'the count stays exact');
  assert.equal(f.clientsApproximate, true);
  // The same give-ups with the other client's 499s in bins of their own: every cell is wholly in or out.
  const apart = await report([...gaveUp(atT, '100.97.88.1'), ...gaveUp([59_900, 60_100], '100.97.88.2')], { timeout: 60, tolerance: 2 });
  const g = findingOf(apart, 'abandoned-at-timeout');
  assert.equal(g.count, atT.length);
  assert.equal(g.clientsApproximate, undefined);
  assert.deepEqual(g.clients.map((c) => [c.client, c.count]), [['100.97.88.1', atT.length]]);
  // A window of ± 50 ms holds the bin 60,000–60,031 whole: its cells count whole, none read bin by bin.
  const inside = [60_005, 60_008, 60_010, 60_013, 60_016, 60_020];
  const wide = await report([...gaveUp(inside, '100.97.88.1'), ...gaveUp([59_700, 60_300], '100.97.88.2')], { timeout: 60, tolerance: 50 });
  const w = findingOf(wide, 'abandoned-at-timeout');
  assert.equal(w.clientsApproximate, undefined);
  assert.deepEqual(w.clients.map((c) => [c.client, c.count]), [['100.97.88.1', inside.length]]);
});

test("a finding cites its lines when their evidence class's duration bin straddles the timeout window's edge", async () => {
  // T = 60 s ± 2 ms: 59,998–60,002 ms. The give-ups' evidence class is a bin 32 ms wide
  // (59,968–59,999 ms) that starts outside the window: it must still be searched for lines.
  const durs = [59_998, 59_999, 59_999];
  const lines = durs.map((durMs, i): Line => ({ client: '100.97.88.1', protocol: 'HTTP/1.1', status: 499, startMs: 1_000 * i, durMs }));
  const f = findingOf(await report(lines, { timeout: 60, tolerance: 2 }), 'abandoned-at-timeout');
  assert.equal(f.count, durs.length);
  assert.equal(f.evidence.length, durs.length);
});
