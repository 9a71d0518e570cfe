/*!
 * --output html: one self-contained page (inline CSS, inline SVG drawn here; no script, no fetch,
 * no external font, and a Content-Security-Policy that forbids all three) with the verdict, the
 * findings, a timeline of handshakes by outcome with the incident windows shaded, a request_time
 * histogram with the timeout clusters highlighted, and the tables of report/sections.ts.
 * Every piece of log text goes through esc().
 */
import type { Finding, HistogramBin, Report } from './model.js';
import { cellText, cellTone, durationRange, findingFacts, sameInputsLine, sections, summaryLine } from './sections.js';
import { int, plural, secs, visible } from './text.js';

export interface HtmlOptions {
  /** Rows per table. */
  top: number;
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value: markup characters as references, control bytes made visible. */
export function esc(text: string): string {
  return visible(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const COLOR = { ok: '#2f9e44', failed: '#d9480f', http10: '#f59f00', incident: 'rgba(217,72,15,0.13)', timeout: '#fff3bf', axis: '#868e96' } as const;

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#212529;background:#fff}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}h3{font-size:16px;margin:0 0 8px}
.verdict{border-left:6px solid ${COLOR.axis};background:#f8f9fa;padding:12px 16px;font-size:15px}
.verdict.critical{border-color:#c92a2a;background:#fff5f5}.verdict.warning{border-color:#e67700;background:#fff9db}.verdict.ok{border-color:#2b8a3e;background:#ebfbee}
.sev{display:inline-block;font-weight:700;font-size:12px;padding:1px 6px;border-radius:3px;color:#fff;background:${COLOR.axis};margin-right:6px}
.sev.critical{background:#c92a2a}.sev.warning{background:#e67700}.sev.ok{background:#2b8a3e}
.finding{border:1px solid #dee2e6;border-radius:6px;padding:12px 16px;margin:12px 0}
table{border-collapse:collapse;margin:6px 0 4px;font-size:13px}th,td{border:1px solid #dee2e6;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f1f3f5}
td.bad{color:#c92a2a;font-weight:600}td.good{color:#2b8a3e}
pre{background:#f8f9fa;border:1px solid #e9ecef;padding:8px;overflow-x:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
.chart{margin:8px 0 4px}.chart text{font:11px system-ui,sans-serif;fill:#495057}.legend span{margin-right:14px;font-size:12px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.muted{color:#868e96;font-size:12px}
`;

export function renderHtml(report: Report, opts: HtmlOptions): string {
  const v = report.verdict;
  const body: string[] = [];
  body.push('<h1>wsdiag report</h1>');
  body.push(`<div class="verdict ${esc(v.severity)}" id="verdict"><span class="sev ${esc(v.severity)}">${esc(v.severity.toUpperCase())}</span>${esc(v.headline)}</div>`);
  body.push(`<p>${esc(summaryLine(report))}${report.meta.timeRange.start ? `<br>Time range: ${esc(report.meta.timeRange.start)} … ${esc(report.meta.timeRange.end ?? '')}` : ''}</p>`);
  if (report.meta.partial) body.push('<p class="verdict warning"><strong>Partial report:</strong> not every input was read to the end.</p>');
  const same = sameInputsLine(report);
  if (same !== null) body.push(`<p class="verdict warning"><strong>Warning:</strong> ${esc(same)}.</p>`);
  if (report.meta.clientsFolded) body.push('<p class="muted">More client addresses than kept one by one: the rest are counted as (other).</p>');

  body.push('<h2>Timeline</h2>', timelineChart(report));
  body.push('<h2>Handshake durations</h2>', histogramChart(report.histogram, report.timeouts));

  if (report.findings.length > 0) {
    body.push('<h2>Findings</h2>');
    report.findings.slice(0, opts.top).forEach((f, i) => body.push(finding(f, i)));
    if (report.findings.length > opts.top) body.push(`<p class="muted">… ${esc(plural(report.findings.length - opts.top, 'more finding'))} (raise --top)</p>`);
  }
  for (const s of sections(report, opts.top)) {
    body.push(`<h2>${esc(s.title)}</h2>`, `<table id="table-${s.id}"><thead><tr>${s.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`);
    for (const r of s.rows) body.push(`<tr>${r.map((c) => `<td${cellTone(c) ? ` class="${cellTone(c)}"` : ''}>${cellText(c).split('\n').map(esc).join('<br>')}</td>`).join('')}</tr>`);
    body.push('</tbody></table>');
    if (s.omitted > 0) body.push(`<p class="muted">… ${int(s.omitted)} more rows (raise --top)</p>`);
  }
  const failedInputs = report.meta.inputs.filter((i) => i.error);
  if (failedInputs.length > 0) body.push('<h2>Inputs not fully read</h2><ul>', ...failedInputs.map((i) => `<li>${esc(i.error?.message ?? '')}</li>`), '</ul>');
  body.push(`<p class="muted">wsdiag ${esc(report.tool.version)}, report schema ${report.schemaVersion}. Inputs: ${report.meta.inputs.map((i) => esc(i.name)).join(', ')}.</p>`);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsdiag: ${esc(v.severity.toUpperCase())} ${esc(v.headline.slice(0, 120))}</title>
<style>${CSS}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}

function finding(f: Finding, i: number): string {
  const out = [`<section class="finding" id="finding-${i}" data-finding-id="${esc(f.id)}">`];
  out.push(`<h3><span class="sev ${esc(f.severity)}">${esc(f.severity.toUpperCase())}</span><code>${esc(f.id)}</code> — ${esc(f.title)}</h3>`);
  out.push(`<table class="facts">${findingFacts(f).map(([k, val]) => `<tr><th>${esc(k)}</th><td>${esc(val)}</td></tr>`).join('')}</table>`);
  out.push(`<p><strong>Why.</strong> ${esc(f.explanation)}</p>`, `<p><strong>Fix.</strong> ${esc(f.fix)}</p>`);
  if (f.nginxConfig !== undefined) out.push(`<pre class="nginx-config"><code>${f.nginxConfig.split('\n').map(esc).join('\n')}</code></pre>`);
  if (f.evidence.length > 0) {
    out.push(`<p><strong>Evidence</strong> (${esc(plural(f.evidence.length, 'line'))} of ${int(f.count)}):</p>`);
    out.push(`<pre class="evidence">${f.evidence.map((e) => `<code>${esc(`${e.file}:${e.line}`)}</code>: ${esc(e.text)}`).join('\n')}</pre>`);
  }
  out.push('</section>');
  return out.join('\n');
}

/** Chart frame: width, height and the plot area inside the axes. */
const W = 1100;
const PAD = { left: 48, right: 12, top: 14, bottom: 46 };

function legend(items: [string, string][]): string {
  return `<div class="legend">${items.map(([color, label]) => `<span><i class="swatch" style="background:${color}"></i>${esc(label)}</span>`).join('')}</div>`;
}

/** The two axes, with the count scale labelled at `top` (max) and the baseline (0). */
function yAxis(max: number, h: number, top: number): string {
  const y0 = h - PAD.bottom;
  return `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${y0}" stroke="${COLOR.axis}"/><line x1="${PAD.left}" y1="${y0}" x2="${W - PAD.right}" y2="${y0}" stroke="${COLOR.axis}"/>`
    + `<text x="${PAD.left - 6}" y="${top + 4}" text-anchor="end">${int(max)}</text><text x="${PAD.left - 6}" y="${y0}" text-anchor="end">0</text>`;
}

/** 0.1 rather than 0.100; the timeout bins keep their milliseconds. */
function short(s: number | null): string {
  return s === null ? '∞' : String(Number(s.toFixed(3)));
}

function timelineChart(report: Report): string {
  const tl = report.timeline;
  if (tl.buckets.length === 0) return '<p class="muted" id="timeline-chart">No handshake with a logged time.</p>';
  const H = 280;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const size = tl.bucketSeconds * 1000;
  const origin = Date.parse(tl.buckets[0]?.start ?? '');
  const span = tl.buckets.length * size;
  const x = (ms: number): number => PAD.left + ((ms - origin) / span) * plotW;
  const max = Math.max(1, ...tl.buckets.map((b) => b.handshakes));
  const y = (n: number): number => PAD.top + plotH - (n / max) * plotH;
  const bw = Math.max(1, plotW / tl.buckets.length - 1);
  const parts: string[] = [];
  for (const inc of tl.incidents) {
    const x0 = x(Date.parse(inc.start));
    const x1 = Math.max(x0 + 4, x(Date.parse(inc.end) + size));
    parts.push(`<rect class="incident" x="${x0.toFixed(1)}" y="${PAD.top}" width="${(x1 - x0).toFixed(1)}" height="${plotH}" fill="${COLOR.incident}"><title>incident ${esc(inc.start)} … ${esc(inc.end)}: ${int(inc.count)} failed</title></rect>`);
  }
  const line: string[] = [];
  tl.buckets.forEach((b, i) => {
    const bx = PAD.left + (i * plotW) / tl.buckets.length;
    const ok = b.handshakes - b.failed;
    const tip = `<title>${esc(b.start)}: ${int(b.handshakes)} handshakes, ${int(b.failed)} failed, ${int(b.downgraded)} as HTTP/1.0</title>`;
    if (ok > 0) parts.push(`<rect class="bar-ok" x="${bx.toFixed(1)}" y="${y(ok).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(ok)).toFixed(1)}" fill="${COLOR.ok}">${tip}</rect>`);
    if (b.failed > 0) parts.push(`<rect class="bar-failed" x="${bx.toFixed(1)}" y="${y(b.handshakes).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(ok) - y(b.handshakes)).toFixed(1)}" fill="${COLOR.failed}">${tip}</rect>`);
    line.push(`${(bx + bw / 2).toFixed(1)},${y(b.downgraded).toFixed(1)}`);
  });
  parts.push(`<polyline class="line-http10" points="${line.join(' ')}" fill="none" stroke="${COLOR.http10}" stroke-width="2"/>`);
  const ticks = [...new Set([0, Math.floor(tl.buckets.length / 2), tl.buckets.length - 1])];
  for (const i of ticks) {
    const b = tl.buckets[i];
    const anchor = i === 0 ? 'start' : i === tl.buckets.length - 1 ? 'end' : 'middle';
    if (b) parts.push(`<text x="${(PAD.left + ((i + (anchor === 'end' ? 1 : 0)) * plotW) / tl.buckets.length).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="${anchor}">${esc(b.start.replace('T', ' ').slice(0, 16))}</text>`);
  }
  parts.push(`<text x="${PAD.left}" y="${H - 8}">handshakes by start time (UTC), ${tl.bucketSeconds} s per bar</text>`);
  return `<svg class="chart" id="timeline-chart" role="img" aria-label="Handshakes over time by outcome" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${yAxis(max, H, PAD.top)}${parts.join('')}</svg>`
    + legend([[COLOR.ok, 'upgraded or not failed'], [COLOR.failed, 'failed (in a finding)'], [COLOR.http10, 'arrived as HTTP/1.0'], [COLOR.incident, 'incident window']]);
}

function histogramChart(bins: readonly HistogramBin[], timeouts: Report['timeouts']): string {
  if (bins.length === 0) return '<p class="muted" id="duration-histogram">No handshake with a logged request_time.</p>';
  const H = 300;
  const plotW = W - PAD.left - PAD.right;
  // Room above the bars for the timeout labels.
  const LABELS = 34;
  const plotH = H - PAD.top - PAD.bottom - LABELS;
  const max = Math.max(1, ...bins.map((b) => b.upgraded + b.failed));
  const y = (n: number): number => PAD.top + LABELS + plotH - (n / max) * plotH;
  const slot = plotW / bins.length;
  const bw = Math.max(2, slot * 0.7);
  const parts: string[] = [];
  bins.forEach((b, i) => {
    const sx = PAD.left + i * slot;
    const bx = sx + (slot - bw) / 2;
    const total = b.upgraded + b.failed;
    const range = durationRange(b.fromSeconds, b.toSeconds);
    if (b.timeout) {
      parts.push(`<rect class="timeout-bin" x="${sx.toFixed(1)}" y="${PAD.top}" width="${slot.toFixed(1)}" height="${(plotH + LABELS).toFixed(1)}" fill="${COLOR.timeout}" stroke="#f08c00"/>`);
      const t = timeouts.find((c) => c.seconds >= b.fromSeconds && (b.toSeconds === null || c.seconds < b.toSeconds));
      parts.push(`<text x="${(sx + slot / 2).toFixed(1)}" y="${PAD.top + 12}" text-anchor="middle" font-weight="700">timeout</text>`);
      parts.push(`<text x="${(sx + slot / 2).toFixed(1)}" y="${PAD.top + 25}" text-anchor="middle" font-weight="700">T ≈ ${secs(t?.seconds ?? b.fromSeconds)} s</text>`);
    }
    const tip = `<title>${esc(range)}: ${int(b.upgraded)} upgraded, ${int(b.failed)} failed${b.timeout ? ' (timeout cluster)' : ''}</title>`;
    if (b.upgraded > 0) parts.push(`<rect class="bar-ok" x="${bx.toFixed(1)}" y="${y(b.upgraded).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(b.upgraded)).toFixed(1)}" fill="${COLOR.ok}">${tip}</rect>`);
    if (b.failed > 0) parts.push(`<rect class="bar-failed" x="${bx.toFixed(1)}" y="${y(total).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(b.upgraded) - y(total)).toFixed(1)}" fill="${COLOR.failed}">${tip}</rect>`);
    if (total > 0) parts.push(`<text x="${(sx + slot / 2).toFixed(1)}" y="${(y(total) - 3).toFixed(1)}" text-anchor="middle">${int(total)}</text>`);
    parts.push(`<text x="${(sx + slot / 2).toFixed(1)}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="10">${short(b.fromSeconds)}–${short(b.toSeconds)}</text>`);
  });
  parts.push(`<text x="${PAD.left}" y="${H - 8}">request_time in seconds; bins widen with duration (roughly logarithmic), and each timeout cluster is a bin of its own</text>`);
  return `<svg class="chart" id="duration-histogram" role="img" aria-label="Handshake durations with timeout clusters" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${yAxis(max, H, y(max))}${parts.join('')}</svg>`
    + legend([[COLOR.ok, 'upgraded (101)'], [COLOR.failed, 'not upgraded'], [COLOR.timeout, 'timeout cluster']]);
}
