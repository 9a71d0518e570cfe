// The HTML report in a real browser (headless Chromium): the charts render (the screenshot has
// the chart colours and is far from blank), the DOM has the charts and every finding, and a
// script in a logged user agent or path is text, never an element. See: issue 5, issue 7.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RENDERERS, analyze, type Report } from '../src/index.js';
import { assertRendersInBrowser } from './helpers/browser.js';
import { INCIDENT, hostileLog } from './helpers/hostile.js';
import { requireProgram } from './helpers/requirements.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-html-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const skip = requireProgram('chromium');

async function page(name: string, report: Report): Promise<string> {
  const file = join(tmp, name);
  writeFileSync(file, RENDERERS.html(report, { color: false, top: 20 }));
  return file;
}

test('incident report: charts and findings render in Chromium', { skip }, async () => {
  const report = await analyze({ inputs: [INCIDENT] });
  assertRendersInBrowser(await page('incident.html', report), report);
});

test('hostile log: the script in the user agent is not an element and did not run', { skip }, async () => {
  const log = join(tmp, 'hostile.log');
  writeFileSync(log, hostileLog());
  const report = await analyze({ inputs: [log], preset: ['upstream-ws', 'upstream'] });
  const { dom } = assertRendersInBrowser(await page('hostile.html', report), report);
  assert.ok(dom.includes('&lt;script&gt;document.title="pwned"&lt;/script&gt;'), 'the script is shown as text');
  assert.doesNotMatch(dom, /<title>pwned/);
});
