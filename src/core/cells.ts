/*!
 * Tables of counts keyed by two numbers, in typed arrays: CellTable, a hash table whose entries
 * keep the order they came in (the kinds of cell, and any small table), and ClientCells, the
 * per-client cells, grouped by kind and sorted by client (8 bytes a cell, against 20 in a hash
 * table with its index). Storage only: what a kind or a cell means is core/counts.ts's.
 */
import { resized, type Column } from './columns.js';

/**
 * A table's first room, doubled as it fills. Small: a live run's parts make a table or two for
 * every pane of the log's time they touch (a 4 MiB block of the bench's incident log fed through
 * a pipe spans 9 minutes of it, about 50 panes), and 1,024 entries from the start were 64 KB of
 * zeroed columns each.
 */
const FIRST_ENTRIES = 64;

/**
 * Entries keyed by two numbers: open addressing over typed arrays, entries in first-seen order.
 * A count each; a timed table also keeps when its lines came (the first start, the first end and
 * the last end).
 */
export class CellTable {
  length = 0;
  k0: Uint32Array;
  k1: Uint32Array;
  count: Uint32Array;
  first: Float64Array;
  firstEnd: Float64Array;
  last: Float64Array;
  private index: Int32Array;

  /** `room`: entries before the first growth (at least FIRST_ENTRIES, made a power of two). */
  constructor(readonly timed: boolean, room = FIRST_ENTRIES) {
    const entries = powerOfTwoAtLeast(Math.max(FIRST_ENTRIES, room));
    this.k0 = new Uint32Array(entries);
    this.k1 = new Uint32Array(entries);
    this.count = new Uint32Array(entries);
    this.index = new Int32Array(2 * entries);
    const n = timed ? entries : 0;
    this.first = new Float64Array(n);
    this.firstEnd = new Float64Array(n);
    this.last = new Float64Array(n);
  }

  /** The entry of a key, or -1 - (the free index slot where it would go). */
  find(a: number, b: number): number {
    if (this.index.length === 0) this.reindex(2 * this.k0.length);
    const mask = this.index.length - 1;
    let i = hash2(a, b) & mask;
    for (let e = this.index[i] as number; e !== 0; e = this.index[i] as number) {
      const x = e - 1;
      if (this.k0[x] === a && this.k1[x] === b) return x;
      i = (i + 1) & mask;
    }
    return -1 - i;
  }

  /** The entry of a key, created (count 0) when new. */
  entry(a: number, b: number): number {
    const found = this.find(a, b);
    if (found >= 0) return found;
    if (this.length === this.k0.length) {
      this.grow();
      return this.entry(a, b);
    }
    const x = this.length++;
    this.index[-1 - found] = x + 1;
    this.k0[x] = a;
    this.k1[x] = b;
    if (this.timed) {
      this.first[x] = Infinity;
      this.firstEnd[x] = Infinity;
      this.last[x] = -Infinity;
    }
    return x;
  }

  /** No entries, the columns and index kept for the next ones. */
  clear(): void {
    this.count.fill(0, 0, this.length);
    this.length = 0;
    this.index.fill(0);
  }

  /** The columns cut to length and the index dropped (built again if needed), to cross threads; adding grows them again. */
  pack(): void {
    const n = this.length;
    this.eachColumn(<T extends Column>(a: T): T => (a.length === n ? a : (a.slice(0, n) as T)));
    this.index = new Int32Array(0);
  }

  private grow(): void {
    const n = Math.max(FIRST_ENTRIES, this.k0.length * 2);
    this.eachColumn(<T extends Column>(a: T): T => resized(a, n));
    this.reindex(n * 2);
  }

  /** Each column made anew by `f`: the time columns only in a timed table (an untimed one's are empty). */
  private eachColumn(f: <T extends Column>(a: T) => T): void {
    this.k0 = f(this.k0);
    this.k1 = f(this.k1);
    this.count = f(this.count);
    if (this.timed) {
      this.first = f(this.first);
      this.firstEnd = f(this.firstEnd);
      this.last = f(this.last);
    }
  }

  /** A new index of at least `slots` (a power of two) for the entries there are. */
  private reindex(slots: number): void {
    this.index = new Int32Array(powerOfTwoAtLeast(Math.max(slots, 16)));
    const mask = this.index.length - 1;
    for (let x = 0; x < this.length; x++) {
      let i = hash2(this.k0[x] as number, this.k1[x] as number) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = x + 1;
    }
  }
}

