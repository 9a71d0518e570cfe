/*!
 * --output table: the terminal report. Verdict first, then findings with evidence and the fix,
 * then the tables. The only module that imports cli-table3; colour only when asked (a TTY without
 * NO_COLOR, decided by the CLI), widths fitted to the terminal.
 */
import Table from 'cli-table3';
import type { Finding, InputSummary, Report } from './model.js';
import { int, pct, plural, secs, visible } from './text.js';

export interface TableOptions {
  color: boolean;
  /** Terminal width in columns. */
  width: number;
  /** Rows per table. */
  top: number;
}

const SGR = { red: '31', yellow: '33', green: '32', bold: '1', dim: '2' } as const;

export function renderTable(report: Report, opts: TableOptions): string {
  const paint = (code: keyof typeof SGR, s: string): string => (opts.color ? `\u001b[${SGR[code]}m${s}\u001b[0m` : s);
  const sev = (s: string): string => (s === 'critical' ? paint('red', s.toUpperCase()) : s === 'warning' ? paint('yellow', s.toUpperCase()) : paint('green', s.toUpperCase()));
  const width = Math.max(60, opts.width);
  const table = (head: string[], widths?: number[]): Table.Table =>
    new Table({ head: head.map((h) => paint('bold', h)), style: { head: [], border: [] }, wordWrap: true, ...(widths ? { colWidths: widths } : {}) });
  const out: string[] = [];

  out.push(`${sev(report.verdict.severity)}  ${wrap(visible(report.verdict.headline), width - 2)}`);
  out.push('');
  const l = report.lines;
  out.push(`${plural(l.total, 'line')} read, ${int(l.parsed)} parsed, ${int(l.unparsed)} unparsed; ${plural(report.handshakes.total, 'WebSocket handshake')} (${int(report.handshakes.upgraded)} upgraded); formats: ${report.meta.formats.map((f) => `${f.name} (${int(f.lines)})`).join(', ') || 'none'}`);
  if (report.meta.timeRange.start) out.push(`time range: ${report.meta.timeRange.start} … ${report.meta.timeRange.end}`);
  if (report.meta.partial) out.push(paint('yellow', 'PARTIAL REPORT: not every input was read to the end (see below).'));
  const notRead = report.meta.inputs.filter((i) => i.status !== 'read');
  if (notRead.length > 0) out.push(paint('yellow', `inputs: ${int(report.meta.inputs.length - notRead.length)} of ${int(report.meta.inputs.length)} read to the end; ${inputCounts(notRead)} (see "Inputs not read to the end" below)`));
  if (report.meta.sampled) out.push('note: more handshakes than kept row by row; breakdowns below come from a uniform sample, totals are exact.');

  for (const f of report.findings.slice(0, opts.top)) out.push('', ...finding(f, sev, width));

  if (report.handshakes.byProtocolStatus.length > 0) {
    out.push('', paint('bold', 'Handshakes by protocol and status'));
    const t = table(['protocol', 'status', 'count', 'share', 'p50 s', 'p90 s', 'p99 s', 'max s']);
    for (const r of report.handshakes.byProtocolStatus.slice(0, opts.top)) {
      t.push([r.protocol, String(r.status), int(r.count), pct(r.share), secs(r.durations.p50), secs(r.durations.p90), secs(r.durations.p99), secs(r.durations.max)]);
    }
    out.push(t.toString());
  }
  if (report.handshakes.byClient.length > 0) {
    out.push('', paint('bold', 'Client addresses (at the first tier: load-balancer nodes)'));
    const t = table(['client', 'requests', 'HTTP/1.0 share', 'handshakes', 'as HTTP/1.0', 'upgraded', 'failed', 'assessment']);
    for (const c of report.handshakes.byClient.slice(0, opts.top)) {
      t.push([visible(c.client), int(c.total), pct(c.http10Share), int(c.handshakes), int(c.handshakesHttp10), int(c.upgraded), int(c.failed), c.assessment === 'healthy' ? c.assessment : paint('red', c.assessment)]);
    }
    out.push(t.toString());
  }
  if (report.timeouts.length > 0) {
    out.push('', paint('bold', `Timeouts (${report.meta.timeoutSource === 'option' ? 'from --timeout' : 'inferred from request_time clusters'})`));
    const t = table(['T s', 'count', 'spread ms', 'series', 'statuses', 'likely cause'], [10, 8, 10, 10, 18, Math.max(20, width - 70)]);
    for (const c of report.timeouts) {
      t.push([secs(c.seconds), int(c.count), String(c.spreadMs), c.series, Object.entries(c.statuses).map(([s, n]) => `${s}×${n}`).join(' '), c.likelyCause]);
    }
    out.push(t.toString());
  }
  const tl = report.timeline;
  if (tl.incidents.length > 0) {
    out.push('', paint('bold', 'Incident windows (by handshake start time)'));
    const t = table(['start', 'end', 'failed handshakes', 'top clients']);
    for (const i of tl.incidents.slice(0, opts.top)) t.push([i.start, i.end, int(i.count), i.clients.map(visible).join(', ')]);
    out.push(t.toString());
  }
  if (report.histogram.length > 0) {
    out.push('', paint('bold', 'Handshake durations (timeout clusters marked ◀)'));
    const max = Math.max(1, ...report.histogram.map((b) => b.upgraded + b.failed));
    const barWidth = Math.max(10, Math.min(50, width - 50));
    for (const b of report.histogram) {
      const range = `${b.fromSeconds.toFixed(3)}–${b.toSeconds === null ? '∞' : b.toSeconds.toFixed(3)} s`.padEnd(22);
      const up = Math.round((b.upgraded / max) * barWidth);
      const fail = Math.round((b.failed / max) * barWidth);
      out.push(`${range} ${paint('green', '█'.repeat(up))}${paint('red', '▒'.repeat(fail))} ${int(b.upgraded)} upgraded, ${int(b.failed)} failed${b.timeout ? ' ◀' : ''}`);
    }
  }
  if (report.correlation.traced.length > 0) {
    out.push('', paint('bold', `Keys traced across inputs (${int(report.correlation.multiTier)} of ${int(report.correlation.keys)} keys seen in several inputs)`));
    const t = table(['Sec-WebSocket-Key', 'seen at']);
    for (const k of report.correlation.traced.slice(0, opts.top)) {
      t.push([visible(k.key), k.sightings.map((s) => `${visible(s.file)}:${s.line} ${s.protocol} ${s.status} ${secs(s.durationSeconds)} s`).join('\n')]);
    }
    out.push(t.toString());
  }
  if (notRead.length > 0) {
    out.push('', paint('bold', 'Inputs not read to the end'));
    for (const i of notRead) out.push(`  ${i.status === 'skipped' ? 'skipped' : `partial (${plural(i.lines, 'line')} analysed)`}: ${visible(i.error?.message ?? '')}`);
  }
  if (l.unparsed > 0) {
    out.push('', paint('bold', `${plural(l.unparsed, 'line')} did not match the format (first ${l.samples.length})`));
    for (const s of l.samples) out.push(`  ${visible(s.file)}:${s.line}: ${visible(s.reason)}`);
  }
  return `${out.join('\n')}\n`;
}

