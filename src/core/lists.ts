/*!
 * Lists: empty arrays made to hold any value from their start, and the order names are listed in.
 * V8 starts an empty `[]` as an array of small integers and changes its kind at its first string
 * or object; code optimized for the kind such arrays end with is sent back to be compiled again by
 * each fresh one (a part's tables are made anew for every part of an input, and every part did so
 * at its first client).
 */

/** An empty array of values that are not small integers (strings, objects, typed arrays). */
export function emptyList<T>(): T[] {
  const a: T[] = [undefined as T];
  a.length = 0;
  return a;
}

/**
 * Names in the order of their UTF-16 code units: the same on every machine, whatever its locale,
 * and without Intl (whose first use loads ICU's data, about 10 MB of memory).
 */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
