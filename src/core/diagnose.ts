/*!
 * Tally → findings, as data. First the timeouts (tight duration clusters, or --timeout), then each
 * rule of core/rules/registry.ts over the exact counts: a finding's count, breakdown and repeats
 * across tiers from the FINE group histograms, its clients and first/last seen from the per-client
 * cells, its evidence from the reservoir. No prose here: report/prose.ts words each finding.
 */
import { PROTOCOL_NAMES, Protocol } from './classify.js';
import { RowFlag, type CellView, type Counts, type Group } from './counts.js';
import { EvidenceReservoir, classParts, type EvidenceRow } from './evidence.js';
import { COARSE, DurationHistogram, FINE } from './grid.js';
import { KEY_HIDDEN, KEY_REUSED } from './keys.js';
import { byName, countAtMost } from './lists.js';
import { RULES } from './rules/registry.js';
import type { LineSelector, RuleContext, Severity } from './rules/types.js';
import type { TallyView } from './tally.js';
import { clusterAt, defaultTolerance, findClusters, type Cluster } from './timeouts.js';

export interface DiagnoseOptions {
  /** --timeout in seconds (skips inference), and --tolerance in ms. */
  timeoutSeconds?: number;
  toleranceMs?: number;
  /** Evidence lines per finding. */
  evidence: number;
  /** Several inputs: count each finding's distinct handshakes too (a key logged by several tiers once). */
  multiInput: boolean;
  /** Infer the timeouts from these counts rather than the tally's (a live window uses the whole run's). */
  clustersFrom?: Counts;
}

export interface FindingData {
  id: string;
  severity: Severity;
  /** Log lines (keys, for key findings). */
  count: number;
  /** With several inputs: its attempts (keyed lines counted on the input that has most of them). */
  handshakes?: number;
  timeout?: Cluster;
  /** Lines (keys) per client, most first. */
  clients: { client: string; count: number }[];
  /** True when some client counts were apportioned from cells straddling a timeout's edge. */
  clientsApproximate: boolean;
  /** The first start and the last end among the finding's lines (NaN when not logged). */
  firstMs: number;
  lastMs: number;
  /** The first end among its lines (when a session cut at T happened). */
  firstEndMs: number;
  breakdown: [string, number][];
  evidence: EvidenceRow[];
  /** Set when the count is a lower bound: it may be short by at most this. */
  missedAtMost?: number;
}

export interface TimeoutData {
  cluster: Cluster;
  series: 'failed' | 'sessions';
  source: 'inferred' | 'option';
  statuses: Record<string, number>;
  protocols: Record<string, number>;
}

export interface Diagnosis {
  timeouts: TimeoutData[];
  findings: FindingData[];
  clusters: { failed: Cluster[]; sessions: Cluster[] };
  /** The ids of the findings one handshake counts in (for one CSV row per handshake). */
  findingsOf(protocol: number, status: number, flags: number, durationMs: number, keyFindings: number): string[];
}

interface Acc {
  sel: LineSelector;
  count: number;
  /** Lines with a key, per input; lines without one. */
  keyed: Map<number, number>;
  keyless: number;
  breakdown: Map<string, number>;
  clients: Map<number, number>;
  approximate: boolean;
  first: number;
  firstEnd: number;
  last: number;
}

/** Series histograms: durations of handshakes that did not upgrade, and of upgraded sessions. */
export function seriesOf(counts: Counts): { failed: DurationHistogram; sessions: DurationHistogram } {
  const failed: DurationHistogram[] = [];
  const sessions: DurationHistogram[] = [];
  for (const g of counts.groups.values()) (g.status === 101 ? sessions : failed).push(g.durations);
  return { failed: DurationHistogram.sumOf(failed), sessions: DurationHistogram.sumOf(sessions) };
}

