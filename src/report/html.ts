/*!
 * --output html: one self-contained page (inline CSS, inline SVG drawn here; no script, no fetch,
 * no external font, and a Content-Security-Policy that forbids all three) with the verdict and
 * the fix, the findings, a timeline of handshakes by outcome with the incident windows shaded, a
 * request_time histogram with the timeout clusters highlighted, and the tables of
 * report/sections.ts. Laid out for a desktop and a phone alike: the SVG holds only shapes, which
 * stretch, while every label is page text; wide tables and log lines scroll in their own box.
 * Every piece of log text goes through esc().
 */
import type { Finding, HistogramBin, Report } from './model.js';
import { cellText, cellTone, durationRange, findingFacts, fixView, notLoggedLine, sameInputsLine, sections, summaryLine, type Cell, type FixView } from './sections.js';
import { decimal, int, plural, secs, visible } from './text.js';
import { axisTime, span, stamp, zoneName, zoneOf, type Zone } from './time.js';

export interface HtmlOptions {
  /** Findings and rows per table (default 20). */
  top?: number;
  /** Times in UTC rather than in the log's own UTC offset. */
  utc?: boolean;
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value: markup characters as references, control bytes made visible. */
export function esc(text: string): string {
  return visible(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const COLOR = { ok: '#2f9e44', failed: '#d9480f', http10: '#f59f00', incident: 'rgba(217,72,15,0.13)', timeout: '#fff3bf', axis: '#868e96' } as const;

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#212529;background:#fff;overflow-wrap:break-word}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}h3{font-size:16px;margin:0 0 8px}
.verdict{border-left:6px solid ${COLOR.axis};background:#f8f9fa;padding:12px 16px;font-size:15px}
.verdict.critical{border-color:#c92a2a;background:#fff5f5}.verdict.warning{border-color:#e67700;background:#fff9db}.verdict.ok{border-color:#2b8a3e;background:#ebfbee}
.sev{display:inline-block;font-weight:700;font-size:12px;padding:1px 6px;border-radius:3px;color:#fff;background:${COLOR.axis};margin-right:6px}
.sev.critical{background:#c92a2a}.sev.warning{background:#e67700}.sev.ok{background:#2b8a3e}
.finding{border:1px solid #dee2e6;border-radius:6px;padding:12px 16px;margin:12px 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:6px 0 4px;font-size:13px}th,td{border:1px solid #dee2e6;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f1f3f5}
td.bad{color:#c92a2a;font-weight:600}td.good{color:#2b8a3e}td.prose{min-width:16em}
pre{background:#f8f9fa;border:1px solid #e9ecef;padding:8px;overflow-x:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
.chart{margin:8px 0 4px;font-size:12px;color:#495057}
.plot{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 6px}
.plot svg{grid-column:2;grid-row:1;width:100%;height:220px;display:block;border-left:1px solid ${COLOR.axis};border-bottom:1px solid ${COLOR.axis}}
.yaxis{grid-column:1;grid-row:1;display:flex;flex-direction:column;justify-content:space-between;text-align:right}
.xaxis{grid-column:2;grid-row:2;display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 12px}
.caption{color:#868e96;margin:2px 0 0}
table.hist{width:100%;margin:0}table.hist td{border:0;padding:2px 6px;vertical-align:middle}
.hist .range{text-align:right;white-space:nowrap;width:1%}.hist .count{white-space:nowrap;width:1%}
.hist .track{display:flex;height:14px}.hist .track span{display:block;height:100%}
.hist tr.timeout-bin{background:${COLOR.timeout};outline:1px solid #f08c00}
.hist .tlabel{display:block;font-weight:700}
.legend{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.muted{color:#868e96;font-size:12px}
@media (max-width:600px){body{padding:12px}}
`;

export function renderHtml(report: Report, opts: HtmlOptions): string {
  const top = opts.top ?? 20;
  const zone = zoneOf(report, opts.utc);
  const fixes = fixView(report);
  const v = report.verdict;
  const body: string[] = [];
  body.push('<h1>wsdiag report</h1>');
  body.push(`<div class="verdict ${esc(v.severity)}" id="verdict"><span class="sev ${esc(v.severity)}">${esc(v.severity.toUpperCase())}</span>${esc(v.headline)}</div>`);
  if (v.fix !== null) body.push(`<p id="fix"><strong>Fix.</strong> ${esc(v.fix)}</p>`);
  if (fixes.verdictConfig !== null) body.push(config(fixes.verdictConfig));
  const tr = report.meta.timeRange;
  body.push(`<p>${esc(summaryLine(report, zone))}${tr.start ? `<br>Time range: ${esc(span(tr.start, tr.end, zone))}` : ''}</p>`);
  if (report.meta.partial) body.push('<p class="verdict warning"><strong>Partial report:</strong> not every input was read to the end.</p>');
  const same = sameInputsLine(report);
  if (same !== null) body.push(`<p class="verdict warning"><strong>Warning:</strong> ${esc(same)}.</p>`);
  const unlogged = notLoggedLine(report);
  if (unlogged !== null) body.push(`<p class="muted"><strong>Note:</strong> ${esc(unlogged)}</p>`);
  if (report.meta.clientsFolded) body.push('<p class="muted">More client addresses than kept one by one: the rest are counted as (other).</p>');

  body.push('<h2>Timeline</h2>', timelineChart(report, zone));
  body.push('<h2>Handshake durations</h2>', histogramChart(report.histogram, report.timeouts));

  if (report.findings.length > 0) {
    body.push('<h2>Findings</h2>');
    report.findings.slice(0, top).forEach((f, i) => body.push(finding(f, i, fixes.findings[i], zone)));
    if (report.findings.length > top) body.push(`<p class="muted">… ${esc(plural(report.findings.length - top, 'more finding'))} (raise --top)</p>`);
  }
  const ids = new Map<string, number>();
  for (const s of sections(report, top, zone)) {
    // A section id can repeat (one client table per tier): the second is table-clients-2, and so on.
    const n = (ids.get(s.id) ?? 0) + 1;
    ids.set(s.id, n);
    body.push(`<h2>${esc(s.title)}</h2>`, `<div class="scroll"><table id="table-${s.id}${n > 1 ? `-${n}` : ''}"><thead><tr>${s.columns.map((c) => `<th>${esc(c.title)}</th>`).join('')}</tr></thead><tbody>`);
    for (const r of s.rows) {
      // Prose columns keep a readable width when the table is squeezed into a phone's screen.
      const classes = (c: Cell, j: number): string => [cellTone(c), s.columns[j]?.note ? 'prose' : undefined].filter(Boolean).join(' ');
      body.push(`<tr>${r.map((c, j) => `<td${classes(c, j) ? ` class="${classes(c, j)}"` : ''}>${cellText(c).split('\n').map(esc).join('<br>')}</td>`).join('')}</tr>`);
    }
    body.push('</tbody></table></div>');
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

function config(text: string): string {
  return `<pre class="nginx-config"><code>${text.split('\n').map(esc).join('\n')}</code></pre>`;
}

function finding(f: Finding, i: number, fx: FixView['findings'][number] | undefined, zone: Zone): string {
  const out = [`<section class="finding" id="finding-${i}" data-finding-id="${esc(f.id)}">`];
  out.push(`<h3><span class="sev ${esc(f.severity)}">${esc(f.severity.toUpperCase())}</span><code>${esc(f.id)}</code> — ${esc(f.title)}</h3>`);
  out.push(`<div class="scroll"><table class="facts">${findingFacts(f, zone).map(([k, val]) => `<tr><th>${esc(k)}</th><td>${esc(val)}</td></tr>`).join('')}</table></div>`);
  out.push(`<p><strong>Why.</strong> ${esc(f.explanation)}</p>`, `<p><strong>Fix.</strong> ${fx?.fix === null ? 'The fix under the verdict, above.' : esc(f.fix)}</p>`);
  if (fx?.config) out.push(config(fx.config));
  else if (fx?.configShown && fx.fix !== null) out.push('<p class="muted">nginx.conf: the snippet above.</p>');
  if (f.evidence.length > 0) {
    out.push(`<p><strong>Evidence</strong> (${esc(plural(f.evidence.length, 'line'))} of ${int(f.count)}):</p>`);
    out.push(`<pre class="evidence">${f.evidence.map((e) => `<code>${esc(`${e.file}:${e.line}`)}</code>: ${esc(e.text)}`).join('\n')}</pre>`);
  }
  out.push('</section>');
  return out.join('\n');
}

function legend(items: [string, string][]): string {
  return `<div class="legend">${items.map(([color, label]) => `<span><i class="swatch" style="background:${color}"></i>${esc(label)}</span>`).join('')}</div>`;
}

/** 0.1 rather than 0.100, 1,800 rather than 1800.000; the timeout bins keep their milliseconds. */
function short(s: number | null): string {
  return s === null ? '∞' : decimal(s);
}

/**
 * Handshakes per time bucket, stacked upgraded/failed, HTTP/1.0 as a line, incident windows
 * shaded. The SVG (a fixed 1000×200 user space stretched to the page's width) holds only shapes;
 * the count scale, the time axis and the caption are page text beside it, so nothing in it is
 * scaled down to an unreadable size on a phone, and no label can be drawn over another.
 */
function timelineChart(report: Report, zone: Zone): string {
  const tl = report.timeline;
  if (tl.buckets.length === 0) return '<p class="muted" id="timeline-chart">No handshake with a logged time.</p>';
  const W = 1000;
  const H = 200;
  const size = tl.bucketSeconds * 1000;
  const origin = Date.parse(tl.buckets[0]?.start ?? '');
  const n = tl.buckets.length;
  const x = (ms: number): number => ((ms - origin) / (n * size)) * W;
  const max = Math.max(1, ...tl.buckets.map((b) => b.handshakes));
  const y = (count: number): number => H - (count / max) * H;
  const slot = W / n;
  const bw = Math.max(0.5, slot * 0.9);
  const parts: string[] = [];
  for (const inc of tl.incidents) {
    const x0 = x(Date.parse(inc.start));
    const x1 = Math.max(x0 + 3, x(Date.parse(inc.end) + size));
    parts.push(`<rect class="incident" x="${x0.toFixed(1)}" y="0" width="${(x1 - x0).toFixed(1)}" height="${H}" fill="${COLOR.incident}"><title>incident ${esc(stamp(inc.start, zone))} … ${esc(stamp(inc.end, zone))}: ${int(inc.count)} failed</title></rect>`);
  }
  const line: string[] = [];
  tl.buckets.forEach((b, i) => {
    const bx = i * slot;
    const ok = b.handshakes - b.failed;
    const tip = `<title>${esc(stamp(b.start, zone))}: ${int(b.handshakes)} handshakes, ${int(b.failed)} failed, ${int(b.downgraded)} as HTTP/1.0</title>`;
    if (ok > 0) parts.push(`<rect class="bar-ok" x="${bx.toFixed(1)}" y="${y(ok).toFixed(1)}" width="${bw.toFixed(1)}" height="${(H - y(ok)).toFixed(1)}" fill="${COLOR.ok}">${tip}</rect>`);
    if (b.failed > 0) parts.push(`<rect class="bar-failed" x="${bx.toFixed(1)}" y="${y(b.handshakes).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(ok) - y(b.handshakes)).toFixed(1)}" fill="${COLOR.failed}">${tip}</rect>`);
    line.push(`${(bx + bw / 2).toFixed(1)},${y(b.downgraded).toFixed(1)}`);
  });
  parts.push(`<polyline class="line-http10" points="${line.join(' ')}" fill="none" stroke="${COLOR.http10}" stroke-width="2" vector-effect="non-scaling-stroke"/>`);
  const ticks = [...new Set([0, Math.floor(n / 2), n - 1])].map((i) => tl.buckets[i]?.start).filter((t): t is string => t !== undefined);
  const svg = `<svg class="chart" id="timeline-chart" role="img" aria-label="Handshakes over time by outcome" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
  return `<figure class="chart" id="timeline"><div class="plot"><div class="yaxis"><span>${int(max)}</span><span>0</span></div>${svg}`
    + `<div class="xaxis">${ticks.map((t) => `<span>${esc(axisTime(t, zone))}</span>`).join('')}</div></div>`
    + `<p class="caption">handshakes by start time (${esc(zoneName(zone))}), ${esc(int(tl.bucketSeconds))} s per bar</p>`
    + `${legend([[COLOR.ok, 'upgraded or not failed'], [COLOR.failed, 'failed (in a finding)'], [COLOR.http10, 'arrived as HTTP/1.0'], [COLOR.incident, 'incident window']])}</figure>`;
}

/**
 * One row per request_time bin: its range, a bar (upgraded, then failed) as wide as its share of
 * the largest bin, and the count. Timeout clusters are bins of their own, highlighted and labelled
 * with their T. Page text throughout, so it reads the same on a phone.
 */
function histogramChart(bins: readonly HistogramBin[], timeouts: Report['timeouts']): string {
  if (bins.length === 0) return '<p class="muted" id="duration-histogram">No handshake with a logged request_time.</p>';
  const max = Math.max(1, ...bins.map((b) => b.upgraded + b.failed));
  const pctOf = (n: number): string => `${((n / max) * 100).toFixed(2)}%`;
  const rows = bins.map((b) => {
    const total = b.upgraded + b.failed;
    const range = b.timeout ? durationRange(b.fromSeconds, b.toSeconds) : `${short(b.fromSeconds)}–${short(b.toSeconds)} s`;
    const t = b.timeout ? timeouts.find((c) => c.seconds >= b.fromSeconds && (b.toSeconds === null || c.seconds < b.toSeconds)) : undefined;
    const label = b.timeout ? `<span class="tlabel">timeout T ≈ ${secs(t?.seconds ?? b.fromSeconds)} s</span>` : '';
    const tip = `${durationRange(b.fromSeconds, b.toSeconds)}: ${int(b.upgraded)} upgraded, ${int(b.failed)} failed${b.timeout ? ' (timeout cluster)' : ''}`;
    const bars = (b.upgraded > 0 ? `<span class="bar-ok" style="width:${pctOf(b.upgraded)};background:${COLOR.ok}"></span>` : '')
      + (b.failed > 0 ? `<span class="bar-failed" style="width:${pctOf(b.failed)};background:${COLOR.failed}"></span>` : '');
    return `<tr${b.timeout ? ' class="timeout-bin"' : ''} title="${esc(tip)}"><td class="range">${label}${esc(range)}</td><td><div class="track">${bars}</div></td><td class="count">${int(total)}</td></tr>`;
  });
  return `<figure class="chart" id="duration-histogram"><table class="hist" aria-label="Handshake durations with timeout clusters"><tbody>${rows.join('')}</tbody></table>`
    + '<p class="caption">request_time in seconds, one row per bin; bins widen with duration (roughly logarithmic), and each timeout cluster is a bin of its own</p>'
    + `${legend([[COLOR.ok, 'upgraded (101)'], [COLOR.failed, 'not upgraded'], [COLOR.timeout, 'timeout cluster']])}</figure>`;
}
