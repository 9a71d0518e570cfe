/*!
 * The report's tables as plain rows of text, decided once for every human-readable renderer
 * (terminal, Markdown, HTML): which tables, which columns, how numbers read. Renderers only lay
 * them out and escape the text for their medium. Log text passes through unchanged here.
 */
import type { FitColumn } from './fit.js';
import type { ClientRow, DurationSummary, Finding, OutcomeCounts, Percentile, Report, TierClients } from './model.js';
import { attempts, int, pct, plural, secs } from './text.js';
import { endStamp, span, stamp, type Zone } from './time.js';

/** A cell: text, or text with a tone the renderer may colour. */
export type Cell = string | { text: string; tone: 'bad' | 'good' };

/**
 * A column: its title, and for a narrow terminal a shorter title, when to leave it out (`drop`,
 * highest first) and whether its cells are long prose better read as footnotes (`note`).
 */
export type Column = FitColumn;

export interface Section {
  id: 'protocol-status' | 'clients' | 'upstreams' | 'paths' | 'timeouts' | 'incidents' | 'timeline' | 'histogram' | 'traced' | 'inputs' | 'unparsed';
  title: string;
  columns: Column[];
  rows: Cell[][];
  /** Rows left out by --top. */
  omitted: number;
  /**
   * Whether the table singles something out that the findings do not say: for the outcome tables,
   * some names fail where others do not. A compact report shows such tables.
   */
  notable?: boolean;
}

export function cellText(c: Cell): string {
  return typeof c === 'string' ? c : c.text;
}

export function cellTone(c: Cell): 'bad' | 'good' | undefined {
  return typeof c === 'string' ? undefined : c.tone;
}

/** Columns from titles; `more` adds the narrow-terminal hints by title. */
function cols(titles: string[], more: Record<string, Omit<Column, 'title'>> = {}): Column[] {
  return titles.map((title) => ({ title, ...more[title] }));
}

function section(id: Section['id'], title: string, columns: Column[], all: Cell[][], top: number): Section {
  return { id, title, columns, rows: all.slice(0, top), omitted: Math.max(0, all.length - top) };
}

export function durationRange(from: number, to: number | null): string {
  return `${secs(from)}–${to === null ? '∞' : secs(to)} s`;
}

/** What a tier's clients are: load-balancer nodes at the first tier, the addresses of the tier in front behind it. */
function tierTitle(t: TierClients): string {
  return t.tier === 1
    ? `Client addresses in ${t.input} (first tier: load-balancer nodes)`
    : `Client addresses in ${t.input} (tier ${int(t.tier)}: addresses of the tier in front, e.g. front nginx)`;
}

function clients(title: string, rows: readonly ClientRow[], top: number): Section {
  return section('clients', title,
    cols(['client', 'requests', 'HTTP/1.0 share', 'handshakes', 'as HTTP/1.0', 'upgraded', 'failed', 'assessment'], {
      requests: { short: 'reqs', drop: 3 }, 'HTTP/1.0 share': { short: '1.0 %', drop: 4 }, handshakes: { short: 'ws' }, 'as HTTP/1.0': { short: 'ws 1.0' },
      upgraded: { short: 'ws 101', drop: 2 }, assessment: { drop: 1 },
    }),
    rows.map((c) => [c.client, int(c.total), pct(c.http10Share), int(c.handshakes), int(c.handshakesHttp10), int(c.upgraded), int(c.failed), { text: c.assessment, tone: c.assessment === 'healthy' ? 'good' : 'bad' }]), top);
}

/**
 * A table of handshake outcomes by a name (upstream, path): the input column only with several
 * inputs, the `2xx/other` column only when some row has one.
 */
function outcomes(id: Section['id'], title: string, what: string, rows: [string, OutcomeCounts & { input: string }][], several: boolean, top: number): Section {
  const other = rows.some(([, r]) => r.other > 0);
  const titles = [what, ...(several ? ['input'] : []), 'handshakes', 'upgraded', 'failed', '3xx', '4xx', '499/408', '5xx', ...(other ? ['other'] : [])];
  const cells = rows.map(([name, r]): Cell[] => [
    name, ...(several ? [r.input] : []), int(r.handshakes), int(r.upgraded), r.failed > 0 ? { text: int(r.failed), tone: 'bad' } : '0',
    int(r.redirected), int(r.rejected), int(r.gaveUp), int(r.serverError), ...(other ? [int(r.other)] : []),
  ]);
  const notable = rows.some(([, r]) => r.failed > 0) && rows.some(([, r]) => r.failed === 0 && r.handshakes > 0);
  return { ...section(id, title, cols(titles, { handshakes: { short: 'ws' }, upgraded: { short: '101' }, input: { drop: 5 }, other: { drop: 4 }, '3xx': { drop: 3 }, '4xx': { drop: 2 }, '5xx': { drop: 1 } }), cells, top), notable };
}

