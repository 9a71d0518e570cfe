/*!
 * session-cut-at-timeout: upgraded sessions (101) that ended together at a timeout T (an idle
 * timeout or a load balancer's lifetime cap), one finding per T.
 */
import { PROTOCOL_NAMES } from '../classify.js';
import { clusterOf } from '../timeouts.js';
import type { LineRule } from './types.js';

export const sessionCut: LineRule = {
  kind: 'lines',
  selectors: (ctx) => ctx.clusters.sessions.map((c) => ({
    id: 'session-cut-at-timeout',
    timeout: c,
    durationFree: false,
    severity: () => 'warning' as const,
    label: (protocol: number, status: number, _flags: number, ms: number) =>
      status === 101 && clusterOf(ctx.clusters.sessions, ms) === c ? `${PROTOCOL_NAMES[protocol]} ${status}` : undefined,
  })),
};
