/*!
 * Lists: empty arrays made to hold any value from their start, the order names are listed in, an
 * index of entries numbered by a pair of small numbers (an input and a client or a name), a
 * string's copy of its own, to keep, and where a number falls among sorted ones.
 * V8 starts an empty `[]` as an array of small integers and changes its kind at its first string
 * or object; code optimized for the kind such arrays end with is sent back to be compiled again by
 * each fresh one (a part's tables are made anew for every part of an input, and every part did so
 * at its first client).
 */

/** How many of `sorted` (ascending) are at most `x`: which of the stretches they cut holds x. */
export function countAtMost(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** An empty array of values that are not small integers (strings, objects, typed arrays). */
export function emptyList<T>(): T[] {
  const a: T[] = [undefined as T];
  a.length = 0;
  return a;
}

/**
 * A string to keep, as a copy of its own: one sliced from a line (or from a value sliced from it)
 * would keep the whole line alive, and old, for as long as it is kept.
 */
export function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Names in the order of their UTF-16 code units: the same on every machine, whatever its locale,
 * and without Intl (whose first use loads ICU's data, about 10 MB of memory).
 */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The entries of a table numbered by (input, id), both small: an array per input indexed by id. A
 * Map keyed by `input × 2^32 + id` hashed a boxed double at every lookup (the key is past 2^31).
 */
export class PairIndex {
  /** Per input, by id: 1 + the entry (0: none). */
  private readonly byInput: Int32Array[] = emptyList();

  /** The entry of (input, id), or -1. */
  get(input: number, id: number): number {
    // Not read past the end (V8 would compile the caller again for each table's first entry).
    const ids = input < this.byInput.length ? this.byInput[input] : undefined;
    return ids === undefined || id >= ids.length ? -1 : (ids[id] as number) - 1;
  }

  /** An index that crossed threads (structured clone keeps fields, not classes) made whole again. */
  static revive(o: PairIndex): PairIndex {
    return Object.setPrototypeOf(o, PairIndex.prototype) as PairIndex;
  }

  set(input: number, id: number, entry: number): void {
    let ids = input < this.byInput.length ? this.byInput[input] : undefined;
    if (ids === undefined || id >= ids.length) {
      const grown = new Int32Array(Math.max(64, 2 * id + 2));
      if (ids !== undefined) grown.set(ids);
      ids = grown;
      this.byInput[input] = ids;
    }
    ids[id] = entry + 1;
  }
}
