/*!
 * downgraded-handshake: handshakes that reached nginx as HTTP/1.0 (RFC 6455 needs HTTP/1.1), by
 * outcome: given up at a timeout T (499/504, or 101 when the hop kept Upgrade), rejected (426,
 * 400), or otherwise.
 */
import { Protocol } from '../classify.js';
import { clusterEdges, clusterOf } from '../timeouts.js';
import { ABANDONED, seconds, type LineRule } from './types.js';

export const downgraded: LineRule = {
  kind: 'lines',
  selectors: (ctx) => [{
    id: 'downgraded-handshake',
    durationFree: false,
    // Its clusters' edges, and those of the windows of T ± tolerance (ms past the window's end is out).
    edgesMs: [
      ...clusterEdges(ctx.clusters.failed), ...clusterEdges(ctx.clusters.sessions),
      ...ctx.clusters.failed.flatMap((c) => [Math.ceil(c.centerMs - ctx.toleranceMs(c.centerMs)), Math.floor(c.centerMs + ctx.toleranceMs(c.centerMs)) + 1]),
    ],
    severity: () => 'critical',
    label(protocol, status, _flags, ms) {
      if (protocol !== Protocol.HTTP10) return undefined;
      const { failed, sessions } = ctx.clusters;
      const own = clusterOf(status === 101 ? sessions : failed, ms);
      // An HTTP/1.0 101 that the LB gave up on ends at the LB's T, which the failed handshakes name.
      const atT = own ?? (status === 101 && ms >= 0 ? failed.find((c) => Math.abs(ms - c.centerMs) <= ctx.toleranceMs(c.centerMs)) : undefined);
      if (atT) return `${status} at ≈${seconds(atT.centerMs)}`;
      if (status === 101) return '101 (tunnel ended before any timeout)';
      if (status >= 400 && status < 500 && !ABANDONED.has(status)) return `${status} rejected`;
      return ms < 0 ? `${status} (duration not logged)` : `${status} (not at a timeout)`;
    },
  }],
};
