// Handshake outcomes by upstream (which app node fails) and by path (which endpoint), per input:
// what GoAccess users look for first. Exact counts, recomputed here from the logs with a regex.
// See: issue 18, item 6 ("a table of handshake outcomes by upstream ... and by path").
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RENDERERS, analyze, renderedText, type Report } from '../src/index.js';
import { FIXTURE } from './helpers/cli.js';
import { writeTwoTier } from './helpers/two-tier.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-outcomes-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Row = Report['handshakes']['byUpstream'][number] | Report['handshakes']['byPath'][number];

/** A row as "input name handshakes/upgraded/3xx/4xx/499-408/5xx/other", for readable diffs. */
const show = (r: Row, name: string): string =>
  `${r.input} ${name} ${r.handshakes}/${r.upgraded}/${r.redirected}/${r.rejected}/${r.gaveUp}/${r.serverError}/${r.other}`;

/** The same rows counted from the incident format's lines: (upstream or path) → outcome counts. */
function expected(file: string, by: 'upstream' | 'path'): string[] {
  const m = new Map<string, number[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const x = / to: (\S+): GET (\/ws\S*) HTTP\/1\.[01] .* status (\d+) /.exec(line);
    if (!x) continue;
    const [, upstream, target, status] = x as unknown as [string, string, string, string];
    const name = by === 'upstream' ? upstream : (target.split('?')[0] as string);
    const s = Number(status);
    const k = s === 101 ? 0 : s >= 300 && s < 400 ? 1 : s === 499 || s === 408 ? 3 : s >= 400 && s < 500 ? 2 : s >= 500 ? 4 : 5;
    const row = m.get(name) ?? [0, 0, 0, 0, 0, 0];
    row[k]!++;
    m.set(name, row);
  }
  return [...m].map(([name, c]) => `${file} ${name} ${c.reduce((a, b) => a + b, 0)}/${c.join('/')}`).sort();
}

describe('the demo: by upstream and by path', () => {
  let report: Report;
  before(async () => {
    report = await analyze({ inputs: [FIXTURE], workers: 1 });
  });

  test('by upstream: the front nginx (10.0.20.11:8011) and the app (127.0.0.1:8011), exact', () => {
    const rows = report.handshakes.byUpstream;
    assert.deepEqual(rows.map((r) => show(r, r.upstream)).sort(), expected(FIXTURE, 'upstream'));
    assert.deepEqual(rows.map((r) => r.upstream).sort(), ['10.0.20.11:8011', '127.0.0.1:8011']);
    assert.equal(rows.reduce((n, r) => n + r.handshakes, 0), report.handshakes.total);
    // Most failures first, and failed = handshakes − upgraded.
    assert.ok(rows.every((r, i) => r.failed === r.handshakes - r.upgraded && (i === 0 || (rows[i - 1] as Row).failed >= r.failed)));
  });

  test('by path: the query string left out (/ws/?id=… is /ws/)', () => {
    const rows = report.handshakes.byPath;
    assert.deepEqual(rows.map((r) => show(r, r.path)).sort(), expected(FIXTURE, 'path'));
    assert.deepEqual(rows.map((r) => r.path), ['/ws/']);
  });

  for (const output of ['table', 'markdown', 'html'] as const) {
    test(`${output}: both tables, no input column with one input`, async () => {
      const text = (await renderedText(RENDERERS[output](report, { color: false, width: 100, verbose: true }))).replace(/<[^>\n]*>/g, ' ');
      assert.match(text, /Handshakes by upstream/);
      assert.match(text, /Handshakes by path/);
      const row = text.split('\n').find((l) => l.includes('10.0.20.11:8011') && !l.includes(' to: '));
      assert.ok(row, 'the upstream row');
      const r = report.handshakes.byUpstream.find((x) => x.upstream === '10.0.20.11:8011') as Row;
      assert.match(row, new RegExp(`10\\.0\\.20\\.11:8011\\W+${r.handshakes}\\W+${r.upgraded}\\W+${r.failed}\\b`));
      assert.doesNotMatch(text, /\binput\b.*\bhandshakes\b/);
    });
  }

  test('the compact terminal report leaves them out: every upstream fails alike, one path', async () => {
    const text = await renderedText(RENDERERS.table(report, { color: false, width: 100 }));
    assert.doesNotMatch(text, /Handshakes by (upstream|path)/);
  });
});

