/*!
 * The live window's panes (src/core/panes.ts): a pane's slices merged only when a verdict reads
 * the window, or when they pile up, give the verdict that merging each slice as it came gives;
 * and a part that puts the lines no window can reach into one slice no pane keeps
 * (PartReader.onlyWindowFrom) gives every verdict, and the run, of one sliced whole; and parts
 * read as one slice, their panes read only when a verdict may see them (PaneWindow.later), give
 * the verdicts of parts sliced as read, given by hand or by the pipeline reading a stream live.
 * The slices and handshakes are real parts' (src/core/part.ts readPart) of the incident's sample
 * log, read in blocks that are written over once handed on; the lines a verdict cites are still
 * the log's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { test } from 'node:test';

import { DEFAULT_WS_PATHS, compileWsPaths } from '../src/core/classify.js';
import { Counts } from '../src/core/counts.js';
import { diagnose } from '../src/core/diagnose.js';
import { EvidenceReservoir, type EvidenceRow } from '../src/core/evidence.js';
import { KeyCounts } from '../src/core/keys.js';
import { PaneWindow } from '../src/core/panes.js';
import { readPart, type PartRules, type PartTally, type Slice } from '../src/core/part.js';
import { eachRow } from '../src/core/part-rows.js';
import { runPipeline } from '../src/core/pipeline.js';
import { DEFAULT_CAPS, Tally, countHandshake, type KeyedSighting, type TallyView } from '../src/core/tally.js';
import { compilePreset, findPreset, type Preset } from '../src/format/presets.js';
import { FIXTURE } from './helpers/cli.js';

const LINES = readFileSync(FIXTURE, 'utf8').trimEnd().split('\n');
const FORMATS = ['upstream-ws', 'upstream'].map((n) => compilePreset(findPreset(n) as Preset));
const WS_PATHS = compileWsPaths(DEFAULT_WS_PATHS);

/**
 * A part's handshakes, as the pipeline hands them on after its slices (core/tally.ts sight), their
 * lines numbered on from `offset` and their texts in `block` (held meanwhile).
 */
function handshakes(p: PartTally, block: Buffer, offset: number, fn: (h: KeyedSighting) => void): void {
  p.block = block;
  eachRow(p, 0, offset, fn);
}

/**
 * What a verdict reads of a view: its counts and its findings with their evidence; the clients it
 * has, not the order it numbered them in (a pane numbers the clients of a part's handshakes as they
 * come, before the part's other lines when its panes are read later; a report orders clients by
 * their counts, then names).
 */
function verdict(v: TallyView): unknown {
  const d = diagnose(v, { evidence: 3, multiInput: false });
  return { requests: v.counts.requests, handshakes: v.counts.handshakes, clients: [...v.counts.clients].sort(), findings: d.findings };
}

/**
 * Two windows given the same slices (the sample log read in blocks of `blockLines`): one looked at
 * after every slice, which merges everything at once, the other only every `every` blocks. Their
 * views must agree each time the second looks.
 */
function compare(windowMs: number, blockLines: number, every: number): { looks: number; parsed: number; last: { requests: number; findings: { id: string }[] } } {
  const eager = new PaneWindow(windowMs, 1000, 3);
  const lazy = new PaneWindow(windowMs, 1000, 3);
  const rules: PartRules = { input: 0, gate: false, sinceMs: -Infinity, untilMs: Infinity, paneMs: eager.paneMs, windowMs: 0, caps: DEFAULT_CAPS, keyTexts: false, textsByPlace: false };
  let looks = 0;
  let offset = 0;
  let parsed = 0;
  for (let b = 0; b * blockLines < LINES.length; b++) {
    const text = Buffer.from(`${LINES.slice(b * blockLines, (b + 1) * blockLines).join('\n')}\n`);
    const data = new SharedArrayBuffer(text.length);
    text.copy(Buffer.from(data));
    const { tally } = readPart({ data, bytes: text.length }, FORMATS, [0, 1], WS_PATHS, rules);
    // As the pipeline hands a block's part to a window (core/tally.ts absorb, then sight): its
    // handshakes' lines are copied from the block, which is then cut into again.
    const block = Buffer.from(data);
    for (const [pane, slice] of tally.slices) {
      eager.slice(pane, slice);
      eager.view(0);
      lazy.slice(pane, slice);
    }
    handshakes(tally, block, offset, (h) => {
      eager.handshake(h);
      lazy.handshake(h);
    });
    eager.view(0);
    block.fill('#');
    offset += tally.lines;
    parsed += tally.parsed;
    if ((b + 1) % every === 0) {
      // Wall time 0: the window ends at the newest line, whenever the test runs.
      assert.deepEqual(verdict(lazy.view(0)), verdict(eager.view(0)), `after block ${b}`);
      looks++;
    }
  }
  const last = verdict(lazy.view(0)) as { requests: number; findings: { id: string; evidence: EvidenceRow[] }[] };
  const lines = new Set(LINES);
  for (const f of last.findings) for (const e of f.evidence) assert.ok(lines.has(e.text), `${f.id} cites a line of the log: ${e.text.slice(0, 80)}`);
  assert.deepEqual(last, verdict(eager.view(0)), 'at the end');
  return { looks, parsed, last };
}

