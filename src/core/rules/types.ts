/*!
 * What a finding rule is: a module that, given the inferred timeouts, names which handshake lines
 * belong to a finding (by protocol, status, flags and duration) or, for key findings, reads the
 * key window's tallies. Rules return data only; the words a person reads are in report/prose.ts.
 */
import type { KeyCounts, KeyFindingCounts } from '../keys.js';
import { PROTOCOL_NAMES } from '../classify.js';
import { clusterEdges, clusterOf, type Cluster } from '../timeouts.js';

export type Severity = 'critical' | 'warning' | 'info';

export interface RuleContext {
  clusters: { failed: readonly Cluster[]; sessions: readonly Cluster[] };
  /** Half-width of the window around a timeout T (ms). */
  toleranceMs(centerMs: number): number;
  /** All handshake lines of the input(s). */
  handshakes: number;
}

/** One finding over handshake lines. */
export interface LineSelector {
  id: string;
  timeout?: Cluster;
  /**
   * Does a handshake of this shape belong (its label in the finding's breakdown), or not
   * (undefined)? `ms` is its duration, -1 when not logged.
   */
  label(protocol: number, status: number, flags: number, ms: number): string | undefined;
  /** True when label() never depends on `ms`. */
  durationFree: boolean;
  /**
   * The durations (ms) where label() may change as `ms` grows from 0: it answers the same for
   * every ms from one edge up to the next (and below the first, above the last). So diagnosis
   * weighs a group's histogram by those stretches, not bin by bin.
   */
  edgesMs: readonly number[];
  severity(count: number, ctx: RuleContext): Severity;
}

export interface LineRule {
  kind: 'lines';
  selectors(ctx: RuleContext): LineSelector[];
}

export interface KeyRule {
  kind: 'keys';
  id: string;
  severity: Severity;
  /** The evidence class of core/evidence.ts KEY_CLASS that holds its lines. */
  evidenceClass: number;
  tally(k: KeyCounts): KeyFindingCounts;
  /** Keys the finding may have missed (its count is then a lower bound), when memory ran out. */
  missedAtMost?(k: KeyCounts): number;
}

export type Rule = LineRule | KeyRule;

export { ABANDONED } from '../classify.js';

/**
 * A finding per timeout T of one series (failed handshakes or upgraded sessions): the lines whose
 * status fits and whose duration lies in T's cluster, broken down by protocol and status.
 */
export function perTimeout(id: string, series: 'failed' | 'sessions', severity: Severity, statusFits: (status: number) => boolean): LineRule {
  return {
    kind: 'lines',
    selectors: (ctx) => ctx.clusters[series].map((c) => ({
      id,
      timeout: c,
      durationFree: false,
      edgesMs: clusterEdges(ctx.clusters[series]),
      severity: () => severity,
      label: (protocol: number, status: number, _flags: number, ms: number) =>
        statusFits(status) && clusterOf(ctx.clusters[series], ms) === c ? `${PROTOCOL_NAMES[protocol]} ${status}` : undefined,
    })),
  };
}

/** Critical when a finding holds at least 5 % of the handshakes (and 3 lines), else a warning. */
export function scaled(count: number, ctx: RuleContext): Severity {
  return count >= Math.max(3, ctx.handshakes * 0.05) ? 'critical' : 'warning';
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}
