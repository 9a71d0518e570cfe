// The HTML report in a real browser (headless Chromium): the charts render (the screenshot has
// the chart colours and is far from blank), the DOM has the charts and every finding, and a
// script in a logged user agent or path is text, never an element. Laid out at 1280 px and on a
// 390 px phone, no text box overlaps another and nothing is cut off: what is wider than the
// screen scrolls in its own box. See: issue 5, issue 7, issue 18.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RENDERERS, analyze, type AnalyzeOptions, type Report } from '../src/index.js';
import { CHART_COLORS, assertRendersInBrowser } from './helpers/browser.js';
import { INCIDENT, hostileLog } from './helpers/hostile.js';
import { layoutAt, overlaps } from './helpers/layout.js';
import { countColor, decodePng } from './helpers/png.js';
import { writeTwoTier } from './helpers/two-tier.js';
import { requireProgram } from './helpers/requirements.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-html-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const skip = requireProgram('chromium');

async function page(name: string, report: Report): Promise<string> {
  const file = join(tmp, name);
  writeFileSync(file, RENDERERS.html(report, { color: false, top: 20 }));
  return file;
}

// One suite, so that without chromium it is skipped in one line.
describe('the HTML report in Chromium', { skip }, () => {
  test('incident report: charts and findings render in Chromium', async () => {
    const report = await analyze({ inputs: [INCIDENT] });
    assertRendersInBrowser(await page('incident.html', report), report);
  });

  test('hostile log: the script in the user agent is not an element and did not run', async () => {
    const log = join(tmp, 'hostile.log');
    writeFileSync(log, hostileLog());
    const report = await analyze({ inputs: [log], preset: ['upstream-ws', 'upstream'] });
    const { dom } = assertRendersInBrowser(await page('hostile.html', report), report);
    assert.ok(dom.includes('&lt;script&gt;document.title="pwned"&lt;/script&gt;'), 'the script is shown as text');
    assert.doesNotMatch(dom, /<title>pwned/);
  });

  describe('layout at 1280 px and on a 390 px phone: no text over other text, nothing cut off', () => {
    const twoTier = writeTwoTier(tmp);
    const hostile = join(tmp, 'hostile-layout.log');
    writeFileSync(hostile, hostileLog());
    const samples: [string, AnalyzeOptions, number[]][] = [
      ['demo', { inputs: [INCIDENT] }, [1280, 390]],
      ['two tiers', { inputs: [twoTier.front, twoTier.back] }, [1280, 390]],
      // Long words nobody wrapped: a user agent with markup, formulas for addresses.
      ['hostile', { inputs: [hostile], preset: ['upstream-ws', 'upstream'] }, [390]],
    ];
    for (const [name, options, widths] of samples) {
      for (const width of widths) {
        test(`${name} at ${width} px`, async () => {
          const report = await analyze(options);
          const l = await layoutAt(await page(`${name.replace(' ', '-')}-${width}.html`, report), width);
          // A phone widens its layout viewport (and zooms out) when the page is wider than the screen.
          assert.equal(l.viewport, width, 'the layout viewport is the screen');
          assert.ok(l.scrollWidth <= width, `the page scrolls sideways: ${l.scrollWidth} px wide`);
          const clash = overlaps(l.texts);
          assert.deepEqual(clash.map(([a, b]) => `${a.text} / ${b.text}`), [], 'overlapping text');
          const cut = l.texts.filter((t) => t.scroller === null && (t.left < -0.5 || t.right > width + 0.5));
          assert.deepEqual(cut.map((t) => t.text), [], 'text beyond the screen, outside a box that scrolls');
          const wide = l.blocks.filter((b) => b.left < -0.5 || b.right > width + 0.5);
          assert.deepEqual(wide.map((b) => b.what), [], 'charts and scrolling boxes within the screen');
          // The labels that used to collide are there, so the check above covered them.
          const texts = l.texts.map((t) => t.text);
          for (const c of report.timeouts) assert.ok(texts.some((t) => t.includes(`T ≈ ${c.seconds.toFixed(3)} s`)), `T ≈ ${c.seconds} s label`);
          const bin = report.histogram.find((b) => b.timeout);
          assert.ok(bin && texts.includes(String(bin.upgraded + bin.failed)), 'the timeout bin\'s count');
          const img = decodePng(l.png);
          assert.equal(img.width, width);
          for (const [what, hex] of Object.entries(CHART_COLORS)) assert.ok(countColor(img, hex, 6) > 100, `${what} (${hex}) painted at ${width} px`);
        });
      }
    }
  });
});
