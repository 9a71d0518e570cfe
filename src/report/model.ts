/*!
 * Report: the analysis result as plain JSON-safe data (no Map, no class), shared by every renderer.
 * Field names under `lines`, `handshakes`, `timeouts`, `findings` and `correlation` are a public
 * contract (DESIGN.md): extend, never rename. Bump SCHEMA_VERSION on any incompatible change.
 */

import type { ErrorCode } from '../errors.js';

export const SCHEMA_VERSION = 1;

export type Severity = 'critical' | 'warning' | 'info';

export interface Evidence {
  file: string;
  line: number;
  text: string;
}

export interface ClientShare {
  client: string;
  count: number;
  /** This client's share of the finding's lines (count is of keys for hidden-downgrade and reused-key). */
  share: number;
}

export interface Finding {
  id: string;
  severity: Severity;
  title: string;
  /** Log lines (keys, for hidden-downgrade and reused-key). */
  count: number;
  /**
   * With several inputs: distinct handshakes among those lines, a handshake logged by several
   * tiers (the same Sec-WebSocket-Key) counted once per attempt.
   */
  handshakes?: number;
  timeoutSeconds?: number;
  clients: ClientShare[];
  /**
   * Set when some client counts were apportioned: their lines share a duration bin (0.1 % wide) with
   * lines outside the finding's timeout window. The finding's count is exact either way.
   */
  clientsApproximate?: boolean;
  /**
   * Set (with `approximate: true`) when the count is a lower bound: reused-key past the memory kept
   * for keys that left the key window; the count may be short by at most this many keys.
   */
  approximate?: true;
  missedAtMost?: number;
  /** ISO times of the first start and last end among the finding's lines (null when not logged). */
  firstSeen: string | null;
  lastSeen: string | null;
  /** Counts by outcome, e.g. { "499 at ≈60.000 s": 12, "101 at ≈60.000 s": 3 }. */
  breakdown: Record<string, number>;
  evidence: Evidence[];
  explanation: string;
  fix: string;
  /** nginx.conf lines that go with the fix, as they would be written there (multi-line). */
  nginxConfig?: string;
}

export interface DurationSummary {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** Set when a percentile fell past 65.5 s, where durations are binned within 0.003 % rather than to the ms. */
  approximate?: boolean;
  /** With `approximate`: which percentiles are (the others are exact to the ms). */
  approximatePercentiles?: Percentile[];
}

export type Percentile = 'p50' | 'p90' | 'p99';

export interface ProtocolStatusRow {
  protocol: string;
  status: number;
  count: number;
  share: number;
  durations: DurationSummary;
}

export interface ClientRow {
  client: string;
  total: number;
  http10: number;
  http10Share: number;
  handshakes: number;
  handshakesHttp10: number;
  upgraded: number;
  failed: number;
  /**
   * 'downgrading': every handshake arrived as HTTP/1.0; 'mixed': some did; 'failing': none did, but
   * most did not upgrade (redirected, refused, failed upstream, given up); 'partly-failing': none did,
   * some did not upgrade; 'healthy': every one upgraded.
   */
  assessment: 'downgrading' | 'mixed' | 'failing' | 'partly-failing' | 'healthy';
}

/**
 * How the inputs were put in tier order: 'hidden-downgrade' (an input that logged HTTP/1.0 for keys
 * another logged HTTP/1.1 is in front of it), 'input-order' (inputs share keys, none says which is
 * in front: as given), 'no-shared-keys' (parallel logs of one tier), 'single-input'.
 */
export type TierBasis = 'hidden-downgrade' | 'input-order' | 'no-shared-keys' | 'single-input';

/** One input's client addresses: at the first tier load-balancer nodes, at a later one the addresses of the tier in front. */
export interface TierClients {
  input: string;
  /** 1: the first tier; 2: behind a tier-1 input; … */
  tier: number;
  /** The input of the tier in front of this one (null at the first tier). */
  behind: string | null;
  byClient: ClientRow[];
}

/** Handshakes by how they ended (status classes of core/outcomes.ts). */
export interface OutcomeCounts {
  handshakes: number;
  /** 101. */
  upgraded: number;
  /** handshakes − upgraded. */
  failed: number;
  /** 3xx. */
  redirected: number;
  /** 4xx but 499 and 408. */
  rejected: number;
  /** 499 and 408: the client or the load balancer gave up before an answer. */
  gaveUp: number;
  /** 5xx (504 included). */
  serverError: number;
  /** Anything else: 2xx, 1xx but 101. */
  other: number;
}

/** One input's handshakes answered by one upstream (the last peer of $upstream_addr; `-`: none, nginx answered). */
export interface UpstreamRow extends OutcomeCounts {
  input: string;
  upstream: string;
}

/** One input's handshakes for one path (without its query string). */
export interface PathRow extends OutcomeCounts {
  input: string;
  path: string;
}

export interface TimeoutCluster {
  seconds: number;
  count: number;
  minSeconds: number;
  maxSeconds: number;
  spreadMs: number;
  /** 'failed': handshakes that never upgraded; 'sessions': upgraded (101) sessions. */
  series: 'failed' | 'sessions';
  source: 'inferred' | 'option';
  statuses: Record<string, number>;
  protocols: Record<string, number>;
  likelyCause: string;
  /** Set when T and its bounds are bin edges wider than 1 ms (past 65.5 s): within 0.003 %. */
  approximate?: true;
}

export interface TracedSighting {
  file: string;
  line: number;
  protocol: string;
  status: number;
  durationSeconds: number | null;
}

export interface TracedKey {
  key: string;
  sightings: TracedSighting[];
}

