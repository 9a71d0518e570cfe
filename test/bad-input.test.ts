// Hostile and broken input through the library (analyze) and the line parser (parseFields), with
// fast-check: random bytes, truncated and spliced real lines, CRLF, NUL, invalid UTF-8, huge lines,
// empty files. Nothing throws, every line is accounted for, and what the report keeps of log text is
// clipped. See: issue 7; DESIGN.md "Formats" (unparsed lines are counted, sampled, never fatal).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { BadLineLog } from '../src/core/stats.js';
import { PRESET_FORMATS, analyze, compileFormatString, parseFields, type Report } from '../src/index.js';

const FIXTURE = 'fixtures/incident/front.log';
const REAL = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
/** Fixed seed: the same cases on every run; fast-check prints the seed and path of a failure. */
const FC = { seed: 7, numRuns: 60 } as const;
const SAMPLE_TEXT_MAX = 300;
const EVIDENCE_TEXT_MAX = 2000;
const REASON_MAX = 600;

/** Feeds bytes to analyze() as standard input, cut into the given chunk sizes (split lines, split UTF-8). */
function analyzeBytes(bytes: Buffer, chunk = 1 << 16, preset?: string): Promise<Report> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
  return analyze({ inputs: ['-'], stdin: Readable.from(chunks), ...(preset ? { preset } : {}) });
}

/** What a reader splitting on /\r?\n/ must see: the lines, as text. A last line without "\n" counts. */
function expectedLines(bytes: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
    const end = nl > start && bytes[nl - 1] === 13 ? nl - 1 : nl;
    out.push(bytes.subarray(start, end).toString('utf8'));
    start = nl + 1;
  }
  if (start < bytes.length) out.push(bytes.subarray(start).toString('utf8'));
  return out;
}

/** The invariants every report keeps, whatever the input. */
function assertAccounted(report: Report, bytes: Buffer): void {
  const l = report.lines;
  assert.equal(l.total, l.parsed + l.unparsed + l.empty, 'every line is parsed, unparsed or empty');
  const input = report.meta.inputs[0];
  assert.ok(input);
  assert.deepEqual([input.lines, input.parsed, input.unparsed, input.empty], [l.total, l.parsed, l.unparsed, l.empty]);
  const lines = expectedLines(bytes);
  if (input.error === null) {
    assert.equal(l.total, lines.length, 'no line lost or invented');
    assert.equal(l.empty, lines.filter((t) => t === '').length);
  } else {
    // Only the format gate (nothing fits the first lines) or a corrupt "gzip" stops an input early.
    assert.ok(['FORMAT_NO_MATCH', 'INPUT_BAD_GZIP'].includes(input.error.code), input.error.code);
    assert.ok(l.total <= lines.length);
  }
  assert.ok(l.samples.length <= Math.min(20, l.unparsed));
  for (const s of l.samples) {
    assert.equal(s.file, '-');
    const text = lines[s.line - 1];
    assert.ok(text !== undefined && text !== '', `sample line ${s.line} is a non-empty line`);
    assert.ok(s.text.length <= SAMPLE_TEXT_MAX, `sample text clipped (${s.text.length})`);
    assert.ok(text.startsWith(s.text.endsWith('…') ? s.text.slice(0, -1) : s.text), `sample ${s.line} is the text of that line`);
    assert.ok(s.reason.length > 0 && s.reason.length <= REASON_MAX, `reason given and short (${s.reason.length})`);
  }
  for (const f of report.findings) for (const e of f.evidence) assert.ok(e.text.length <= EVIDENCE_TEXT_MAX, `evidence clipped (${e.text.length})`);
}

const realLine = fc.constantFrom(...REAL);
/** One line's bytes without "\n": real, truncated, spliced, with NUL / invalid UTF-8 / control bytes inside, or random. */
const hostileLine: fc.Arbitrary<Buffer> = fc.oneof(
  realLine.map((l) => Buffer.from(l)),
  fc.tuple(realLine, fc.nat()).map(([l, n]) => Buffer.from(l.slice(0, n % (l.length + 1)))),
  fc.tuple(realLine, realLine, fc.nat(), fc.nat()).map(([a, b, i, j]) => Buffer.from(a.slice(0, i % (a.length + 1)) + b.slice(j % (b.length + 1)))),
  fc.tuple(realLine, fc.nat(), fc.constantFrom([0], [0xff, 0xfe], [0xc3], [0xe6, 0x97], [0x1b, 0x5b, 0x32, 0x4a], [0xc2, 0x9b], [0x0d], [0x5c, 0x78])).map(([l, n, junk]) => {
    const b = Buffer.from(l);
    const at = n % (b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(junk), b.subarray(at)]);
  }),
  fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u.filter((c) => c !== 10))),
  fc.constant(Buffer.alloc(0)),
);
const eol = fc.constantFrom('\n', '\r\n');