test('a window whose panes merge their slices when a verdict reads them gives the verdicts of one that merges each slice as it comes', () => {
  // The sample spans 2 h 8 min. Three hours in 6-minute panes: nothing drops out, and a pane
  // takes a line at a time from up to a dozen blocks (past the 8 it holds unmerged).
  for (const [blockLines, every] of [[1, 25], [5, 3]] as const) {
    const { looks, parsed, last } = compare(3 * 3_600_000, blockLines, every);
    assert.ok(looks >= 5);
    // The whole sample is in the window: every parsed line, and the incident's downgrade.
    assert.equal(last.requests, parsed);
    assert.ok(last.findings.some((f) => f.id === 'downgraded-handshake'));
  }
  // Twenty minutes in 40-second panes: panes fall out of the window as the lines move on.
  const { looks, parsed, last } = compare(20 * 60_000, 3, 4);
  assert.ok(looks >= 5);
  assert.ok(last.requests > 0 && last.requests < parsed, `${last.requests} of ${parsed} lines in the last 20 minutes`);
});

/** A view of every slice and handshake given: what the run's counts and evidence are made of. */
class RunOf {
  readonly counts = new Counts();
  readonly evidence = new EvidenceReservoir(4, Infinity);
  slices = 0;

  add(p: PartTally, block: Buffer, offset: number): void {
    for (const slice of p.slices.values()) {
      this.counts.merge(slice.counts);
      this.slices++;
    }
    handshakes(p, block, offset, (h) => countHandshake(this.counts, this.evidence, h));
  }

  view(): TallyView {
    return { counts: this.counts, evidence: this.evidence, keys: { counts: new KeyCounts() } };
  }
}

test('parts that put lines no window can reach into one slice no pane keeps give every verdict and the run of parts sliced whole, in fewer slices', () => {
  // The sample spans 2 h 8 min; blocks of 60 lines span several minutes, more than a 40-second or
  // 10-second pane. Three hours: every line stays in the window.
  for (const [windowMs, blockLines] of [[20 * 60_000, 60], [5 * 60_000, 60], [3 * 3_600_000, 60], [5 * 60_000, 7]] as const) {
    const whole = new PaneWindow(windowMs, 1000, 3);
    const bounded = new PaneWindow(windowMs, 1000, 3);
    const rules: PartRules = { input: 0, gate: false, sinceMs: -Infinity, untilMs: Infinity, paneMs: whole.paneMs, windowMs: 0, caps: DEFAULT_CAPS, keyTexts: false, textsByPlace: false };
    const runWhole = new RunOf();
    const runBounded = new RunOf();
    let offset = 0;
    for (let b = 0; b * blockLines < LINES.length; b++) {
      const text = Buffer.from(`${LINES.slice(b * blockLines, (b + 1) * blockLines).join('\n')}\n`);
      const read = (r: PartRules): PartTally => {
        const data = new SharedArrayBuffer(text.length);
        text.copy(Buffer.from(data));
        return readPart({ data, bytes: text.length }, FORMATS, [0, 1], WS_PATHS, r).tally;
      };
      const a = read(rules);
      const z = read({ ...rules, windowMs });
      for (const [pane, slice] of a.slices) whole.slice(pane, slice);
      for (const [pane, slice] of z.slices) bounded.slice(pane, slice);
      handshakes(a, text, offset, (h) => whole.handshake(h));
      handshakes(z, text, offset, (h) => bounded.handshake(h));
      runWhole.add(a, text, offset);
      runBounded.add(z, text, offset);
      assert.deepEqual(verdict(bounded.view(0)), verdict(whole.view(0)), `window ${windowMs} ms, after block ${b}`);
      offset += a.lines;
    }
    assert.deepEqual(verdict(runBounded.view()), verdict(runWhole.view()), `the run, window ${windowMs} ms`);
    const fewer = windowMs < 3_600_000 && blockLines > 10;
    assert.ok(fewer ? runBounded.slices < runWhole.slices : runBounded.slices <= runWhole.slices + LINES.length / blockLines, `${runBounded.slices} slices against ${runWhole.slices}`);
  }
});

