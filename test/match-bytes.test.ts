/*!
 * Matching and reading lines as bytes (src/format/parse-line.ts matchBytes, src/format/straight-match.ts,
 * src/core/scan.ts scanBytes), on the fixture lines and on broken ones made from them:
 * - the generated straight code, whenever it answers, gives the bounds run() gives, and it answers
 *   for the fixtures' lines (else it would be dead weight);
 * - a line read where it lies among other bytes (lines before and after it) gives what the same
 *   line given alone as a string gives: kind, facts, flags, body, path, upstream, reason.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';

import { Classifier, DEFAULT_WS_PATHS, compileWsPaths } from '../src/core/classify.js';
import { LINE_BAD, LINE_EMPTY, LineScanner } from '../src/core/scan.js';
import { compileFormat, compileFormatString, type CompiledFormat, type TemplateFormat } from '../src/format/compile.js';
import { compileJsonFormat } from '../src/format/json-format.js';
import { matchBytes, newBounds, newFailure } from '../src/format/parse-line.js';
import { findPreset } from '../src/format/presets.js';
import { BASE64_BYTES, SHAPE_CHECKS, Shape, checkCode } from '../src/format/fields.js';
import { compileStraight } from '../src/format/straight-match.js';
import { CLI, ENV, FIXTURE } from './helpers/cli.js';

const FC = { seed: 11, numRuns: 400 } as const;

function preset(name: string): CompiledFormat {
  const p = findPreset(name);
  assert.ok(p, `no preset ${name}`);
  return compileFormatString(p.text, p.escape, p.name);
}

/** The formats the fixtures are written in, longer ones first (as detection orders them), and a JSON one. */
const FORMATS: CompiledFormat[] = [
  ...['upstream-ws', 'upstream', 'upstreaminfo', 'combined-ws', 'main', 'combined'].map(preset),
  compileFormat(`escape=json '{"time":"$time_iso8601","request":"$request","status":$status,"request_time":$request_time,"ua":"$http_user_agent"}'`),
  compileJsonFormat(),
];
const TEMPLATES = FORMATS.filter((f): f is TemplateFormat => f.kind === 'template');

const FIXTURES = new URL('../fixtures/', import.meta.url);
const FILE_LINES: string[] = [
  ...readFileSync(new URL('incident/front.log', FIXTURES), 'utf8').split('\n'),
  ...readdirSync(new URL('appended/', FIXTURES)).filter((n) => n.endsWith('.log')).flatMap((n) => readFileSync(new URL(`appended/${n}`, FIXTURES), 'utf8').split('\n')),
].filter((l) => l !== '');
/** Lines as nginx writes them with escape=json (bytes past ASCII as they are), and as syslog carries them (research/nginx-facts.md). */
const JSON_LINES = [
  '{"time":"2024-05-01T12:34:56+02:00","remote_addr":"10.0.0.7","request":"GET /ws/é?x=1 HTTP/1.1","status":101,"request_time":"12.345","http_upgrade":"websocket","http_sec_websocket_key":"dGhlIHNhbXBsZSBub25jZQ==","http_user_agent":"Mozilla/5.0 (X11; Linux) é"}',
  '{"msec":"1520586427.537","remote_addr":"10.0.0.8","request":"GET /ws/ HTTP/1.0","status":499,"request_time":"59.999","upstream_addr":"10.0.20.11:8011","http_user_agent":"curl/8.5.0 \\"q\\""}',
];
const LINES = [...FILE_LINES, ...JSON_LINES, ...FILE_LINES.slice(0, 5).map((l) => `<190>Nov 30 06:59:33 web-1 nginx: ${l}`)];

function scanner(): LineScanner {
  return new LineScanner(FORMATS, FORMATS.map((_, i) => i), new Classifier(compileWsPaths(DEFAULT_WS_PATHS)));
}

/** Pieces that make a line hard to cut: the formats' own literals, quotes, dashes, escapes, UTF-8, bytes that are not UTF-8. */
const PIECES = [' - ', ': ', ' : ', ', ', ' msec ', ' status ', '"', '" "', ' ', '-', '[', '] ', '\\x22', 'é', '→', '\r', '\t', '8+qDYeKJGFTWKB2ov4p5TA==', ' 101 ', ' 60.000 '];
const junk = fc.oneof(fc.constantFrom(...PIECES).map((s) => Buffer.from(s)), fc.constantFrom([0xff], [0xc3], [0xe6, 0x97], [0x00]).map((b) => Buffer.from(b)));

/** A fixture line's bytes, as it is, cut short, or with pieces put in or taken out somewhere. */
const lineBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(...LINES).map((l) => Buffer.from(l)),
  fc.tuple(fc.constantFrom(...LINES), fc.array(fc.tuple(fc.nat(), junk), { minLength: 1, maxLength: 3 })).map(([l, edits]) => {
    let b = Buffer.from(l);
    for (const [at, piece] of edits) {
      const i = at % (b.length + 1);
      b = Buffer.concat([b.subarray(0, i), piece, b.subarray(i)]);
    }
    return b;
  }),
  fc.tuple(fc.constantFrom(...LINES), fc.nat(), fc.nat({ max: 40 })).map(([l, at, n]) => {
    const b = Buffer.from(l);
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + n))]);
  }),
);

