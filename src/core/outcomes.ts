/*!
 * Handshake outcomes by a name the log gives them (the upstream that answered, the path asked
 * for): exact counts per (input, name) and status class, names numbered in first-seen order and
 * capped, the rest counted under `(other)` as clients are (core/counts.ts). Mergeable. Knows
 * nothing of findings; how names are read from a line is here too (answeringPeer, handshakePath).
 */
import { PairIndex, emptyList, ownCopy } from './lists.js';

/** Status classes a handshake ends in, in the order of OutcomeRow.counts. */
export const enum Outcome {
  UPGRADED = 0,
  /** 1xx but 101, 2xx, and anything nginx logs that is no HTTP status (0, 009). */
  OTHER = 1,
  REDIRECTED = 2,
  /** 4xx but the statuses of giving up. */
  REJECTED = 3,
  /** 499 and 408: the client (or the load balancer) gave up before an answer. */
  GAVE_UP = 4,
  /** 5xx, 504 (nginx gave up on the upstream) included. */
  SERVER_ERROR = 5,
}

export const OUTCOMES = 6;

export const OTHER_NAME = '(other)';
/** The name of a handshake that logged none (no upstream: nginx answered itself). */
export const NO_NAME = '-';

export function outcomeOf(status: number): Outcome {
  if (status === 101) return Outcome.UPGRADED;
  if (status === 499 || status === 408) return Outcome.GAVE_UP;
  if (status >= 500 && status < 600) return Outcome.SERVER_ERROR;
  if (status >= 400) return status < 500 ? Outcome.REJECTED : Outcome.OTHER;
  if (status >= 300) return Outcome.REDIRECTED;
  return Outcome.OTHER;
}

/**
 * The peer whose answer nginx logged: the last of `$upstream_addr`'s list (`a:80, b:80` after a
 * failover, groups joined by ` : ` after an internal redirect); NO_NAME when there is none.
 */
export function answeringPeer(upstreamAddr: string): string {
  const known = PEERS.get(upstreamAddr);
  if (known !== undefined) return known;
  // The answer is cut out of the copy kept, not out of the address given.
  const addr = ownCopy(upstreamAddr);
  const comma = addr.lastIndexOf(', ');
  const redirect = addr.lastIndexOf(' : ');
  const cut = Math.max(comma < 0 ? 0 : comma + 2, redirect < 0 ? 0 : redirect + 3);
  const peer = cut > 0 ? addr.slice(cut) : addr;
  const answer = peer === '' || peer === '-' ? NO_NAME : peer;
  if (PEERS.size >= PEERS_KEPT) PEERS.clear();
  PEERS.set(addr, answer);
  return answer;
}

/**
 * answeringPeer()'s answers, by address as logged: a log repeats a few addresses on most of its
 * handshakes, and each answer made anew was a string to cut and to hash again in the table.
 */
const PEERS = new Map<string, string>();
const PEERS_KEPT = 1024;

/** A request target as an endpoint: no query string or fragment; NO_NAME when there is none. */
export function handshakePath(target: string): string {
  let end = target.length;
  const q = target.indexOf('?');
  if (q >= 0) end = q;
  const h = target.indexOf('#');
  if (h >= 0 && h < end) end = h;
  return end === 0 ? NO_NAME : end === target.length ? target : target.slice(0, end);
}

/** One (input, name) and its handshakes by Outcome. */
export interface OutcomeRow {
  input: number;
  name: number;
  counts: number[];
}

export class OutcomeTable {
  /** Names by id, in first-seen order. */
  readonly names: string[] = emptyList();
  /** Rows in first-seen order. */
  readonly rows: OutcomeRow[] = emptyList();
  /** True once the cap folded some names into OTHER_NAME. */
  capped = false;
  private readonly ids = new Map<string, number>();
  /** Each (input, name)'s row. */
  private readonly rowIds = new PairIndex();

  constructor(readonly cap: number) {}

  /** A table that crossed threads (structured clone keeps fields, not classes) made whole again. */
  static revive(o: OutcomeTable): OutcomeTable {
    PairIndex.revive(o.rowIds);
    return Object.setPrototypeOf(o, OutcomeTable.prototype) as OutcomeTable;
  }

  /** One handshake of `input` under `name`, ended with `status` (n of them). */
  add(input: number, name: string, status: number, n = 1): void {
    this.addTo(input, this.id(name), outcomeOf(status), n);
  }

  /** Adds everything `o` counted, as if its handshakes had come after these. */
  merge(o: OutcomeTable): void {
    this.capped ||= o.capped;
    const ids = o.names.map((name) => this.id(name));
    for (const r of o.rows) r.counts.forEach((n, k) => this.addTo(r.input, ids[r.name] as number, k, n));
  }

  private addTo(input: number, name: number, outcome: number, n: number): void {
    if (n === 0) return;
    let i = this.rowIds.get(input, name);
    if (i < 0) {
      i = this.rows.length;
      this.rowIds.set(input, name, i);
      this.rows.push({ input, name, counts: new Array<number>(OUTCOMES).fill(0) });
    }
    const row = this.rows[i] as OutcomeRow;
    row.counts[outcome] = (row.counts[outcome] as number) + n;
  }

  private id(name: string): number {
    let id = this.ids.get(name);
    if (id !== undefined) return id;
    if (this.names.length >= this.cap && name !== OTHER_NAME) {
      this.capped = true;
      return this.id(OTHER_NAME);
    }
    id = this.names.length;
    const copy = ownCopy(name);
    this.ids.set(copy, id);
    this.names.push(copy);
    return id;
  }
}