/** A percentile in seconds, `≈` before it when it fell in a bin wider than a millisecond. */
export function percentile(d: DurationSummary, p: Percentile): string {
  return `${d.approximatePercentiles?.includes(p) ? '≈' : ''}${secs(d[p])}`;
}

/** Every table of the report, in reading order, times shown in `zone`; empty tables left out. */
export function sections(report: Report, top: number, zone: Zone): Section[] {
  const out: Section[] = [];
  const h = report.handshakes;
  out.push(section('protocol-status', 'Handshakes by protocol and status',
    cols(['protocol', 'status', 'count', 'share', 'p50 s', 'p90 s', 'p99 s', 'max s'], { 'p90 s': { drop: 4 }, share: { drop: 3 }, 'p50 s': { drop: 2 }, 'p99 s': { drop: 1 } }),
    h.byProtocolStatus.map((r) => [r.protocol, String(r.status), int(r.count), pct(r.share), percentile(r.durations, 'p50'), percentile(r.durations, 'p90'), percentile(r.durations, 'p99'), secs(r.durations.max)]), top));
  // One table per tier when there are several inputs: each tier's clients are different things.
  if (h.byTier.length > 0) for (const t of h.byTier) out.push(clients(tierTitle(t), t.byClient, top));
  else out.push(clients('Client addresses (at the first tier: load-balancer nodes)', h.byClient, top));
  const several = report.meta.inputs.length > 1;
  out.push(outcomes('upstreams', 'Handshakes by upstream (the peer that answered; - : nginx answered itself)', 'upstream', h.byUpstream.map((r) => [r.upstream, r]), several, top));
  out.push(outcomes('paths', 'Handshakes by path (query strings left out)', 'path', h.byPath.map((r) => [r.path, r]), several, top));
  out.push(section('timeouts', `Timeouts (${report.meta.timeoutSource === 'option' ? 'from --timeout' : 'inferred from request_time clusters'})`,
    cols(['T s', 'count', 'spread ms', 'series', 'statuses', 'likely cause'], { 'spread ms': { short: 'ms', drop: 1 }, 'likely cause': { note: true } }),
    report.timeouts.map((c) => [secs(c.seconds), int(c.count), int(c.spreadMs), c.series, Object.entries(c.statuses).map(([st, n]) => `${st}×${int(n)}`).join(' '), c.likelyCause]), top));
  const tl = report.timeline;
  out.push(section('incidents', 'Incident windows (by handshake start time)',
    cols(['start', 'end', 'failed handshakes', 'top clients'], { 'failed handshakes': { short: 'failed' } }),
    tl.incidents.map((i) => [stamp(i.start, zone), endStamp(i.start, i.end, zone), int(i.count), i.clients.join(', ')]), top));
  out.push(section('timeline', `Timeline (handshakes by start time, ${int(tl.bucketSeconds)} s buckets with failures)`,
    cols(['bucket start', 'handshakes', 'failed', 'as HTTP/1.0'], { 'as HTTP/1.0': { short: '1.0' } }),
    tl.buckets.filter((b) => b.failed > 0 || b.downgraded > 0).map((b) => [stamp(b.start, zone), int(b.handshakes), b.failed > 0 ? { text: int(b.failed), tone: 'bad' } : '0', int(b.downgraded)]), top));
  out.push(section('histogram', 'Handshake durations (timeout clusters marked)', cols(['request_time', 'upgraded', 'failed', 'timeout cluster']),
    report.histogram.map((b) => [durationRange(b.fromSeconds, b.toSeconds), int(b.upgraded), int(b.failed), b.timeout ? { text: 'yes', tone: 'bad' } : '']), Infinity));
  const c = report.correlation;
  // file:line stays unformatted: it is an address to open, not a count.
  out.push(section('traced', `Keys traced across inputs (${int(c.multiTier)} of ${int(c.keys)} keys seen in several inputs)`, cols(['Sec-WebSocket-Key', 'seen at']),
    c.traced.map((k) => [k.key, k.sightings.map((si) => `${si.file}:${si.line} ${si.protocol} ${si.status} ${secs(si.durationSeconds)} s`).join('\n')]), top));
  out.push(section('inputs', 'Inputs not read to the end', cols(['input', 'status', 'lines analysed', 'why']),
    report.meta.inputs.filter((i) => i.status !== 'read').map((i) => [i.name, { text: i.status, tone: 'bad' }, int(i.lines), i.error?.message ?? '']), Infinity));
  const l = report.lines;
  out.push(section('unparsed', `Lines that did not match the format (${int(l.unparsed)}; first ${int(l.samples.length)} kept)`, cols(['file:line', 'reason', 'text']),
    l.samples.map((si) => [`${si.file}:${si.line}`, si.reason, si.text]), Infinity));
  return out.filter((x) => x.rows.length > 0);
}

