/*!
 * Tally + Diagnosis → Report: the verdict, the tables (protocol × status, clients), the timeline
 * with incident windows, the duration histogram with the timeout clusters as their own bins, and
 * keys traced across inputs. Every number comes from the exact counts (core/counts.ts); findings
 * get their words from report/prose.ts. Pure: no I/O, no formatting for any one renderer.
 */
import { PROTOCOL_NAMES } from '../core/classify.js';
import { BUCKET_LADDER_S } from '../core/counts.js';
import type { Diagnosis, FindingData } from '../core/diagnose.js';
import { DurationHistogram, FINE, type Quantile } from '../core/grid.js';
import { KEY_WINDOW_MS, type TracedKeyCounts } from '../core/keys.js';
import { byName, countAtMost } from '../core/lists.js';
import { NO_NAME, Outcome, type OutcomeTable } from '../core/outcomes.js';
import type { PipelineResult } from '../core/pipeline.js';
import type { TallyView as Tally } from '../core/tally.js';
import { notLogged } from './logging.js';
import { likelyCause, proseOf } from './prose.js';
import { clientRows, clientsOf, downgradingInputs, tierClients, tiersOf, type Tiers } from './tiers.js';
import { attachHandshakeRows } from './rows.js';
import { attempts, int, plural } from './text.js';
import {
  SCHEMA_VERSION, type DurationSummary, type Finding, type HandshakeRow, type HistogramBin, type Incident, type OutcomeCounts, type Percentile, type Report,
  type TimelineBucket, type TracedKey,
} from './model.js';

export interface BuildOptions {
  version: string;
  timeoutSource: 'inferred' | 'option';
  /** Rows kept in the per-client, per-upstream and per-path tables of the JSON report. */
  maxClients?: number;
}

const MAX_BUCKETS = 60;
const HISTOGRAM_EDGES_S = [0, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600];

export function iso(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function buildReport(t: Tally, d: Diagnosis, p: PipelineResult, opts: BuildOptions): Report {
  const c = t.counts;
  const names = p.inputs.map((i) => i.name);
  const lines = p.inputs.reduce(
    (a, i) => ({ total: a.total + i.lines, parsed: a.parsed + i.parsed, unparsed: a.unparsed + i.unparsed, empty: a.empty + i.empty, filtered: a.filtered + i.filtered }),
    { total: 0, parsed: 0, unparsed: 0, empty: 0, filtered: 0 },
  );
  const formatLines = new Map<string, number>();
  for (const i of p.inputs) for (const [name, n] of Object.entries(i.formats)) formatLines.set(name, (formatLines.get(name) ?? 0) + n);

  // Protocol × status over every input and flag, with the exact durations of each.
  const groups = new Map<number, { protocol: number; status: number; count: number; durations: DurationHistogram[] }>();
  for (const g of c.groups.values()) {
    const k = g.protocol * 1000 + g.status;
    let row = groups.get(k);
    if (row === undefined) groups.set(k, (row = { protocol: g.protocol, status: g.status, count: 0, durations: [] }));
    row.count += g.count;
    row.durations.push(g.durations);
  }
  let upgraded = 0;
  const byProtocolStatus = [...groups.values()]
    .sort((a, b) => b.count - a.count || a.protocol - b.protocol || a.status - b.status)
    .map((g) => {
      if (g.status === 101) upgraded += g.count;
      return { protocol: PROTOCOL_NAMES[g.protocol] ?? 'unknown', status: g.status, count: g.count, share: round(g.count / Math.max(1, c.handshakes)), durations: summary(DurationHistogram.sumOf(g.durations)) };
    });

  const maxRows = opts.maxClients ?? 1000;
  const byClient = clientRows(c, () => true, maxRows);
  const tiers = tiersOf(names.length, t.keys.counts);

  const findings = causesFirst(d.findings.map((f) => toFinding(f, names, tiers)));
  const frontTier = (i: number): boolean => tiers.tier[i] === 1;
  const report: Report = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'wsdiag', version: opts.version },
    meta: {
      inputs: p.inputs.map((i) => ({ ...i, formats: { ...i.formats }, status: i.error === null ? 'read' as const : i.parsed === 0 ? 'skipped' as const : 'partial' as const })),
      formats: p.used.map((f) => ({ name: f.name, escape: f.escape, text: f.text, lines: formatLines.get(f.name) ?? 0 })),
      timeRange: { start: iso(c.firstMs), end: iso(c.lastMs) },
      window: { since: p.sinceMs === undefined ? null : iso(p.sinceMs), until: p.untilMs === undefined ? null : iso(p.untilMs) },
      partial: p.partial,
      clientsFolded: c.clientsCapped,
      notLogged: notLogged(p.used.map((f) => ({ format: f, lines: formatLines.get(f.name) ?? 0 })), c.handshakes, [...c.groups.values()].some((g) => g.durations.count > 0)),
      timeoutSource: opts.timeoutSource,
      utcOffsetMinutes: p.utcOffsetMinutes,
    },
    lines: { ...lines, samples: p.bad.samples.map((s) => ({ ...s })) },
    verdict: verdict(findings, c.handshakes, lines, { names, tiers, downgrading: downgradingInputs(c), frontClients: clientsOf(c, frontTier) }),
    requests: { total: c.requests, http10: c.requestsHttp10 },
    handshakes: {
      total: c.handshakes, upgraded, failed: c.handshakes - upgraded, byProtocolStatus, byClient,
      byUpstream: c.byUpstream.names.some((n) => n !== NO_NAME) ? outcomeRows(c.byUpstream, names, 'upstream', maxRows) : [],
      byPath: outcomeRows(c.byPath, names, 'path', maxRows),
      byTier: tierClients(c, tiers, names, maxRows),
    },
    timeouts: d.timeouts.map((x) => ({
      seconds: x.cluster.centerMs / 1000, count: x.cluster.count, minSeconds: x.cluster.loMs / 1000, maxSeconds: x.cluster.hiMs / 1000,
      spreadMs: x.cluster.hiMs - x.cluster.loMs, series: x.series, source: x.source, statuses: x.statuses, protocols: x.protocols, likelyCause: likelyCause(x),
      ...(x.cluster.approximate ? { approximate: true as const } : {}),
    })),
    findings,
    correlation: correlation(t, names, tiers),
    timeline: timeline(t, d),
    histogram: histogram(t, d),
  };
  const rows = t.rows;
  if (rows !== undefined) attachHandshakeRows(report, () => handshakeRows(t, d, names));
  return report;
}