export function diagnose(t: TallyView, opts: DiagnoseOptions): Diagnosis {
  const counts = t.counts;
  const series = seriesOf(opts.clustersFrom ?? counts);
  const tolerance = (ms: number): number => opts.toleranceMs ?? defaultTolerance(ms);
  let clusters: { failed: Cluster[]; sessions: Cluster[] };
  if (opts.timeoutSeconds !== undefined) {
    const ms = Math.round(opts.timeoutSeconds * 1000);
    clusters = {
      failed: [clusterAt(series.failed, ms, tolerance(ms))].filter((c) => c.count > 0),
      sessions: [clusterAt(series.sessions, ms, tolerance(ms))].filter((c) => c.count > 0),
    };
  } else {
    const o = opts.toleranceMs === undefined ? {} : { toleranceMs: opts.toleranceMs };
    clusters = { failed: findClusters(series.failed, o), sessions: findClusters(series.sessions, o) };
  }
  const ctx: RuleContext = { clusters, toleranceMs: tolerance, handshakes: counts.handshakes };

  const selectors: LineSelector[] = [];
  for (const r of RULES) if (r.kind === 'lines') selectors.push(...r.selectors(ctx));
  const accs: Acc[] = selectors.map((sel) => ({ sel, count: 0, keyed: new Map(), keyless: 0, breakdown: new Map(), clients: new Map(), approximate: false, first: Infinity, firstEnd: Infinity, last: -Infinity }));

  // Counts and breakdowns, exact, from each group's FINE histogram (and its lines without a duration).
  const groupKey = (input: number, protocol: number, status: number, flags: number): number => ((input * 8 + protocol) * 256 + flags) * 1000 + status;
  const add = (a: Acc, g: Group, ms: number, n: number): void => {
    const label = a.sel.label(g.protocol, g.status, g.flags, ms);
    if (label === undefined) return;
    a.count += n;
    if (g.flags & RowFlag.HAS_KEY) a.keyed.set(g.input, (a.keyed.get(g.input) ?? 0) + n);
    else a.keyless += n;
    a.breakdown.set(label, (a.breakdown.get(label) ?? 0) + n);
  };
  const timed = accs.filter((a) => !a.sel.durationFree);
  // Where some timed selector's label may change: the first bin from each of their edges on. A
  // group's bins between two such cuts share every label, and are weighed as one.
  const cuts = [...new Set(timed.flatMap((a) => a.sel.edgesMs.map((ms) => FINE.binFrom(ms))))].sort((x, y) => x - y);
  for (const g of counts.groups.values()) {
    const untimed = g.count - g.durations.count;
    for (const a of accs) {
      if (untimed > 0) add(a, g, -1, untimed);
      if (a.sel.durationFree && g.durations.count > 0) add(a, g, 0, g.durations.count);
    }
    if (timed.length > 0) {
      g.durations.forEachStretch(cuts, (b, n) => {
        for (const a of timed) add(a, g, FINE.lo(b), n);
      });
    }
  }

  // Clients and first/last seen from the cells. A cell spans a COARSE bin; where that bin straddles
  // a timeout's edge, its group's FINE histogram says which share of it belongs: its non-empty
  // FINE bins within the COARSE one, read once (their first ms and counts) for every selector.
  const fineMs: number[] = [];
  const fineN: number[] = [];
  const fineBins = (g: Group | undefined, bin: number): void => {
    fineMs.length = 0;
    fineN.length = 0;
    g?.durations.forEachBetween(FINE.bin(COARSE.lo(bin)), FINE.bin(COARSE.hi(bin)), (b, n) => {
      fineMs.push(FINE.lo(b));
      fineN.push(n);
    });
  };
  const shareOf = (a: number, g: Group | undefined): number => {
    if (g === undefined) return 0;
    const sel = (accs[a] as Acc).sel;
    let inside = 0;
    let all = 0;
    for (let k = 0; k < fineMs.length; k++) {
      const n = fineN[k] as number;
      all += n;
      if (sel.label(g.protocol, g.status, g.flags, fineMs[k] as number) !== undefined) inside += n;
    }
    return all === 0 ? 0 : inside / all;
  };
  // Each selector's share of a kind of cell (input × protocol × status × flags × bin), worked out
  // once per kind (or stretch): cells differ from others of their kind only by client, and there are many.
  // By group, then by bin or stretch: a Map, as bins run to tens of thousands (an array indexed by them went sparse and slow).
  // Kinds no selector takes (most bins of upgraded sessions, hours of them) share one array of zeros.
  // Cells come grouped by kind (core/cells.ts): the last kind's shares are kept at hand.
  const kinds = new Map<number, Map<number, Float64Array>>();
  const none = new Float64Array(accs.length);
  let last: { key: number; bin: number; shares: Float64Array } = { key: -1, bin: -2, shares: none };
  const sharesOf = (c: CellView): Float64Array => {
    const key = groupKey(c.input, c.protocol, c.status, c.flags);
    if (key === last.key && c.bin === last.bin) return last.shares;
    last = { key, bin: c.bin, shares: kindShares(key, c) };
    return last.shares;
  };
  const kindShares = (key: number, c: CellView): Float64Array => {
    let byPlace = kinds.get(key);
    if (byPlace === undefined) kinds.set(key, (byPlace = new Map()));
    // A kind's FINE bins are read only when a cut falls among them; else it takes every label of
    // the stretch of its group that holds it, and so its shares (most kinds of upgraded sessions,
    // spread over hours, lie in a few stretches).
    const first = c.bin < 0 ? -1 : FINE.bin(COARSE.lo(c.bin));
    const stretch = countAtMost(cuts, first);
    const split = c.bin >= 0 && countAtMost(cuts, FINE.bin(COARSE.hi(c.bin))) > stretch;
    const place = c.bin < 0 ? -1 : split ? c.bin : -2 - stretch;
    let shares = byPlace.get(place);
    if (shares !== undefined) return shares;
    const g = counts.groups.get(key);
    shares = new Float64Array(accs.length);
    if (split) fineBins(g, c.bin);
    for (let i = 0; i < accs.length; i++) {
      const sel = (accs[i] as Acc).sel;
      shares[i] = c.bin < 0 || sel.durationFree
        ? (sel.label(c.protocol, c.status, c.flags, c.bin < 0 ? -1 : COARSE.lo(c.bin)) === undefined ? 0 : 1)
        : split ? shareOf(i, g)
        : g !== undefined && sel.label(c.protocol, c.status, c.flags, FINE.lo(first)) !== undefined ? 1 : 0;
    }
    if (shares.every((x) => x === 0)) shares = none;
    byPlace.set(place, shares);
    return shares;
  };
  counts.forEachCell((c) => {
    const shares = sharesOf(c);
    for (let i = 0; i < accs.length; i++) {
      const share = shares[i] as number;
      if (share === 0) continue;
      const a = accs[i] as Acc;
      if (share < 1) a.approximate = true;
      const n = share === 1 ? c.count : Math.round(c.count * share);
      if (n === 0) continue;
      a.clients.set(c.client, (a.clients.get(c.client) ?? 0) + n);
      if (c.firstMs < a.first) a.first = c.firstMs;
      if (c.firstEndMs < a.firstEnd) a.firstEnd = c.firstEndMs;
      if (c.lastMs > a.last) a.last = c.lastMs;
    }
  });

  const clientName = (id: number): string => counts.clients[id] ?? '?';
  const findings: FindingData[] = [];
  for (const a of accs) {
    if (a.count === 0) continue;
    const sel = a.sel;
    // A class whose durations (its bin) hold none of the selector's edges takes one answer for all
    // of them: most classes of upgraded sessions (hours of them) are then left out before their
    // lines are sorted and copied, not after.
    const wanted = (cls: number): boolean => {
      const p = classParts(cls);
      if (p.protocol < 0) return false;
      if (p.bin < 0 || sel.durationFree) return sel.label(p.protocol, p.status, p.flags, p.bin < 0 ? -1 : 0) !== undefined;
      const { lo, hi } = EvidenceReservoir.binSpan(p.status, p.bin);
      return sel.edgesMs.some((e) => e > lo && e <= hi) || sel.label(p.protocol, p.status, p.flags, lo) !== undefined;
    };
    const rows = t.evidence.candidates(wanted).filter((r) => sel.label(r.protocol, r.status, r.flags, r.durationMs) !== undefined);
    const f: FindingData = {
      id: sel.id, severity: sel.severity(a.count, ctx), count: a.count, clients: topClients(a.clients, clientName), clientsApproximate: a.approximate,
      firstMs: a.first, lastMs: a.last, firstEndMs: a.firstEnd, breakdown: sorted(a.breakdown), evidence: pickEvidence(rows, opts.evidence, (r) => sel.label(r.protocol, r.status, r.flags, r.durationMs) ?? ''),
    };
    // A handshake logged by several tiers has a line in each input: keyed lines count once per
    // attempt (the most any one input has), lines without a key each on their own.
    if (opts.multiInput) f.handshakes = a.keyless + Math.max(0, ...a.keyed.values());
    if (sel.timeout !== undefined) f.timeout = sel.timeout;
    findings.push(f);
  }
  for (const r of RULES) {
    if (r.kind !== 'keys') continue;
    const k = r.tally(t.keys.counts);
    if (k.keys === 0) continue;
    const missed = r.missedAtMost?.(t.keys.counts) ?? 0;
    findings.push({
      ...(missed > 0 ? { missedAtMost: missed } : {}),
      id: r.id, severity: r.severity, count: k.keys, clients: topClients(k.clients, clientName), clientsApproximate: false,
      firstMs: k.firstMs, lastMs: k.lastMs, firstEndMs: k.firstMs, breakdown: sorted(k.patterns),
      evidence: pickEvidence(t.evidence.candidates((cls) => cls === r.evidenceClass), opts.evidence, (e) => `${e.input}`),
    });
  }
  const order: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity] || b.count - a.count);

  const timeouts: TimeoutData[] = [];
  const source = opts.timeoutSeconds !== undefined ? 'option' : 'inferred';
  for (const [name, list] of [['failed', clusters.failed], ['sessions', clusters.sessions]] as const) {
    for (const c of list) {
      const statuses: Record<string, number> = {};
      // By protocol number, not in the order groups were made (which follows how inputs interleave in time).
      const byProtocol = PROTOCOL_NAMES.map(() => 0);
      for (const g of counts.groups.values()) {
        if ((g.status === 101) !== (name === 'sessions')) continue;
        // The bins overlapping the cluster, as clusterOf() tells membership (a session group spans 100,000s of bins).
        const n = g.durations.countBetween(c.loMs, c.hiMs);
        if (n === 0) continue;
        statuses[g.status] = (statuses[g.status] ?? 0) + n;
        const k = g.protocol < byProtocol.length ? g.protocol : Protocol.UNKNOWN;
        byProtocol[k] = (byProtocol[k] as number) + n;
      }
      const protocols = Object.fromEntries(PROTOCOL_NAMES.flatMap((p, i) => (byProtocol[i] as number) > 0 ? [[p, byProtocol[i] as number]] : []));
      timeouts.push({ cluster: c, series: name, source, statuses, protocols });
    }
  }
  timeouts.sort((a, b) => b.cluster.count - a.cluster.count);

  const findingsOf = (protocol: number, status: number, flags: number, durationMs: number, keyFindings: number): string[] => {
    const ids = new Set<string>();
    for (const s of selectors) if (s.label(protocol, status, flags, durationMs) !== undefined) ids.add(s.id);
    if (keyFindings & KEY_HIDDEN) ids.add('hidden-downgrade');
    if (keyFindings & KEY_REUSED) ids.add('reused-key');
    return [...ids];
  };
  return { timeouts, findings, clusters, findingsOf };
}