/** A finding's facts as label → value pairs, in reading order, times shown in `zone`. */
export function findingFacts(f: Finding, zone: Zone): [string, string][] {
  // Attempts (a handshake logged by several tiers counts once), with the log lines where they differ.
  const facts: [string, string][] = [['count', f.missedAtMost === undefined ? attempts(f) : `≈${attempts(f)} (up to ${int(f.missedAtMost)} more may have been missed: keys forgotten to bound memory)`]];
  if (f.timeoutSeconds !== undefined) facts.push(['timeout T', `≈${secs(f.timeoutSeconds)} s`]);
  if (f.firstSeen) facts.push(['seen', span(f.firstSeen, f.lastSeen, zone)]);
  const breakdown = Object.entries(f.breakdown);
  if (breakdown.length > 0) facts.push(['outcomes', breakdown.map(([k, n]) => `${k} ×${int(n)}`).join('; ')]);
  if (f.clients.length > 0) facts.push(['clients', `${f.clients.slice(0, 8).map((c) => `${c.client} (${int(c.count)})`).join(', ')}${f.clients.length > 8 ? `, … (${int(f.clients.length)} in all)` : ''}`]);
  return facts;
}

/** "3 of 4 read to the end; 1 skipped" when some input was not read to the end, else null. */
export function inputsLine(report: Report): string | null {
  const inputs = report.meta.inputs;
  const notRead = inputs.filter((i) => i.status !== 'read');
  if (notRead.length === 0) return null;
  const skipped = notRead.filter((i) => i.status === 'skipped').length;
  const parts = [skipped > 0 ? `${int(skipped)} skipped` : '', notRead.length > skipped ? `${int(notRead.length - skipped)} read part-way` : ''];
  return `inputs: ${int(inputs.length - notRead.length)} of ${int(inputs.length)} read to the end; ${parts.filter(Boolean).join(', ')} (see "Inputs not read to the end")`;
}

/** Per input whose format auto-detection built from a known one plus appended fields: what it assumed. */
export function assumedFieldsLines(report: Report): string[] {
  return report.meta.inputs.flatMap((i) => {
    const a = i.assumed;
    if (a === null) return [];
    const one = a.fields.length === 1;
    return [`${i.name}: "${a.base}" followed by ${one ? 'a field' : `${a.fields.length} fields`} read from ${one ? 'its value' : 'their values'}, assumed to be ${a.fields.join(' ')} (if not, give the log_format with --log-format)`];
  });
}

/** A warning when some input holds the same lines as an earlier one (the same log given twice), else null. */
export function sameInputsLine(report: Report): string | null {
  const same = report.meta.inputs.filter((i) => i.sameAs !== null);
  if (same.length === 0) return null;
  const pairs = same.map((i) => `${i.name} holds the same lines as ${i.sameAs}`).join('; ');
  return `${pairs}: both were read, so every count includes those lines twice (give only one of them)`;
}

/** What the logs do not record and the log_format line that adds it (once per report), else null. */
export function notLoggedLine(report: Report): string | null {
  const n = report.meta.notLogged;
  if (n === null) return null;
  const durations = n.variables.includes('$request_time') ? ': request durations are not logged, so no timeout can be inferred and no failure dated to one' : '';
  return `not logged: ${n.variables.join(', ')}${durations}. To log them: ${n.logFormat} (and access_log … wsdiag;)`;
}

/** Report totals in one sentence (and the --since/--until window, when one was given). */
export function summaryLine(report: Report, zone: Zone): string {
  const l = report.lines;
  const hs = report.handshakes;
  const w = report.meta.window;
  const window = w.since !== null || w.until !== null ? `; window ${w.since === null ? 'start' : stamp(w.since, zone)} … ${w.until === null ? 'end' : stamp(w.until, zone)}, ${plural(l.filtered, 'parsed line')} outside it left out` : '';
  return `${plural(l.total, 'line')} read, ${int(l.parsed)} parsed, ${int(l.unparsed)} unparsed; ${plural(hs.total, 'WebSocket handshake')} (${int(hs.upgraded)} upgraded); formats: ${report.meta.formats.map((f) => `${f.name} (${int(f.lines)})`).join(', ') || 'none'}${window}`;
}

/**
 * What the fix parts of a report show, so that one text is printed once: the verdict's fix with
 * the top finding's nginx.conf snippet, then per finding (in order) its fix unless it is the
 * verdict's, and its snippet unless an earlier part showed the same one.
 */
export interface FixView {
  verdictConfig: string | null;
  findings: { fix: string | null; config: string | null; configShown: boolean }[];
}

export function fixView(report: Report): FixView {
  const fix = report.verdict.fix;
  const top = report.findings[0];
  const verdictConfig = fix !== null && top?.fix === fix ? (top.nginxConfig ?? null) : null;
  const shown = new Set<string>(verdictConfig === null ? [] : [verdictConfig]);
  const findings = report.findings.map((f) => {
    const config = f.nginxConfig === undefined || shown.has(f.nginxConfig) ? null : f.nginxConfig;
    if (config !== null) shown.add(config);
    return { fix: f.fix === fix ? null : f.fix, config, configShown: f.nginxConfig !== undefined && config === null };
  });
  return { verdictConfig, findings };
}
