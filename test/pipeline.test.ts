/*!
 * The pipeline's merge of several inputs (src/core/pipeline.ts): each record reaches the tally
 * with what was true of its own line when it was read, whatever the other inputs parsed meanwhile
 * with the same format. (Time order across inputs is proven in keys.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

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
