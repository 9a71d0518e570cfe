/*
 * A page's layout at a given viewport width, measured in headless Chromium over the DevTools
 * protocol (--remote-debugging-pipe: no port, no network): the box of every rendered line of text,
 * which scrolling box (if any) holds it, the page's scroll width, and a full-page screenshot.
 * Chromium's window cannot be narrower than 500 px, so phone widths are emulated
 * (Emulation.setDeviceMetricsOverride, as DevTools' device mode does). Owns no assertions.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { programPath } from './requirements.js';

export interface TextBox {
  text: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
  /** The id or class of the nearest ancestor that scrolls sideways (overflow-x auto/scroll), or null. */
  scroller: string | null;
}

export interface Layout {
  /** The viewport width (CSS px) and the page's scroll width: wider means the page scrolls sideways. */
  viewport: number;
  scrollWidth: number;
  texts: TextBox[];
  /** Boxes of elements that must fit the viewport: the charts, the scrolling boxes. */
  blocks: { what: string; left: number; right: number }[];
  png: Buffer;
}

/** Runs in the page: every non-empty text node's line boxes (page coordinates), and the blocks. */
const MEASURE = `(() => {
  const scrollerOf = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o === 'auto' || o === 'scroll') return e;
    }
    return null;
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (text === '' || !el || el.closest('title, style')) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const sc = scrollerOf(el);
    for (const r of range.getClientRects()) {
      if (r.width < 0.5 || r.height < 0.5) continue;
      texts.push({ text: text.slice(0, 80), left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY, scroller: sc ? (sc.id || sc.className || sc.tagName) : null });
    }
  }
  const blocks = [...document.querySelectorAll('svg, figure, .scroll, pre, table.hist, .legend')].map((e) => {
    const r = e.getBoundingClientRect();
    return { what: e.id || e.className.baseVal || e.className || e.tagName, left: r.left + scrollX, right: r.right + scrollX };
  });
  return { viewport: innerWidth, scrollWidth: document.documentElement.scrollWidth, texts, blocks, height: document.documentElement.scrollHeight };
})()`;

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-extensions', '--force-color-profile=srgb', '--hide-scrollbars', '--remote-debugging-pipe'];

interface Reply { id?: number; method?: string; sessionId?: string; result?: Record<string, unknown>; error?: { message: string } }

/** Opens `file` at `width` CSS px (a phone below 600: mobile viewport, touch) and measures it. */
export async function layoutAt(file: string, width: number): Promise<Layout> {
  const chromium = programPath('chromium');
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-layout-'));
  const proc = spawn(chromium, [...FLAGS, `--user-data-dir=${join(dir, 'profile')}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], detached: true });
  const input = proc.stdio[3] as Writable;
  const output = proc.stdio[4] as Readable;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const events: Reply[] = [];
  let onEvent = (): void => {};
  let buffered = '';
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\0'); end >= 0; end = buffered.indexOf('\0')) {
      const msg = JSON.parse(buffered.slice(0, end)) as Reply;
      buffered = buffered.slice(end + 1);
      const w = msg.id === undefined ? undefined : waiting.get(msg.id);
      if (w) {
        waiting.delete(msg.id as number);
        if (msg.error) w.reject(new Error(msg.error.message));
        else w.resolve(msg.result ?? {});
      } else if (msg.method) {
        events.push(msg);
        onEvent();
      }
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
  });
  const event = (method: string, sessionId: string): Promise<void> => new Promise((resolve) => {
    onEvent = () => {
      if (events.some((e) => e.method === method && e.sessionId === sessionId)) resolve();
    };
    onEvent();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  try {
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    const mobile = width < 600;
    await send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile }, sessionId);
    await send('Page.enable', {}, sessionId);
    const loaded = event('Page.loadEventFired', sessionId);
    await send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
    await loaded;
    const evaluated = await send('Runtime.evaluate', { expression: MEASURE, returnByValue: true }, sessionId) as { result: { value: Omit<Layout, 'png'> & { height: number } } };
    const m = evaluated.result.value;
    const shot = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height: m.height, scale: 1 } }, sessionId) as { data: string };
    await send('Browser.close').catch(() => ({}));
    return { viewport: m.viewport, scrollWidth: m.scrollWidth, texts: m.texts, blocks: m.blocks, png: Buffer.from(shot.data, 'base64') };
  } finally {
    clearTimeout(timer);
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    }
    // Its own process group (detached): the helper processes that outlive the browser and still
    // write to the profile go too, before the profile is removed.
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

/** Pairs of text boxes that overlap by more than `slack` px both ways (lines that merely touch do not). */
export function overlaps(texts: readonly TextBox[], slack = 1): [TextBox, TextBox][] {
  const out: [TextBox, TextBox][] = [];
  const sorted = [...texts].sort((a, b) => a.top - b.top);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as TextBox;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as TextBox;
      if (b.top >= a.bottom - slack) break;
      const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (dx > slack && dy > slack) out.push([a, b]);
    }
  }
  return out;
}
