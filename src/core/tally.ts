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
  readonly clientIds = new Map<string, number>();
  readonly clients: string[] = [];
  readonly clientCounts: ClientCounts[] = [];
  readonly groups = new Map<number, GroupCounts>();
  /** Durations of handshakes that did not upgrade (any status but 101). */
  readonly failedDurations = new DurationHistogram();
  /** Durations of upgraded sessions (101). */
  readonly sessionDurations = new DurationHistogram();
  readonly rows = new HandshakeTable();
  readonly keys = new KeyTable();
  firstMs = Infinity;
  lastMs = -Infinity;
  private readonly row: RowInput = { input: 0, line: 0, client: 0, protocol: 0, status: 0, durationMs: -1, endMs: NaN, flags: 0 };

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
   * `text` is the line while core/handshakes.ts EvidenceCells may want it, else ''.
   */
  handshake(input: number, line: number, client: number, protocol: number, status: number, durationMs: number, endMs: number, flags: number, key: string, text: string): void {
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
    const at = this.rows.add(row, text);
    if (key !== '') this.keys.see(key, input, protocol, at, endMs, this.rows);
  }

  /** Call once after the last record. */
  finish(): void {
    this.keys.finish();
  }

  /** The number of a client (its name as logged), the same for every line that names it. */
  clientId(client: string): number {
    let id = this.clientIds.get(client);
    if (id !== undefined) return id;
    if (this.clients.length >= MAX_CLIENTS) {
      id = this.clientIds.get(OTHER_CLIENT);
      if (id !== undefined) return id;
      client = OTHER_CLIENT;
    }
    id = this.clients.length;
    // A fresh copy: a sliced string would keep its whole line alive as a map key.
    const copy = Buffer.from(client, 'utf8').toString('utf8');
    this.clientIds.set(copy, id);
    this.clients.push(copy);
    this.clientCounts.push({ total: 0, http10: 0, handshakes: 0, handshakesHttp10: 0, upgraded: 0, failed: 0 });
    return id;
  }
}