/** An outcome table's (input, name) rows, most failures first, the name under `field`. */
function outcomeRows<K extends 'upstream' | 'path'>(t: OutcomeTable, inputs: readonly string[], field: K, max: number): (OutcomeCounts & { input: string } & Record<K, string>)[] {
  return t.rows.map((r) => {
    const n = (o: Outcome): number => r.counts[o] as number;
    const handshakes = r.counts.reduce((a, b) => a + b, 0);
    const counts: OutcomeCounts = {
      handshakes, upgraded: n(Outcome.UPGRADED), failed: handshakes - n(Outcome.UPGRADED), redirected: n(Outcome.REDIRECTED),
      rejected: n(Outcome.REJECTED), gaveUp: n(Outcome.GAVE_UP), serverError: n(Outcome.SERVER_ERROR), other: n(Outcome.OTHER),
    };
    return { input: inputs[r.input] ?? '?', [field]: t.names[r.name] ?? '?', ...counts } as OutcomeCounts & { input: string } & Record<K, string>;
  }).sort((a, b) => b.failed - a.failed || b.handshakes - a.handshakes || byName(a.input, b.input) || byName(a[field], b[field])).slice(0, max);
}

/** Exact percentiles from the FINE histogram (marked approximate past 65.5 s, where its bins are wider than 1 ms). */
function summary(h: DurationHistogram): DurationSummary {
  const [p50, p90, p99] = h.quantiles([0.5, 0.9, 0.99]) as [Quantile, Quantile, Quantile];
  const seconds = (v: Quantile): number | null => (v.ms < 0 ? null : v.ms / 1000);
  const approximate = ([['p50', p50], ['p90', p90], ['p99', p99]] as const).filter(([, v]) => !v.exact).map(([name]): Percentile => name);
  const out: DurationSummary = { p50: seconds(p50), p90: seconds(p90), p99: seconds(p99), max: h.maxMs < 0 ? null : h.maxMs / 1000 };
  if (approximate.length > 0) {
    out.approximate = true;
    out.approximatePercentiles = approximate;
  }
  return out;
}