function topClients(m: Map<number, number>, name: (id: number) => string): { client: string; count: number }[] {
  // Ties by name: the order clients were numbered in depends on how the input was cut into parts.
  return [...m.entries()].map(([id, count]) => ({ client: name(id), count })).sort((a, b) => b.count - a.count || byName(a.client, b.client)).slice(0, 50);
}

function sorted(m: Map<string, number>): [string, number][] {
  return [...m.entries()].sort((a, b) => b[1] - a[1] || byName(a[0], b[0]));
}

/**
 * Up to n evidence lines: the first and the last occurrence, then one per (label, status, client,
 * input) not shown yet, then the rest in order; cited in input and line order.
 */
function pickEvidence(rows: EvidenceRow[], n: number, label: (r: EvidenceRow) => string): EvidenceRow[] {
  if (rows.length === 0 || n <= 0) return [];
  const byPlace = (a: EvidenceRow, b: EvidenceRow): number => a.input - b.input || a.line - b.line;
  const all = [...new Map(rows.map((r) => [`${r.input}:${r.line}`, r])).values()].sort(byPlace);
  const time = (r: EvidenceRow): number => (r.endMs === r.endMs ? r.endMs : -Infinity);
  let first = all[0] as EvidenceRow;
  let last = all[0] as EvidenceRow;
  for (const r of all) {
    const start = r.durationMs >= 0 ? time(r) - r.durationMs : time(r);
    const firstStart = first.durationMs >= 0 ? time(first) - first.durationMs : time(first);
    if (start < firstStart) first = r;
    if (time(r) >= time(last)) last = r;
  }
  const chosen = new Set<EvidenceRow>([first, last]);
  const seen = new Set<string>();
  for (const r of all) {
    if (chosen.size >= n) break;
    const sig = `${label(r)}|${r.status}|${r.client}|${r.input}`;
    if (seen.has(sig)) continue;
    seen.add(sig);
    chosen.add(r);
  }
  for (const r of all) {
    if (chosen.size >= n) break;
    chosen.add(r);
  }
  return [...chosen].slice(0, Math.max(n, 1)).sort(byPlace);
}
