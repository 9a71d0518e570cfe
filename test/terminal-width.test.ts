// The terminal report an on-call engineer reads in an 80-column tmux pane: every line within the
// width (the terminal's, else $COLUMNS, else 100), prose wrapped at spaces with a hanging indent,
// evidence cut with `…` (whole with --wide), long table prose as footnotes, low-priority columns
// shortened or left out, a compact default of about one screen and --verbose for the rest, the
// nginx.conf snippet printed once. The demo and a two-tier sample, through the built CLI.
// See: issue 18 ("The report an on-call engineer reads").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RENDERERS, analyze, type Report } from '../src/index.js';
import { planTable, truncate, wrapLines } from '../src/report/fit.js';
import { ENV, FIXTURE, run } from './helpers/cli.js';
import { writeTwoTier } from './helpers/two-tier.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-width-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const twoTier = writeTwoTier(tmp);

/** Terminal columns of a line: code points (the report's symbols are all one column wide). */
const columns = (line: string): number => [...line].length;

function table(args: string[], cols?: number): string[] {
  const r = run(args, undefined, { env: cols === undefined ? ENV : { ...ENV, COLUMNS: String(cols) } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.replace(/\n$/, '').split('\n');
}

function json(args: string[]): Report {
  const r = run(['-o', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

const SAMPLES = { demo: [FIXTURE], 'two tiers': [twoTier.front, twoTier.back] };

describe('every line fits the width: $COLUMNS when stdout is not a terminal', () => {
  for (const [name, inputs] of Object.entries(SAMPLES)) {
    for (const width of [80, 120]) {
      for (const mode of [[], ['--verbose']]) {
        test(`${name} at ${width} columns${mode.length ? ' --verbose' : ''}`, () => {
          const lines = table([...mode, ...inputs], width);
          for (const l of lines) assert.ok(columns(l) <= width, `${columns(l)} > ${width}: ${l}`);
          // The tables are there, fitted (not dropped from the report).
          assert.ok(lines.some((l) => l.startsWith('Client addresses')));
          assert.ok(lines.filter((l) => l.startsWith('│')).length >= 6);
        });
      }
    }
  }

  test('no COLUMNS: 100 columns', () => {
    const lines = table(['--verbose', FIXTURE]);
    for (const l of lines) assert.ok(columns(l) <= 100, `${columns(l)} > 100: ${l}`);
    assert.ok(lines.some((l) => columns(l) > 90), 'the width is used, not a narrower one');
  });
});

describe('the demo at 80 columns', () => {
  const report = json([FIXTURE]);
  const compact = table([FIXTURE], 80);
  const verbose = table(['--verbose', FIXTURE], 80);

  test('the verdict is wrapped at spaces beside its label, never inside a token such as HTTP/1.1', () => {
    const end = compact.findIndex((l) => l.startsWith('FIX'));
    const verdict = compact.slice(0, end);
    assert.match(verdict[0] ?? '', /^CRITICAL {2}17 WebSocket handshakes/);
    for (const l of verdict.slice(1)) assert.match(l, /^ {10}\S/, 'hanging indent under the text, not under the label');
    assert.equal(verdict.map((l) => l.trim()).join(' ').replace(/^CRITICAL\s+/, ''), report.verdict.headline);
    assert.ok(verdict.length > 1, 'wrapped at all');
    assert.ok(!verdict.some((l) => /HTTP\/1\.$/.test(l)));
  });

  test('compact: about one screen, and --verbose has what it leaves out', () => {
    assert.ok(compact.length <= 70, `${compact.length} lines`);
    assert.ok(verbose.length > compact.length + 40, `${verbose.length} lines with --verbose`);
    const text = compact.join('\n');
    assert.ok(!text.includes('why:'));
    assert.match(text, /More: --verbose/);
    const all = verbose.join('\n');
    for (const f of report.findings) assert.ok(all.includes(`${f.id} (${f.handshakes ?? f.count} `), f.id);
    assert.match(all, /^ {2}why: RFC 6455 requires HTTP\/1\.1/m);
    assert.ok(all.includes('Handshake durations (timeout clusters marked)'));
  });

  test('the fix and its nginx.conf snippet are printed once', () => {
    const all = verbose.join('\n');
    assert.equal(all.split('proxy_set_header Upgrade $http_upgrade;').length - 1, 1);
    assert.equal(all.split('Find which load-balancer nodes/listeners').length - 1, 1);
    assert.match(all, /^FIX {7}Find which load-balancer/m);
    assert.equal(compact.join('\n').split('Find which load-balancer nodes/listeners').length - 1, 1);
  });

  test('evidence lines are cut to the width with …, and whole with --wide', () => {
    const evidence = (lines: string[]): string[] => lines.filter((l) => /^ {2}fixtures\/incident\/front\.log:\d+: \[/.test(l));
    const cut = evidence(verbose);
    assert.equal(cut.length, report.findings.reduce((n, f) => n + f.evidence.length, 0));
    for (const l of cut) {
      assert.equal(columns(l), 80);
      assert.ok(l.endsWith('…'));
    }
    const whole = evidence(table(['--verbose', '--wide', FIXTURE], 80));
    for (const f of report.findings) for (const e of f.evidence) assert.ok(whole.includes(`  ${e.file}:${e.line}: ${e.text}`), `${e.file}:${e.line}`);
  });

  test('the timeouts table moves its long "likely cause" to a footnote', () => {
    const at = compact.findIndex((l) => l.startsWith('Timeouts'));
    const block = compact.slice(at, compact.indexOf('', at));
    assert.ok(block.some((l) => l.startsWith('│') && l.includes('[1]')));
    const note = block.slice(block.findIndex((l) => l.startsWith('[1] '))).map((l) => l.trim()).join(' ');
    assert.equal(note, `[1] ${report.timeouts[0]?.likelyCause}`);
  });

  test('rules only under the header: one data row per line', () => {
    const at = compact.findIndex((l) => l.startsWith('Handshakes by protocol'));
    const rows = compact.slice(at + 1, compact.indexOf('', at));
    assert.deepEqual(rows.map((l) => l[0]), ['┌', '│', '├', '│', '│', '└']);
  });
});

describe('fitting helpers', () => {
  test('wrapLines: hanging indent, words whole, only a word longer than a line broken', () => {
    assert.deepEqual(wrapLines('aaa bbb ccc ddd', 8, 2), ['aaa bbb', '  ccc', '  ddd']);
    assert.deepEqual(wrapLines('x 0123456789ab', 6, 2, 0), ['x', '  0123', '  4567', '  89ab']);
    assert.deepEqual(wrapLines('requires HTTP/1.1): 499', 12, 0), ['requires', 'HTTP/1.1):', '499']);
  });

  test('truncate: to the column, with …; wide characters count two', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abc', 4), 'abc');
    assert.equal(truncate('日本語テキスト', 7), '日本語…');
  });

  test('planTable: footnotes, then short headers, then columns left out by priority, then narrower columns', () => {
    const cols = [{ title: 'client' }, { title: 'requests', short: 'reqs', drop: 2 }, { title: 'assessment', drop: 1 }, { title: 'cause', note: true }];
    const rows = [['100.97.88.252', '23', 'downgrading', 'something in front of nginx gave up waiting']];
    const roomy = planTable(cols, rows, 200);
    assert.deepEqual([roomy.head, roomy.notes, roomy.dropped, roomy.widths], [['client', 'requests', 'assessment', 'cause'], [], [], undefined]);
    const noted = planTable(cols, rows, 50);
    assert.deepEqual([noted.head, noted.rows[0], noted.notes, noted.dropped], [['client', 'requests', 'assessment', 'cause'], ['100.97.88.252', '23', 'downgrading', '[1]'], [rows[0]?.[3]], []]);
    const short = planTable(cols, rows, 46);
    assert.deepEqual([short.head, short.dropped], [['client', 'reqs', 'assessment', 'cause'], []]);
    const dropped = planTable(cols, rows, 45);
    assert.deepEqual([dropped.head, dropped.dropped, dropped.widths], [['client', 'assessment', 'cause'], ['requests'], undefined]);
    const squeezed = planTable([{ title: 'client' }, { title: 'top clients' }], [['2018-03-09T15:03:34+08:00', '100.97.89.10, 100.97.88.252']], 46);
    assert.deepEqual(squeezed.widths, [27, 16]);
  });
});

test('library: the table renderer defaults to 100 columns and a compact report', async () => {
  const report = await analyze({ inputs: [FIXTURE] });
  const lines = RENDERERS.table(report, { color: false }).split('\n');
  for (const l of lines) assert.ok(columns(l) <= 100, l);
  assert.ok(lines.length < RENDERERS.table(report, { color: false, verbose: true }).split('\n').length);
});