/**
 * `tiers` corrects the attempts of a finding: logs that share no key are side by side (one tier),
 * so each of their lines is an attempt of its own, not one tier's view of another's.
 */
function toFinding(f: FindingData, names: readonly string[], tiers: Tiers): Finding {
  const words = proseOf(f);
  let total = 0;
  for (const x of f.clients) total += x.count;
  const keyPattern = f.id === 'hidden-downgrade' || f.id === 'reused-key';
  const out: Finding = {
    id: f.id, severity: f.severity, title: words.title, count: f.count,
    clients: f.clients.map((x) => ({ client: x.client, count: x.count, share: round(x.count / Math.max(1, total)) })),
    firstSeen: iso(f.firstMs), lastSeen: iso(f.lastMs),
    breakdown: Object.fromEntries(f.breakdown.map(([label, n]) => [keyPattern ? patternLabel(f.id, label, names) : label, n])),
    evidence: f.evidence.map((e) => ({ file: names[e.input] ?? '?', line: e.line, text: e.text })),
    explanation: words.explanation, fix: words.fix,
  };
  if (f.handshakes !== undefined) out.handshakes = tiers.basis === 'no-shared-keys' ? f.count : f.handshakes;
  if (f.timeout !== undefined) out.timeoutSeconds = f.timeout.centerMs / 1000;
  if (f.clientsApproximate) out.clientsApproximate = true;
  if (f.missedAtMost !== undefined) Object.assign(out, { approximate: true, missedAtMost: f.missedAtMost });
  if (words.nginxConfig !== undefined) out.nginxConfig = words.nginxConfig;
  return out;
}

/** Input bitmasks as core/keys.ts tallies them → "front.log: HTTP/1.0; back.log: HTTP/1.1" or "repeated in front.log". */
function patternLabel(id: string, pattern: string, names: readonly string[]): string {
  const inputsOf = (mask: number): string[] => names.filter((_, i) => (mask & (1 << Math.min(31, i))) !== 0);
  if (id === 'reused-key') return `repeated in ${inputsOf(Number(pattern)).join(', ')}`;
  const [i10, i11] = pattern.split(':').map(Number) as [number, number];
  return `HTTP/1.0 in ${inputsOf(i10).join(', ')}; HTTP/1.1 in ${inputsOf(i11).join(', ')}`;
}

/** Findings that are a root cause, in the order they lead: the downgrade (with its clients), then the same seen across tiers. */
const CAUSES: readonly string[] = ['downgraded-handshake', 'hidden-downgrade'];
const SEVERITY_ORDER: Readonly<Record<string, number>> = { critical: 0, warning: 1, info: 2 };

/**
 * Causes before what they cause, within a severity: a downgrade leads the abandoned handshakes and
 * cut sessions it brings about at the LB's timeout, however many log lines those take across tiers.
 */
function causesFirst(findings: Finding[]): Finding[] {
  const rank = (f: Finding): number => (CAUSES.includes(f.id) ? CAUSES.indexOf(f.id) : CAUSES.length);
  return findings.map((f, i) => ({ f, i }))
    .sort((a, b) => (SEVERITY_ORDER[a.f.severity] ?? 3) - (SEVERITY_ORDER[b.f.severity] ?? 3) || rank(a.f) - rank(b.f) || a.i - b.i)
    .map((x) => x.f);
}

interface VerdictContext {
  names: readonly string[];
  tiers: Tiers;
  /** Inputs that logged HTTP/1.0 handshakes. */
  downgrading: ReadonlySet<number>;
  /** Clients of the first-tier inputs (all clients with one input). */
  frontClients: ReadonlySet<string>;
}

