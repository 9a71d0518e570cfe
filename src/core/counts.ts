/*!
 * The exact, mergeable counts every number of the report comes from: requests per (input, client),
 * handshake groups (input × protocol × status × flags) with a FINE duration histogram each,
 * per-client cells (group × client × COARSE duration bin), the first start and last end of each
 * kind of cell (group × bin), time buckets, handshake outcomes by upstream and by path
 * (core/outcomes.ts). merge(a, b) gives what counting a's lines then b's would. Knows nothing of
 * keys (core/keys.ts), evidence text (core/evidence.ts) or what a finding is (core/rules/).
 */
import { ABANDONED, Protocol } from './classify.js';
import { CellTable, ClientCells } from './cells.js';
import { COARSE, DurationHistogram } from './grid.js';
import { PairIndex, emptyList, ownCopy } from './lists.js';
import { OutcomeTable, answeringPeer } from './outcomes.js';

/** Bits of a handshake's flags (a group and a cell keep them). */
export const enum RowFlag {
  HAS_KEY = 1,
  /** The format logs $http_upgrade and it was empty or `-`. */
  UPGRADE_MISSING = 2,
  /** Matched the WebSocket path patterns. */
  WS_PATH = 4,
}

/** Sizes past which the counts fold detail into `(other)`; tests shrink them to run past every cap. */
export interface CountCaps {
  clients: number;
  cells: number;
  timeBuckets: number;
  /** Upstreams, and paths, kept one by one in the outcome tables. */
  names: number;
}

/** Kinds of cell and cells a Counts is to expect (see the constructor). */
export interface CountsRoom {
  kinds: number;
  cells: number;
}

export const DEFAULT_COUNT_CAPS: CountCaps = { clients: 100_000, cells: 1 << 19, timeBuckets: 4096, names: 10_000 };

export const OTHER_CLIENT = '(other)';

export interface ClientCounts {
  input: number;
  client: number;
  total: number;
  http10: number;
  handshakes: number;
  handshakesHttp10: number;
  upgraded: number;
}

export interface Group {
  input: number;
  protocol: number;
  status: number;
  flags: number;
  count: number;
  /** Durations of the group's handshakes that logged one. */
  durations: DurationHistogram;
}

/** Bucket widths in seconds: each divides the next, so buckets can always be merged upwards. */
export const BUCKET_LADDER_S = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600, 86400];

export interface Bucket {
  /** Handshakes that started in the bucket, of them HTTP/1.0, and failed attempts (failedByAnswer). */
  handshakes: number;
  downgraded: number;
  failed: number;
  /** Not-upgraded handshakes per client id, and when the first and the last of them started. */
  failedBy: Map<number, number>;
  failedFirst: number;
  failedLast: number;
}

/** The failedBy of every bucket without a failure, shared (never written): most buckets of a healthy log. */
const NO_FAILURES: Map<number, number> = new Map();

/**
 * A handshake that failed whatever the timeouts turn out to be: HTTP/1.0, a 3xx, 4xx or 5xx answer
 * (but the statuses of giving up, which are failures only at a timeout), no Upgrade logged.
 */
export function failedByAnswer(protocol: number, status: number, flags: number): boolean {
  if (protocol === Protocol.HTTP10 || (status >= 300 && !ABANDONED.has(status))) return true;
  return (flags & RowFlag.UPGRADE_MISSING) !== 0 && (flags & (RowFlag.HAS_KEY | RowFlag.WS_PATH)) !== 0;
}

/** One cell, as the rules read it. */
export interface CellView {
  input: number;
  protocol: number;
  flags: number;
  status: number;
  client: number;
  /** COARSE bin, or -1 when no duration was logged. */
  bin: number;
  count: number;
  /** The first start, the first end and the last end among the cell's lines. */
  firstMs: number;
  firstEndMs: number;
  lastMs: number;
}

