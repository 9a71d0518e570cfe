/*!
 * --output table: the terminal report. Verdict first, then findings with evidence and the fix,
 * then the tables (report/sections.ts). The only module that imports cli-table3; colour only when
 * asked (a TTY without NO_COLOR, decided by the CLI); every table fitted to the terminal width.
 */
import Table from 'cli-table3';
import type { Finding, Report } from './model.js';
import { cellText, cellTone, findingFacts, inputsLine, sameInputsLine, sections, summaryLine, type Section } from './sections.js';
import { int, plural, visible } from './text.js';

export interface TableOptions {
  color: boolean;
  /** Terminal width in columns; undefined when not writing to a terminal (prose wraps at 100, tables keep their natural width). */
  width?: number;
  /** Rows per table. */
  top: number;
}

const SGR = { red: '31', yellow: '33', green: '32', bold: '1', dim: '2' } as const;
/** Narrowest a column is squeezed to (padding included) before the table may be wider than the terminal. */
const MIN_COLUMN = 5;

type Paint = (code: keyof typeof SGR, s: string) => string;

export function renderTable(report: Report, opts: TableOptions): string {
  const paint: Paint = (code, s) => (opts.color ? `\u001b[${SGR[code]}m${s}\u001b[0m` : s);
  const sev = (s: string): string => paint(s === 'critical' ? 'red' : s === 'warning' ? 'yellow' : 'green', s.toUpperCase());
  const width = Math.max(40, opts.width ?? 100);
  const tableWidth = opts.width === undefined ? Infinity : width;
  const out: string[] = [];

  out.push(`${sev(report.verdict.severity)}  ${wrap(visible(report.verdict.headline), width - 2)}`);
  out.push('');
  out.push(wrap(visible(summaryLine(report)), width));
  if (report.meta.timeRange.start) out.push(`time range: ${report.meta.timeRange.start} … ${report.meta.timeRange.end}`);
  if (report.meta.partial) out.push(paint('yellow', 'PARTIAL REPORT: not every input was read to the end (see below).'));
  const inputs = inputsLine(report);
  if (inputs !== null) out.push(paint('yellow', visible(inputs)));
  const same = sameInputsLine(report);
  if (same !== null) out.push(paint('yellow', wrap(visible(`warning: ${same}.`), width)));
  if (report.meta.clientsFolded) out.push(wrap('note: more client addresses than kept one by one; the rest are counted as (other).', width));

  for (const f of report.findings.slice(0, opts.top)) out.push('', ...finding(f, sev, width));
  if (report.findings.length > opts.top) out.push('', `… ${plural(report.findings.length - opts.top, 'more finding')} (--top)`);

  for (const s of sections(report, opts.top)) {
    if (s.id === 'timeline') continue;
    out.push('', paint('bold', visible(s.title)));
    if (s.id === 'histogram') out.push(...histogram(report, paint, width));
    else if (s.id === 'inputs') out.push(...s.rows.map((r) => `  ${cellText(r[1] ?? '') === 'skipped' ? 'skipped' : `partial (${cellText(r[2] ?? '')} lines analysed)`}: ${visible(cellText(r[3] ?? ''))}`));
    else if (s.id === 'unparsed') out.push(...s.rows.map((r) => `  ${visible(cellText(r[0] ?? ''))}: ${wrap(visible(cellText(r[1] ?? '')), width - 4, 4)}`));
    else out.push(table(s, paint, tableWidth));
    if (s.omitted > 0) out.push(`… ${int(s.omitted)} more row${s.omitted === 1 ? '' : 's'} (--top)`);
  }
  return `${out.join('\n')}\n`;
}

