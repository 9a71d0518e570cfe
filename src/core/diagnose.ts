/*!
 * Tally → findings. First the timeouts (tight request_time clusters, or --timeout), then one pass
 * over the handshake rows deciding which findings each row belongs to, then keys across inputs.
 * Signatures are data (SIGNATURES); the words of each finding live next to its test.
 */
import { PROTOCOL_NAMES, Protocol } from './classify.js';
import { RowFlag } from './handshakes.js';
import { isHiddenDowngrade } from './keys.js';
import type { Tally } from './tally.js';
import { clusterAt, defaultTolerance, findClusters, type Cluster } from './timeouts.js';
import type { ClientShare, Evidence, Finding, Severity, TimeoutCluster } from '../report/model.js';

export interface DiagnoseOptions {
  /** Names of the inputs, by index. */
  inputs: readonly string[];
  /** --timeout in seconds (skips inference), and --tolerance in ms. */
  timeoutSeconds?: number;
  toleranceMs?: number;
  /** Evidence lines per finding. */
  evidence: number;
}

/**
 * How a row belongs to a finding, which says when it failed: a handshake attempt failed when it
 * started; a session cut at a timeout failed when it ended. An attempt outranks a cut.
 */
export const enum BadRow {
  NONE = 0,
  CUT = 1,
  ATTEMPT = 2,
}

export interface Diagnosis {
  timeouts: TimeoutCluster[];
  findings: Finding[];
  /** Per row: bit i set when the row belongs to a finding with id FINDING_IDS[i] (0: in none). */
  rowFindings: Uint8Array;
  /** Per row: a BadRow, NONE unless the row belongs to a finding. */
  rowBad: Uint8Array;
  clusters: { failed: Cluster[]; sessions: Cluster[] };
}

/** Statuses that mean "nobody answered before someone gave up": client/LB closed, gateway timeout, request timeout. */
const ABANDONED = new Set([499, 504, 408]);

