/*!
 * Every finding rule, in one list. Adding a finding is adding a module and a line here (and its
 * words in report/prose.ts).
 */
import { abandoned } from './abandoned.js';
import { missingUpgrade, rejected, upstreamError } from './answers.js';
import { downgraded } from './downgraded.js';
import { hiddenDowngrade, reusedKey } from './keys.js';
import { redirected } from './redirected.js';
import { sessionCut } from './session-cut.js';
import type { Rule } from './types.js';

export const RULES: readonly Rule[] = [downgraded, abandoned, sessionCut, hiddenDowngrade, missingUpgrade, redirected, rejected, upstreamError, reusedKey];

/** Every finding id the rules can report. */
export const FINDING_IDS = [
  'downgraded-handshake', 'abandoned-at-timeout', 'session-cut-at-timeout', 'hidden-downgrade',
  'missing-upgrade-header', 'handshake-redirected', 'handshake-rejected', 'upstream-error', 'reused-key',
] as const;
export type FindingId = (typeof FINDING_IDS)[number];
