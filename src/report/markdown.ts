/*!
 * --output markdown: GitHub-flavoured Markdown for an issue or incident ticket. Verdict first,
 * with the fix to try first and its nginx.conf snippet, then each finding (facts, why, its own
 * fix and snippet where they differ, evidence), then the tables of report/sections.ts, times in
 * the log's own UTC offset (or UTC). Built by hand. Log text is attacker-controlled: in prose and table cells it
 * is written with character references (no `|`, backtick, `<`, newline or control byte survives
 * raw), and in code blocks behind a fence longer than any backtick run it contains.
 */
import type { Finding, Report } from './model.js';
import { cellText, findingFacts, fixView, notLoggedLine, sameInputsLine, sections, summaryLine, type FixView } from './sections.js';
import { int, plural, visible } from './text.js';
import { span, zoneOf, type Zone } from './time.js';

export interface MarkdownOptions {
  /** Findings and rows per table (default 20). */
  top?: number;
  /** Times in UTC rather than in the log's own UTC offset. */
  utc?: boolean;
}

/** Markup characters and `|` (a table cell boundary, even inside a code span) as references. */
const MD_REFS: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '|': '&#124;' };
/** Punctuation that starts emphasis, links, code, strikethrough, headings or GitHub math; `_` only at a word edge. */
const MD_PUNCT_RE = /[\\`*[\]~!#$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g;

/** Text for a paragraph or a table cell: rendered literally, on one line. */
export function mdText(text: string): string {
  return visible(text).replace(MD_PUNCT_RE, (c) => `\\${c}`).replace(/[&<>|]/g, (c) => MD_REFS[c] ?? c);
}

/** A fenced code block holding `lines` verbatim (control bytes made visible). */
export function mdCodeBlock(lines: readonly string[], info = ''): string {
  const body = lines.map(visible);
  const longest = Math.max(0, ...body.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((run) => run.length))));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${info}`, ...body, fence].join('\n');
}

export function mdTable(head: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.split('\n').map(mdText).join('<br>')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

const SEVERITY_WORD: Readonly<Record<string, string>> = { critical: 'CRITICAL', warning: 'WARNING', info: 'INFO', ok: 'OK' };

export function renderMarkdown(report: Report, opts: MarkdownOptions): string {
  const top = opts.top ?? 20;
  const zone = zoneOf(report, opts.utc);
  const fixes = fixView(report);
  const out: string[] = [];
  out.push('# wsdiag report', '');
  out.push(`> **${SEVERITY_WORD[report.verdict.severity] ?? report.verdict.severity}** — ${mdText(report.verdict.headline)}`, '');
  if (report.verdict.fix !== null) out.push(`**Fix.** ${mdText(report.verdict.fix)}`, '');
  if (fixes.verdictConfig !== null) out.push(mdCodeBlock(fixes.verdictConfig.split('\n'), 'nginx'), '');
  out.push(mdText(summaryLine(report, zone)), '');
  const tr = report.meta.timeRange;
  if (tr.start) out.push(`Time range: ${mdText(span(tr.start, tr.end, zone))}`, '');
  if (report.meta.partial) out.push('**Partial report:** not every input was read to the end.', '');
  const same = sameInputsLine(report);
  if (same !== null) out.push(`**Warning:** ${mdText(same)}.`, '');
  const unlogged = notLoggedLine(report);
  if (unlogged !== null) out.push(`**Note:** ${mdText(unlogged)}`, '');
  if (report.meta.clientsFolded) out.push('_More client addresses than kept one by one: the rest are counted as `(other)`._', '');

  if (report.findings.length > 0) {
    out.push('## Findings', '');
    report.findings.slice(0, top).forEach((f, i) => out.push(...finding(f, fixes.findings[i], zone)));
    if (report.findings.length > top) out.push(`… ${plural(report.findings.length - top, 'more finding')} (raise --top to see them)`, '');
  }
  for (const s of sections(report, top, zone)) {
    out.push(`## ${mdText(s.title)}`, '');
    out.push(mdTable(s.columns.map((c) => c.title), s.rows.map((r) => r.map(cellText))), '');
    if (s.omitted > 0) out.push(`… ${int(s.omitted)} more row${s.omitted === 1 ? '' : 's'} (raise --top to see them)`, '');
  }
  const failedInputs = report.meta.inputs.filter((i) => i.error);
  if (failedInputs.length > 0) {
    out.push('## Inputs not fully read', '');
    for (const i of failedInputs) out.push(`- ${mdText(i.error?.message ?? '')}`);
    out.push('');
  }
  out.push(`<sub>wsdiag ${mdText(report.tool.version)}, report schema ${report.schemaVersion}</sub>`);
  return `${out.join('\n')}\n`;
}

function finding(f: Finding, fx: FixView['findings'][number] | undefined, zone: Zone): string[] {
  const out = [`### ${SEVERITY_WORD[f.severity] ?? f.severity}: \`${f.id}\` — ${mdText(f.title)}`, ''];
  out.push(mdTable(['', ''], findingFacts(f, zone)), '');
  out.push(`**Why.** ${mdText(f.explanation)}`, '');
  out.push(`**Fix.** ${fx?.fix === null ? 'The fix under the verdict, above.' : mdText(f.fix)}`, '');
  if (fx?.config) out.push(mdCodeBlock(fx.config.split('\n'), 'nginx'), '');
  else if (fx?.configShown && fx.fix !== null) out.push('_nginx.conf: the snippet above._', '');
  if (f.evidence.length > 0) {
    out.push(`**Evidence** (${plural(f.evidence.length, 'line')} of ${int(f.count)}):`, '');
    out.push(mdCodeBlock(f.evidence.map((e) => `${e.file}:${e.line}: ${e.text}`)), '');
  }
  return out;
}