function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/** Two 32-bit keys mixed into one hash. */
function hash2(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ b ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Cells kept in the hash table of new ones before they are sorted into the kinds' runs: at least this many. */
const MIN_NEW_CELLS = 1024;

/**
 * Counts per (kind, client), kinds being numbered from 0 (a CellTable's entries): each kind's cells
 * as a run of clients in ascending order with their counts, the runs in kind order, where
 * `start[kind]` says each run begins (compressed sparse rows). A cell already there is found by a
 * binary search in its kind's run and counted in place; a new one waits in a small hash table
 * until there are a sixteenth as many new ones as kept, then all are sorted and merged into the
 * runs in place, from the end (arrays grown by a quarter when full). Exact: only where a count is
 * kept changes.
 */
export class ClientCells {
  /** Where kind k's run begins; its end is start[k + 1]. Kinds past `kinds` have no run yet. */
  private start = new Uint32Array(1);
  private kinds = 0;
  private client = new Uint32Array(0);
  private count = new Uint32Array(0);
  /** Cells in the runs. */
  private kept = 0;
  /** Cells not in the runs yet: k0 the kind, k1 the client. */
  private fresh: CellTable;
  /** One more than the largest client counted: new cells are sorted by kind × span + client. */
  private span = 1;

  /** `room`: new cells expected before the first sort (room for them from the start). */
  constructor(room = 0) {
    this.fresh = new CellTable(false, Math.min(room, MIN_NEW_CELLS));
  }

  /** Distinct cells. */
  get length(): number {
    return this.kept + this.fresh.length;
  }

  /** Is there a cell for (kind, client)? */
  has(kind: number, client: number): boolean {
    return this.at(kind, client) >= 0 || this.fresh.find(kind, client) >= 0;
  }

  /** `n` more for (kind, client). */
  add(kind: number, client: number, n: number): void {
    const x = this.at(kind, client);
    if (x >= 0) {
      this.count[x] = (this.count[x] as number) + n;
      return;
    }
    if (client >= this.span) this.span = client + 1;
    const f = this.fresh;
    const y = f.entry(kind, client);
    f.count[y] = (f.count[y] as number) + n;
    if (f.length >= Math.max(MIN_NEW_CELLS, this.kept >>> 4)) this.settle();
  }

  /** Every cell, by kind, then by client. */
  forEach(fn: (kind: number, client: number, count: number) => void): void {
    this.settle();
    this.forEachUnsorted(fn);
  }

  /**
   * Adds every cell of `o`, its kinds and clients renumbered by `kinds` and `clients` (a merge of
   * counts from elsewhere): one loop, where forEachUnsorted() would call a function a cell.
   */
  addAll(o: ClientCells, kinds: Uint32Array, clients: readonly number[]): void {
    for (let k = 0; k < o.kinds; k++) {
      const kind = kinds[k] as number;
      const end = o.start[k + 1] as number;
      for (let x = o.start[k] as number; x < end; x++) this.add(kind, clients[o.client[x] as number] as number, o.count[x] as number);
    }
    const f = o.fresh;
    for (let y = 0; y < f.length; y++) this.add(kinds[f.k0[y] as number] as number, clients[f.k1[y] as number] as number, f.count[y] as number);
  }

  /**
   * Every cell in no promised order (the runs', then the new ones'), for a merge, which takes them
   * in any: a part's cells cross threads unsorted.
   */
  forEachUnsorted(fn: (kind: number, client: number, count: number) => void): void {
    for (let k = 0; k < this.kinds; k++) {
      const end = this.start[k + 1] as number;
      for (let x = this.start[k] as number; x < end; x++) fn(k, this.client[x] as number, this.count[x] as number);
    }
    const f = this.fresh;
    for (let y = 0; y < f.length; y++) fn(f.k0[y] as number, f.k1[y] as number, f.count[y] as number);
  }

  /** Cut to length, to cross threads; adding grows them again. */
  pack(): void {
    this.client = this.client.slice(0, this.kept);
    this.count = this.count.slice(0, this.kept);
    this.start = this.start.slice(0, this.kinds + 1);
    this.fresh.pack();
  }

  /** A table that crossed threads (structured clone keeps fields, not classes) made whole again. */
  static revive(o: ClientCells): ClientCells {
    Object.setPrototypeOf(o, ClientCells.prototype);
    Object.setPrototypeOf(o.fresh, CellTable.prototype);
    return o;
  }

  /** The place of (kind, client) in the runs, or -1. */
  private at(kind: number, client: number): number {
    if (kind >= this.kinds) return -1;
    let lo = this.start[kind] as number;
    let hi = this.start[kind + 1] as number;
    const c = this.client;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = c[mid] as number;
      if (m === client) return mid;
      if (m < client) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** The new cells sorted into the runs. */
  private settle(): void {
    const f = this.fresh;
    const n = f.length;
    if (n === 0) return;
    // The new cells in (kind, client) order, as numbers sorted natively (exact: kinds × clients stay far below 2^53).
    const span = this.span;
    const order = new Float64Array(n);
    for (let y = 0; y < n; y++) order[y] = (f.k0[y] as number) * span + (f.k1[y] as number);
    order.sort();
    let kinds = this.kinds;
    const lastKind = Math.floor((order[n - 1] as number) / span);
    if (lastKind >= kinds) kinds = lastKind + 1;
    const total = this.kept + n;
    if (total > this.client.length) {
      const room = Math.max(total, this.client.length + (this.client.length >>> 2));
      this.client = resized(this.client, room);
      this.count = resized(this.count, room);
    }
    if (kinds + 1 > this.start.length) this.start = resized(this.start, Math.max(kinds + 1, 2 * this.start.length));
    const start = this.start;
    for (let k = this.kinds + 1; k <= kinds; k++) start[k] = this.kept;
    // Kind by kind from the last, each run moved up by the new cells of the kinds below it and merged with its own, from its end.
    let j = n - 1;
    let shift = n;
    for (let k = kinds - 1; k >= 0 && shift > 0; k--) {
      const lo = start[k] as number;
      let i = (start[k + 1] as number) - 1;
      let w = i + shift;
      start[k + 1] = w + 1;
      for (; j >= 0; j--) {
        const key = order[j] as number;
        const kind = Math.floor(key / span);
        if (kind !== k) break;
        const cl = key - kind * span;
        while (i >= lo && (this.client[i] as number) > cl) {
          this.client[w] = this.client[i] as number;
          this.count[w--] = this.count[i--] as number;
        }
        this.client[w] = cl;
        this.count[w--] = f.count[f.find(kind, cl)] as number;
        shift--;
      }
      if (shift > 0) {
        this.client.copyWithin(lo + shift, lo, i + 1);
        this.count.copyWithin(lo + shift, lo, i + 1);
      }
    }
    this.kinds = kinds;
    this.kept = total;
    f.clear();
  }
}
