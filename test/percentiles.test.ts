// Percentiles read from the exact duration histograms: to the millisecond below 65.5 s, and marked
// `≈` in every text output where one fell in a wider bin (within 0.003 %), `approximate` in JSON.
// See: issue 18 ("HTTP/1.0 499 `p50 60.003 | p90 60.003 | p99 60.003` where the exact values are
// 60.000 / 60.002 / 60.003"; "101 p50 462.722 where the exact median is 462.292").
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { RENDERERS, analyze, renderedText, type Report } from '../src/index.js';
import { FIXTURE } from './helpers/cli.js';

/** request_time of the fixture's handshake lines by protocol and status, read with a plain regex. */
function requestTimes(protocol: string, status: number): number[] {
  const re = new RegExp(`GET /ws\\S* ${protocol.replace('.', '\\.')} .* request_time ([\\d.]+) status ${status} `);
  return readFileSync(FIXTURE, 'utf8').split('\n').flatMap((l) => {
    const m = re.exec(l);
    return m ? [Number(m[1])] : [];
  }).sort((a, b) => a - b);
}

/** Nearest-rank percentile, as the report defines it. */
const nearestRank = (xs: readonly number[], q: number): number => xs[Math.max(1, Math.ceil(q * xs.length)) - 1] as number;

describe('the demo: percentiles exact where the histogram is, ≈ where it is not', () => {
  let report: Report;
  before(async () => {
    report = await analyze({ inputs: [FIXTURE], workers: 1 });
  });
  const row = (protocol: string, status: number): Report['handshakes']['byProtocolStatus'][number] => {
    const r = report.handshakes.byProtocolStatus.find((x) => x.protocol === protocol && x.status === status);
    assert.ok(r, `${protocol} ${status} row`);
    return r;
  };

  test('HTTP/1.0 499: p50 60.000, p90 60.002, p99 60.003, the exact values, not marked', () => {
    const times = requestTimes('HTTP/1.0', 499);
    assert.equal(times.length, 17);
    const d = row('HTTP/1.0', 499).durations;
    assert.deepEqual([d.p50, d.p90, d.p99, d.max], [60, 60.002, 60.003, 60.003]);
    assert.deepEqual([d.p50, d.p90, d.p99], [0.5, 0.9, 0.99].map((q) => nearestRank(times, q)));
    assert.equal(d.approximate, undefined);
  });

  test('HTTP/1.1 101: the median is within 0.003 % of the exact one, and says it is approximate', () => {
    const exact = nearestRank(requestTimes('HTTP/1.1', 101), 0.5);
    assert.equal(exact, 462.292);
    const d = row('HTTP/1.1', 101).durations;
    assert.ok(d.p50 !== null && Math.abs(d.p50 - exact) / exact <= 0.00003, `${d.p50} vs ${exact}`);
    assert.equal(d.approximate, true);
    assert.deepEqual(d.approximatePercentiles, ['p50', 'p90', 'p99']);
  });

  for (const output of ['table', 'markdown', 'html'] as const) {
    test(`${output}: ≈ beside each approximate percentile, none beside an exact one`, async () => {
      // What a reader sees: HTML's cells without their markup.
      const text = (await renderedText(RENDERERS[output](report, { color: false, verbose: true, width: 120 }))).replace(/<[^>\n]*>/g, ' ');
      const p50 = row('HTTP/1.1', 101).durations.p50 as number;
      const shown = (s: number): string => s.toLocaleString('en-US', { minimumFractionDigits: 3 });
      assert.ok(text.includes(`≈${shown(p50)}`), `≈${shown(p50)} in the 101 row`);
      // The 499 row: exact values, no ≈ before them; max is always exact.
      const line = text.split('\n').find((l) => /HTTP\/1\.0\W+499\b/.test(l) && l.includes('60.002'));
      assert.ok(line, 'the HTTP/1.0 499 row');
      assert.match(line, /60\.000\D+60\.002\D+60\.003\D+60\.003/);
      assert.doesNotMatch(line, /≈/);
      assert.doesNotMatch(text, /≈895\.049/, 'max is exact');
    });
  }
});
