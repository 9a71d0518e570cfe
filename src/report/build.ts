/*!
 * Tally + Diagnosis → Report: the verdict, the tables (protocol × status, clients), the timeline
 * with incident windows, the duration histogram with the timeout clusters as their own bins, and
 * keys traced across inputs. Pure: no I/O, no formatting for any one renderer.
 */
import { PROTOCOL_NAMES, Protocol } from '../core/classify.js';
import { BadRow, findingIdsOf, iso, round, type Diagnosis } from '../core/diagnose.js';
import type { PipelineResult } from '../core/pipeline.js';
import { KEY_WINDOW_MS } from '../core/keys.js';
import type { Tally } from '../core/tally.js';
import { attachHandshakeRows } from './rows.js';
import { int, plural } from './text.js';
import { SCHEMA_VERSION, type ClientRow, type HandshakeRow, type HistogramBin, type Incident, type Report, type TimelineBucket, type TracedKey } from './model.js';

export interface BuildOptions {
  version: string;
  timeoutSource: 'inferred' | 'option';
  /** Rows kept in the per-client table of the JSON report. */
  maxClients?: number;
}

const NICE_BUCKETS_S = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600, 86400];
const MAX_BUCKETS = 60;
const HISTOGRAM_EDGES_S = [0, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600];

export function buildReport(t: Tally, d: Diagnosis, p: PipelineResult, opts: BuildOptions): Report {
  const names = p.inputs.map((i) => i.name);
  const lines = p.inputs.reduce(
    (a, i) => ({ total: a.total + i.lines, parsed: a.parsed + i.parsed, unparsed: a.unparsed + i.unparsed, empty: a.empty + i.empty, filtered: a.filtered + i.filtered }),
    { total: 0, parsed: 0, unparsed: 0, empty: 0, filtered: 0 },
  );
  const formatLines = new Map<string, number>();
  for (const i of p.inputs) for (const [name, n] of Object.entries(i.formats)) formatLines.set(name, (formatLines.get(name) ?? 0) + n);

  let upgraded = 0;
  const byProtocolStatus = [...t.groups.values()]
    .sort((a, b) => b.count - a.count || a.protocol - b.protocol || a.status - b.status)
    .map((g) => {
      if (g.status === 101) upgraded += g.count;
      return { protocol: PROTOCOL_NAMES[g.protocol] ?? 'unknown', status: g.status, count: g.count, share: round(g.count / Math.max(1, t.rows.seen)), durations: g.durations.summary() };
    });

  const byClient: ClientRow[] = t.clientCounts
    .map((c, id) => ({
      client: t.clients[id] ?? '?', total: c.total, http10: c.http10, http10Share: round(c.http10 / Math.max(1, c.total)),
      handshakes: c.handshakes, handshakesHttp10: c.handshakesHttp10, upgraded: c.upgraded, failed: c.failed,
      assessment: c.handshakesHttp10 === 0 ? 'healthy' as const : c.handshakesHttp10 === c.handshakes ? 'downgrading' as const : 'mixed' as const,
    }))
    .filter((c) => c.handshakes > 0 || c.http10 > 0)
    .sort((a, b) => b.handshakesHttp10 - a.handshakesHttp10 || b.failed - a.failed || b.handshakes - a.handshakes || a.client.localeCompare(b.client))
    .slice(0, opts.maxClients ?? 1000);

  const report: Report = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'wsdiag', version: opts.version },
    meta: {
      inputs: p.inputs.map((i) => ({ ...i, formats: { ...i.formats }, status: i.error === null ? 'read' as const : i.parsed === 0 ? 'skipped' as const : 'partial' as const })),
      formats: p.used.map((f) => ({ name: f.name, escape: f.escape, text: f.text, lines: formatLines.get(f.name) ?? 0 })),
      timeRange: { start: iso(t.firstMs), end: iso(t.lastMs) },
      window: { since: p.sinceMs === undefined ? null : iso(p.sinceMs), until: p.untilMs === undefined ? null : iso(p.untilMs) },
      partial: p.partial,
      sampled: t.rows.sampled,
      timeoutSource: opts.timeoutSource,
      utcOffsetMinutes: p.utcOffsetMinutes,
    },
    lines: { ...lines, samples: p.bad.samples.map((s) => ({ ...s })) },
    verdict: verdict(d, t),
    requests: { total: t.requests, http10: t.requestsHttp10 },
    handshakes: { total: t.rows.seen, upgraded, failed: t.rows.seen - upgraded, byProtocolStatus, byClient },
    timeouts: d.timeouts,
    findings: d.findings,
    correlation: correlation(t, names),
    timeline: timeline(t, d),
    histogram: histogram(t, d),
  };
  attachHandshakeRows(report, () => handshakeRows(t, d, names));
  return report;
}

