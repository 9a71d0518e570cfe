/*!
 * Small text helpers shared by the human-readable renderers: numbers, seconds, percentages, and
 * making log text (attacker-controlled) safe to print: control and escape bytes shown, not executed.
 * Numbers are written as en-US writes them, without Intl: its first use loads ICU's data, about
 * 10 MB of memory at the end of a run, where the run's peak is.
 */
import type { Finding } from './model.js';

/**
 * Control characters (C0, DEL, C1: ESC and CSI start terminal sequences) become `\xHH`, and the
 * characters that reorder or break displayed text (bidi overrides and isolates, line and paragraph
 * separators) `\uHHHH`, so a log line cannot drive the terminal or disguise what it says.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0').toUpperCase()}` : `\\u${code.toString(16).padStart(4, '0').toUpperCase()}`;
  });
}

/** A number as en-US writes it: a comma between groups of three digits, `min` to `max` digits after the point. */
export function decimal(n: number, min = 0, max = 3): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '∞' : '-∞';
  const [whole = '', point = ''] = Math.abs(n).toFixed(max).split('.');
  let frac = point;
  while (frac.length > min && frac.endsWith('0')) frac = frac.slice(0, -1);
  const sign = n < 0 && /[1-9]/.test(whole + frac) ? '-' : '';
  return `${sign}${whole.replace(/\B(?=(\d{3})+$)/g, ',')}${frac === '' ? '' : `.${frac}`}`;
}

export function int(n: number): string {
  return decimal(n);
}

export function pct(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 1)}%`;
}

/** Seconds to the millisecond, `1,800.000`; `-` for null. */
export function secs(s: number | null): string {
  return s === null ? '-' : decimal(s, 3, 3);
}

export function plural(n: number, word: string): string {
  return `${int(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** A finding's size: "21 handshakes, 25 log lines" (attempts first, log lines where they differ), "4 keys". */
export function attempts(f: Finding): string {
  if (f.id === 'hidden-downgrade' || f.id === 'reused-key') return plural(f.count, 'key');
  const n = f.handshakes ?? f.count;
  return n === f.count ? plural(n, 'handshake') : `${plural(n, 'handshake')}, ${plural(f.count, 'log line')}`;
}
