/*!
 * --output table: the terminal report, every line fitted to a width (report/fit.ts). Compact by
 * default: the verdict, the fix and its nginx.conf once, each finding's facts with a little
 * evidence, the main tables; --verbose adds every explanation, fix and evidence line, the
 * timeline, the histogram and the traced keys. The only module that loads cli-table3, at the
 * first table drawn; colour only when asked (a TTY without NO_COLOR, decided by the CLI).
 */
import { createRequire } from 'node:module';
import type CliTable3 from 'cli-table3';
import { displayWidth, planTable, truncate, wrapLines } from './fit.js';
import type { Finding, Report } from './model.js';
import { cellText, cellTone, durationRange, findingFacts, fixView, inputsLine, notLoggedLine, sameInputsLine, sections, summaryLine, type FixView, type Section } from './sections.js';
import { attempts, int, plural, visible } from './text.js';
import { span, zoneOf } from './time.js';

export interface TableOptions {
  color: boolean;
  /** Columns every line fits in (default DEFAULT_WIDTH; the CLI passes the terminal's, or COLUMNS). */
  width?: number;
  /** Findings and rows per table (default: 5 findings and 3 rows, or 20 of each with `verbose`). */
  top?: number;
  /** Everything: explanations, every fix and evidence line, the timeline, histogram and traced keys. */
  verbose?: boolean;
  /** Evidence lines whole, however long, rather than cut to the width with `…`. */
  wide?: boolean;
  /** Times in UTC rather than in the log's own UTC offset. */
  utc?: boolean;
}

export const DEFAULT_WIDTH = 100;
/** Narrower than this, nothing useful fits: lines are laid out for this many columns. */
const MIN_WIDTH = 40;
/** The compact report: findings, rows per table, evidence lines per finding (--top overrides the first two). */
const COMPACT = { findings: 5, rows: 3, evidence: 1 } as const;
const VERBOSE_TOP = 20;
/** Columns of the verdict's labels (severity, FIX); their text hangs beside them. */
const LABEL = 10;

/**
 * cli-table3, loaded when the first table is drawn: a run that writes another form (JSON, CSV)
 * never loads it, and the command starts reading its inputs sooner.
 */
let Table: typeof CliTable3 | undefined;
function newTable(options: CliTable3.TableConstructorOptions): CliTable3.Table {
  Table ??= createRequire(import.meta.url)('cli-table3') as typeof CliTable3;
  return new Table(options);
}

/** Tables of the compact report, with any other that is notable (sections.ts); --verbose shows every one. */
const COMPACT_SECTIONS: ReadonlySet<Section['id']> = new Set(['protocol-status', 'clients', 'timeouts', 'incidents', 'inputs', 'unparsed']);

const SGR = { red: '31', yellow: '33', green: '32', bold: '1', dim: '2' } as const;

type Paint = (code: keyof typeof SGR, s: string) => string;

interface Layout {
  paint: Paint;
  width: number;
  verbose: boolean;
  wide: boolean;
  zone: number;
}