test('property: a mix of real, broken and random lines — nothing throws, every line is accounted for, intact lines parse', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(hostileLine, eol), { maxLength: 60 }), fc.boolean(), fc.integer({ min: 1, max: 4096 }), async (lines, realFirst, chunk) => {
      const all = realFirst ? [[Buffer.from(REAL[0] as string), '\n'] as const, ...lines] : lines;
      const bytes = Buffer.concat(all.flatMap(([b, e]) => [b, Buffer.from(e)]));
      const report = await analyzeBytes(bytes, chunk);
      assertAccounted(report, bytes);
      if (report.meta.inputs[0]?.error === null) {
        const intact = all.filter(([b]) => REAL.includes(b.toString('utf8'))).length;
        assert.ok(report.lines.parsed >= intact, `all ${intact} intact real lines parsed (got ${report.lines.parsed})`);
      }
    }),
    FC,
  );
});

/** Random bytes, often cut into many short lines (so the format gate's first 10 lines are garbage too). */
const randomBytes = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((u) => Buffer.from(u)),
  fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 40, size: 'max' }).map((ls) => Buffer.from(ls.map((l) => Buffer.from(l).toString('latin1')).join('\n'), 'latin1')),
);

test('property: arbitrary bytes (any newlines, maybe a gzip header) never throw and every line is accounted for', async () => {
  await fc.assert(
    fc.asyncProperty(randomBytes, fc.integer({ min: 1, max: 512 }), fc.boolean(), async (u, chunk, gzipMagic) => {
      const bytes = gzipMagic ? Buffer.concat([Buffer.from([0x1f, 0x8b]), u]) : u;
      const report = await analyzeBytes(bytes, chunk);
      if (!gzipMagic) return assertAccounted(report, bytes);
      // Random bytes after the gzip magic are never a valid gzip stream.
      const error = report.meta.inputs[0]?.error;
      assert.equal(error?.code, 'INPUT_BAD_GZIP');
      assert.match(error.message, /^-: corrupt or truncated gzip data: decompression failed after compressed byte \d+ /);
    }),
    FC,
  );
});

test('property: the line parser never throws on any text, for every preset; a match yields every variable', () => {
  const formats = PRESET_FORMATS.map((p) => compileFormatString(p.text, p.escape, p.name));
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc.tuple(realLine, fc.string({ unit: 'binary', maxLength: 40 }), fc.nat()).map(([l, s, n]) => {
      const at = n % (l.length + 1);
      return l.slice(0, at) + s + l.slice(at);
    }),
  );
  fc.assert(
    fc.property(text, (line) => {
      for (const f of formats) {
        const got = parseFields(f, line);
        if (got === null) continue;
        for (const v of f.vars) assert.equal(typeof got[v], 'string', `${f.name} $${v}`);
      }
    }),
    { ...FC, numRuns: 300 },
  );
});

test('the first 10 lines fit no format: the input stops there, and the lines counted are the lines looked at', async () => {
  for (const garbage of [12, 30]) {
    const bytes = Buffer.from([...Array.from({ length: garbage }, (_, i) => `junk ${i}`), ...REAL, ''].join('\n'));
    const report = await analyzeBytes(bytes);
    assertAccounted(report, bytes);
    assert.equal(report.meta.inputs[0]?.error?.code, 'FORMAT_NO_MATCH');
    assert.deepEqual([report.lines.total, report.lines.parsed, report.lines.unparsed], [10, 0, 10]);
  }
});

