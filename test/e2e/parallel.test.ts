/*
 * Results do not depend on parallelism (issue 6): two tiers' logs written by real nginx, repeated
 * so keys recur across many byte ranges, with unparsed lines mixed in, are analysed in this
 * thread only (workers: 1) and by worker threads over 1 KiB ranges; the reports must be equal,
 * and bad-line and evidence file:line must name the real lines. Also with --since/--until, CRLF,
 * gzip inputs (gunzipped in a thread of their own) and stdin (scanned by workers in blocks), whose cited lines must be the ones a file's
 * parts read back by their place.
 * See: issue 6.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { RENDERERS, analyze, renderedText, type AnalyzeOptions, type Report } from '../../src/index.js';
import { readLogLines, runScenario, type Action } from './harness/index.js';
import { requireProgram } from '../helpers/requirements.js';

const INCIDENT_WS =
  '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';
/** Copies of each log: every key then recurs within its input (reused-key) and across tiers, range after range. */
const COPIES = 12;
/** Unparsed lines, put in after these copies. */
const BAD_AFTER = new Set([0, 5, 11]);

// Real nginx writes the logs: skipped at once without it (a failure on CI).
describe('the same report whatever the parallelism, on two tiers of real nginx logs', { skip: requireProgram('nginx') }, () => {
  let dir = '';
  let front = '';
  let back = '';

  before(async () => {
    const actions: Action[] = [];
    for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 0, path: `/ws/a${i}`, holdMs: 200, messages: 1 });
    for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 2, path: `/ws/long/k${i}?beat=300` });
    for (let i = 0; i < 2; i++) actions.push({ kind: 'ws-session', via: 1, path: `/ws/long/s${i}` });
    actions.push({ kind: 'plain', via: 1, path: '/api/x' }, { kind: 'plain', via: 0, path: '/api/z' });
    const res = await runScenario({
      tiers: 2,
      formats: [`log_format incident_ws '${INCIDENT_WS}';`],
      proxyReadTimeout: 2,
      locations: [{ path: '/ws/long/', proxyReadTimeout: 10 }],
      nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: 1500 }, { mode: 'downgrade-keep', timeoutMs: 1500 }],
      actions,
    });
    dir = mkdtempSync(join(tmpdir(), 'wsdiag-parallel-'));
    try {
      assert.ok(res.back);
      const copy = (path: string, name: string): string => {
        const lines = readLogLines(path).map((b) => b.toString('utf8'));
        assert.ok(lines.length >= 4, `${path}: nginx wrote ${lines.length} lines`);
        const out: string[] = [];
        for (let c = 0; c < COPIES; c++) {
          out.push(...lines);
          if (BAD_AFTER.has(c)) out.push(`${(lines[0] as string).slice(0, 40)} (cut short ${c})`, '', `not a log line ${c}`);
        }
        const file = join(dir, name);
        writeFileSync(file, `${out.join('\n')}\n`);
        return file;
      };
      front = copy(res.logs['incident_ws'] as string, 'front.log');
      back = copy(res.back.logs['incident_ws'] as string, 'back.log');
    } finally {
      res.cleanup();
    }
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  function run(extra: AnalyzeOptions): Promise<Report> {
    return analyze({ inputs: [front, back], preset: 'upstream-ws', evidence: 20, ...extra });
  }

  /** Every file:line a report cites must be that line of that file, with that text. */
  function assertCitesRealLines(report: Report): void {
    const files = new Map([front, back].map((f) => [f, readFileSync(f, 'utf8').split('\n')]));
    const cites = [...report.findings.flatMap((f) => f.evidence), ...report.lines.samples];
    assert.ok(cites.length > 0);
    for (const e of cites) {
      const lines = files.get(e.file);
      assert.ok(lines, `cites an unknown file ${e.file}`);
      assert.equal(lines[e.line - 1], e.text, `${e.file}:${e.line}`);
    }
  }

  test('1 thread and workers over 1 KiB ranges give the same report (reused keys, hidden downgrades, bad lines)', async () => {
    const one = await run({ workers: 1 });
    const many = await run({ workers: 3, chunkBytes: 1024 });
    assert.equal(one.lines.unparsed, 2 * 2 * BAD_AFTER.size);
    const ids = one.findings.map((f) => f.id);
    for (const id of ['reused-key', 'hidden-downgrade', 'downgraded-handshake']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    assert.deepEqual(many, one);
    assertCitesRealLines(many);
  });

  test('the same with --since/--until cutting the logs in the middle', async () => {
    const all = await run({ workers: 1 });
    const start = Date.parse(all.meta.timeRange.start ?? '');
    const end = Date.parse(all.meta.timeRange.end ?? '');
    assert.ok(end > start, 'the scenario spans some time');
    const window = { since: new Date(start + (end - start) / 3), until: new Date(end - (end - start) / 3) };
    const one = await run({ workers: 1, ...window });
    const many = await run({ workers: 2, chunkBytes: 1500, ...window });
    assert.ok(one.meta.inputs.some((i) => i.filtered > 0), 'some lines fall outside the window');
    assert.deepEqual(many, one);
  });

  test('the same for CRLF line ends', async () => {
    const crlf = join(dir, 'crlf.log');
    writeFileSync(crlf, readFileSync(front, 'utf8').replace(/\n/g, '\r\n'));
    const one = await analyze({ inputs: [crlf], workers: 1 });
    const many = await analyze({ inputs: [crlf], workers: 2, chunkBytes: 1024 });
    assert.ok(one.lines.parsed > 0 && one.lines.unparsed === 2 * BAD_AFTER.size);
    assert.deepEqual(many, one);
  });

  test('the same one-CSV-row-per-handshake output (keys, their tiers, upstreams) with 1 thread and with workers', async () => {
    const csv = async (extra: AnalyzeOptions): Promise<string> =>
      renderedText(RENDERERS.csv(await run({ keysPerHandshake: true, ...extra }), { color: false, top: 20, csv: 'handshakes' }));
    const one = await csv({ workers: 1 });
    const many = await csv({ workers: 3, chunkBytes: 1024 });
    const rows = one.trimEnd().split('\r\n');
    assert.ok(rows.length > 10);
    assert.ok(rows.slice(1).every((r) => /[A-Za-z0-9+/]{22}==/.test(r)), 'every handshake row carries its key');
    assert.ok(rows.some((r) => r.includes('front.log=HTTP/1.0;') && r.includes('back.log=HTTP/1.1')), 'a key seen as HTTP/1.0 in front and HTTP/1.1 behind');
    assert.ok(rows.some((r) => /127\.0\.0\.1:\d+/.test(r)), 'upstream addresses are there');
    assert.equal(many, one);
  });

  test('the same for gzip inputs and stdin, whose lines workers scan in blocks (one gzip file of a part or more gunzipped in a thread of its own)', async () => {
    const gz = (file: string): string => {
      const out = `${file}.gz`;
      writeFileSync(out, gzipSync(readFileSync(file)));
      return out;
    };
    const inputs = [gz(front), gz(back)];
    // One thread gunzips as it reads; with parts smaller than the files, one of them is gunzipped in a thread of its own.
    assert.ok(inputs.every((f) => statSync(f).size > 256), inputs.map((f) => statSync(f).size).join(', '));
    const one = await analyze({ inputs, preset: 'upstream-ws', evidence: 20, workers: 1 });
    const many = await analyze({ inputs, preset: 'upstream-ws', evidence: 20, workers: 3, chunkBytes: 256 });
    assert.ok(one.meta.inputs.every((i) => i.gzip));
    assert.equal(one.lines.unparsed, 2 * 2 * BAD_AFTER.size);
    assert.deepEqual(many, one);
    // A file's parts keep only where their keyed lines lie, read back when cited; a stream's carry the text.
    const cites = (r: Report): unknown => r.findings.map((f) => [f.id, f.evidence.map((e) => [e.file.replace(/\.gz$/, ''), e.line, e.text])]);
    const files = await run({ workers: 3, chunkBytes: 1024 });
    assert.ok(files.findings.some((f) => f.id === 'hidden-downgrade' && f.evidence.length > 0));
    assert.deepEqual(cites(files), cites(many));

    const piped = (extra: AnalyzeOptions): Promise<Report> =>
      analyze({ inputs: ['-'], stdin: Readable.from([readFileSync(front)]), evidence: 20, ...extra });
    const alone = await piped({ workers: 1 });
    const blocks = await piped({ workers: 2, chunkBytes: 700 });
    assert.ok(alone.lines.parsed > 0 && alone.lines.unparsed === 2 * BAD_AFTER.size);
    assert.deepEqual(blocks, alone);
  });
});