export function renderTable(report: Report, opts: TableOptions): string {
  const paint: Paint = (code, s) => (opts.color ? `\u001b[${SGR[code]}m${s}\u001b[0m` : s);
  const verbose = opts.verbose === true;
  const topFindings = opts.top ?? (verbose ? VERBOSE_TOP : COMPACT.findings);
  const top = opts.top ?? (verbose ? VERBOSE_TOP : COMPACT.rows);
  const width = Math.max(MIN_WIDTH, opts.width ?? DEFAULT_WIDTH);
  const zone = zoneOf(report, opts.utc);
  const l: Layout = { paint, width, verbose, wide: opts.wide === true, zone };
  const fixes = fixView(report);
  const sev = (s: string): string => paint(s === 'critical' ? 'red' : s === 'warning' ? 'yellow' : 'green', s.toUpperCase());
  const out: string[] = [];

  const v = report.verdict;
  out.push(...labelled(sev(v.severity), visible(v.headline), width));
  if (v.fix !== null) out.push(...labelled(paint('bold', 'FIX'), visible(v.fix), width));
  if (fixes.verdictConfig !== null && verbose) out.push(...config(fixes.verdictConfig, LABEL, width));
  out.push('', ...wrapLines(visible(summaryLine(report, zone)), width, 2));
  if (report.meta.timeRange.start) out.push(...wrapLines(`time range: ${span(report.meta.timeRange.start, report.meta.timeRange.end, zone)}`, width, 2));
  if (report.meta.partial) out.push(...wrapLines(paint('yellow', 'PARTIAL REPORT: not every input was read to the end (see below).'), width, 2));
  const inputs = inputsLine(report);
  if (inputs !== null) out.push(...wrapLines(paint('yellow', visible(inputs)), width, 2));
  const same = sameInputsLine(report);
  if (same !== null) out.push(...wrapLines(paint('yellow', visible(`warning: ${same}.`)), width, 2));
  const unlogged = notLoggedLine(report);
  if (unlogged !== null) out.push(...wrapLines(visible(unlogged), width, 2));
  if (report.meta.clientsFolded) out.push(...wrapLines('note: more client addresses than kept one by one; the rest are counted as (other).', width, 2));

  report.findings.slice(0, topFindings).forEach((f, i) => out.push('', ...finding(f, fixes.findings[i], sev, l)));
  if (report.findings.length > topFindings) out.push('', `… ${plural(report.findings.length - topFindings, 'more finding')} (--top)`);

  let left = 0;
  for (const s of sections(report, top, zone)) {
    if (!verbose && !COMPACT_SECTIONS.has(s.id) && s.notable !== true) {
      left++;
      continue;
    }
    out.push('', paint('bold', truncate(visible(s.title), width)));
    if (s.id === 'histogram') out.push(...histogram(report, l));
    else if (s.id === 'inputs') for (const r of s.rows) out.push(...item(`${cellText(r[1] ?? '') === 'skipped' ? 'skipped' : `partial (${cellText(r[2] ?? '')} lines analysed)`}: ${visible(cellText(r[3] ?? ''))}`, width));
    else if (s.id === 'unparsed') for (const r of s.rows) out.push(...item(`${visible(cellText(r[0] ?? ''))}: ${visible(cellText(r[1] ?? ''))}`, width));
    else out.push(...table(s, l));
    if (s.omitted > 0) out.push(`… ${int(s.omitted)} more row${s.omitted === 1 ? '' : 's'} (--top)`);
  }
  if (!verbose && (left > 0 || report.findings.length > 0)) {
    const more = `More: --verbose (${fixes.verdictConfig !== null ? 'nginx.conf, ' : ''}explanations, all evidence, charts), --wide`;
    out.push('', ...wrapLines(paint('dim', more), width, 2));
  }
  return `${out.join('\n')}\n`;
}

/** `label` in the first LABEL columns, `text` wrapped beside it with a hanging indent. */
function labelled(label: string, text: string, width: number): string[] {
  const lines = wrapLines(text, width, LABEL, LABEL);
  lines[0] = `${label}${' '.repeat(Math.max(1, LABEL - displayWidth(label)))}${lines[0] ?? ''}`;
  return lines;
}

/** A list item: two columns in, continued four in. */
function item(text: string, width: number): string[] {
  const lines = wrapLines(text, width, 4, 2);
  lines[0] = `  ${lines[0] ?? ''}`;
  return lines;
}

/** `  label: value`, the value wrapped under itself. */
function fact(label: string, value: string, width: number): string[] {
  const lead = `  ${label}: `;
  const lines = wrapLines(value, width, lead.length, lead.length);
  lines[0] = `${lead}${lines[0] ?? ''}`;
  return lines;
}

/** An nginx.conf snippet, indented, as written; only a line too long for the width wraps (4 columns further in). */
function config(text: string, indent: number, width: number): string[] {
  const pad = ' '.repeat(indent);
  return text.split('\n').flatMap((line) => {
    const body = visible(line);
    if (body.trim() === '') return [''];
    if (indent + displayWidth(body) <= width) return [`${pad}${body}`];
    const lead = body.length - body.trimStart().length;
    return wrapLines(body.trimStart(), width - indent - lead, 4).map((w) => `${pad}${' '.repeat(lead)}${w}`);
  });
}