test('the format gate closes the same when the first lines are cut into many parts: no line after the tenth failure is counted', async () => {
  // Failing lines with empty ones between: the gate counts the failures, the lines counted run to the tenth.
  const head = Array.from({ length: 14 }, (_, i) => (i % 3 === 2 ? '' : `junk ${i}`));
  const dir = mkdtempSync(join(tmpdir(), 'wsdiag-gate-'));
  try {
    const file = join(dir, 'access.log');
    writeFileSync(file, [...head, ...REAL, ''].join('\n'));
    const whole = await analyze({ inputs: [file], workers: 1 });
    const tenth = head.map((l, i) => [l, i + 1] as const).filter(([l]) => l !== '')[9]?.[1];
    assert.deepEqual([whole.lines.total, whole.lines.unparsed, whole.lines.empty, whole.lines.parsed], [tenth, 10, (tenth as number) - 10, 0]);
    for (const chunkBytes of [8, 20, 64]) {
      for (const workers of [1, 2]) {
        const cut = await analyze({ inputs: [file], workers, chunkBytes });
        assert.deepEqual(cut.lines, whole.lines, `parts of ${chunkBytes} bytes, ${workers} threads`);
        assert.equal(cut.meta.inputs[0]?.error?.code, 'FORMAT_NO_MATCH');
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('empty input, and an input of only newlines (one byte too): an empty report, no error', async () => {
  for (const bytes of [Buffer.alloc(0), Buffer.from('\n'), Buffer.from('\n'.repeat(1000)), Buffer.from('\r\n'.repeat(10))]) {
    const report = await analyzeBytes(bytes);
    assertAccounted(report, bytes);
    assert.equal(report.lines.parsed + report.lines.unparsed, 0);
    assert.equal(report.meta.inputs[0]?.error, null);
    assert.deepEqual(report.findings, []);
  }
});

test('a 10 MB unparseable line and a 10 MB handshake line: counted, and the report keeps only clipped text', async () => {
  const huge = 'x'.repeat(10 << 20);
  const downgraded = REAL.find((l) => l.includes('HTTP/1.0 upstream_response_time') && l.includes('status 499')) as string;
  const hugeHandshake = downgraded.replace('/ws/', `/ws/?${'a'.repeat(10 << 20)}`);
  const bytes = Buffer.from([...REAL.slice(0, 3), huge, hugeHandshake, ''].join('\n'));
  const report = await analyzeBytes(bytes, 1 << 20);
  assertAccounted(report, bytes);
  assert.deepEqual([report.lines.parsed, report.lines.unparsed], [4, 1]);
  assert.equal(report.lines.samples[0]?.line, 4);
  const evidence = report.findings.flatMap((f) => f.evidence).filter((e) => e.line === 5);
  assert.ok(evidence.length > 0, 'the huge handshake is evidence');
  assert.ok(evidence.every((e) => e.text.startsWith(hugeHandshake.slice(0, 100)) && e.text.endsWith('…')));
  assert.ok(JSON.stringify(report).length < 100_000, `report stays small (${JSON.stringify(report).length} bytes)`);
});

test('100,000 garbage lines after real ones: all counted, 20 samples kept, the report stays small', async () => {
  const garbage = Array.from({ length: 100_000 }, (_, i) => `\u0000garbage ${i} \u001b[31m\uFFFD`);
  const bytes = Buffer.from([...REAL, ...garbage, ''].join('\n'));
  const report = await analyzeBytes(bytes, 1 << 20);
  assertAccounted(report, bytes);
  assert.deepEqual([report.lines.parsed, report.lines.unparsed], [REAL.length, 100_000]);
  assert.equal(report.lines.samples.length, 20);
  assert.deepEqual(report.lines.samples.map((s) => s.line), Array.from({ length: 20 }, (_, i) => REAL.length + 1 + i));
  assert.ok(JSON.stringify(report).length < 100_000, `report stays small (${JSON.stringify(report).length} bytes)`);
});

test('unparsed-line samples are the first by input, then by line, however the inputs\' lines arrive', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(2), fc.nat(200)), { maxLength: 80 }), (lines) => {
    // Each input's lines arrive in order, the inputs interleaved in any way.
    const byInput = [0, 1, 2].map((i) => [...new Set(lines.filter(([k]) => k === i).map(([, l]) => l))].sort((a, b) => a - b));
    const log = new BadLineLog();
    const at = [0, 0, 0];
    for (const [k] of lines) {
      const line = byInput[k]?.[at[k] as number];
      if (line === undefined) continue;
      at[k]!++;
      log.add(k, `in${k}`, line, 'x', () => 'why');
    }
    const want = byInput.flatMap((ls, k) => ls.map((l) => `in${k}:${l}`)).slice(0, BadLineLog.MAX_SAMPLES);
    assert.deepEqual(log.samples.map((s) => `${s.file}:${s.line}`), want);
  }), FC);
});
