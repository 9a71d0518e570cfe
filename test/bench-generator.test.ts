/*!
 * Self-check of the benchmark's traffic generator (test/bench/generate.ts): determinism, line shape per format,
 * the traffic mix the benchmark relies on, and the truth it checks other tools' counts against. test/bench/ itself
 * is not run by `npm test`; this file is. It does not test wsdiag.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BAD_NODES, LB_NODES, generateLog } from './bench/generate.js';
import type { GenerateStats, LogFormat } from './bench/generate.js';

const LINES = 2000;
const SEED = 20180309;

const METHOD = '(GET|POST|HEAD|PUT|DELETE|OPTIONS)';
const TIME_LOCAL = '(\\d{2}/[A-Z][a-z]{2}/\\d{4}:\\d{2}:\\d{2}:\\d{2} \\+0800)';
const KEY = '(-|[A-Za-z0-9+/]{21}[AQgw]==)';
const SECS = '\\d+\\.\\d{3}';

/** One regex per format, with the same named groups, written from the log_format text (not from the generator). */
const SHAPES: Record<LogFormat, RegExp> = {
  incident: new RegExp(
    `^\\[(?<time>${TIME_LOCAL.slice(1, -1)})\\] (?<client>\\d+\\.\\d+\\.\\d+\\.\\d+) - - - \\d+\\.\\d+\\.\\d+\\.\\d+ ` +
    `to: (?:-|\\d+\\.\\d+\\.\\d+\\.\\d+:\\d+): ${METHOD} (?<path>/\\S*) (?<proto>HTTP/1\\.[01]) ` +
    `upstream_response_time (?:-|${SECS}) msec (?<msec>${SECS}) request_time (?<rt>${SECS}) status (?<status>\\d{3}) ` +
    `client - (?<ua>\\S.*\\S) (?<key>${KEY.slice(1, -1)})$`,
  ),
  'combined-ws': new RegExp(
    `^(?<client>\\d+\\.\\d+\\.\\d+\\.\\d+) - - \\[(?<time>${TIME_LOCAL.slice(1, -1)})\\] ` +
    `"${METHOD} (?<path>/\\S*) (?<proto>HTTP/1\\.[01])" (?<status>\\d{3}) \\d+ "[^"]*" "(?<ua>[^"]+)" ` +
    `"(?<upgrade>-|websocket)" (?<rt>${SECS}) (?<msec>${SECS}) "(?<key>${KEY.slice(1, -1)})"$`,
  ),
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function expectedTimeLocal(msec: number): string {
  const d = new Date((Math.floor(msec) + 8 * 3600) * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0800`;
}

let dir = '';
const outputs = new Map<string, { text: string; stats: GenerateStats }>();

async function generate(format: LogFormat, seed: number, name: string): Promise<{ text: string; stats: GenerateStats }> {
  const out = join(dir, name);
  const stats = await generateLog({ lines: LINES, format, seed, out });
  const result = { text: readFileSync(out, 'utf8'), stats };
  outputs.set(name, result);
  return result;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsdiag-gen-test-'));
  for (const format of ['incident', 'combined-ws'] as const) {
    await generate(format, SEED, `${format}-a.log`);
    await generate(format, SEED, `${format}-b.log`);
    await generate(format, SEED + 1, `${format}-c.log`);
  }
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function get(name: string): { text: string; stats: GenerateStats } {
  const r = outputs.get(name);
  assert.ok(r, `missing output ${name}`);
  return r;
}

for (const format of ['incident', 'combined-ws'] as const) {
  test(`${format}: the same seed gives identical bytes, another seed different ones`, () => {
    const a = get(`${format}-a.log`);
    const b = get(`${format}-b.log`);
    const c = get(`${format}-c.log`);
    assert.equal(a.text, b.text);
    assert.notEqual(a.text, c.text);
    assert.equal(Buffer.byteLength(a.text), a.stats.bytes);
  });

  test(`${format}: every line has the format's shape and a believable traffic mix`, () => {
    const { text, stats } = get(`${format}-a.log`);
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, LINES);
    assert.equal(stats.lines, LINES);

    const bad = new Set(BAD_NODES);
    const clients = new Set<string>();
    const keys = new Set<string>();
    let prevMsec = 0;
    let handshakes = 0;
    let http10x499 = 0;
    let http10x499Near60 = 0;
    let uaWithSpace = 0;
    for (const [i, line] of lines.entries()) {
      const m = SHAPES[format].exec(line);
      assert.ok(m?.groups, `line ${i + 1} does not match the ${format} shape: ${line}`);
      const g = m.groups as Record<string, string>;
      const msec = Number(g['msec']);
      assert.ok(msec >= prevMsec, `line ${i + 1}: msec went backwards (${prevMsec} → ${msec})`);
      prevMsec = msec;
      assert.equal(g['time'], expectedTimeLocal(msec), `line ${i + 1}: $time_local disagrees with $msec`);
      const client = g['client'] as string;
      clients.add(client);
      if (g['proto'] === 'HTTP/1.0') assert.ok(bad.has(client), `line ${i + 1}: HTTP/1.0 from a good node ${client}`);
      if ((g['ua'] as string).includes(' ')) uaWithSpace++;
      const isHandshake = (g['path'] as string).startsWith('/ws');
      const key = g['key'] as string;
      assert.equal(key !== '-', isHandshake, `line ${i + 1}: a key must be logged exactly on handshakes`);
      if (!isHandshake) continue;
      handshakes++;
      assert.ok(!keys.has(key), `line ${i + 1}: key ${key} reused`);
      keys.add(key);
      if (g['proto'] === 'HTTP/1.0' && g['status'] === '499') {
        http10x499++;
        const rt = Number(g['rt']);
        if (rt >= 59 && rt <= 61) {
          http10x499Near60++;
          assert.ok(rt >= 59.99 && rt < 60.01, `line ${i + 1}: a timeout 499 should be 59.99x–60.00x, got ${rt}`);
        }
      }
    }

    const share = handshakes / LINES;
    assert.ok(share > 0.07 && share < 0.13, `handshake share ${share}`);
    assert.equal(handshakes, stats.handshakes);
    assert.ok(http10x499 > 0, 'no HTTP/1.0 499 handshakes');
    assert.ok(http10x499Near60 >= http10x499 * 0.8, 'most HTTP/1.0 499s should end at the 60 s timeout');
    assert.equal(http10x499Near60, stats.http10Status499Near60);
    assert.ok(uaWithSpace > LINES * 0.8, 'user agents should mostly contain spaces');
    assert.ok(clients.size >= LB_NODES.length - 2, `only ${clients.size} client addresses`);
    for (const c of clients) assert.ok(LB_NODES.includes(c), `unexpected client ${c}`);
  });
}