function finding(f: Finding, sev: (s: string) => string, width: number): string[] {
  const out = [`${sev(f.severity)} ${f.id}: ${f.title} — ${int(f.count)}${f.timeoutSeconds !== undefined ? `, T ≈ ${f.timeoutSeconds.toFixed(3)} s` : ''}`];
  if (f.firstSeen) out.push(`  first ${f.firstSeen}, last ${f.lastSeen}`);
  const breakdown = Object.entries(f.breakdown);
  if (breakdown.length > 0) out.push(`  outcomes: ${breakdown.map(([k, n]) => `${k} ×${int(n)}`).join('; ')}`);
  if (f.clients.length > 0) out.push(`  clients: ${f.clients.slice(0, 8).map((c) => `${visible(c.client)} (${int(c.count)})`).join(', ')}${f.clients.length > 8 ? ', …' : ''}`);
  out.push(`  why: ${wrap(f.explanation, width - 7, 7)}`);
  out.push(`  fix: ${wrap(f.fix, width - 7, 7)}`);
  for (const e of f.evidence) out.push(`  ${visible(e.file)}:${e.line}: ${visible(e.text)}`);
  return out;
}

function inputCounts(inputs: readonly InputSummary[]): string {
  const skipped = inputs.filter((i) => i.status === 'skipped').length;
  const parts = [skipped > 0 ? `${int(skipped)} skipped` : '', inputs.length > skipped ? `${int(inputs.length - skipped)} read part-way` : ''];
  return parts.filter(Boolean).join(', ');
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
