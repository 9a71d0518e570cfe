/*!
 * abandoned-at-timeout: handshakes that ended 499/504/408 in a tight cluster at an inferred (or
 * given) timeout T, one finding per T.
 */
import { ABANDONED, perTimeout } from './types.js';

export const abandoned = perTimeout('abandoned-at-timeout', 'failed', 'critical', (status) => ABANDONED.has(status));
