/*!
 * abandoned-at-timeout: handshakes that ended 499/504/408 in a tight cluster at an inferred (or
 * given) timeout T, one finding per T.
 */
import { PROTOCOL_NAMES } from '../classify.js';
import { clusterOf } from '../timeouts.js';
import { ABANDONED, type LineRule } from './types.js';

export const abandoned: LineRule = {
  kind: 'lines',
  selectors: (ctx) => ctx.clusters.failed.map((c) => ({
    id: 'abandoned-at-timeout',
    timeout: c,
    durationFree: false,
    severity: () => 'critical' as const,
    label: (protocol: number, status: number, _flags: number, ms: number) =>
      ABANDONED.has(status) && clusterOf(ctx.clusters.failed, ms) === c ? `${PROTOCOL_NAMES[protocol]} ${status}` : undefined,
  })),
};