/** Every finding id, in the bit order of Diagnosis.rowFindings. */
export const FINDING_IDS = [
  'downgraded-handshake', 'abandoned-at-timeout', 'session-cut-at-timeout', 'hidden-downgrade',
  'missing-upgrade-header', 'handshake-rejected', 'upstream-error', 'reused-key',
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

/** The ids whose bits are set in a Diagnosis.rowFindings value. */
export function findingIdsOf(bits: number): FindingId[] {
  return FINDING_IDS.filter((_, i) => (bits & (1 << i)) !== 0);
}

/** The WebSocket proxy configuration every nginx hop needs, as it goes into nginx.conf. */
const UPGRADE_CONFIG = `map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}

location /ws/ {
    proxy_pass http://app;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
}`;

/** For sessions cut by nginx's idle timer: give quiet sessions longer than the cluster's T. */
const SESSION_TIMEOUT_CONFIG = `location /ws/ {
    # longer than the quietest stretch of a healthy session (or ping more often than T)
    proxy_read_timeout 3600s;
    proxy_send_timeout 3600s;
}`;

/** The fix prose names the settings; the directives themselves are the finding's nginxConfig, printed once per report. */
const NGINX_SNIPPET = 'the WebSocket proxy settings (proxy_http_version 1.1, Upgrade and Connection passed on: the nginx.conf snippet)';

/** Known defaults that a timeout of that length usually is (research/nginx-facts.md §4). */
const KNOWN_TIMEOUTS: readonly { seconds: number; what: string }[] = [
  { seconds: 15, what: 'Alibaba CLB idle timeout default (15 s)' },
  { seconds: 30, what: 'GCP load balancer backend timeout default (30 s, a hard cap for WebSockets)' },
  { seconds: 60, what: "nginx's proxy_read_timeout default, AWS ALB/CLB idle timeout, Alibaba CLB request timeout (all 60 s)" },
  { seconds: 75, what: "nginx's keepalive_timeout default (75 s)" },
  { seconds: 100, what: 'Cloudflare proxy read timeout (100 s)' },
  { seconds: 120, what: 'Cloudflare proxy read timeout on current plans (120 s)' },
  { seconds: 300, what: 'Azure Front Door WebSocket idle timeout (5 min)' },
  { seconds: 900, what: 'Alibaba CLB TCP established timeout / Cloudflare idle (900 s)' },
  { seconds: 3600, what: 'a typical HAProxy `timeout tunnel 1h`' },
];

function likelyCause(c: Cluster, series: 'failed' | 'sessions', statuses: Record<string, number>): string {
  const s = c.centerMs / 1000;
  const known = KNOWN_TIMEOUTS.find((k) => Math.abs(k.seconds - s) <= Math.max(0.5, k.seconds * 0.01));
  let what: string;
  if (series === 'sessions') {
    what = 'upgraded sessions all ended after the same time: an idle timeout (nginx proxy_read_timeout when nothing is sent for T) or a hard lifetime cap of a load balancer';
  } else if ((statuses['504'] ?? 0) > (statuses['499'] ?? 0)) {
    what = 'nginx gave up waiting for the upstream (504): proxy_read_timeout or proxy_connect_timeout';
  } else {
    what = 'something in front of nginx (load balancer or client) gave up waiting and closed (499)';
  }
  return known ? `${what}; ${s.toFixed(0)} s matches ${known.what}` : what;
}

interface Acc {
  id: FindingId;
  /** This id's bit in Diagnosis.rowFindings. */
  bit: number;
  timeout?: Cluster;
  count: number;
  clients: Map<number, number>;
  first: number;
  last: number;
  breakdown: Map<string, number>;
  evidenceRows: number[];
  /** Rows of keys logged by several inputs, as (chain head × 65536 + input) → rows. */
  tiers: Map<number, number>;
  /** Rows counted as a handshake of their own (no key seen on another input). */
  lone: number;
}

function newAcc(id: FindingId, timeout?: Cluster): Acc {
  return { id, bit: 1 << FINDING_IDS.indexOf(id), timeout, count: 0, clients: new Map(), first: Infinity, last: -Infinity, breakdown: new Map(), evidenceRows: [], tiers: new Map(), lone: 0 };
}

/**
 * Per row, the first row of its key's chain when that key was logged by several inputs (tiers),
 * else -1: the rows of one handshake seen at the front and at the back share a head.
 */
function tierHeads(rows: Tally['rows']): Int32Array {
  const n = rows.length;
  const heads = new Int32Array(n).fill(-1);
  const hasPrev = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const next = rows.nextSameKey[r] as number;
    if (next >= 0) hasPrev[next] = 1;
  }
  for (let h = 0; h < n; h++) {
    if (hasPrev[h] || (rows.nextSameKey[h] as number) < 0) continue;
    let multi = false;
    for (let r = h; r >= 0 && !multi; r = rows.nextSameKey[r] as number) multi = rows.input[r] !== rows.input[h];
    if (multi) for (let r = h; r >= 0; r = rows.nextSameKey[r] as number) heads[r] = h;
  }
  return heads;
}

/**
 * Distinct handshakes among an Acc's rows: a key logged by several tiers is one handshake per
 * attempt (the most rows any one input has of it), every other row one of its own.
 */
function handshakesOf(acc: Acc): number {
  const perHead = new Map<number, number>();
  for (const [k, n] of acc.tiers) {
    const head = Math.floor(k / 65536);
    perHead.set(head, Math.max(perHead.get(head) ?? 0, n));
  }
  let total = acc.lone;
  for (const n of perHead.values()) total += n;
  return total;
}