test('two tiers: a row per input, the input named in the table', async () => {
  const { front, back } = writeTwoTier(tmp);
  const report = await analyze({ inputs: [front, back], workers: 1 });
  const rows = report.handshakes.byUpstream;
  assert.deepEqual(rows.map((r) => show(r, r.upstream)).sort(), [...expected(front, 'upstream'), ...expected(back, 'upstream')].sort());
  assert.deepEqual(report.handshakes.byPath.map((r) => show(r, r.path)).sort(), [...expected(front, 'path'), ...expected(back, 'path')].sort());
  const md = await renderedText(RENDERERS.markdown(report, { color: false }));
  assert.match(md, /\| upstream \| input \| handshakes \|/);
});

test('upstream lists, no upstream, query strings and fragments; a format without $upstream_addr has no upstream table', async () => {
  const fmt = '$remote_addr [$time_local] "$request" $status $request_time "$upstream_addr" "$http_sec_websocket_key"';
  const lines = [
    ['10.0.0.1', '/ws/chat?room=1', 101, '10.1.0.1:80'],
    ['10.0.0.1', '/ws/chat?room=2', 502, '10.1.0.2:80'],
    // A failover: the first peer refused, the second answered. The answer is the second's.
    ['10.0.0.2', '/ws/chat', 101, '10.1.0.2:80, 10.1.0.1:80'],
    // An internal redirect: groups joined by " : ".
    ['10.0.0.2', '/ws/feed#x', 504, '10.1.0.1:80 : 10.1.0.2:80'],
    // nginx answered itself: no upstream.
    ['10.0.0.3', '/ws', 301, '-'],
    ['10.0.0.3', '/ws/feed?x=1', 499, '10.1.0.2:80'],
  ] as const;
  const file = join(tmp, 'lists.log');
  writeFileSync(file, `${lines.map(([c, p, s, u], i) => `${c} [14/Nov/2023:22:13:2${i} +0000] "GET ${p} HTTP/1.1" ${s} 1.000 "${u}" "k${i}AAAAAAAAAAAAAAAAAAAA=="`).join('\n')}\n`);
  const report = await analyze({ inputs: [file], logFormat: [fmt], workers: 1 });
  assert.equal(report.handshakes.total, lines.length);
  assert.deepEqual(report.handshakes.byUpstream.map((r) => show(r, r.upstream)).sort(), [
    `${file} - 1/0/1/0/0/0/0`,
    `${file} 10.1.0.1:80 2/2/0/0/0/0/0`,
    `${file} 10.1.0.2:80 3/0/0/0/1/2/0`,
  ]);
  assert.deepEqual(report.handshakes.byPath.map((r) => show(r, r.path)).sort(), [
    `${file} /ws 1/0/1/0/0/0/0`,
    `${file} /ws/chat 3/2/0/0/0/1/0`,
    `${file} /ws/feed 2/0/0/0/1/1/0`,
  ]);

  const plain = join(tmp, 'no-upstream.log');
  writeFileSync(plain, `${lines.map(([c, p, s], i) => `${c} [14/Nov/2023:22:13:2${i} +0000] "GET ${p} HTTP/1.1" ${s} 1.000`).join('\n')}\n`);
  const without = await analyze({ inputs: [plain], logFormat: ['$remote_addr [$time_local] "$request" $status $request_time'], workers: 1 });
  assert.deepEqual(without.handshakes.byUpstream, []);
  assert.equal(without.handshakes.byPath.length, 3);
  assert.doesNotMatch(await renderedText(RENDERERS.table(without, { color: false, verbose: true })), /Handshakes by upstream/);
  // One upstream fails where another does not: the compact terminal report shows the table.
  assert.match(await renderedText(RENDERERS.table(report, { color: false })), /Handshakes by upstream[^]*10\.1\.0\.2:80/);
});

test('past the cap, the rest of the paths count as (other): totals stay exact', async () => {
  const file = join(tmp, 'many-paths.log');
  const n = 40;
  writeFileSync(file, `${Array.from({ length: n }, (_, i) => `10.0.0.1 [14/Nov/2023:22:13:20 +0000] "GET /ws/room${i}?t=${i} HTTP/1.1" ${i % 4 === 0 ? 499 : 101} 1.000`).join('\n')}\n`);
  const fmt = ['$remote_addr [$time_local] "$request" $status $request_time'];
  const report = await analyze({ inputs: [file], logFormat: fmt, workers: 1, caps: { names: 5 } });
  const rows = report.handshakes.byPath;
  assert.equal(rows.length, 6);
  const other = rows.find((r) => r.path === '(other)');
  assert.ok(other);
  assert.equal(rows.reduce((a, r) => a + r.handshakes, 0), n);
  assert.equal(rows.reduce((a, r) => a + r.gaveUp, 0), n / 4);
  assert.deepEqual([other.handshakes, other.gaveUp], [n - 5, n / 4 - 2]);
});