function finding(f: Finding, fx: FixView['findings'][number] | undefined, sev: (s: string) => string, l: Layout): string[] {
  const { width, verbose } = l;
  const out = wrapLines(`${sev(f.severity)} ${f.id} (${attempts(f)}): ${visible(f.title)}`, width, 2);
  for (const [label, value] of findingFacts(f, l.zone)) if (label !== 'count') out.push(...fact(label, visible(value), width));
  if (verbose) {
    out.push(...fact('why', visible(f.explanation), width));
    out.push(...fact('fix', fx?.fix === null ? 'the FIX above' : visible(f.fix), width));
    if (fx?.config) out.push(...config(fx.config, 7, width));
    else if (fx?.configShown && fx.fix !== null) out.push('       nginx.conf: as above');
  }
  // Evidence is the log line as written: cut (never wrapped) so each stays one line to find by file:line.
  for (const e of f.evidence.slice(0, verbose ? undefined : COMPACT.evidence)) {
    const line = `  ${visible(e.file)}:${e.line}: ${visible(e.text)}`;
    out.push(l.wide ? line : truncate(line, width));
  }
  return out;
}

/**
 * A section as a cli-table3 table fitted to the width (report/fit.ts planTable): footnotes below
 * it, the columns left out named. Rules between data rows are dropped: they doubled its height.
 */
function table(s: Section, l: Layout): string[] {
  const { paint, width } = l;
  const text = s.rows.map((r) => r.map((c) => cellText(c).split('\n').map(visible).join('\n')));
  const plan = planTable(s.columns, text, width);
  const t = newTable({ head: plan.head.map((h) => paint('bold', h)), style: { head: [], border: [] }, wordWrap: true, ...(plan.widths ? { colWidths: plan.widths } : {}) });
  s.rows.forEach((r, i) => {
    t.push(plan.keep.map((j, k) => {
      const cell = plan.rows[i]?.[k] ?? '';
      return cellTone(r[j] ?? '') === 'bad' ? paint('red', cell) : cell;
    }));
  });
  let ruled = false;
  const lines = t.toString().split('\n').filter((line) => {
    if (!line.startsWith('├')) return true;
    // The first rule is under the header; keep it.
    if (ruled) return false;
    ruled = true;
    return true;
  });
  plan.notes.forEach((n, i) => lines.push(...wrapLines(`[${i + 1}] ${n}`, width, 4)));
  if (plan.dropped.length > 0) lines.push(...wrapLines(paint('dim', `(left out to fit ${width} columns: ${plan.dropped.join(', ')})`), width, 2));
  return lines;
}

/** The duration histogram as bars: green upgraded, red failed, the timeout clusters marked. */
function histogram(report: Report, l: Layout): string[] {
  const { paint, width } = l;
  const max = Math.max(1, ...report.histogram.map((b) => b.upgraded + b.failed));
  const rows = report.histogram.map((b) => ({
    b,
    range: durationRange(b.fromSeconds, b.toSeconds),
    tail: `${int(b.upgraded)} upgraded, ${int(b.failed)} failed${b.timeout ? ' ◀ timeout' : ''}`,
  }));
  const rangeWidth = Math.max(...rows.map((r) => displayWidth(r.range)));
  const tailWidth = Math.max(...rows.map((r) => displayWidth(r.tail)));
  const barWidth = Math.max(4, Math.min(50, width - rangeWidth - tailWidth - 2));
  return rows.map(({ b, range, tail }) => {
    const up = Math.round((b.upgraded / max) * barWidth);
    const fail = Math.round((b.failed / max) * barWidth);
    const line = `${range.padEnd(rangeWidth)} ${paint('green', '█'.repeat(up))}${paint('red', '▒'.repeat(fail))} ${tail}`;
    return displayWidth(line) <= width ? line : `${range.padEnd(rangeWidth)} ${truncate(tail, width - rangeWidth - 1)}`;
  });
}
