/*!
 * handshake-redirected: handshakes answered 3xx. Browsers do not follow a redirect on a WebSocket
 * handshake, so each one is a failed connection (nginx's own 301 from `/ws` to `/ws/` when only
 * `location /ws/` exists is the common one).
 */
import { scaled, type LineRule } from './types.js';

export const redirected: LineRule = {
  kind: 'lines',
  selectors: () => [{
    id: 'handshake-redirected',
    durationFree: true,
    edgesMs: [],
    severity: scaled,
    label: (_protocol, status) => (status >= 300 && status < 400 ? String(status) : undefined),
  }],
};
