// Numbers read the same way everywhere a person reads them: thousands separators in the terminal,
// Markdown and HTML (the verdict's `×12,345` as much as a table's count), raw numbers in JSON and
// CSV. See: issue 18 ("`×125000` in the verdict, `1,000,000 lines read` elsewhere").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RENDERERS, analyze, renderedText, type Report } from '../src/index.js';
import fc from 'fast-check';
import { byName } from '../src/core/lists.js';
import { decimal, int, secs } from '../src/report/text.js';
import { writeTwoTier } from './helpers/two-tier.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-numbers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DOWNGRADED = 12_345;
const HEALTHY = 1_500;

/** The incident's line shape: DOWNGRADED handshakes 499 at 60 s through one LB node, HEALTHY upgraded ones. */
function bigLog(): string {
  const t0 = 1520579000;
  const line = (i: number, client: string, proto: string, rt: string, status: number): string => {
    const end = t0 + i;
    const d = new Date((end + 8 * 3600) * 1000);
    const local = `09/Mar/2018:${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} +0800`;
    return `[${local}] ${client} - - - 10.0.21.11 to: 10.0.20.11:8011: GET /ws/?id=${i} ${proto} upstream_response_time - msec ${end}.500 request_time ${rt} status ${status} client - Mozilla/5.0 (X11; Linux x86_64) Chrome/64.0`;
  };
  const lines: string[] = [];
  for (let i = 0; i < DOWNGRADED; i++) lines.push(line(i, '100.97.88.252', 'HTTP/1.0', (59.99 + (i % 20) / 1000).toFixed(3), 499));
  for (let i = DOWNGRADED; i < DOWNGRADED + HEALTHY; i++) lines.push(line(i, '100.97.88.238', 'HTTP/1.1', (100 + (i % 700) + (i % 1000) / 1000).toFixed(3), 101));
  const file = join(tmp, 'big.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('a log with 12,345 downgraded handshakes', () => {
  let report: Report;
  before(async () => {
    report = await analyze({ inputs: [bigLog()], preset: ['upstream'] });
  });

  test('the sample is what it should be (so the checks below mean something)', () => {
    assert.equal(report.findings[0]?.id, 'downgraded-handshake');
    assert.equal(report.findings[0]?.count, DOWNGRADED);
    assert.equal(report.lines.total, DOWNGRADED + HEALTHY);
  });

  test('the verdict: 12,345 and ×12,345, never 12345', () => {
    assert.match(report.verdict.headline, /^12,345 WebSocket handshakes arrived as HTTP\/1\.0 .*×12,\d{3}/);
    assert.deepEqual(report.verdict.headline.match(/\d{4,}/g), ['6455']);
  });

  for (const output of ['table', 'markdown', 'html'] as const) {
    test(`${output}: every count with separators`, async () => {
      const rendered = await renderedText(RENDERERS[output](report, { color: false, verbose: true, width: 100 }));
      // What a reader sees: HTML without its markup and CSS; log text (evidence) left out, since
      // it is written as logged; wrapped terminal prose joined again.
      const text = rendered.replace(/<style>[^]*?<\/style>/, '').replace(/<[^>]*>/g, ' ').split('\n')
        .filter((l) => !/big\.log:\d+|msec \d/.test(l)).join('\n').replace(/\n {2,}/g, ' ');
      assert.ok(text.includes('13,845 lines read'), 'the summary');
      assert.ok(text.includes('12,345 WebSocket handshakes arrived'), 'the verdict');
      assert.ok(text.includes('12,345 handshakes reached nginx as HTTP/1.0'), 'the explanation');
      assert.ok(text.includes('100.97.88.252 (12,345)'), 'the clients of a finding');
      // No count of four digits or more is written bare (years and RFC 6455 are not counts).
      const bare = (text.match(/(?<![\d.,:/-])\d{4,}(?![\d:])/g) ?? []).filter((n) => !/^(20\d\d|6455)$/.test(n));
      assert.deepEqual(bare, [], `bare numbers in ${output}`);
    });
  }

  test('json and csv keep raw numbers', async () => {
    const json = JSON.parse(await renderedText(RENDERERS.json(report))) as Report;
    assert.equal(json.findings[0]?.count, DOWNGRADED);
    assert.equal(json.lines.total, 13_845);
    const csv = await renderedText(RENDERERS.csv(report, { color: false, csv: 'findings' }));
    assert.match(csv, /\r\ndowngraded-handshake,critical,[^,]+,12345,/);
  });
});