export interface TimelineBucket {
  start: string;
  /** Handshakes (and sessions) that started in this bucket. */
  handshakes: number;
  /**
   * Handshakes that started in this bucket and failed by their answer alone (HTTP/1.0, 3xx/4xx/5xx but
   * 499/504/408, no Upgrade); those given up or cut at a timeout are in the incident windows.
   */
  failed: number;
  /** Handshakes that started in this bucket as HTTP/1.0. */
  downgraded: number;
}

/** Failures closer together than two timeline buckets, dated as in TimelineBucket.failed. */
export interface Incident {
  /** When the first failure of the window happened, and the last. */
  start: string;
  end: string;
  count: number;
  /** The clients with most failures in the window, most first (up to 5). */
  clients: string[];
}

export interface HistogramBin {
  fromSeconds: number;
  toSeconds: number | null;
  upgraded: number;
  failed: number;
  /** True when the bin is an inferred timeout cluster. */
  timeout: boolean;
}

export interface InputReport {
  name: string;
  lines: number;
  parsed: number;
  unparsed: number;
  empty: number;
  /** Parsed lines left out by --since/--until. */
  filtered: number;
  bytes: number;
  gzip: boolean;
  formats: Record<string, number>;
  /**
   * Set when auto-detection read fields appended to a well-known format from their values: the
   * format it built, the preset it starts with, and the fields assumed (`$request_time`, `"$http_upgrade"`).
   */
  assumed: { format: string; base: string; fields: string[] } | null;
  /** The name of an earlier input holding the same lines (the same log given twice): both are counted. */
  sameAs: string | null;
  error: { code: ErrorCode; message: string } | null;
}

/**
 * 'read': to the end. 'partial': stopped part-way (a corrupt gzip stream, an interrupt); its lines
 * up to there are in the report. 'skipped': nothing from it is (missing, unreadable, no line fits).
 */
export type InputStatus = 'read' | 'partial' | 'skipped';

export interface InputSummary extends InputReport {
  status: InputStatus;
}

export interface BadLine {
  file: string;
  line: number;
  reason: string;
  text: string;
}

export interface Report {
  schemaVersion: number;
  tool: { name: string; version: string };
  meta: {
    inputs: InputSummary[];
    formats: { name: string; escape: string; text: string; lines: number }[];
    timeRange: { start: string | null; end: string | null };
    /** --since/--until as given (null: open). */
    window: { since: string | null; until: string | null };
    partial: boolean;
    /** True when there were more client addresses than kept one by one: the rest are counted as `(other)`. */
    clientsFolded: boolean;
    timeoutSource: 'inferred' | 'option';
    /**
     * Logs without $request_time (no timeout can be inferred): the variables the analysis needs that
     * they lack, and the log_format line that adds them; null when durations are logged or no handshake.
     */
    notLogged: { variables: string[]; logFormat: string } | null;
    /**
     * The UTC offset, in minutes, that most lines' $time_local / $time_iso8601 were written in
     * (480 for `+0800`); null when no line has a zoned time. Text outputs show times in it.
     */
    utcOffsetMinutes: number | null;
  };
  lines: { total: number; parsed: number; unparsed: number; empty: number; filtered: number; samples: BadLine[] };
  /** `fix`: what to try first (the top finding's fix), kept out of the headline so it is printed once. */
  verdict: { severity: Severity | 'ok'; headline: string; details: string[]; fix: string | null };
  requests: { total: number; http10: number };
  handshakes: {
    total: number;
    upgraded: number;
    failed: number;
    byProtocolStatus: ProtocolStatusRow[];
    byClient: ClientRow[];
    /**
     * Per input and upstream, most failures first; empty when the format logs no $upstream_addr.
     * Past the cap, upstreams are counted as `(other)`.
     */
    byUpstream: UpstreamRow[];
    /** Per input and path, most failures first; past the cap, paths are counted as `(other)`. */
    byPath: PathRow[];
    /** With several inputs: each one's clients, first tier first (see correlation.tierBasis); empty with one. */
    byTier: TierClients[];
  };
  timeouts: TimeoutCluster[];
  findings: Finding[];
  correlation: {
    keys: number;
    multiTier: number;
    singleInput: number;
    reused: number;
    protocolMismatch: number;
    /** A key is matched with sightings up to this long after its last one. */
    windowSeconds: number;
    /** Keys that left the window early because too many were live at once. */
    evicted: number;
    /**
     * Keys forgotten after they left the window (bounded memory): `reused` may be short by at most
     * this many. Reuse is found over the whole input; joining tiers, within the window.
     */
    reusedMissedAtMost: number;
    traced: TracedKey[];
    /** How byTier's tiers were told apart. */
    tierBasis: TierBasis;
  };
  timeline: { bucketSeconds: number; buckets: TimelineBucket[]; incidents: Incident[] };
  histogram: HistogramBin[];
}

/**
 * One handshake line, as `--output csv` writes it. Not part of the JSON report (a log can hold
 * millions); a Report from analyze() carries them out of band (report/rows.ts).
 */
export interface HandshakeRow {
  file: string;
  line: number;
  /** Sec-WebSocket-Key, '' when not logged. */
  key: string;
  /** Every input this key was seen in, with the protocol(s) each logged for it (empty without a key). */
  keyInputs: { file: string; protocols: string[] }[];
  protocol: string;
  status: number;
  /** $request_time in seconds; null when not logged. */
  requestTime: number | null;
  /** ISO times: start = end − request_time (the session's start for a WebSocket). */
  start: string | null;
  end: string | null;
  client: string;
  upstream: string;
  /** Ids of the findings this line counts in. */
  findings: string[];
}