function verdict(findings: readonly Finding[], handshakes: number, lines: { total: number; parsed: number; empty: number; filtered: number }, v: VerdictContext): Report['verdict'] {
  const top = findings[0];
  if (!top && lines.parsed - lines.filtered <= 0) return nothingAnalysed(lines);
  if (!top) {
    return {
      severity: 'ok',
      headline: handshakes === 0 ? 'No WebSocket handshakes found in the parsed lines.' : `No WebSocket failure pattern found in ${plural(handshakes, 'handshake')}.`,
      details: [],
      fix: null,
    };
  }
  const details = findings.map((f) => `${f.severity}: ${f.title}: ${attempts(f)}`);
  const several = v.names.length > 1;
  const list = (xs: readonly string[]): string => `${xs.slice(0, 4).join(', ')}${xs.length > 4 ? ', …' : ''}`;
  let headline: string;
  if (top.id === 'downgraded-handshake') {
    const n = top.handshakes ?? top.count;
    const at = [...v.downgrading].sort((a, b) => a - b).map((i) => v.names[i] ?? '?');
    const first = [...v.downgrading].every((i) => v.tiers.tier[i] === 1);
    const nodes = top.clients.map((x) => x.client);
    const through = several && first ? `load-balancer node${nodes.length === 1 ? '' : 's'}` : `client address${nodes.length === 1 ? '' : 'es'}`;
    const parts = Object.entries(top.breakdown).map(([label, m]) => `${label} ×${int(m)}`);
    headline = `${int(n)} WebSocket handshake${n === 1 ? '' : 's'} arrived as HTTP/1.0${several ? ` at ${at.join(', ')}` : ''} (RFC 6455 requires HTTP/1.1) through ${through} ${list(nodes)}: ${parts.join(', ')}.`;
    const hidden = findings.find((f) => f.id === 'hidden-downgrade');
    if (hidden !== undefined) {
      const behind = v.names.filter((_, i) => !v.downgrading.has(i) && (v.tiers.tier[i] ?? 1) > 1);
      headline += ` ${int(hidden.count)} of them reached ${behind.length > 0 ? behind.join(', ') : 'another tier'} as HTTP/1.1 (a hidden downgrade: the tier behind logs them as healthy).`;
    }
  } else {
    // With several tiers, the addresses that matter are the first tier's (load-balancer nodes), not the tiers' own.
    const front = top.clients.map((x) => x.client).filter((c) => v.frontClients.has(c));
    const clients = front.length > 0 ? front : top.clients.map((x) => x.client);
    headline = `${top.title}: ${attempts(top)}${clients.length ? `, from ${list(clients)}` : ''}.`;
  }
  return { severity: top.severity, headline, details, fix: top.fix };
}

/** Never "OK" about nothing: no line reached the analysis, and why. */
function nothingAnalysed(lines: { total: number; parsed: number; empty: number; filtered: number }): Report['verdict'] {
  let why: string;
  let fix: string | null = null;
  if (lines.total - lines.empty === 0) {
    why = lines.total === 0 ? 'the input is empty' : `the input holds only empty lines (${int(lines.total)})`;
  } else if (lines.parsed === 0) {
    why = `none of the ${plural(lines.total - lines.empty, 'line')} matched the log format`;
  } else {
    why = `all ${plural(lines.filtered, 'parsed line')} fall outside the --since/--until window`;
    fix = 'Widen --since/--until (or leave them out) to cover the time the log spans.';
  }
  return { severity: 'info', headline: `Nothing was analysed: ${why}.`, details: [], fix };
}

/** Every handshake row, with its key's sightings across inputs and the findings it counts in. */
function* handshakeRows(t: Tally, d: Diagnosis, names: readonly string[]): Generator<HandshakeRow> {
  const rows = t.rows;
  if (rows === undefined) return;
  for (let r = 0; r < rows.length; r++) {
    const keyInputs: HandshakeRow['keyInputs'] = [];
    const seen = rows.keyInputs[r] as number;
    for (let i = 0; i < 32 && seen !== 0; i++) {
      const bit = 1 << i;
      if ((seen & bit) === 0) continue;
      const protocols = [];
      if ((rows.keyInputs10[r] as number) & bit) protocols.push('HTTP/1.0');
      if ((rows.keyInputs11[r] as number) & bit) protocols.push('HTTP/1.1');
      if (protocols.length === 0) protocols.push('other');
      keyInputs.push({ file: names[i] ?? '?', protocols });
    }
    const dur = rows.durationMs[r] as number;
    const end = rows.endMs[r] as number;
    const protocol = rows.protocol[r] as number;
    const status = rows.status[r] as number;
    yield {
      file: names[rows.input[r] as number] ?? '?',
      line: rows.line[r] as number,
      key: rows.key(r),
      keyInputs,
      protocol: PROTOCOL_NAMES[protocol] ?? 'unknown',
      status,
      requestTime: dur >= 0 ? dur / 1000 : null,
      start: iso(dur >= 0 ? end - dur : NaN),
      end: iso(end),
      client: t.counts.clients[rows.client[r] as number] ?? '?',
      upstream: rows.upstreams[rows.upstream[r] as number] ?? '',
      findings: d.findingsOf(protocol, status, rows.flags[r] as number, dur, rows.keyFindings[r] as number),
    };
  }
}

