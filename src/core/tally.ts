/*!
 * The one pass over the records, in merge order: each line goes to the exact counts
 * (core/counts.ts; a handshake with its upstream and path), each handshake also to the key window (core/keys.ts) and the evidence reservoir
 * (core/evidence.ts), and, only when one CSV row per handshake is asked for, to the row table
 * (core/handshakes.ts). Owns nothing about verdicts (core/diagnose.ts) or presentation (report/).
 */
import { COARSE } from './grid.js';
import { Counts, DEFAULT_COUNT_CAPS, type CountCaps } from './counts.js';
import { EvidenceReservoir, type EvidenceRow } from './evidence.js';
import { DEPARTED_KEYS } from './departed.js';
import { HandshakeRows } from './handshakes.js';
import { KEY_WINDOW_MS, KeyWindow, MAX_LIVE_KEYS, type KeyCounts, type Sighting } from './keys.js';

/** Every cap the analysis has; an internal option shrinks them so tests can run past each one. */
export interface Caps extends CountCaps {
  liveKeys: number;
  /** Keys remembered after they leave the key window (core/departed.ts). */
  departedKeys: number;
  evidenceRows: number;
}

export const DEFAULT_CAPS: Caps = { ...DEFAULT_COUNT_CAPS, liveKeys: MAX_LIVE_KEYS, departedKeys: DEPARTED_KEYS, evidenceRows: 8_000 };

/** What diagnosis and the report read: a whole run's tally, or a live window's merged panes. */
export interface TallyView {
  readonly counts: Counts;
  readonly evidence: EvidenceReservoir;
  readonly keys: { readonly counts: KeyCounts };
  readonly rows?: HandshakeRows | undefined;
}

/** Told of every line the tally counts, by client name (a live window's panes, core/panes.ts). */
export interface LineListener {
  request(input: number, client: string, protocol: number, startMs: number, endMs: number): void;
  handshake(input: number, client: string, protocol: number, status: number, flags: number, durationMs: number, startMs: number, endMs: number, row: EvidenceRow): void;
  /** A handshake's $upstream_addr and path, as Counts.target takes them. */
  target(input: number, upstream: string, path: string, status: number): void;
}

export interface TallyOptions {
  /** Keep one row per handshake (for one CSV row per handshake). */
  rows?: boolean;
  /** Evidence lines the report shows per finding. */
  evidence?: number;
  caps?: Partial<Caps>;
  listener?: LineListener;
}

export class Tally implements TallyView {
  readonly counts: Counts;
  readonly evidence: EvidenceReservoir;
  readonly keys: KeyWindow;
  readonly rows: HandshakeRows | undefined;
  /** One handshake's facts, reused for every line: the key window and the reservoirs copy what they keep. */
  private readonly sighting: Sighting = { input: 0, line: 0, client: '', clientId: 0, protocol: 0, status: 0, durationMs: -1, endMs: NaN, flags: 0, text: '', row: -1 };

  private readonly listener: LineListener | undefined;

  constructor(opts: TallyOptions = {}) {
    this.listener = opts.listener;
    const caps = { ...DEFAULT_CAPS, ...opts.caps };
    this.counts = new Counts(caps);
    // A finding cites up to `evidence` lines, varied: a few more per class leave room to choose.
    this.evidence = new EvidenceReservoir(Math.max(4, (opts.evidence ?? 5) + 1), caps.evidenceRows);
    this.rows = opts.rows ? new HandshakeRows() : undefined;
    this.keys = new KeyWindow(this.evidence, this.rows, KEY_WINDOW_MS, caps.liveKeys, caps.departedKeys);
  }

  /** One parsed line that reached the analysis. */
  request(input: number, client: number, protocol: number, startMs: number, endMs: number): void {
    this.counts.request(input, client, protocol, startMs, endMs);
    this.listener?.request(input, this.counts.clients[client] ?? '?', protocol, startMs, endMs);
  }

  /**
   * A line that request() just counted is a handshake. `text` is the line; `upstream` its
   * $upstream_addr ('' when not logged); `path` the path asked for, without its query string.
   */
  handshake(input: number, line: number, client: number, protocol: number, status: number, durationMs: number, endMs: number, flags: number, key: string, text: string, upstream: string, path: string): void {
    const rows = this.rows;
    const row = rows === undefined ? -1 : rows.add({ input, line, client, protocol, status, durationMs, endMs, flags, upstream: rows.upstreamId(upstream) }, key);
    const s = this.sighting;
    s.input = input;
    s.line = line;
    s.clientId = client;
    s.client = this.counts.clients[client] ?? '?';
    s.protocol = protocol;
    s.status = status;
    s.durationMs = durationMs;
    s.endMs = endMs;
    s.flags = flags;
    s.text = text;
    s.row = row;
    if (key !== '') this.keys.see(key, s);
    const startMs = durationMs >= 0 ? endMs - durationMs : endMs;
    this.counts.handshake(input, client, protocol, status, flags, durationMs, startMs, endMs);
    this.counts.target(input, upstream, path, status);
    this.listener?.target(input, upstream, path, status);
    this.evidence.offer(EvidenceReservoir.classOf(protocol, status, flags, durationMs < 0 ? -1 : COARSE.bin(durationMs)), s);
    this.listener?.handshake(input, s.client, protocol, status, flags, durationMs, startMs, endMs, s);
  }

  /** The number of a client (its name as logged). */
  clientId(name: string): number {
    return this.counts.clientId(name);
  }

  /** Call once after the last record. */
  finish(): void {
    this.keys.finish();
  }
}