export class Counts {
  requests = 0;
  requestsHttp10 = 0;
  handshakes = 0;
  firstMs = Infinity;
  lastMs = -Infinity;
  /** Client addresses by id, in first-seen order. */
  readonly clients: string[] = emptyList();
  /** Requests and handshakes per (input, client), in first-seen order. */
  readonly clientCounts: ClientCounts[] = emptyList();
  readonly groups = new Map<number, Group>();
  /** Width of the time buckets in seconds (a BUCKET_LADDER_S step; grows when there are too many). */
  bucketSeconds = 1;
  readonly buckets = new Map<number, Bucket>();
  /** True once a cap folded some clients into OTHER_CLIENT. */
  clientsCapped = false;
  /** Handshakes per (input, answering upstream) and per (input, path), by outcome. */
  readonly byUpstream: OutcomeTable;
  readonly byPath: OutcomeTable;
  private readonly clientIds = new Map<string, number>();
  /** Each (input, client)'s ClientCounts. */
  private readonly pairIds = new PairIndex();
  /** Handshakes per (kind of cell, client), the kind as its entry in `kinds`: 8 bytes a cell (core/cells.ts). */
  private readonly cells: ClientCells;
  /**
   * The kinds of cell (input × protocol × flags, then status × COARSE bin), and when each kind's
   * lines came, whoever sent them (a finding's first and last lines): kept once per kind, not per
   * client (24 bytes more a cell).
   */
  private readonly kinds: CellTable;

  /**
   * `room`: how many kinds and cells to expect, room made for them from the start (a part's tables
   * grown from 64 entries took 2 % of the time it was read in, in the allocations).
   */
  constructor(readonly caps: CountCaps = DEFAULT_COUNT_CAPS, room?: CountsRoom) {
    this.byUpstream = new OutcomeTable(caps.names);
    this.byPath = new OutcomeTable(caps.names);
    this.cells = new ClientCells(room?.cells);
    this.kinds = new CellTable(true, room?.kinds);
  }

  /** The room these tables needed: what the thread's next part's counts start with. */
  room(): CountsRoom {
    return { kinds: this.kinds.length, cells: this.cells.length };
  }

  /** The number of a client (its name as logged), the same for every line that names it. */
  clientId(name: string): number {
    let id = this.clientIds.get(name);
    if (id !== undefined) return id;
    if (this.clients.length >= this.caps.clients) {
      this.clientsCapped = true;
      if (name !== OTHER_CLIENT) return this.clientId(OTHER_CLIENT);
    }
    id = this.clients.length;
    const copy = ownCopy(name);
    this.clientIds.set(copy, id);
    this.clients.push(copy);
    return id;
  }

  /** One parsed line that reached the analysis. startMs/endMs NaN when the line has no time. */
  request(input: number, client: number, protocol: number, startMs: number, endMs: number): void {
    this.requests++;
    const c = this.pair(input, client);
    c.total++;
    if (protocol === Protocol.HTTP10) {
      this.requestsHttp10++;
      c.http10++;
    }
    if (endMs === endMs) {
      if (startMs < this.firstMs) this.firstMs = startMs;
      if (endMs > this.lastMs) this.lastMs = endMs;
    }
  }

  /** A line that request() just counted is a handshake. durationMs -1: not logged. */
  handshake(input: number, client: number, protocol: number, status: number, flags: number, durationMs: number, startMs: number, endMs: number): void {
    this.handshakes++;
    const c = this.pair(input, client);
    c.handshakes++;
    if (protocol === Protocol.HTTP10) c.handshakesHttp10++;
    if (status === 101) c.upgraded++;
    const g = this.group(input, protocol, status, flags);
    g.count++;
    if (durationMs >= 0) g.durations.add(durationMs);
    this.addCell(input, protocol, flags, status, client, durationMs < 0 ? -1 : COARSE.bin(durationMs), 1, startMs, endMs, endMs);
    if (startMs === startMs) this.addToBucket(startMs, 1, protocol === Protocol.HTTP10 ? 1 : 0, failedByAnswer(protocol, status, flags) ? 1 : 0, client);
  }

  /**
   * Where a handshake that handshake() just counted went: its $upstream_addr as logged ('' when
   * not) and its path without the query string.
   */
  target(input: number, upstreamAddr: string, path: string, status: number): void {
    this.byUpstream.add(input, answeringPeer(upstreamAddr), status);
    this.byPath.add(input, path, status);
  }

  /** Every cell, by kind (in first-seen order), then by client; its times are its kind's. */
  forEachCell(fn: (c: CellView) => void): void {
    const k = this.kinds;
    const v: CellView = { input: 0, protocol: 0, flags: 0, status: 0, client: 0, bin: -1, count: 0, firstMs: 0, firstEndMs: 0, lastMs: 0 };
    this.cells.forEach((y, client, count) => {
      const k0 = k.k0[y] as number;
      const statusBin = k.k1[y] as number;
      v.input = k0 & 0xffff;
      v.protocol = (k0 >>> 16) & 0xf;
      v.flags = k0 >>> 20;
      v.status = statusBin >>> 16;
      v.bin = (statusBin & 0xffff) - 1;
      v.client = client;
      v.count = count;
      v.firstMs = k.first[y] as number;
      v.firstEndMs = k.firstEnd[y] as number;
      v.lastMs = k.last[y] as number;
      fn(v);
    });
  }

