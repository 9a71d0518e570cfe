/*!
 * Small text helpers shared by the human-readable renderers: numbers, seconds, percentages, and
 * making log text (attacker-controlled) safe to print: control and escape bytes shown, not executed.
 */

/** Control characters (C0, DEL, C1) become visible `\xHH`, so a log line cannot drive the terminal. */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

export function int(n: number): string {
  return n.toLocaleString('en-US');
}

export function pct(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 1)}%`;
}

export function secs(s: number | null): string {
  return s === null ? '-' : s.toFixed(3);
}

export function plural(n: number, word: string): string {
  return `${int(n)} ${word}${n === 1 ? '' : 's'}`;
}