test('property: where the straight code answers, it gives the bounds run() gives', () => {
  const straight = TEMPLATES.map((f) => compileStraight(f));
  fc.assert(
    fc.property(lineBytes, (b) => {
      TEMPLATES.forEach((f, k) => {
        const fast = newBounds(f);
        const slow = newBounds(f);
        if (!(straight[k] as NonNullable<ReturnType<typeof compileStraight>>)(b, 0, b.length, fast)) return;
        assert.ok(matchBytes(f, b, 0, b.length, slow, newFailure(), false), `${f.name}: run() refuses what the straight code took: ${b.toString()}`);
        assert.deepEqual([...fast.subarray(0, 2 * f.vars.length)], [...slow.subarray(0, 2 * f.vars.length)], `${f.name}: ${b.toString()}`);
      });
    }),
    FC,
  );
});

test('property: a long literal found by skipping ends a value where run() ends it, among near misses', () => {
  // Literals of 4 bytes and more are searched with a skip table: its first occurrence must be
  // found whatever overlaps it or almost matches it (`ab-ab-abx` inside `ab-ab-ab-ab-abx`).
  const formats = ['$request ab-ab-abx $status', '$request ab-ab-abx$http_user_agent yyyy $status', '$request zzzz $remote_user'].map((t) => compileFormatString(t, 'default', t) as TemplateFormat);
  const piece = fc.constantFrom('a', 'b', '-', 'x', 'ab-', 'ab-ab-ab', ' ab-ab-abx', ' ', 'y', 'yyy', ' yyyy ', 'z', ' zzz', ' zzzz ', '200', 'GET /');
  const line = fc.array(piece, { maxLength: 24 }).map((ps) => Buffer.from(ps.join('')));
  fc.assert(
    fc.property(line, (b) => {
      for (const f of formats) {
        const fast = newBounds(f);
        const slow = newBounds(f);
        const took = (compileStraight(f) as NonNullable<ReturnType<typeof compileStraight>>)(b, 0, b.length, fast);
        if (!took) continue;
        assert.ok(matchBytes(f, b, 0, b.length, slow, newFailure(), false), `${f.name}: run() refuses ${b.toString()}`);
        assert.deepEqual([...fast], [...slow], `${f.name}: ${b.toString()}`);
      }
    }),
    { ...FC, numRuns: 3000 },
  );
});

test('property: a shape checked as code says what its check function says', () => {
  const shapes = [Shape.STATUS, Shape.TIME_LOCAL, Shape.TIME_ISO, Shape.PIPE, Shape.WS_KEY, Shape.LIST];
  type Check = (b: Uint8Array, p: number, e: number) => boolean;
  const asCode = shapes.map((s) => {
    const code = checkCode(s, 'p', 'e');
    assert.ok(code !== null, `shape ${s} has code`);
    const make = new Function('b64', `return (b, p, e) => { let ok = false; ${code.before} return ${code.test}; };`) as (b64: Uint8Array) => Check;
    return make(BASE64_BYTES);
  });
  // Valid values, and bytes near them: digits, each shape's separators, base64, letters, UTF-8.
  const valid = ['101', '09/Mar/2018:17:07:07 +0800', '2018-03-09T17:07:07+08:00', 'p', 'dGhlIHNhbXBsZSBub25jZQ==', '10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80'];
  const byte = fc.constantFrom(...Buffer.from('0123456789/: +-T.pxMar=,aZ'), 0xc3, 0xff);
  const value = fc.oneof(
    fc.array(byte, { maxLength: 30 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.constantFrom(...valid), fc.nat(), byte).map(([v, at, c]) => {
      const b = Buffer.from(v);
      b[at % b.length] = c;
      return b;
    }),
    fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.nat({ max: 3 })).map(([v, at, n]) => {
      const b = Buffer.from(v);
      const i = at % (b.length + 1);
      return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + n))]);
    }),
    fc.constantFrom(...valid).map((v) => Buffer.from(v)),
  );
  fc.assert(
    fc.property(value, fc.nat({ max: 3 }), (v, pad) => {
      // The value among other bytes: the code reads b[p, e) only.
      const b = Buffer.concat([Buffer.alloc(pad, 0x37), v, Buffer.alloc(pad, 0x37)]);
      shapes.forEach((s, k) => assert.equal((asCode[k] as Check)(b, pad, pad + v.length), (SHAPE_CHECKS[s] as Check)(b, pad, pad + v.length), `shape ${s}: ${JSON.stringify(v.toString('latin1'))}`));
    }),
    { ...FC, numRuns: 5000 },
  );
  for (const [k, s] of shapes.entries()) assert.ok((asCode[k] as Check)(Buffer.from(valid[k] as string), 0, (valid[k] as string).length), `shape ${s} takes ${valid[k]}`);
});

