// report.schema.json against real reports: the incident fixture, a hostile log and, in
// test/e2e/outputs.test.ts, a real-nginx scenario. The schema must describe every field the
// reports carry and must reject a report missing a contract field (DESIGN.md "Contract").
// See: issue 5.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { analyze, RENDERERS } from '../src/index.js';
import { SCHEMA_VERSION } from '../src/report/model.js';
import { INCIDENT, hostileLog } from './helpers/hostile.js';
import { SCHEMA, assertDescribed, validateReport } from './helpers/schema.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-schema-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function jsonReport(inputs: string[], preset?: string[]): Promise<unknown> {
  return JSON.parse(RENDERERS.json(await analyze({ inputs, preset })));
}

test('the incident report validates, and the schema describes every field in it', async () => {
  const r = await jsonReport([INCIDENT]);
  assert.deepEqual(validateReport(r), []);
  assertDescribed(r);
});

test('a hostile log, and two inputs (one missing), validate too', async () => {
  const file = join(tmp, 'hostile.log');
  writeFileSync(file, hostileLog());
  const r = await jsonReport([file, join(tmp, 'missing.log')], ['upstream-ws', 'upstream']);
  assert.deepEqual(validateReport(r), []);
  assertDescribed(r);
});

test('the schema requires the contract fields of DESIGN.md', async () => {
  const base = await jsonReport([INCIDENT]);
  const removals: [string, (r: Record<string, any>) => void][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    ['schemaVersion', (r) => delete r.schemaVersion],
    ['lines.unparsed', (r) => delete r.lines.unparsed],
    ['handshakes.byProtocolStatus[].status', (r) => delete r.handshakes.byProtocolStatus[0].status],
    ['handshakes.byClient[].http10', (r) => delete r.handshakes.byClient[0].http10],
    ['timeouts[].seconds', (r) => delete r.timeouts[0].seconds],
    ['findings[].evidence[].line', (r) => delete r.findings[0].evidence[0].line],
    ['findings[].clients', (r) => delete r.findings[0].clients],
    ['correlation.multiTier', (r) => delete r.correlation.multiTier],
    ['findings[].severity wrong', (r) => { r.findings[0].severity = 'bad'; }],
  ];
  for (const [what, remove] of removals) {
    const copy = structuredClone(base) as Record<string, unknown>;
    remove(copy);
    assert.notDeepEqual(validateReport(copy), [], `${what}: the schema must reject it`);
  }
});

test('the schema ships with the package', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { files: string[]; exports: Record<string, unknown> };
  assert.ok(pkg.files.includes('src/report/report.schema.json'));
  assert.equal(pkg.exports['./report.schema.json'], './src/report/report.schema.json');
  assert.equal(SCHEMA.properties.schemaVersion.const, SCHEMA_VERSION);
});
