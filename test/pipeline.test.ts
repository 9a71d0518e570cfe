/*!
 * The pipeline's merge of several inputs (src/core/pipeline.ts): each record reaches the tally
 * with what was true of its own line when it was read, whatever the other inputs parsed meanwhile
 * with the same format. (Time order across inputs is proven in keys.test.ts.) And the evidence a
 * report cites, read back from the files by place once the run is over, which are then let go;
 * a stream's, copied from its blocks before they are cut into again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { DEFAULT_WS_PATHS, compileWsPaths } from '../src/core/classify.js';
import { runPipeline } from '../src/core/pipeline.js';
import { Tally } from '../src/core/tally.js';
import { compilePreset, findPreset, type Preset } from '../src/format/presets.js';
import { analyze } from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-pipeline-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const T0 = 1_700_000_000;

function key(tier: number, i: number): string {
  const b = Buffer.alloc(16, tier);
  b.writeUInt32BE(i, 0);
  return b.toString('base64');
}

test('two JSON inputs, one logging an empty Upgrade header and one not logging it: only the first are missing-upgrade-header', async () => {
  // Same `json` format for both, lines interleaved in time, so each input's head is parsed while
  // the other's waits: "does this line log $http_upgrade" must travel with the record.
  const n = 25;
  const logged: string[] = [];
  const unlogged: string[] = [];
  for (let i = 0; i < n; i++) {
    const common = { remote_addr: '127.0.0.2', request: 'GET /ws HTTP/1.1', status: 400, request_time: 0.002 };
    logged.push(JSON.stringify({ ...common, msec: (T0 + i).toFixed(3), http_upgrade: '', http_sec_websocket_key: key(1, i) }));
    unlogged.push(JSON.stringify({ ...common, msec: (T0 + i + 0.5).toFixed(3), http_sec_websocket_key: key(2, i) }));
  }
  const a = join(tmp, 'logged.log');
  const b = join(tmp, 'unlogged.log');
  writeFileSync(a, `${logged.join('\n')}\n`);
  writeFileSync(b, `${unlogged.join('\n')}\n`);
  for (const inputs of [[a, b], [b, a]]) {
    const report = await analyze({ inputs, preset: 'json' });
    assert.equal(report.handshakes.total, 2 * n);
    const missing = report.findings.find((f) => f.id === 'missing-upgrade-header');
    assert.equal(missing?.count, n, inputs.join(' + '));
    assert.ok(missing.evidence.every((e) => e.file === a), 'evidence only from the log that records the header');
  }
});

test('evidence read back by place: the cited lines are the files\' own, and analyze() leaves no file open', async () => {
  // Files whose handshakes fail (400): the evidence of the finding is read back from the files after the run.
  const lines = (tier: number): string[] => Array.from({ length: 40 }, (_, i) => JSON.stringify({
    remote_addr: `127.0.0.${tier}`, request: `GET /ws/${tier}/${i} HTTP/1.1`, status: 400, request_time: 0.002,
    msec: (T0 + i + tier / 10).toFixed(3), http_upgrade: 'websocket', http_sec_websocket_key: key(tier, i),
  }));
  const files = [1, 2].map((tier) => {
    const f = join(tmp, `tier${tier}.log`);
    writeFileSync(f, `${lines(tier).join('\n')}\n`);
    return f;
  });
  const open = (): string[] => readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
  for (let run = 0; run < 3; run++) {
    const report = await analyze({ inputs: files, preset: 'json' });
    const cited = report.findings.flatMap((f) => f.evidence);
    assert.ok(cited.length > 0);
    for (const e of cited) assert.equal(e.text, lines(files.indexOf(e.file) + 1)[e.line - 1], `${e.file}:${e.line}`);
  }
  // A stream's descriptor closes a moment after it is destroyed: what is open a while later stays open.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(open().filter((p) => files.includes(p)), [], 'an input file is still open after the reports');
});

test('a stream\'s evidence keeps the texts of its classes\' latest lines after their blocks were given back and cut into again', async () => {
  // Forty classes (a status each) of ten lines, more than a class keeps as its earliest, so its
  // latest is read from its block; then 3 MB of lines of another class: past the first 1 MiB
  // that zlib hands on, blocks are cut into the buffers the first ones were given back in.
  const lines: string[] = [];
  const line = (i: number, status: number): string => JSON.stringify({
    remote_addr: '127.0.0.3', request: `GET /ws/${i} HTTP/1.1`, status, request_time: 0.002, msec: (T0 + i).toFixed(3), http_upgrade: 'websocket',
  });
  for (let i = 0; i < 400; i++) lines.push(line(i, 400 + Math.floor(i / 10)));
  for (let i = 400; i < 24_000; i++) lines.push(line(i, 101));
  const file = join(tmp, 'blocks.log.gz');
  writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
  const tally = new Tally();
  // Gunzipped in a thread of its own (two threads, the file larger than a part), in 1 KiB blocks.
  const result = await runPipeline([file], tally, { formats: [compilePreset(findPreset('json') as Preset)], detect: false, wsPaths: compileWsPaths(DEFAULT_WS_PATHS), workers: 2, chunkBytes: 1024 });
  assert.equal(result.inputs[0]?.parsed, lines.length);
  const rows = tally.evidence.candidates(() => true);
  const latest = rows.filter((r) => r.line % 10 === 0 && r.line <= 400);
  assert.equal(latest.length, 40, 'each early class\'s tenth line is its latest');
  for (const r of rows) assert.equal(r.text, lines[r.line - 1], `line ${r.line}`);
});
