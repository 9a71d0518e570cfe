/*!
 * The command's heap policy (src/heap.ts), in fresh processes running the built library: with it,
 * the main thread's young generation stays about its first size through a run whose parts a
 * worker thread reads too (starting a worker sets V8's flags back; they are set again when it
 * comes online); without it, the same run grows the young generation several times over.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateLog } from './bench/generate.js';

const DIST = new URL('../dist/', import.meta.url).href;

/** The new space's size (MB) before and after analysing `log` with two threads, in a new process. */
function youngGeneration(log: string, policy: boolean): { before: number; after: number; lines: number } {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const mb = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;
    ${policy ? `(await import('${DIST}heap.js')).keepYoungGenerationSmall();` : ''}
    const before = mb();
    const { analyze } = await import('${DIST}index.js');
    const report = await analyze({ inputs: [${JSON.stringify(log)}], workers: 2 });
    console.log(JSON.stringify({ before, after: mb(), lines: report.lines.total }));`;
  // A file, not --eval: worker threads inherit the process's options, and --input-type is for --eval only.
  const file = join(dir, `young-${policy}.mjs`);
  writeFileSync(file, script);
  return JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' })) as { before: number; after: number; lines: number };
}

let dir = '';
let log = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsdiag-heap-'));
  log = join(dir, 'access.log');
  // About 30 MB: parts for both threads, and enough merged tallies to grow an unchecked young generation.
  await generateLog({ lines: 100_000, format: 'incident', seed: 3, out: log });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('with the policy the young generation stays about its first size through a run with worker threads; without it, it grows', () => {
  const kept = youngGeneration(log, true);
  const grown = youngGeneration(log, false);
  assert.equal(kept.lines, 100_000);
  assert.equal(grown.lines, 100_000);
  // A doubling or two may slip in while a worker starts, before its flags are set again.
  assert.ok(kept.after <= 4 * kept.before, `with the policy: ${kept.before} MB before, ${kept.after} MB after`);
  assert.ok(grown.after >= 4 * kept.after, `without it: ${grown.before} MB before, ${grown.after} MB after (${kept.after} MB with it)`);
});