function correlation(t: Tally, names: readonly string[], tiers: Tiers): Report['correlation'] {
  const k = t.keys.counts;
  // Keys whose protocol differs between inputs first: those are the ones worth reading. Each kind
  // in the order of its first lines (input, line): the order keys left the window in hangs on
  // which of two handshakes ended a millisecond sooner, and a fleet run lists them by first line.
  const byFirstLine = (a: TracedKeyCounts, b: TracedKeyCounts): number =>
    ((a.sightings[0]?.input ?? 0) - (b.sightings[0]?.input ?? 0)) || ((a.sightings[0]?.line ?? 0) - (b.sightings[0]?.line ?? 0));
  const candidates = [...k.traced.filter((s) => s.mismatch).sort(byFirstLine), ...k.traced.filter((s) => !s.mismatch).sort(byFirstLine)].slice(0, 10);
  const traced: TracedKey[] = candidates.map((s) => ({
    key: s.key,
    sightings: s.sightings.map((x) => ({ file: names[x.input] ?? '?', line: x.line, protocol: PROTOCOL_NAMES[x.protocol] ?? 'unknown', status: x.status, durationSeconds: x.durationMs >= 0 ? x.durationMs / 1000 : null })),
  }));
  return {
    keys: k.keys, multiTier: k.multiTier, singleInput: k.keys - k.multiTier, reused: k.reused, protocolMismatch: k.protocolMismatch,
    windowSeconds: KEY_WINDOW_MS / 1000, evicted: k.evictedEarly, reusedMissedAtMost: k.forgotten, traced, tierBasis: tiers.basis,
  };
}

/** Handshakes per time bucket (by when they started) and incident windows of failed ones. */
function timeline(t: Tally, d: Diagnosis): Report['timeline'] {
  const c = t.counts;
  const stored = c.bucketSeconds;
  const keys = [...c.buckets.keys()].sort((a, b) => a - b);
  if (keys.length === 0) return { bucketSeconds: 0, buckets: [], incidents: [] };
  const lo = (keys[0] as number) * stored;
  const hi = ((keys.at(-1) as number) + 1) * stored;
  const span = hi - lo;
  const bucketSeconds = BUCKET_LADDER_S.find((b) => b >= stored && span / b < MAX_BUCKETS) ?? Math.max(stored, BUCKET_LADDER_S.at(-1) as number);
  const origin = Math.floor(lo / bucketSeconds);
  const n = Math.floor((hi - 1) / bucketSeconds) - origin + 1;
  const buckets: TimelineBucket[] = Array.from({ length: n }, (_, i) => ({ start: new Date((origin + i) * bucketSeconds * 1000).toISOString(), handshakes: 0, failed: 0, downgraded: 0 }));
  const failed = buckets.map(() => ({ by: new Map<number, number>(), first: Infinity, last: -Infinity }));
  for (const k of keys) {
    const i = Math.floor((k * stored) / bucketSeconds) - origin;
    const src = c.buckets.get(k);
    const dst = buckets[i];
    if (src === undefined || dst === undefined) continue;
    dst.handshakes += src.handshakes;
    dst.downgraded += src.downgraded;
    dst.failed += src.failed;
    const f = failed[i] as (typeof failed)[number];
    for (const [client, m] of src.failedBy) f.by.set(client, (f.by.get(client) ?? 0) + m);
    f.first = Math.min(f.first, src.failedFirst);
    f.last = Math.max(f.last, src.failedLast);
  }
  // Findings at a timeout add their windows: a session cut failed when it was cut (from the first
  // end to the last), an abandoned attempt when it started. HTTP/1.0 lines are failed attempts already.
  const atT = (f: FindingData): number => f.count - f.breakdown.filter(([label]) => label.startsWith('HTTP/1.0 ')).reduce((n, [, m]) => n + m, 0);
  const cuts = d.findings.flatMap((f) => {
    const T = f.timeout?.centerMs ?? 0;
    if (f.id === 'session-cut-at-timeout') return [{ first: f.firstEndMs, last: f.lastMs, count: atT(f), clients: f.clients }];
    if (f.id === 'abandoned-at-timeout') return [{ first: f.firstMs, last: f.lastMs - T, count: atT(f), clients: f.clients }];
    return [];
  }).filter((x) => x.count > 0);
  return { bucketSeconds, buckets, incidents: incidents(buckets, failed, cuts, bucketSeconds, c.clients) };
}