function verdict(d: Diagnosis, t: Tally): Report['verdict'] {
  const top = d.findings[0];
  if (!top) {
    const hs = t.rows.seen;
    return {
      severity: 'ok',
      headline: hs === 0 ? 'No WebSocket handshakes found in the parsed lines.' : `No WebSocket failure pattern found in ${plural(hs, 'handshake')}.`,
      details: [],
      fix: null,
    };
  }
  const details = d.findings.map((f) => `${f.severity}: ${f.title} (${int(f.count)})`);
  let headline: string;
  if (top.id === 'downgraded-handshake') {
    const parts = Object.entries(top.breakdown).map(([label, n]) => `${label} ×${int(n)}`);
    const nodes = top.clients.slice(0, 4).map((c) => c.client).join(', ');
    const n = top.handshakes ?? top.count;
    headline = `${int(n)} WebSocket handshake${n === 1 ? '' : 's'} arrived as HTTP/1.0 (RFC 6455 requires HTTP/1.1): ${parts.join(', ')}; through client address${top.clients.length === 1 ? '' : 'es'} ${nodes}${top.clients.length > 4 ? ', …' : ''}.`;
  } else {
    headline = `${top.title}: ${int(top.handshakes ?? top.count)}${top.clients.length ? `, from ${top.clients.slice(0, 4).map((c) => c.client).join(', ')}` : ''}.`;
  }
  return { severity: top.severity, headline, details, fix: top.fix };
}

/** Every kept handshake row, with its key's sightings across inputs and the findings it counts in. */
function* handshakeRows(t: Tally, d: Diagnosis, names: readonly string[]): Generator<HandshakeRow> {
  const rows = t.rows;
  const k = rows.keys;
  for (let r = 0; r < rows.length; r++) {
    const keyInputs: HandshakeRow['keyInputs'] = [];
    const seen = k?.inputs[r] ?? 0;
    for (let i = 0; i < 32 && seen !== 0; i++) {
      const bit = 1 << i;
      if ((seen & bit) === 0) continue;
      const protocols = [];
      if ((k?.inputs10[r] as number) & bit) protocols.push('HTTP/1.0');
      if ((k?.inputs11[r] as number) & bit) protocols.push('HTTP/1.1');
      if (protocols.length === 0) protocols.push('other');
      keyInputs.push({ file: names[i] ?? '?', protocols });
    }
    const dur = rows.durationMs[r] as number;
    const end = rows.endMs[r] as number;
    yield {
      file: names[rows.input[r] as number] ?? '?',
      line: rows.line[r] as number,
      key: k?.text(r) ?? '',
      keyInputs,
      protocol: PROTOCOL_NAMES[rows.protocol[r] as number] ?? 'unknown',
      status: rows.status[r] as number,
      requestTime: dur >= 0 ? dur / 1000 : null,
      start: iso(dur >= 0 ? end - dur : NaN),
      end: iso(end),
      client: t.clients[rows.client[r] as number] ?? '?',
      upstream: k === undefined ? '' : (t.upstreams[k.upstream[r] as number] ?? ''),
      findings: findingIdsOf(d.rowFindings[r] as number),
    };
  }
}

function correlation(t: Tally, names: readonly string[]): Report['correlation'] {
  const k = t.keys;
  const multi = k.keptKeys.filter((s) => (s.inputs & (s.inputs - 1)) !== 0);
  // Prefer keys whose protocol differs between inputs: those are the ones worth reading.
  const candidates = [...multi.filter((s) => s.inputs10 !== 0), ...multi.filter((s) => s.inputs10 === 0)].slice(0, 10);
  const rows = t.rows;
  const traced: TracedKey[] = candidates.map((s) => {
    const sightings = [];
    for (let r = s.firstRow; r >= 0 && sightings.length < 10; r = rows.nextSameKey[r] as number) {
      const dur = rows.durationMs[r] as number;
      sightings.push({ file: names[rows.input[r] as number] ?? '?', line: rows.line[r] as number, protocol: PROTOCOL_NAMES[rows.protocol[r] as number] ?? 'unknown', status: rows.status[r] as number, durationSeconds: dur >= 0 ? dur / 1000 : null });
    }
    return { key: s.name, sightings };
  });
  return {
    keys: k.keys, multiTier: k.multiTier, singleInput: k.keys - k.multiTier, reused: k.reused, protocolMismatch: k.protocolMismatch,
    windowSeconds: KEY_WINDOW_MS / 1000, evicted: k.evictedEarly, traced,
  };
}

