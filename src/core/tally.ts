/*!
 * The one pass over the records: counts per client, per (protocol, status) of handshakes, the two
 * duration histograms timeouts are inferred from, and the handshake and key tables. Owns nothing
 * about verdicts (core/diagnose.ts) or presentation (report/).
 */
import { Protocol } from './classify.js';
import { HandshakeTable, type RowInput } from './handshakes.js';
import { KeyTable } from './keys.js';
import { DurationHistogram, QuantileSketch } from './stats.js';

export interface ClientCounts {
  total: number;
  http10: number;
  handshakes: number;
  handshakesHttp10: number;
  upgraded: number;
  failed: number;
}

export interface GroupCounts {
  protocol: number;
  status: number;
  count: number;
  durations: QuantileSketch;
}

/** Clients past this many are counted under OTHER_CLIENT, so memory stays bounded. */
const MAX_CLIENTS = 100_000;
export const OTHER_CLIENT = '(other)';

export class Tally {
  requests = 0;
  requestsHttp10 = 0;
  private readonly clientNames = new Interner(MAX_CLIENTS);
  /** Client addresses by id. */
  readonly clients = this.clientNames.names;
  private readonly upstreamNames = new Interner(MAX_CLIENTS);
  /** Distinct $upstream_addr values of handshakes, by id (rows refer to them by index). */
  readonly upstreams = this.upstreamNames.names;
  readonly clientCounts: ClientCounts[] = [];
  readonly groups = new Map<number, GroupCounts>();
  /** Durations of handshakes that did not upgrade (any status but 101). */
  readonly failedDurations = new DurationHistogram();
  /** Durations of upgraded sessions (101). */
  readonly sessionDurations = new DurationHistogram();
  readonly rows: HandshakeTable;
  readonly keys = new KeyTable();
  firstMs = Infinity;
  lastMs = -Infinity;
  private readonly row: RowInput = { input: 0, line: 0, client: 0, protocol: 0, status: 0, durationMs: -1, endMs: NaN, flags: 0, upstream: 0 };

  /** `rowKeys`: keep each handshake's key and its sightings per row (for one CSV row per handshake). */
  constructor(rowKeys = false) {
    this.rows = new HandshakeTable(rowKeys);
    const perRow = this.rows.keys;
    if (perRow) {
      this.keys.onFold = (first, inputs, i10, i11) => {
        for (let r = first; r >= 0; r = this.rows.nextSameKey[r] as number) {
          perRow.inputs[r] = inputs;
          perRow.inputs10[r] = i10;
          perRow.inputs11[r] = i11;
        }
      };
    }
  }

  /** One line that reached the analysis (parsed, not filtered out), in merge order. */
  request(client: number, protocol: number, startMs: number, endMs: number): void {
    this.requests++;
    const counts = this.clientCounts[client] as ClientCounts;
    counts.total++;
    if (protocol === Protocol.HTTP10) {
      this.requestsHttp10++;
      counts.http10++;
    }
    if (endMs === endMs) {
      if (startMs < this.firstMs) this.firstMs = startMs;
      if (endMs > this.lastMs) this.lastMs = endMs;
    }
  }

  /**
   * A line that request() just counted is a handshake: its row, groups, histograms and key.
   * `text` is the line while core/handshakes.ts EvidenceCells may want it or it has a key, else '';
   * `upstream` its $upstream_addr ('' when not asked for).
   */
  handshake(input: number, line: number, client: number, protocol: number, status: number, durationMs: number, endMs: number, flags: number, key: string, text: string, upstream: string): void {
    const counts = this.clientCounts[client] as ClientCounts;
    counts.handshakes++;
    if (protocol === Protocol.HTTP10) counts.handshakesHttp10++;
    if (status === 101) counts.upgraded++;
    else counts.failed++;
    const groupId = protocol * 1000 + status;
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { protocol, status, count: 0, durations: new QuantileSketch() };
      this.groups.set(groupId, group);
    }
    group.count++;
    if (durationMs >= 0) {
      group.durations.add(durationMs);
      (status === 101 ? this.sessionDurations : this.failedDurations).add(durationMs);
    }

    const row = this.row;
    row.input = input;
    row.line = line;
    row.client = client;
    row.protocol = protocol;
    row.status = status;
    row.durationMs = durationMs;
    row.endMs = endMs;
    row.flags = flags;
    // Rows keep the upstream only with their per-row detail (one CSV row per handshake).
    row.upstream = this.rows.keys === undefined ? 0 : this.upstreamNames.id(upstream);
    const at = this.rows.add(row, text);
    if (key === '') return;
    const notable = this.keys.see(key, input, protocol, at, endMs, this.rows);
    if (at < 0) return;
    this.rows.keys?.set(at, key);
    // Evidence of reused-key / hidden-downgrade: rare lines that share their cell with healthy ones.
    if (notable) this.rows.keepEvidence(at, text);
  }

  /** Call once after the last record. */
  finish(): void {
    this.keys.finish();
  }

  /** The number of a client (its name as logged), the same for every line that names it. */
  clientId(client: string): number {
    const id = this.clientNames.id(client);
    if (id === this.clientCounts.length) this.clientCounts.push({ total: 0, http10: 0, handshakes: 0, handshakesHttp10: 0, upgraded: 0, failed: 0 });
    return id;
  }
}

/** Strings to dense ids, bounded: past `max` names every new one shares the OTHER_CLIENT id. */
class Interner {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();

  constructor(private readonly max: number) {}

  id(name: string): number {
    let id = this.ids.get(name);
    if (id !== undefined) return id;
    if (this.names.length >= this.max) {
      id = this.ids.get(OTHER_CLIENT);
      if (id !== undefined) return id;
      name = OTHER_CLIENT;
    }
    id = this.names.length;
    // A fresh copy: a sliced string would keep its whole line alive as a map key.
    const copy = Buffer.from(name, 'utf8').toString('utf8');
    this.ids.set(copy, id);
    this.names.push(copy);
    return id;
  }
}
