/*!
 * Which input is which proxy tier, and each tier's client table. An input that logged HTTP/1.0 for
 * keys another logged HTTP/1.1 is in front of it (a hidden downgrade: the tier behind re-speaks
 * HTTP/1.1); without such keys, inputs that share keys are tiers in the order given, and inputs
 * that share none are parallel logs of one (first) tier. Reads the exact counts; no prose here.
 */
import type { Counts } from '../core/counts.js';
import type { KeyCounts } from '../core/keys.js';
import { byName } from '../core/lists.js';
import type { ClientRow, TierBasis, TierClients } from './model.js';

export interface Tiers {
  /** Per input: its tier (1: the first, whose clients are load-balancer nodes), and the input in front (-1: none). */
  tier: number[];
  front: number[];
  basis: TierBasis;
}

/** Each input's tier from the key tallies (see the header for the rules). */
export function tiersOf(inputs: number, keys: KeyCounts): Tiers {
  const tier = new Array<number>(inputs).fill(1);
  const front = new Array<number>(inputs).fill(-1);
  if (inputs < 2) return { tier, front, basis: 'single-input' };
  // weight[a][b]: lines of keys HTTP/1.0 on a and HTTP/1.1 on b, i.e. evidence that a is in front of b.
  const weight = Array.from({ length: inputs }, () => new Array<number>(inputs).fill(0));
  const bits = (mask: number): number[] => Array.from({ length: Math.min(inputs, 32) }, (_, i) => i).filter((i) => (mask & (1 << i)) !== 0);
  for (const [pattern, lines] of keys.hidden.patterns) {
    const [m10, m11] = pattern.split(':').map(Number) as [number, number];
    for (const a of bits(m10)) for (const b of bits(m11)) if (a !== b) weight[a]![b]! += lines;
  }
  const inFront = (a: number, b: number): boolean => (weight[a]![b]! > weight[b]![a]!);
  if (weight.some((row) => row.some((w) => w > 0))) {
    // Longest chain of inputs in front; `seen` guards against a cycle the weights could not break.
    const depth = (b: number, seen: Set<number>): number => {
      let d = 1;
      for (let a = 0; a < inputs; a++) if (!seen.has(a) && inFront(a, b)) d = Math.max(d, 1 + depth(a, new Set([...seen, a])));
      return d;
    };
    for (let b = 0; b < inputs; b++) {
      tier[b] = depth(b, new Set([b]));
      let best = -1;
      for (let a = 0; a < inputs; a++) if (inFront(a, b) && (best < 0 || weight[a]![b]! > weight[best]![b]!)) best = a;
      front[b] = best;
    }
    return { tier, front, basis: 'hidden-downgrade' };
  }
  if (keys.multiTier === 0) return { tier, front, basis: 'no-shared-keys' };
  tier.forEach((_, i) => {
    tier[i] = i + 1;
    front[i] = i - 1;
  });
  return { tier, front, basis: 'input-order' };
}

/** A client's totals as the per-client tables show them (assessment and shares set by `finish`). */
export function emptyClientRow(client: string): ClientRow {
  return { client, total: 0, http10: 0, http10Share: 0, handshakes: 0, handshakesHttp10: 0, upgraded: 0, failed: 0, assessment: 'healthy' };
}

/**
 * 'downgrading': every handshake arrived as HTTP/1.0; 'mixed': some did; 'failing': none did, but
 * most did not upgrade; 'partly-failing': none did, some did not upgrade; 'healthy': every one upgraded.
 */
function assess(r: ClientRow): ClientRow['assessment'] {
  if (r.handshakesHttp10 > 0) return r.handshakesHttp10 === r.handshakes ? 'downgrading' : 'mixed';
  // From outcomes, not only the protocol (3xx, 4xx, 5xx, 499 are failures too).
  if (r.failed * 2 > r.handshakes) return 'failing';
  if (r.failed > 0) return 'partly-failing';
  return 'healthy';
}

/**
 * Client rows from the per-(input, client) counts of the inputs `keep` accepts, merged per client:
 * the clients with handshakes or HTTP/1.0 requests, most HTTP/1.0 handshakes, then failures, first.
 */
export function clientRows(c: Counts, keep: (input: number) => boolean, max: number): ClientRow[] {
  const perClient = new Map<number, ClientRow>();
  for (const cc of c.clientCounts) {
    if (!keep(cc.input)) continue;
    let row = perClient.get(cc.client);
    if (row === undefined) perClient.set(cc.client, (row = emptyClientRow(c.clients[cc.client] ?? '?')));
    row.total += cc.total;
    row.http10 += cc.http10;
    row.handshakes += cc.handshakes;
    row.handshakesHttp10 += cc.handshakesHttp10;
    row.upgraded += cc.upgraded;
    row.failed += cc.handshakes - cc.upgraded;
  }
  return [...perClient.values()]
    .filter((r) => r.handshakes > 0 || r.http10 > 0)
    .map((r) => ({ ...r, http10Share: Math.round((r.http10 / Math.max(1, r.total)) * 1e4) / 1e4, assessment: assess(r) }))
    .sort((a, b) => b.handshakesHttp10 - a.handshakesHttp10 || b.failed - a.failed || b.handshakes - a.handshakes || byName(a.client, b.client))
    .slice(0, max);
}

/** One client table per input, first tier first (none with one input). */
export function tierClients(c: Counts, t: Tiers, names: readonly string[], max: number): TierClients[] {
  if (names.length < 2) return [];
  return names
    .map((input, i) => ({ input, tier: t.tier[i] as number, behind: names[t.front[i] as number] ?? null, byClient: clientRows(c, (k) => k === i, max) }))
    .sort((a, b) => a.tier - b.tier);
}

/** The inputs that logged HTTP/1.0 handshakes, by index. */
export function downgradingInputs(c: Counts): Set<number> {
  return new Set(c.clientCounts.filter((cc) => cc.handshakesHttp10 > 0).map((cc) => cc.input));
}

/** The names of the clients of the inputs `keep` accepts. */
export function clientsOf(c: Counts, keep: (input: number) => boolean): Set<string> {
  return new Set(c.clientCounts.filter((cc) => keep(cc.input)).map((cc) => c.clients[cc.client] ?? '?'));
}