test('parts whose panes are read only when a verdict may see them give the verdicts of parts sliced as they are read, and let go of their blocks', () => {
  // The sample spans 2 h 8 min. Blocks of 20 lines span more than a 5-minute window: most are left
  // behind unread. Blocks of 7 lines, or a window of three hours, keep several waiting; a part
  // counted as 20 MiB fills the waiting room (32 MiB), and the window slices parts as they come.
  for (const [windowMs, blockLines, every, heldBytes] of [[5 * 60_000, 20, 4, 4 << 20], [5 * 60_000, 7, 5, 4 << 20], [3 * 3_600_000, 25, 3, 4 << 20], [20 * 60_000, 10, 4, 20 << 20]] as const) {
    const sliced = new PaneWindow(windowMs, 1000, 3);
    const later = new PaneWindow(windowMs, 1000, 3);
    const rules: PartRules = { input: 0, gate: false, sinceMs: -Infinity, untilMs: Infinity, paneMs: sliced.paneMs, windowMs, caps: DEFAULT_CAPS, keyTexts: false, textsByPlace: false };
    const runSliced = new RunOf();
    const runLater = new RunOf();
    let offset = 0;
    let blocks = 0;
    let reread = 0;
    let released = 0;
    for (let b = 0; b * blockLines < LINES.length; b++, blocks++) {
      const text = Buffer.from(`${LINES.slice(b * blockLines, (b + 1) * blockLines).join('\n')}\n`);
      const read = (r: PartRules): { tally: PartTally; block: Buffer } => {
        const data = new SharedArrayBuffer(text.length);
        text.copy(Buffer.from(data));
        return { tally: readPart({ data, bytes: text.length }, FORMATS, [0, 1], WS_PATHS, r).tally, block: Buffer.from(data) };
      };
      const a = read(rules);
      for (const [pane, slice] of a.tally.slices) sliced.slice(pane, slice);
      handshakes(a.tally, a.block, offset, (h) => sliced.handshake(h));
      runSliced.add(a.tally, a.block, offset);
      a.block.fill('#');
      // As the pipeline hands such a part on (core/tally.ts absorb, later(), then sight()).
      const z = read({ ...rules, panesLater: true });
      assert.deepEqual([...z.tally.slices.keys()], [-Infinity], 'one slice, which no pane keeps');
      const only = z.tally.slices.get(-Infinity) as Slice;
      later.slice(-Infinity, only);
      // The block is cut into again once the window and the part's handshakes have both let go of it.
      let holders = 2;
      const letGo = (): void => {
        if (--holders > 0) return;
        released++;
        z.block.fill('#');
      };
      const lineOffset = offset;
      later.later({
        lastMs: only.counts.lastMs, bytes: heldBytes,
        panes: () => {
          reread++;
          assert.ok(z.block.equals(text), 'the block is held until let go');
          const again = read(rules).tally;
          return { slices: again.slices, handshakes: (fn) => handshakes(again, z.block, lineOffset, fn) };
        },
        release: letGo,
      });
      // Its handshakes go to the run as they come, to the window with its panes.
      runLater.add(z.tally, z.block, offset);
      letGo();
      offset += a.tally.lines;
      if ((b + 1) % every === 0) assert.deepEqual(verdict(later.view(0)), verdict(sliced.view(0)), `window ${windowMs} ms, after block ${b}`);
    }
    const last = verdict(later.view(0)) as { findings: { id: string; evidence: EvidenceRow[] }[] };
    assert.deepEqual(last, verdict(sliced.view(0)), `window ${windowMs} ms, at the end`);
    const lines = new Set(LINES);
    for (const f of last.findings) for (const e of f.evidence) assert.ok(lines.has(e.text), `${f.id} cites a line of the log: ${e.text.slice(0, 80)}`);
    assert.deepEqual(verdict(runLater.view()), verdict(runSliced.view()), `the run, window ${windowMs} ms`);
    assert.ok((verdict(runLater.view()) as { findings: { id: string }[] }).findings.some((f) => f.id === 'downgraded-handshake'), 'the run has the incident\'s handshakes');
    assert.equal(released, blocks, 'every block let go once the window was read');
    if (blockLines === 20) assert.ok(reread <= blocks / 2, `${reread} of ${blocks} parts read again`);
    assert.equal(later.wantsLater, heldBytes * 2 <= 32 << 20, 'the waiting room');
  }
});

test('a stream read live gives the window and the run the same verdicts with its panes read later as with them sliced as read', async () => {
  // The sample piped in blocks of at most 2 KB (about 25), read in this thread or a worker; a
  // 20-minute window. The pipeline reads a block as one slice while the window asks for that.
  const text = `${LINES.join('\n')}\n`;
  const run = async (later: boolean, workers: number): Promise<{ window: unknown; run: unknown; deferred: number }> => {
    const window = new PaneWindow(20 * 60_000, 1000, 3);
    window.wantsLater = later;
    let deferred = 0;
    const take = window.later.bind(window);
    window.later = (part) => {
      deferred++;
      take(part);
    };
    const tally = new Tally({ evidence: 3, listener: window, singleInput: true });
    const result = await runPipeline(['-'], tally, { formats: FORMATS, detect: false, wsPaths: WS_PATHS, stdin: Readable.from([text]), workers, chunkBytes: 2048, live: true });
    result.close();
    return { window: verdict(window.view(0)), run: verdict(tally), deferred };
  };
  for (const workers of [1, 2]) {
    const sliced = await run(false, workers);
    const later = await run(true, workers);
    assert.equal(sliced.deferred, 0);
    assert.ok(later.deferred >= 20, `${later.deferred} blocks read as one slice`);
    assert.deepEqual(later.window, sliced.window, `the window, ${workers} thread(s)`);
    assert.deepEqual(later.run, sliced.run, `the run, ${workers} thread(s)`);
  }
});