  /** Counts that crossed threads (structured clone keeps fields, not classes) made whole again. */
  static revive(o: Counts): Counts {
    Object.setPrototypeOf(o, Counts.prototype);
    ClientCells.revive(o.cells);
    Object.setPrototypeOf(o.kinds, CellTable.prototype);
    PairIndex.revive(o.pairIds);
    OutcomeTable.revive(o.byUpstream);
    OutcomeTable.revive(o.byPath);
    for (const g of o.groups.values()) DurationHistogram.revive(g.durations);
    return o;
  }

  /** Packed to be posted to another thread (tables and histograms cut to length); still readable, and merge() takes it. */
  pack(): void {
    for (const g of this.groups.values()) g.durations.pack();
    this.cells.pack();
    this.kinds.pack();
  }

  /** Adds everything `o` counted, as if its lines had come after these. */
  merge(o: Counts): void {
    const ids = o.clients.map((name) => this.clientId(name));
    const id = (c: number): number => ids[c] as number;
    this.requests += o.requests;
    this.requestsHttp10 += o.requestsHttp10;
    this.handshakes += o.handshakes;
    if (o.firstMs < this.firstMs) this.firstMs = o.firstMs;
    if (o.lastMs > this.lastMs) this.lastMs = o.lastMs;
    this.clientsCapped ||= o.clientsCapped;
    for (const c of o.clientCounts) {
      const mine = this.pair(c.input, id(c.client));
      mine.total += c.total;
      mine.http10 += c.http10;
      mine.handshakes += c.handshakes;
      mine.handshakesHttp10 += c.handshakesHttp10;
      mine.upgraded += c.upgraded;
    }
    for (const g of o.groups.values()) {
      const mine = this.group(g.input, g.protocol, g.status, g.flags);
      mine.count += g.count;
      mine.durations.merge(g.durations);
    }
    this.byUpstream.merge(o.byUpstream);
    this.byPath.merge(o.byPath);
    // The cells' keys as stored (forEachCell's view would decode and encode them again): every part
    // of every input comes through here. A fleet run's image of counts has only forEachCell.
    const t = o.cells;
    if (!(t instanceof ClientCells)) {
      o.forEachCell((c) => this.addCell(c.input, c.protocol, c.flags, c.status, id(c.client), c.bin, c.count, c.firstMs, c.firstEndMs, c.lastMs));
      return this.mergeBuckets(o, id);
    }
    const k = o.kinds;
    const kinds = new Uint32Array(k.length);
    for (let y = 0; y < k.length; y++) kinds[y] = this.timeKind(k.k0[y] as number, k.k1[y] as number, k.first[y] as number, k.firstEnd[y] as number, k.last[y] as number);
    // Below the cap even with every cell of o new, no cell can fold: all are added in one loop.
    if (this.cells.length + t.length <= this.caps.cells) this.cells.addAll(t, kinds, ids);
    else t.forEachUnsorted((y, client, count) => this.countCell(kinds[y] as number, id(client), count));
    this.mergeBuckets(o, id);
  }

  private mergeBuckets(o: Counts, id: (client: number) => number): void {
    if (o.bucketSeconds > this.bucketSeconds) this.rebucket(o.bucketSeconds);
    for (const [k, b] of o.buckets) this.mergeBucket(k * o.bucketSeconds * 1000, b, id);
  }

  private pair(input: number, client: number): ClientCounts {
    let i = this.pairIds.get(input, client);
    if (i < 0) {
      i = this.clientCounts.length;
      this.pairIds.set(input, client, i);
      this.clientCounts.push({ input, client, total: 0, http10: 0, handshakes: 0, handshakesHttp10: 0, upgraded: 0 });
    }
    return this.clientCounts[i] as ClientCounts;
  }

  private group(input: number, protocol: number, status: number, flags: number): Group {
    const k = ((input * 8 + protocol) * 256 + flags) * 1000 + status;
    let g = this.groups.get(k);
    if (g === undefined) {
      g = { input, protocol, status, flags, count: 0, durations: new DurationHistogram() };
      this.groups.set(k, g);
    }
    return g;
  }

