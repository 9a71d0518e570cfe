/*
 * Headless Chromium (Debian's `chromium`) for the HTML report tests: a screenshot and the DOM after
 * load, of a local file, with networking in the background turned off. Whether a test runs without
 * chromium is test/helpers/requirements.ts's decision (`requireProgram('chromium')`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Report } from '../../src/index.js';
import { countColor, decodePng, distinctColors } from './png.js';
import { programPath } from './requirements.js';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-extensions', '--force-color-profile=srgb', '--hide-scrollbars'];

export interface Rendered {
  png: Buffer;
  dom: string;
}

/** Opens `file` in headless Chromium: the screenshot (1200×2000) and the serialised DOM. */
export function openInBrowser(file: string): Rendered {
  const chromium = programPath('chromium');
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-chromium-'));
  try {
    const url = pathToFileURL(file).href;
    const profile = [`--user-data-dir=${join(dir, 'profile')}`];
    const shot = join(dir, 'shot.png');
    const s = spawnSync(chromium, [...FLAGS, ...profile, `--screenshot=${shot}`, '--window-size=1200,2000', url], { encoding: 'utf8', timeout: 60_000 });
    if (!existsSync(shot)) throw new Error(`chromium wrote no screenshot (exit ${s.status}): ${s.stderr}`);
    const d = spawnSync(chromium, [...FLAGS, ...profile, '--dump-dom', url], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
    if (d.status !== 0) throw new Error(`chromium --dump-dom exited ${d.status}: ${d.stderr}`);
    return { png: readFileSync(shot), dom: d.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The chart colours of report/html.ts: upgraded bars, failed bars, timeout-cluster band. */
export const CHART_COLORS = { ok: '#2f9e44', failed: '#d9480f', timeout: '#fff3bf' } as const;

/**
 * Opens an HTML report and checks what a reader would see: the two SVG charts and every finding
 * in the DOM, no script element, and a screenshot with the chart colours painted (so not blank).
 */
export function assertRendersInBrowser(file: string, report: Report): Rendered {
  const r = openInBrowser(file);
  assert.match(r.dom, /<svg[^>]* id="timeline-chart"/);
  assert.match(r.dom, /<figure[^>]* id="duration-histogram"/);
  // Timeline bars are SVG rects, histogram bars page elements.
  assert.ok((r.dom.match(/<(rect|span) class="bar-(ok|failed)"/g) ?? []).length > 5, 'bars drawn');
  for (const f of report.findings.slice(0, 20)) assert.ok(r.dom.includes(`data-finding-id="${f.id}"`), f.id);
  assert.doesNotMatch(r.dom, /<script/i);
  const img = decodePng(r.png);
  assert.equal(img.width, 1200);
  assert.ok(distinctColors(img) > 50, `screenshot has ${distinctColors(img)} colours: blank?`);
  for (const [what, hex] of Object.entries(CHART_COLORS)) {
    if (what === 'timeout' && !report.histogram.some((b) => b.timeout)) continue;
    assert.ok(countColor(img, hex, 6) > 200, `${what} (${hex}) painted: ${countColor(img, hex, 6)} px`);
  }
  return r;
}
