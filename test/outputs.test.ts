// The report in each form (markdown, csv, html, table, json) from the incident fixture and from a
// log with hostile text, checked for content: finding ids, counts and evidence file:line that an
// independent scan of the fixture predicts; CSV rows = handshakes, round-tripped through fast-csv's
// parser; no table breaking, script injection or spreadsheet formula in any output.
// See: issue 5 (report outputs), issue 7 ("Untrusted text in outputs").
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseString } from 'fast-csv';
import { FINDING_COLUMNS, HANDSHAKE_COLUMNS, neutralise } from '../src/report/csv.js';
import { fitColumns } from '../src/report/fit.js';
import { RENDERERS, analyze, handshakeRows, renderedText, type HandshakeRow, type RenderOptions, type Report } from '../src/index.js';
import { FORMULA_CLIENT, FORMULA_UPSTREAM, INCIDENT, PLUS_KEY, SCRIPT_UA, hostileLog } from './helpers/hostile.js';

const OPTS: RenderOptions = { color: false, top: 20 };
const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-outputs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** An independent scan of the incident fixture: per line, protocol, status and request_time of /ws/ requests. */
function scanIncident(): { line: number; client: string; protocol: string; status: number; seconds: number; upstream: string }[] {
  return readFileSync(INCIDENT, 'utf8').split('\n').filter(Boolean).flatMap((text, i) => {
    const m = /^\[[^\]]+\] (\S+) .* to: (\S+): GET (\/ws\/\S*) (HTTP\/1\.[01]) .* request_time ([\d.]+) status (\d{3}) /.exec(text);
    return m ? [{ line: i + 1, client: m[1] as string, upstream: m[2] as string, protocol: m[4] as string, seconds: Number(m[5]), status: Number(m[6]) }] : [];
  });
}

async function parseCsv(text: string): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, string>[] = [];
    parseString(text, { headers: true })
      .on('error', reject)
      .on('data', (r: Record<string, string>) => rows.push(r))
      .on('end', () => resolve(rows));
  });
}

/** GFM table rows: every line starting with `|` must split into as many cells as its header. */
function assertTablesIntact(md: string): void {
  let width = -1;
  let tables = 0;
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) {
      width = -1;
      continue;
    }
    // An unescaped pipe splits a cell; mdText never leaves one in log text.
    const cells = line.split(/(?<!\\)\|/).length;
    if (width < 0) {
      width = cells;
      tables++;
    } else assert.equal(cells, width, `table row broken: ${line}`);
  }
  assert.ok(tables > 3, 'tables were checked');
}

