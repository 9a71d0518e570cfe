/*!
 * Findings decided by a handshake's answer alone: missing-upgrade-header (a key or WebSocket path
 * with no Upgrade logged), handshake-rejected (4xx but 499) and upstream-error (5xx; a 504 at an
 * inferred timeout belongs to abandoned-at-timeout instead).
 */
import { PROTOCOL_NAMES } from '../classify.js';
import { RowFlag } from '../counts.js';
import { clusterEdges, clusterOf } from '../timeouts.js';
import { ABANDONED, scaled, type LineRule } from './types.js';

export const missingUpgrade: LineRule = {
  kind: 'lines',
  selectors: () => [{
    id: 'missing-upgrade-header',
    durationFree: true,
    edgesMs: [],
    severity: scaled,
    label: (protocol, status, flags) =>
      flags & RowFlag.UPGRADE_MISSING && flags & (RowFlag.HAS_KEY | RowFlag.WS_PATH) ? `${PROTOCOL_NAMES[protocol]} ${status}` : undefined,
  }],
};

export const rejected: LineRule = {
  kind: 'lines',
  selectors: () => [{
    id: 'handshake-rejected',
    durationFree: true,
    edgesMs: [],
    severity: scaled,
    label: (_protocol, status) => (status >= 400 && status < 500 && !ABANDONED.has(status) ? String(status) : undefined),
  }],
};

export const upstreamError: LineRule = {
  kind: 'lines',
  selectors: (ctx) => [{
    id: 'upstream-error',
    durationFree: false,
    edgesMs: clusterEdges(ctx.clusters.failed),
    severity: scaled,
    // The final $status decides: a failover (`$upstream_status` "502, 101") that ended 101 gave the
    // client its WebSocket (nginx logs the dead peer in error.log); "502, 502" ends 502 and counts.
    label: (_protocol, status, _flags, ms) =>
      status >= 500 && !(status === 504 && clusterOf(ctx.clusters.failed, ms) !== undefined) ? String(status) : undefined,
  }],
};