function bump<K>(m: Map<K, number>, k: K, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function inCluster(cs: readonly Cluster[], ms: number): Cluster | undefined {
  if (ms < 0) return undefined;
  for (const c of cs) if (ms >= c.loMs && ms <= c.hiMs) return c;
  return undefined;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

export function iso(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function diagnose(t: Tally, opts: DiagnoseOptions): Diagnosis {
  const rows = t.rows;
  let failedClusters: Cluster[];
  let sessionClusters: Cluster[];
  if (opts.timeoutSeconds !== undefined) {
    const ms = Math.round(opts.timeoutSeconds * 1000);
    const tol = opts.toleranceMs ?? defaultTolerance(ms);
    failedClusters = [clusterAt(t.failedDurations, ms, tol)].filter((c) => c.count > 0);
    sessionClusters = [clusterAt(t.sessionDurations, ms, tol)].filter((c) => c.count > 0);
  } else {
    const o = opts.toleranceMs === undefined ? {} : { toleranceMs: opts.toleranceMs };
    failedClusters = findClusters(t.failedDurations, o);
    sessionClusters = findClusters(t.sessionDurations, o);
  }

  const downgraded = newAcc('downgraded-handshake');
  const abandoned = new Map(failedClusters.map((c) => [c, newAcc('abandoned-at-timeout', c)]));
  const cut = new Map(sessionClusters.map((c) => [c, newAcc('session-cut-at-timeout', c)]));
  const missingUpgrade = newAcc('missing-upgrade-header');
  const rejected = newAcc('handshake-rejected');
  const upstreamError = newAcc('upstream-error');
  const hidden = newAcc('hidden-downgrade');
  const reused = newAcc('reused-key');
  const clusterStats = new Map<Cluster, { statuses: Map<string, number>; protocols: Map<string, number> }>();
  for (const c of [...failedClusters, ...sessionClusters]) clusterStats.set(c, { statuses: new Map(), protocols: new Map() });

  const rowFindings = new Uint8Array(rows.length);
  const rowBad = new Uint8Array(rows.length);
  const heads = opts.inputs.length > 1 ? tierHeads(rows) : undefined;
  const add = (acc: Acc, r: number, label?: string, bad: BadRow = BadRow.ATTEMPT): void => {
    acc.count++;
    const head = heads === undefined ? -1 : (heads[r] as number);
    if (head < 0) acc.lone++;
    else bump(acc.tiers, head * 65536 + Math.min(65535, rows.input[r] as number));
    bump(acc.clients, rows.client[r] as number);
    const end = rows.endMs[r] as number;
    const dur = rows.durationMs[r] as number;
    const start = dur >= 0 ? end - dur : end;
    if (start < acc.first) acc.first = start;
    if (end > acc.last) acc.last = end;
    if (label !== undefined) bump(acc.breakdown, label);
    if (rows.texts.has(r) && acc.evidenceRows.length < 64) acc.evidenceRows.push(r);
    rowFindings[r] = (rowFindings[r] as number) | acc.bit;
    if (bad > (rowBad[r] as number)) rowBad[r] = bad;
  };

  for (let r = 0; r < rows.length; r++) {
    const status = rows.status[r] as number;
    const protocol = rows.protocol[r] as number;
    const dur = rows.durationMs[r] as number;
    const flags = rows.flags[r] as number;
    const inFailed = status === 101 ? undefined : inCluster(failedClusters, dur);
    const inSession = status === 101 ? inCluster(sessionClusters, dur) : undefined;
    const cluster = inFailed ?? inSession;
    if (cluster) {
      const cs = clusterStats.get(cluster);
      if (cs) {
        bump(cs.statuses, String(status));
        bump(cs.protocols, PROTOCOL_NAMES[protocol] ?? 'unknown');
      }
    }
    if (protocol === Protocol.HTTP10) {
      // An HTTP/1.0 101 that the LB gave up on ends at the LB's T, which the failed handshakes name.
      const atT = cluster ?? (status === 101 ? failedClusters.find((c) => Math.abs(dur - c.centerMs) <= (opts.toleranceMs ?? defaultTolerance(c.centerMs))) : undefined);
      let label: string;
      if (atT) label = `${status} at ≈${seconds(atT.centerMs)}`;
      else if (cluster) label = `${status} at ≈${seconds(cluster.centerMs)}`;
      else if (status === 101) label = '101 (tunnel ended before any timeout)';
      else if (status >= 400 && status < 500 && !ABANDONED.has(status)) label = `${status} rejected`;
      else label = `${status} (not at a timeout)`;
      add(downgraded, r, label);
    }
    if (inFailed && ABANDONED.has(status)) {
      const acc = abandoned.get(inFailed);
      if (acc) add(acc, r, `${PROTOCOL_NAMES[protocol]} ${status}`);
    }
    if (inSession) {
      const acc = cut.get(inSession);
      if (acc) add(acc, r, `${PROTOCOL_NAMES[protocol]} ${status}`, BadRow.CUT);
    }
    if (flags & RowFlag.UPGRADE_MISSING && flags & (RowFlag.HAS_KEY | RowFlag.WS_PATH)) add(missingUpgrade, r, `${PROTOCOL_NAMES[protocol]} ${status}`);
    if (status >= 400 && status < 500 && !ABANDONED.has(status)) add(rejected, r, String(status));
    // The final $status decides: a failover (`$upstream_status` "502, 101") that ended 101 gave the
    // client its WebSocket (nginx logs the dead peer in error.log); "502, 502" ends 502 and counts.
    if (status >= 500 && !(status === 504 && inFailed)) add(upstreamError, r, String(status));
  }

  // Keys: the same handshake at several inputs (tiers), or one key on several lines of one input.
  let hiddenKeys = 0;
  let reusedKeys = 0;
  for (const k of t.keys.keptKeys) {
    if (isHiddenDowngrade(k.inputs10, k.inputs11)) {
      for (let r = k.firstRow; r >= 0; r = rows.nextSameKey[r] as number) {
        add(hidden, r, `${opts.inputs[rows.input[r] as number] ?? '?'}: ${PROTOCOL_NAMES[rows.protocol[r] as number]} ${rows.status[r]}`);
      }
      hiddenKeys++;
    }
    if (k.repeated !== 0) {
      for (let r = k.firstRow; r >= 0; r = rows.nextSameKey[r] as number) add(reused, r, opts.inputs[rows.input[r] as number] ?? '?');
      reusedKeys++;
    }
  }
  // These two count keys, not lines.
  hidden.count = hiddenKeys;
  reused.count = reusedKeys;

  const handshakes = rows.seen;
  const clientName = (id: number): string => t.clients[id] ?? '?';
  const findings: Finding[] = [];
  const push = (acc: Acc, severity: Severity, title: string, explanation: string, fix: string, nginxConfig?: string): void => {
    if (acc.count === 0) return;
    const f = toFinding(acc, severity, title, explanation, fix, clientName, opts, rows);
    if (nginxConfig !== undefined) f.nginxConfig = nginxConfig;
    if (heads !== undefined && acc !== hidden && acc !== reused) f.handshakes = handshakesOf(acc);
    findings.push(f);
  };
  /** "12 handshakes", or with several inputs "6 handshakes (12 log lines: one handshake can be logged by each tier)". */
  const counted = (acc: Acc, noun: string): string => {
    const n = heads === undefined ? acc.count : handshakesOf(acc);
    const what = `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
    return n === acc.count ? what : `${what} (${acc.count.toLocaleString('en-US')} log lines: one handshake can be logged by each tier)`;
  };
  const scaled = (acc: Acc): Severity => (acc.count >= Math.max(3, handshakes * 0.05) ? 'critical' : 'warning');

  const bad10 = [...downgraded.clients.keys()].map(clientName);
  push(downgraded, 'critical', 'WebSocket handshakes arrived as HTTP/1.0',
    `RFC 6455 requires HTTP/1.1 for the opening handshake. ${counted(downgraded, 'handshake')} reached nginx as HTTP/1.0, so a hop in front of nginx (here: ${bad10.slice(0, 5).join(', ')}${bad10.length > 5 ? ', …' : ''}) rewrote the request. An HTTP/1.0 proxy drops Upgrade/Connection, so the app sees a plain GET and never answers (499/504 at the LB's timeout), answers 426, or — when the header is kept — nginx tunnels but the HTTP/1.0 hop cannot carry it and gives up at its timeout (101 at T). The browser sees 504.`,
    `Find which load-balancer nodes/listeners these addresses are and make them forward WebSocket as HTTP/1.1 (a WebSocket-capable LB tier or listener, or a TCP listener), or take them out of rotation. At every nginx hop keep ${NGINX_SNIPPET}.`, UPGRADE_CONFIG);
  for (const acc of abandoned.values()) {
    const T = seconds(acc.timeout?.centerMs ?? 0);
    push(acc, 'critical', `Handshakes abandoned at a ${T} timeout`,
      `${counted(acc, 'handshake')} ended 499/504/408 within milliseconds of ${T}: no response header came back before something gave up. A tight cluster like this is a timeout, not impatient users (those are spread out).`,
      `Find the component whose timeout is ${T} (see timeouts). 499 means the client side (usually the load balancer's request timeout) gave up first, 504 that nginx's proxy_read_timeout did. The handshake itself was never answered: check the downgrade finding, that the app handles the Upgrade, and ${NGINX_SNIPPET}.`, UPGRADE_CONFIG);
  }
  for (const acc of cut.values()) {
    const T = seconds(acc.timeout?.centerMs ?? 0);
    push(acc, 'warning', `Upgraded sessions cut at ${T}`,
      `${counted(acc, 'WebSocket session')} (status 101) ended within milliseconds of ${T}. Healthy sessions end at scattered times; sessions killed by an idle timeout or a lifetime cap end together.`,
      `If T matches nginx's proxy_read_timeout (default 60 s), send application heartbeats (ping/pong) more often than every ${T}, or raise proxy_read_timeout/proxy_send_timeout for the WebSocket location; if it matches the load balancer's idle timeout or a hard cap, raise that or reconnect before it.`, SESSION_TIMEOUT_CONFIG);
  }
  push(hidden, 'critical', 'Hidden downgrade: the same handshake is HTTP/1.0 at one tier and HTTP/1.1 at another',
    `${hidden.count.toLocaleString('en-US')} Sec-WebSocket-Key${hidden.count === 1 ? '' : 's'} appear as HTTP/1.0 in one input and HTTP/1.1 in another. The tier behind nginx re-speaks HTTP/1.1 (proxy_http_version 1.1), so its log looks healthy; only the front tier shows the downgrade.`,
    `Fix the hop in front of the tier that logged HTTP/1.0 (see downgraded-handshake for its client addresses).`, UPGRADE_CONFIG);
  push(upstreamError, scaled(upstreamError), 'Handshakes failed with an upstream error (5xx)',
    `${counted(upstreamError, 'handshake')} got a 5xx: the upstream was down or refused (502), overloaded (503), or nginx timed out waiting (504, outside any timeout cluster).`,
    'Check the upstream addresses in the evidence, nginx\'s error.log around these times, and proxy_next_upstream; a dead backend in the upstream group shows as a failover list such as "502, 101".');
  push(missingUpgrade, scaled(missingUpgrade), 'Handshakes without an Upgrade header',
    `${counted(missingUpgrade, 'request')} look like WebSocket handshakes (a Sec-WebSocket-Key or a WebSocket path) but reached nginx with no Upgrade header: a proxy in front dropped the hop-by-hop headers.`,
    `Make the hop in front forward Upgrade and Connection (HTTP/1.1 WebSocket support on the LB; for an nginx in front: ${NGINX_SNIPPET}).`, UPGRADE_CONFIG);
  push(rejected, scaled(rejected), 'Handshakes rejected (4xx)',
    `${counted(rejected, 'handshake')} were refused with a 4xx: 400 (invalid handshake), 403 (origin/auth), 404 (wrong path), 426 (the app got a request without a usable Upgrade).`,
    'Check the status breakdown: 426 on HTTP/1.0 is the downgrade; 400/426 on HTTP/1.1 usually means Upgrade/Connection were not passed to the app; 403/404 are app routing or auth.', UPGRADE_CONFIG);
  push(reused, 'warning', 'Sec-WebSocket-Key seen on several lines of one log',
    `${reused.count.toLocaleString('en-US')} key${reused.count === 1 ? '' : 's'} repeat within one input. Browsers make a fresh key per attempt, so a repeat is a proxy retry, a duplicated request, or a client that reuses keys.`,
    'Check for proxy retries (proxy_next_upstream with non-idempotent handshakes) and for clients built with a fixed key.');

  const order: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity] || b.count - a.count);

  const timeouts: TimeoutCluster[] = [];
  const source = opts.timeoutSeconds !== undefined ? 'option' : 'inferred';
  for (const [series, list] of [['failed', failedClusters], ['sessions', sessionClusters]] as const) {
    for (const c of list) {
      const cs = clusterStats.get(c);
      const statuses = Object.fromEntries(cs?.statuses ?? []);
      timeouts.push({
        seconds: c.centerMs / 1000, count: c.count, minSeconds: c.loMs / 1000, maxSeconds: c.hiMs / 1000, spreadMs: c.hiMs - c.loMs,
        series, source, statuses, protocols: Object.fromEntries(cs?.protocols ?? []), likelyCause: likelyCause(c, series, statuses),
      });
    }
  }
  timeouts.sort((a, b) => b.count - a.count);
  return { timeouts, findings, rowFindings, rowBad, clusters: { failed: failedClusters, sessions: sessionClusters } };
}

function toFinding(acc: Acc, severity: Severity, title: string, explanation: string, fix: string,
  clientName: (id: number) => string, opts: DiagnoseOptions, rows: Tally['rows']): Finding {
  // Shares of the finding's lines: for hidden-downgrade and reused-key, count is of keys, not lines.
  let lines = 0;
  for (const n of acc.clients.values()) lines += n;
  const clients: ClientShare[] = [...acc.clients.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 50)
    .map(([id, count]) => ({ client: clientName(id), count, share: round(count / Math.max(1, lines)) }));
  const finding: Finding = {
    id: acc.id, severity, title, count: acc.count, clients,
    firstSeen: iso(acc.first), lastSeen: iso(acc.last),
    breakdown: Object.fromEntries([...acc.breakdown.entries()].sort((a, b) => b[1] - a[1])),
    evidence: pickEvidence(acc.evidenceRows, opts, rows),
    explanation, fix,
  };
  if (acc.timeout) finding.timeoutSeconds = acc.timeout.centerMs / 1000;
  return finding;
}

/** Up to N evidence lines, varied: one per (status, client, input) first, then the rest in order. */
function pickEvidence(candidates: number[], opts: DiagnoseOptions, rows: Tally['rows']): Evidence[] {
  const seen = new Set<string>();
  const first: number[] = [];
  const rest: number[] = [];
  for (const r of candidates) {
    const sig = `${rows.status[r]}|${rows.client[r]}|${rows.input[r]}`;
    (seen.has(sig) ? rest : first).push(r);
    seen.add(sig);
  }
  return [...first, ...rest]
    .slice(0, opts.evidence)
    .sort((a, b) => (rows.input[a] as number) - (rows.input[b] as number) || (rows.line[a] as number) - (rows.line[b] as number))
    .map((r) => ({ file: opts.inputs[rows.input[r] as number] ?? '?', line: rows.line[r] as number, text: rows.texts.get(r) ?? '' }));
}

export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