test('combined-ws: the truth of lines with Upgrade: websocket by protocol × status is what the lines say', () => {
  // the bench's combined-ws awk counts these lines ($(NF-3) == "websocket") and is checked against this truth
  const { text, stats } = get('combined-ws-a.log');
  const upgrades: Record<string, number> = {};
  const handshakes: Record<string, number> = {};
  for (const line of text.slice(0, -1).split('\n')) {
    const g = SHAPES['combined-ws'].exec(line)?.groups as Record<string, string>;
    const k = `${g['proto']} ${g['status']}`;
    const isHandshake = g['key'] !== '-';
    if (g['upgrade'] === 'websocket') {
      assert.ok(isHandshake, `Upgrade: websocket on a line that is no handshake: ${line}`);
      upgrades[k] = (upgrades[k] ?? 0) + 1;
    }
    if (isHandshake) handshakes[k] = (handshakes[k] ?? 0) + 1;
  }
  assert.deepEqual(stats.upgradeByProtocolStatus, upgrades);
  assert.deepEqual(stats.byProtocolStatus, handshakes);
  // the bad nodes' HTTP/1.0 handshakes lost the header; every HTTP/1.1 one kept it
  for (const [k, n] of Object.entries(handshakes)) {
    assert.equal(upgrades[k], k.startsWith('HTTP/1.0 ') ? undefined : n, k);
  }
  assert.ok(Object.keys(handshakes).some((k) => k.startsWith('HTTP/1.0 ')), 'no HTTP/1.0 handshakes');
  // the traffic does not depend on the format: the incident log of the same seed has the same truth
  const incident = get('incident-a.log').stats;
  assert.deepEqual(incident.upgradeByProtocolStatus, stats.upgradeByProtocolStatus);
  assert.deepEqual(incident.byProtocolStatus, stats.byProtocolStatus);
});