function table(s: Section, paint: Paint, width: number): string {
  const rows = s.rows.map((r) => r.map((c) => cellText(c).split('\n').map(visible).join('\n')));
  const widths = fitColumns(s.head, rows, width);
  const t = new Table({ head: s.head.map((h) => paint('bold', h)), style: { head: [], border: [] }, wordWrap: true, ...(widths ? { colWidths: widths } : {}) });
  s.rows.forEach((r, i) => {
    t.push(r.map((c, j) => {
      const text = rows[i]?.[j] ?? '';
      const tone = cellTone(c);
      return tone === 'bad' ? paint('red', text) : text;
    }));
  });
  return t.toString();
}

/**
 * Column widths (padding included) that make the table fit `width`; undefined when it fits as it
 * is. Cells wrap at spaces (cli-table3 wordWrap), so the widest column is narrowed first down to
 * its longest word; then header words are cut (data words, such as addresses and keys, stay
 * whole); only then data words, down to MIN_COLUMN.
 */
export function fitColumns(head: readonly string[], rows: readonly string[][], width: number): number[] | undefined {
  const lines = (cells: string[]): string[] => cells.flatMap((c) => c.split('\n'));
  const longest = (texts: string[]): number => Math.max(0, ...texts.map((t) => t.length));
  const longestWord = (texts: string[]): number => Math.max(MIN_COLUMN, 2 + longest(lines(texts).flatMap((t) => t.split(' '))));
  const data = (i: number): string[] => rows.map((r) => r[i] ?? '');
  const natural = head.map((h, i) => 2 + longest(lines([h, ...data(i)])));
  let excess = natural.reduce((a, b) => a + b, 0) + natural.length + 1 - width;
  if (excess <= 0) return undefined;
  const w = [...natural];
  const floors = [head.map((h, i) => longestWord([h, ...data(i)])), head.map((_, i) => longestWord(data(i))), head.map(() => MIN_COLUMN)];
  for (const floor of floors) {
    while (excess > 0) {
      let widest = -1;
      for (let i = 0; i < w.length; i++) if ((w[i] as number) > (floor[i] as number) && (widest < 0 || (w[i] as number) > (w[widest] as number))) widest = i;
      if (widest < 0) break;
      w[widest] = (w[widest] as number) - 1;
      excess--;
    }
  }
  return w;
}

function histogram(report: Report, paint: Paint, width: number): string[] {
  const max = Math.max(1, ...report.histogram.map((b) => b.upgraded + b.failed));
  const barWidth = Math.max(10, Math.min(50, width - 60));
  return report.histogram.map((b) => {
    const range = `${b.fromSeconds.toFixed(3)}–${b.toSeconds === null ? '∞' : b.toSeconds.toFixed(3)} s`.padEnd(22);
    const up = Math.round((b.upgraded / max) * barWidth);
    const fail = Math.round((b.failed / max) * barWidth);
    return `${range} ${paint('green', '█'.repeat(up))}${paint('red', '▒'.repeat(fail))} ${int(b.upgraded)} upgraded, ${int(b.failed)} failed${b.timeout ? ' ◀ timeout' : ''}`;
  });
}

function finding(f: Finding, sev: (s: string) => string, width: number): string[] {
  const out = [wrap(`${sev(f.severity)} ${f.id}: ${visible(f.title)}`, width)];
  for (const [label, value] of findingFacts(f)) if (label !== 'count') out.push(`  ${label}: ${wrap(visible(value), width - label.length - 4, label.length + 4)}`);
  out.push(`  why: ${wrap(visible(f.explanation), width - 7, 7)}`);
  out.push(`  fix: ${wrap(visible(f.fix), width - 7, 7)}`);
  // Evidence stays whole: it is the log line as written, for copying and grepping.
  for (const e of f.evidence) out.push(`  ${visible(e.file)}:${e.line}: ${visible(e.text)}`);
  return out;
}

/** Wraps prose at word boundaries; continuation lines are indented by `indent` spaces. */
function wrap(text: string, width: number, indent = 2): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur !== '' && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur === '' ? w : `${cur} ${w}`;
  }
  if (cur !== '') lines.push(cur);
  return lines.join(`\n${' '.repeat(indent)}`);
}