function timeline(t: Tally, d: Diagnosis): Report['timeline'] {
  const rows = t.rows;
  const startOf = (r: number): number => (rows.endMs[r] as number) - Math.max(0, rows.durationMs[r] as number);
  // A failed attempt happened when it started; a session cut at a timeout when it ended (T later).
  const failedAt = (r: number): number => (d.rowBad[r] === BadRow.CUT ? (rows.endMs[r] as number) : startOf(r));
  let lo = Infinity;
  let hi = -Infinity;
  for (let r = 0; r < rows.length; r++) {
    if (!Number.isFinite(rows.endMs[r] as number)) continue;
    const start = startOf(r);
    const at = d.rowBad[r] === BadRow.NONE ? start : failedAt(r);
    if (start < lo) lo = start;
    if (at > hi) hi = at;
  }
  if (!Number.isFinite(lo)) return { bucketSeconds: 0, buckets: [], incidents: [] };
  const span = (hi - lo) / 1000;
  const bucketSeconds = NICE_BUCKETS_S.find((b) => span / b < MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS);
  const size = bucketSeconds * 1000;
  const origin = Math.floor(lo / size) * size;
  const n = Math.floor((hi - origin) / size) + 1;
  const buckets: TimelineBucket[] = Array.from({ length: n }, (_, i) => ({ start: new Date(origin + i * size).toISOString(), handshakes: 0, failed: 0, downgraded: 0 }));
  const bucketAt = (ms: number): TimelineBucket | undefined => buckets[Math.floor((ms - origin) / size)];
  const badTimes: { at: number; client: number }[] = [];
  for (let r = 0; r < rows.length; r++) {
    if (!Number.isFinite(rows.endMs[r] as number)) continue;
    const b = bucketAt(startOf(r));
    if (!b) continue;
    b.handshakes++;
    if (rows.protocol[r] === Protocol.HTTP10) b.downgraded++;
    if (d.rowBad[r] === BadRow.NONE) continue;
    const at = failedAt(r);
    const fb = bucketAt(at);
    if (fb) fb.failed++;
    if (badTimes.length < 1_000_000) badTimes.push({ at, client: rows.client[r] as number });
  }
  return { bucketSeconds, buckets, incidents: incidents(badTimes, size, t) };
}

/** Failures closer together than two buckets belong to one incident window. */
function incidents(bad: { at: number; client: number }[], gapMs: number, t: Tally): Incident[] {
  bad.sort((a, b) => a.at - b.at);
  const out: Incident[] = [];
  let cur: { start: number; end: number; count: number; clients: Map<number, number> } | null = null;
  const flush = (): void => {
    if (!cur) return;
    const clients = [...cur.clients.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([id]) => t.clients[id] ?? '?');
    out.push({ start: new Date(cur.start).toISOString(), end: new Date(cur.end).toISOString(), count: cur.count, clients });
  };
  for (const b of bad) {
    if (!cur || b.at - cur.end > 2 * gapMs) {
      flush();
      cur = { start: b.at, end: b.at, count: 0, clients: new Map() };
    }
    cur.end = b.at;
    cur.count++;
    cur.clients.set(b.client, (cur.clients.get(b.client) ?? 0) + 1);
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
  const rows = t.rows;
  for (let r = 0; r < rows.length; r++) {
    const dur = rows.durationMs[r] as number;
    if (dur < 0) continue;
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((sorted[mid] as number) <= dur) lo = mid;
      else hi = mid - 1;
    }
    const bin = bins[lo] as HistogramBin;
    if (rows.status[r] === 101) bin.upgraded++;
    else bin.failed++;
  }
  return bins.filter((b) => b.upgraded + b.failed > 0 || b.timeout);
}