test('secs: milliseconds, with separators from 1,000 s', () => {
  assert.equal(secs(60), '60.000');
  assert.equal(secs(1800), '1,800.000');
  assert.equal(secs(null), '-');
});

test('int, secs and decimal write what en-US writes (without Intl)', () => {
  fc.assert(fc.property(fc.integer({ min: -1e12, max: 1e15 }), (n) => int(n) === n.toLocaleString('en-US')));
  // Durations: whole milliseconds, as seconds.
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (ms) => {
    const s = ms / 1000;
    return secs(s) === s.toLocaleString('en-US', { minimumFractionDigits: 3, maximumFractionDigits: 3 })
      && decimal(s) === s.toLocaleString('en-US', { maximumFractionDigits: 3 });
  }));
  assert.deepEqual([decimal(Infinity), decimal(NaN), decimal(-0.0001)], ['∞', 'NaN', '0']);
});

test('byName: code unit order, the same whatever the locale', () => {
  assert.deepEqual(['b', 'B', 'a', '10.0.0.9', '10.0.0.10', 'é', 'e'].sort(byName), ['10.0.0.10', '10.0.0.9', 'B', 'a', 'b', 'e', 'é']);
});

/**
 * Intl's first use (a number with separators, a comparison of names) loads ICU's data: about 10 MB
 * of memory at a run's end, where its peak is. The analysis and every renderer go without.
 */
test('an analysis and its reports in every output use no Intl', async () => {
  const trap = (what: string) => (): never => {
    throw new Error(`${what} used`);
  };
  const saved = {
    toLocaleString: Number.prototype.toLocaleString, localeCompare: String.prototype.localeCompare,
    NumberFormat: Intl.NumberFormat, Collator: Intl.Collator, PluralRules: Intl.PluralRules, Segmenter: Intl.Segmenter,
  };
  Number.prototype.toLocaleString = trap('Number.prototype.toLocaleString');
  String.prototype.localeCompare = trap('String.prototype.localeCompare');
  for (const k of ['NumberFormat', 'Collator', 'PluralRules', 'Segmenter'] as const) Object.defineProperty(Intl, k, { value: trap(`Intl.${k}`), configurable: true, writable: true });
  try {
    // One tier, and two (the tiers' client tables, keys joined across them).
    const tiers = writeTwoTier(tmp);
    const reports = [await analyze({ inputs: [bigLog()], preset: ['upstream'] }), await analyze({ inputs: [tiers.front, tiers.back], preset: ['upstream'] })];
    assert.equal(reports[0]?.findings[0]?.count, DOWNGRADED);
    assert.ok((reports[1]?.handshakes.byTier.length ?? 0) > 1);
    for (const report of reports) {
      for (const output of ['table', 'markdown', 'html', 'json', 'csv'] as const) {
        const text = await renderedText(RENDERERS[output](report, { color: false, verbose: true, width: 100, csv: 'findings' }));
        assert.ok(text.length > 0, output);
      }
    }
  } finally {
    Number.prototype.toLocaleString = saved.toLocaleString;
    String.prototype.localeCompare = saved.localeCompare;
    for (const k of ['NumberFormat', 'Collator', 'PluralRules', 'Segmenter'] as const) Object.defineProperty(Intl, k, { value: saved[k], configurable: true, writable: true });
  }
});
