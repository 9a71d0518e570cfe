/*!
 * The command's heap policy (src/heap.ts), in fresh processes running the built library: with it,
 * the main thread's young generation stays about its first size through a run whose parts a
 * worker thread reads too (starting a worker sets V8's flags back; they are set again when it
 * comes online), and after that run the old generation is collected in full several times as
 * often while what it holds grows; without it, the same run grows the young generation several
 * times over, and the old one waits.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateLog } from './bench/generate.js';

const DIST = new URL('../dist/', import.meta.url).href;

interface HeapRun {
  /** The new space's size (MB) before and after analysing the log with two threads. */
  before: number;
  after: number;
  lines: number;
  /** Full collections while, after the run, objects that outlive a few young collections are made and let go. */
  fullCollections: number;
}

/** The heap through a run of `log`, with or without the policy, in a new process. */
function heapRun(log: string, policy: boolean): HeapRun {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { PerformanceObserver, constants } from 'node:perf_hooks';
    const mb = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;
    ${policy ? `(await import('${DIST}heap.js')).keepHeapSmall();` : ''}
    const before = mb();
    const { analyze } = await import('${DIST}index.js');
    const report = await analyze({ inputs: [${JSON.stringify(log)}], workers: 2 });
    const after = mb();
    let fullCollections = 0;
    const gc = new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullCollections++; });
    gc.observe({ entryTypes: ['gc'] });
    // 200,000 objects that stay, then batches of 20,000 kept for four rounds each (old by then) and let go.
    const kept = Array.from({ length: 200_000 }, (_, i) => ({ i }));
    const ring = [];
    for (let r = 0; r < 120; r++) {
      ring.push(Array.from({ length: 20_000 }, (_, i) => ({ i, r })));
      if (ring.length > 4) ring.shift();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc.disconnect();
    console.log(JSON.stringify({ before, after, lines: report.lines.total + kept.length - 200_000, fullCollections }));`;
  // A file, not --eval: worker threads inherit the process's options, and --input-type is for --eval only.
  const file = join(dir, `heap-${policy}.mjs`);
  writeFileSync(file, script);
  return JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' })) as HeapRun;
}

let dir = '';
let log = '';
let kept: HeapRun;
let grown: HeapRun;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsdiag-heap-'));
  log = join(dir, 'access.log');
  // About 60 MB: parts for both threads, and enough merged tallies and handshakes to grow an
  // unchecked young generation (100,000 lines grew it to 8 MB or 16 once handshakes crossed as rows).
  await generateLog({ lines: 200_000, format: 'incident', seed: 3, out: log });
  kept = heapRun(log, true);
  grown = heapRun(log, false);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('with the policy the young generation stays about its first size through a run with worker threads; without it, it grows', () => {
  assert.equal(kept.lines, 200_000);
  assert.equal(grown.lines, 200_000);
  // A doubling or two may slip in while a worker starts, before its flags are set again.
  assert.ok(kept.after <= 4 * kept.before, `with the policy: ${kept.before} MB before, ${kept.after} MB after`);
  assert.ok(grown.after >= 4 * kept.after, `without it: ${grown.before} MB before, ${grown.after} MB after (${kept.after} MB with it)`);
});

test('with the policy the old generation is collected in full several times as often as without (after a run that started a worker)', () => {
  // Measured: 9 against 1. V8's factor for a heap allowed 1 GB or more lets it grow 4 times over.
  assert.ok(kept.fullCollections >= 3 * Math.max(1, grown.fullCollections), `full collections: ${kept.fullCollections} with the policy, ${grown.fullCollections} without`);
});
