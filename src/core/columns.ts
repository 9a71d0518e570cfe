/*!
 * Typed columns grown in place: a typed array of another length, of the same kind, its numbers
 * copied in. The tables of core/ (cells, key slots, handshake rows, sightings) keep their numbers
 * in such columns and grow them all together; a duration histogram (core/grid.ts) its buffered durations.
 */

export type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** A column of `n` numbers of a's kind, holding a's first ones (all of them when it is longer). */
export function resized<T extends Column>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