/**
 * Failures closer together than two buckets make one incident window: failed attempts (by bucket,
 * from the first start to the last) and sessions cut at a timeout (from the first cut to the last).
 */
function incidents(buckets: TimelineBucket[], failed: { by: Map<number, number>; first: number; last: number }[],
  cuts: { first: number; last: number; count: number; clients: { client: string; count: number }[] }[], bucketSeconds: number, clients: readonly string[]): Incident[] {
  const spans: { first: number; last: number; count: number; by: Map<string, number> }[] = [];
  buckets.forEach((b, i) => {
    const f = failed[i] as (typeof failed)[number];
    if (b.failed > 0) spans.push({ first: f.first, last: f.last, count: b.failed, by: new Map([...f.by].map(([id, n]) => [clients[id] ?? '?', n])) });
  });
  for (const c of cuts) spans.push({ first: c.first, last: c.last, count: c.count, by: new Map(c.clients.map((x) => [x.client, x.count])) });
  spans.sort((a, b) => a.first - b.first);
  const out: Incident[] = [];
  let cur: { start: number; end: number; count: number; clients: Map<string, number> } | null = null;
  const flush = (): void => {
    if (!cur) return;
    const top = [...cur.clients.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([name]) => name);
    out.push({ start: new Date(cur.start).toISOString(), end: new Date(cur.end).toISOString(), count: cur.count, clients: top });
  };
  for (const s of spans) {
    if (!cur || s.first - cur.end > 2 * bucketSeconds * 1000) {
      flush();
      cur = { start: s.first, end: s.last, count: 0, clients: new Map() };
    }
    cur.end = Math.max(cur.end, s.last);
    cur.count += s.count;
    for (const [name, n] of s.by) cur.clients.set(name, (cur.clients.get(name) ?? 0) + n);
  }
  flush();
  return out;
}

function histogram(t: Tally, d: Diagnosis): HistogramBin[] {
  const clusters = [...d.clusters.failed, ...d.clusters.sessions];
  // A cluster gets its own bin; standard edges inside it would split it.
  const edges = new Set<number>(HISTOGRAM_EDGES_S.map((s) => s * 1000).filter((ms) => !clusters.some((c) => ms > c.loMs && ms <= c.hiMs)));
  for (const c of clusters) {
    edges.add(c.loMs);
    edges.add(c.hiMs + 1);
  }
  const sorted = [...edges].sort((a, b) => a - b);
  const bins: HistogramBin[] = sorted.map((from, i) => {
    const to = sorted[i + 1];
    return { fromSeconds: from / 1000, toSeconds: to === undefined ? null : to / 1000, upgraded: 0, failed: 0, timeout: clusters.some((c) => c.loMs === from) };
  });
  const binOf = (ms: number): HistogramBin => bins[Math.max(0, countAtMost(sorted, ms) - 1)] as HistogramBin;
  // A group's FINE bins between two edges fall in one bin of these: counted by those stretches.
  const cuts = sorted.slice(1).map((ms) => FINE.binFrom(ms));
  for (const g of t.counts.groups.values()) {
    const upgraded = g.status === 101;
    g.durations.forEachStretch(cuts, (b, n) => {
      const bin = binOf(FINE.lo(b));
      if (upgraded) bin.upgraded += n;
      else bin.failed += n;
    });
  }
  return bins.filter((b) => b.upgraded + b.failed > 0 || b.timeout);
}