describe('incident fixture', () => {
  const truth = scanIncident();
  let report: Report;
  before(async () => {
    report = await analyze({ inputs: [INCIDENT], keysPerHandshake: true });
  });

  test('markdown: verdict first, every finding with its id, count, T, evidence file:line and the nginx snippet; the tables', async () => {
    const md = await renderedText(RENDERERS.markdown(report, OPTS));
    assert.match(md.split('\n')[2] ?? '', /^> \*\*CRITICAL\*\* — 17 WebSocket handshakes arrived as HTTP\/1\.0/);
    const down = truth.filter((t) => t.protocol === 'HTTP/1.0');
    for (const f of report.findings) {
      const at = md.indexOf(`### ${f.severity.toUpperCase()}: \`${f.id}\``);
      assert.ok(at >= 0, `${f.id} heading`);
      const section = md.slice(at, md.indexOf('\n### ', at + 1) >= 0 ? md.indexOf('\n### ', at + 1) : undefined);
      // One input: the handshakes are the lines.
      assert.match(section, new RegExp(`\\| count \\| ${f.count} handshakes \\|`));
      if (f.timeoutSeconds !== undefined) assert.match(section, /\| timeout T \| ≈60\.0\d\d s \|/);
      for (const e of f.evidence) assert.ok(section.includes(`\n${e.file}:${e.line}: ${e.text}\n`), `${f.id}: evidence ${e.file}:${e.line} in a code block`);
    }
    // The nginx.conf snippet (the same for both findings) is printed once, under the verdict's fix.
    assert.equal((md.match(/```nginx\nmap \$http_upgrade \$connection_upgrade \{\n/g) ?? []).length, 1);
    assert.ok(md.indexOf('```nginx') < md.indexOf('## Findings'));
    assert.match(md, /^\*\*Fix\.\*\* Find which load-balancer nodes/m);
    assert.equal(report.findings.find((f) => f.id === 'downgraded-handshake')?.count, down.length);
    for (const t of ['## Handshakes by protocol and status', '## Client addresses', '## Timeouts', '## Incident windows', '## Timeline', '## Handshake durations']) assert.ok(md.includes(t), t);
    assert.match(md, new RegExp(`\\| HTTP/1\\.0 \\| 499 \\| ${down.length} \\|`));
    for (const c of new Set(down.map((t) => t.client))) assert.match(md, new RegExp(`\\| ${c.replace(/\./g, '\\.')} \\| \\d+ \\| 100\\.0% \\|`));
    assertTablesIntact(md);
  });

  test('csv: one row per handshake line, with the columns of the scan; round-trips through fast-csv', async () => {
    const text = await renderedText(RENDERERS.csv(report, OPTS));
    assert.ok(text.includes('\r\n') && !/[^\r]\n/.test(text), 'RFC 4180 line ends (CRLF)');
    const rows = await parseCsv(text);
    assert.deepEqual(Object.keys(rows[0] ?? {}), [...HANDSHAKE_COLUMNS]);
    assert.equal(rows.length, report.handshakes.total);
    assert.equal(rows.length, truth.length);
    for (const t of truth) {
      const r = rows.find((x) => x.line === String(t.line));
      assert.ok(r, `line ${t.line}`);
      assert.equal(r.file, INCIDENT);
      assert.equal(r.protocol, t.protocol);
      assert.equal(r.status, String(t.status));
      assert.equal(Number(r.request_time), t.seconds);
      assert.equal(r.client, t.client);
      assert.equal(r.upstream, t.upstream);
      assert.equal(Date.parse(r.end ?? '') - Date.parse(r.start ?? ''), Math.round(t.seconds * 1000), `line ${t.line}: start = end − request_time`);
      assert.equal(r.findings?.split(' ').includes('downgraded-handshake'), t.protocol === 'HTTP/1.0', `line ${t.line}: ${r.findings}`);
      assert.equal(r.findings?.split(' ').includes('abandoned-at-timeout'), t.status === 499 && Math.abs(t.seconds - 60) < 0.05, `line ${t.line}: ${r.findings}`);
    }
    // The same cells as the model's rows, field by field.
    const model = [...(handshakeRows(report) as Iterable<HandshakeRow>)];
    rows.forEach((r, i) => {
      const m = model[i] as HandshakeRow;
      assert.equal(r.key, m.key);
      assert.equal(r.key_inputs, m.keyInputs.map((k) => k.file).join(';'));
    });
    const keyed = rows.filter((r) => r.key !== '');
    assert.ok(keyed.length > 0);
    for (const r of keyed) assert.equal(r.key_protocols, `${INCIDENT}=${r.protocol}`);
  });

  test('csv --csv findings: one row per finding with id, severity, count and evidence file:line', async () => {
    const rows = await parseCsv(await renderedText(RENDERERS.csv(report, { ...OPTS, csv: 'findings' })));
    assert.deepEqual(Object.keys(rows[0] ?? {}), [...FINDING_COLUMNS]);
    assert.deepEqual(rows.map((r) => [r.id, r.severity, Number(r.count)]), report.findings.map((f) => [f.id, f.severity, f.count]));
    rows.forEach((r, i) => assert.equal(r.evidence, report.findings[i]?.evidence.map((e) => `${e.file}:${e.line}`).join(';')));
  });

  test('csv per handshake needs the rows analyze() attached: a report read back from JSON says so', () => {
    const copy = JSON.parse(JSON.stringify(report)) as Report;
    assert.throws(() => RENDERERS.csv(copy, OPTS), /--csv findings/);
  });

  test('json stays a summary: no per-handshake rows in it', async () => {
    const json = await renderedText(RENDERERS.json(report));
    assert.ok(!json.includes('keyInputs'));
    assert.ok(json.length < 200_000);
  });

  test('html: verdict, every finding, the two charts, the tables; nothing fetched from anywhere', async () => {
    const html = await renderedText(RENDERERS.html(report, OPTS));
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<div class="verdict critical" id="verdict"><span class="sev critical">CRITICAL<\/span>17 WebSocket handshakes arrived as HTTP\/1\.0/);
    for (const [i, f] of report.findings.entries()) {
      assert.ok(html.includes(`<section class="finding" id="finding-${i}" data-finding-id="${f.id}">`), f.id);
      for (const e of f.evidence) assert.ok(html.includes(`<code>${e.file}:${e.line}</code>: `), `${f.id} evidence ${e.line}`);
    }
    assert.match(html, /<svg class="chart" id="timeline-chart"/);
    assert.match(html, /<figure class="chart" id="duration-histogram">/);
    assert.equal((html.match(/class="incident"/g) ?? []).length, report.timeline.incidents.length);
    assert.equal((html.match(/class="timeout-bin"/g) ?? []).length, report.histogram.filter((b) => b.timeout).length);
    assert.match(html, /T ≈ 60\.0\d\d s/);
    assert.match(html, /<table id="table-clients">/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /<script|<link|<img|@import|url\(|src=|href=/i, 'no script and no external resource');
  });

  test('table: --top limits findings and rows; tables fit the width given', () => {
    const narrow = RENDERERS.table(report, { color: false, top: 2, width: 80 });
    const clientTable = narrow.slice(narrow.indexOf('Client addresses'), narrow.indexOf('\n\n', narrow.indexOf('Client addresses')));
    const clientRows = clientTable.split('\n').filter((l) => /^│ \d/.test(l));
    assert.equal(clientRows.length, 2);
    assert.match(narrow, /… 5 more rows \(--top\)/);
    const tableLines = narrow.split('\n').filter((l) => /^[┌│├└]/.test(l));
    assert.ok(tableLines.length > 10);
    for (const l of tableLines) assert.ok(l.length <= 80, `${l.length} > 80: ${l}`);
    // Client addresses are single words: narrowing never cuts them.
    for (const c of report.handshakes.byClient.slice(0, 2)) assert.ok(narrow.includes(`│ ${c.client} `), c.client);
    const byDefault = RENDERERS.table(report, { color: false, top: 20, verbose: true });
    for (const l of byDefault.split('\n')) assert.ok(l.length <= 100, `no width given: 100 columns, got ${l.length}: ${l}`);
  });

  test('table: colour only when asked', () => {
    assert.ok(RENDERERS.table(report, { color: true, top: 5 }).includes('\u001b[31mCRITICAL\u001b[0m'));
    assert.ok(!RENDERERS.table(report, { color: false, top: 5 }).includes('\u001b['));
  });
});

test('fitColumns: narrows the widest column to its longest word, then header words, then data words only if it must', () => {
  const head = ['client', 'likely cause'];
  const rows = [['100.97.88.252', 'something in front of nginx gave up waiting and closed (499)']];
  assert.equal(fitColumns(head, rows, 200), undefined);
  const w = fitColumns(head, rows, 40) as number[];
  assert.equal(w.reduce((a, b) => a + b, 0) + 3, 40);
  assert.equal(w[0], 2 + '100.97.88.252'.length);
  const headerCut = fitColumns(['client', 'a-very-long-header-word'], [['100.97.88.252', '9']], 30) as number[];
  assert.deepEqual(headerCut, [15, 12]);
  const tiny = fitColumns(head, rows, 20) as number[];
  assert.ok(tiny.every((x) => x >= 5));
});

test('neutralise: cells a spreadsheet would evaluate get a leading apostrophe', () => {
  const cases: [string, string][] = [
    ['=1+2', "'=1+2"], ['+AAAA==', "'+AAAA=="], ['-2+3', "'-2+3"], ['@SUM(A1)', "'@SUM(A1)"], ['\tx', "'\tx"], ['\rx', "'\rx"],
    ['-', '-'], ['-1.5', '-1.5'], ['10.0.0.1:80', '10.0.0.1:80'], ['', ''], ['a=b', 'a=b'],
  ];
  for (const [cell, want] of cases) assert.equal(neutralise(cell), want, JSON.stringify(cell));
});

describe('hostile log text (issue 7)', () => {
  let report: Report;
  let file: string;
  before(async () => {
    file = join(tmp, 'hostile.log');
    writeFileSync(file, hostileLog());
    report = await analyze({ inputs: [file], preset: ['upstream-ws', 'upstream'], keysPerHandshake: true });
  });

  test('the hostile lines are evidence (otherwise the checks below prove nothing)', () => {
    const f = report.findings.find((x) => x.id === 'downgraded-handshake');
    assert.ok(f?.evidence.some((e) => e.text.includes('<script>')), JSON.stringify(f?.evidence.map((e) => e.line)));
    assert.ok(f?.clients.some((c) => c.client === FORMULA_CLIENT));
  });

  test('markdown: no raw markup, pipes or backticks break out; the script stays inside a code block', async () => {
    const md = await renderedText(RENDERERS.markdown(report, OPTS));
    assertTablesIntact(md);
    const outsideCode = md.split(/^```+.*$/m).filter((_, i) => i % 2 === 0).join('\n');
    assert.doesNotMatch(outsideCode, /<script|<img|<b>/);
    assert.ok(!md.includes('\u001b'), 'no raw escape byte');
    assert.ok(md.includes('\\x1B[31mred'), 'the escape byte is shown as \\x1B');
    assert.match(md, /\| @SUM\(1\+1\) \| 3 \|/);
    // The evidence code block's fence is longer than any backtick run inside it.
    const block = /^(`{3,})\n([^]*?)^\1$/m.exec(md.slice(md.indexOf('**Evidence**')));
    assert.ok(block?.[2]?.includes('<script>document.title="pwned"</script> | `code`'));
  });

  test('html: the script is text, not an element', async () => {
    const html = await renderedText(RENDERERS.html(report, OPTS));
    assert.doesNotMatch(html, /<script|<img|<b>/i);
    assert.ok(html.includes('&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;'));
    assert.ok(html.includes('GET /ws/?q=&lt;b&gt;|&lt;/b&gt;0'));
    assert.ok(!html.includes('\u001b'));
  });

  test('csv: formulas neutralised, quotes doubled, round trip gives the cells back', async () => {
    const text = await renderedText(RENDERERS.csv(report, OPTS));
    const rows = await parseCsv(text);
    assert.equal(rows.length, report.handshakes.total);
    const bad = rows.filter((r) => r.client === `'${FORMULA_CLIENT}`);
    assert.equal(bad.length, 3);
    for (const r of bad) assert.equal(r.upstream, `'${FORMULA_UPSTREAM}`);
    assert.equal(bad[0]?.key, `'${PLUS_KEY}`);
    assert.ok(text.includes(`"'${FORMULA_UPSTREAM.replace(/"/g, '""')}"`), 'the upstream cell is quoted with doubled quotes');
    for (const r of rows) for (const v of Object.values(r)) assert.doesNotMatch(v, /^[=+@\t\r]|^-[^\d]/, `unneutralised cell ${JSON.stringify(v)}`);
  });

  test('table: the escape sequence is shown, not sent to the terminal', () => {
    for (const opts of [{ color: false }, { color: false, verbose: true, wide: true }]) assert.ok(!RENDERERS.table(report, opts).includes('\u001b'), JSON.stringify(opts));
    // --wide: evidence whole, as logged.
    assert.ok(RENDERERS.table(report, { color: false, verbose: true, wide: true }).includes(SCRIPT_UA.replace('\u001b', '\\x1B')));
  });
});

describe('command line', () => {
  const CLI = 'dist/cli.js';
  const ENV = { PATH: process.env['PATH'] ?? '', TZ: 'UTC' };
  const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [CLI, ...args], { env: { ...ENV, ...env }, encoding: 'utf8', timeout: 30_000 });

  test('--out FILE writes any output there, and nothing to stdout', () => {
    for (const output of ['html', 'markdown', 'csv', 'json', 'table']) {
      const out = join(tmp, `report.${output}`);
      const r = run([INCIDENT, '--output', output, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`report written to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(readFileSync(out, 'utf8'), /downgraded-handshake/);
    }
    const bad = run([INCIDENT, '--output', 'html', '--out', join(tmp, 'no', 'such', 'dir', 'r.html')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /cannot write --out .*r\.html/);
  });

  test('csv through the CLI: as many rows as handshakes', () => {
    const r = run([INCIDENT, '--output', 'csv']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trimEnd().split('\r\n').length - 1, scanIncident().length);
    const f = run([INCIDENT, '--output', 'csv', '--csv', 'findings']);
    assert.match(f.stdout.split('\r\n')[1] ?? '', /^downgraded-handshake,critical,/);
  });

  // `script` gives the CLI a pseudo-terminal, so stdout.isTTY is true as in a real terminal.
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  const onTty = (env: string): string => {
    const cmd = `${env} COLUMNS=90 "${process.execPath}" ${CLI} ${INCIDENT} --top 3`;
    const r = spawnSync('script', ['-qec', `stty cols 90 2>/dev/null; ${cmd}`, '/dev/null'], { env: ENV, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  test('colour on a terminal, none with NO_COLOR or when piped; tables fit the terminal', { skip: hasScript ? false : 'util-linux script not installed' }, () => {
    const tty = onTty('');
    assert.ok(tty.includes('\u001b[31mCRITICAL'), 'colour on a TTY');
    // eslint-disable-next-line no-control-regex
    const plain = tty.replace(/\u001b\[[0-9;]*m/g, '');
    const tableLines = plain.split(/\r?\n/).filter((x) => /^[┌│├└]/.test(x));
    assert.ok(tableLines.length > 10);
    for (const l of tableLines) assert.ok(l.length <= 90, `${l.length} > 90: ${l}`);
    assert.ok(!onTty('NO_COLOR=1').includes('\u001b['), 'NO_COLOR turns colour off');
    const piped = run([INCIDENT]);
    assert.ok(!piped.stdout.includes('\u001b['), 'no colour when piped');
  });

  test('--help shows an example for each output form', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    for (const ex of ['--output markdown', '--output html --out report.html', '--output csv', '--csv findings', '--output json', '--top 5', '--fail-on critical']) assert.ok(r.stdout.includes(ex), ex);
  });
});