  private addCell(input: number, protocol: number, flags: number, status: number, client: number, bin: number, n: number, first: number, firstEnd: number, last: number): void {
    const k0 = (input & 0xffff) | (protocol << 16) | (flags << 20);
    const statusBin = (status << 16) | (bin + 1);
    this.countCell(this.timeKind(k0, statusBin, first, firstEnd, last), client, n);
  }

  /** `n` more handshakes of kind `kind` (its entry in `kinds`) from `client`. */
  private countCell(kind: number, client: number, n: number): void {
    const t = this.cells;
    // Past the cap, new (client, cell) pairs count under OTHER_CLIENT: memory stays bounded, totals exact.
    if (t.length >= this.caps.cells && !t.has(kind, client) && client !== this.otherId()) {
      this.clientsCapped = true;
      client = this.otherId();
    }
    t.add(kind, client, n);
  }

  /** The entry in `kinds` of a kind of cell, its times moved out to take these in. */
  private timeKind(k0: number, statusBin: number, first: number, firstEnd: number, last: number): number {
    const k = this.kinds;
    const y = k.entry(k0, statusBin);
    if (first < (k.first[y] as number)) k.first[y] = first;
    if (firstEnd < (k.firstEnd[y] as number)) k.firstEnd[y] = firstEnd;
    if (last > (k.last[y] as number)) k.last[y] = last;
    return y;
  }

  private otherId(): number {
    return this.clientId(OTHER_CLIENT);
  }

  private addToBucket(atMs: number, handshakes: number, downgraded: number, failed: number, client: number): void {
    const b = this.bucketAt(atMs);
    b.handshakes += handshakes;
    b.downgraded += downgraded;
    if (failed > 0) addFailed(b, client, failed, atMs, atMs);
  }

  /** The bucket that holds `atMs`, made if new (the buckets widened first when there would be too many). */
  private bucketAt(atMs: number): Bucket {
    for (;;) {
      const k = Math.floor(atMs / (this.bucketSeconds * 1000));
      const b = this.buckets.get(k);
      if (b !== undefined) return b;
      if (this.buckets.size < this.caps.timeBuckets || this.bucketSeconds >= (BUCKET_LADDER_S.at(-1) as number)) {
        const made: Bucket = { handshakes: 0, downgraded: 0, failed: 0, failedBy: NO_FAILURES, failedFirst: Infinity, failedLast: -Infinity };
        this.buckets.set(k, made);
        return made;
      }
      this.rebucket(BUCKET_LADDER_S[BUCKET_LADDER_S.indexOf(this.bucketSeconds) + 1] as number);
    }
  }

  /**
   * Counts in buckets at least `seconds` wide (a BUCKET_LADDER_S step) from now on: a part counted
   * at the width its run has reached makes a few buckets where it would make one a second, each
   * merged into one of the run's. Exact either way; merge() widens to the wider side.
   */
  bucketsAtLeast(seconds: number): void {
    if (seconds > this.bucketSeconds) this.rebucket(seconds);
  }

  /** Moves every bucket to the wider `seconds` (a later step of BUCKET_LADDER_S). */
  private rebucket(seconds: number): void {
    const old = [...this.buckets];
    const from = this.bucketSeconds;
    this.buckets.clear();
    this.bucketSeconds = seconds;
    for (const [k, b] of old) this.mergeBucket(k * from * 1000, b, (c) => c);
  }

  /** Adds bucket `b` (which starts at `atMs`), its clients renumbered by `id`. */
  private mergeBucket(atMs: number, b: Bucket, id: (client: number) => number): void {
    const to = this.bucketAt(atMs);
    for (const [client, n] of b.failedBy) addFailed(to, id(client), n, b.failedFirst, b.failedLast);
    to.handshakes += b.handshakes;
    to.downgraded += b.downgraded;
  }
}

/** `n` failed attempts more in bucket `b`, from `client`, the first and the last of them started at `firstMs` and `lastMs`. */
function addFailed(b: Bucket, client: number, n: number, firstMs: number, lastMs: number): void {
  b.failed += n;
  if (b.failedBy === NO_FAILURES) b.failedBy = new Map();
  b.failedBy.set(client, (b.failedBy.get(client) ?? 0) + n);
  if (firstMs < b.failedFirst) b.failedFirst = firstMs;
  if (lastMs > b.failedLast) b.failedLast = lastMs;
}
