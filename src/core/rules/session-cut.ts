/*!
 * session-cut-at-timeout: upgraded sessions (101) that ended together at a timeout T (an idle
 * timeout or a load balancer's lifetime cap), one finding per T.
 */
import { perTimeout } from './types.js';

export const sessionCut = perTimeout('session-cut-at-timeout', 'sessions', 'warning', (status) => status === 101);