test('property: numbers and keys, seen as they are scanned, fit where their checks say they fit', () => {
  // Every value here holds no space: the straight code's first choice is run()'s only one, so the
  // two must agree on every line, both ways (but for absent values, left out here).
  const f = compileFormatString('$request_time $body_bytes_sent $msec $http_sec_websocket_key $status', 'default', 'numbers') as TemplateFormat;
  const straight = compileStraight(f) as NonNullable<ReturnType<typeof compileStraight>>;
  const fits = ['60.000', '1234', '1520586427.537', 'dGhlIHNhbXBsZSBub25jZQ==', '101'];
  // Near misses: digits, a dot, more digits, then a byte that ends no number; keys a byte off.
  const digits = fc.stringMatching(/^[0-9]{0,4}$/);
  const number = fc.tuple(digits, fc.constantFrom('', '.', ','), digits, fc.constantFrom('', 'x', '.', '-', 'é', '\\x22')).map((p) => p.join(''));
  const key = fc.tuple(fc.nat({ max: 23 }), fc.constantFrom('A', '+', '/', '=', '-', '.', 'é', '')).map(([at, c]) => `${fits[3]?.slice(0, at)}${c}${fits[3]?.slice(at + 1)}`);
  // Not `-` nor nothing: a key or a status so absent is one of the places the straight code leaves to run().
  const field = fc.oneof(number, key, fc.constantFrom(...fits)).filter((v) => v !== '' && v !== '-');
  fc.assert(
    fc.property(fc.nat({ max: 4 }), field, fc.nat({ max: 4 }), field, (i, x, j, y) => {
      const values = [...fits];
      values[i] = x;
      values[j] = y;
      const line = Buffer.from(values.join(' '));
      const fast = newBounds(f);
      const slow = newBounds(f);
      const took = straight(line, 0, line.length, fast);
      assert.equal(took, matchBytes(f, line, 0, line.length, slow, newFailure(), false), line.toString());
      if (took) assert.deepEqual([...fast], [...slow], line.toString());
    }),
    { ...FC, numRuns: 4000 },
  );
});

test('the straight code takes the fixtures\' lines in their own format', () => {
  const s = scanner();
  let parsed = 0;
  let straight = 0;
  const compiled = new Map(TEMPLATES.map((f) => [f, compileStraight(f)]));
  for (const line of LINES) {
    const kind = s.scan(line);
    if (kind === LINE_BAD || kind === LINE_EMPTY) continue;
    const f = FORMATS[kind] as CompiledFormat;
    if (f.kind !== 'template') continue;
    parsed++;
    const b = Buffer.from(line);
    if (compiled.get(f)?.(b, 0, b.length, newBounds(f))) straight++;
  }
  assert.ok(parsed >= 100, `fixture lines parsed: ${parsed}`);
  assert.ok(straight >= 0.95 * parsed, `straight code took ${straight} of ${parsed} lines`);
});

/** What a scanner says of the line it was last given. */
function said(s: LineScanner, kind: number): unknown {
  if (kind === LINE_EMPTY) return { kind };
  if (kind === LINE_BAD) return { kind, body: s.body, reason: s.reason };
  return { kind, body: s.body, facts: { ...s.facts }, key: s.key(), handshake: s.handshake, flags: s.flags, path: s.path(), upstream: s.upstream(), offset: s.utcOffsetMinutes() };
}

test('property: a line read in place among other bytes reads as the same line given alone', () => {
  // Fresh scanners per case: a scanner describes only its first 20 unparsed lines.
  fc.assert(
    fc.property(lineBytes, lineBytes, lineBytes, fc.constantFrom('\n', '\r\n'), (before, line, after, eol) => {
      const text = line.toString('utf8');
      // Bytes that are not UTF-8 become U+FFFD as text: compare against the line as that text's bytes.
      const own = Buffer.from(text);
      const all = Buffer.concat([before, Buffer.from('\n'), own, Buffer.from(eol), after]);
      const start = before.length + 1;
      const inPlace = scanner();
      const alone = scanner();
      const got = said(inPlace, inPlace.scanBytes(all, start, start + own.length + eol.length - 1));
      assert.deepEqual(got, said(alone, alone.scan(eol === '\r\n' ? `${text}\r` : text)));
    }),
    FC,
  );
});

test('node run with --disallow-code-generation-from-strings: no straight code, the same report', () => {
  const report = (nodeArgs: string[]): string => {
    const r = spawnSync(process.execPath, [...nodeArgs, CLI, '--output', 'json', FIXTURE], { env: ENV, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(report(['--disallow-code-generation-from-strings']), report([]));
});
