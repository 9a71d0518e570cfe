/*!
 * Findings over Sec-WebSocket-Keys, read from the key window's tallies: hidden-downgrade (one key
 * HTTP/1.0 at one tier and HTTP/1.1 at another) and reused-key (one key on several lines of one
 * input, however far apart). Both count keys, not lines.
 */
import { KEY_CLASS } from '../evidence.js';
import type { KeyRule } from './types.js';

export const hiddenDowngrade: KeyRule = {
  kind: 'keys', id: 'hidden-downgrade', severity: 'critical', evidenceClass: KEY_CLASS.hidden, tally: (k) => k.hidden,
};

export const reusedKey: KeyRule = {
  kind: 'keys', id: 'reused-key', severity: 'warning', evidenceClass: KEY_CLASS.reused, tally: (k) => k.reusedKeys,
  // A key forgotten after it left the key window and sent again is a reuse not counted.
  missedAtMost: (k) => k.forgotten,
};
