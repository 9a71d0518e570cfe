/*!
 * Every handshake line, kept as a row of numbers in growable typed arrays (≈40 bytes a row, no
 * text), so findings can be decided after the timeouts are known. Past MAX_ROWS rows it keeps a
 * uniform sample (and says so). Evidence text is kept only for a few rows per (protocol, status,
 * second of duration) cell. Keys live in KeyTable: a few numbers per key, never raw lines.
 */

export const enum RowFlag {
  HAS_KEY = 1,
  /** The format logs $http_upgrade and it was empty or `-`. */
  UPGRADE_MISSING = 2,
  /** Matched the WebSocket path patterns. */
  WS_PATH = 4,
}

export interface RowInput {
  input: number;
  line: number;
  client: number;
  protocol: number;
  status: number;
  durationMs: number;
  endMs: number;
  flags: number;
  key: number;
}

/** Rows kept exactly; beyond this a reservoir sample keeps memory flat. */
const MAX_ROWS = 4_000_000;
const EVIDENCE_PER_CELL = 4;
const MAX_EVIDENCE = 20_000;

function grow<T extends Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

export class HandshakeTable {
  length = 0;
  /** Rows offered, including those the sample left out. */
  seen = 0;
  input = new Uint16Array(1024);
  line = new Float64Array(1024);
  client = new Uint32Array(1024);
  protocol = new Uint8Array(1024);
  status = new Uint16Array(1024);
  durationMs = new Int32Array(1024);
  endMs = new Float64Array(1024);
  flags = new Uint8Array(1024);
  key = new Int32Array(1024);
  /** Next row with the same key (-1 = none): a per-key chain for tracing across tiers. */
  nextSameKey = new Int32Array(1024);
  readonly texts = new Map<number, string>();
  private readonly cells = new Map<number, number>();
  private rand = 0x2545f491;

  get sampled(): boolean {
    return this.seen > this.length;
  }

  /** Adds a row; returns its index, or -1 if the sample left it out. */
  add(r: RowInput, text: string): number {
    this.seen++;
    let at = this.length;
    if (at >= MAX_ROWS) {
      at = this.nextRandom() % this.seen;
      if (at >= MAX_ROWS) return -1;
      this.texts.delete(at);
    } else {
      if (at === this.input.length) this.resize(at * 2);
      this.length++;
    }
    this.input[at] = r.input;
    this.line[at] = r.line;
    this.client[at] = r.client;
    this.protocol[at] = r.protocol;
    this.status[at] = r.status;
    this.durationMs[at] = r.durationMs;
    this.endMs[at] = r.endMs;
    this.flags[at] = r.flags;
    this.key[at] = r.key;
    this.nextSameKey[at] = -1;
    this.keepText(at, r, text);
    return at;
  }

  private keepText(at: number, r: RowInput, text: string): void {
    if (this.texts.size >= MAX_EVIDENCE) return;
    const cell = (r.protocol * 1000 + r.status) * 100_000 + (r.durationMs < 0 ? 99_999 : Math.min(99_998, Math.floor(r.durationMs / 1000)));
    const n = this.cells.get(cell) ?? 0;
    // Missing-Upgrade rows get their own allowance: they are rare and always worth showing.
    if (n >= EVIDENCE_PER_CELL && !(r.flags & RowFlag.UPGRADE_MISSING && n < EVIDENCE_PER_CELL * 2)) return;
    this.cells.set(cell, n + 1);
    this.keepEvidence(at, text);
  }

  /** Keeps a row's text whatever its cell holds (a rare row that a finding will cite). */
  keepEvidence(at: number, text: string): void {
    if (this.texts.size >= MAX_EVIDENCE || this.texts.has(at)) return;
    this.texts.set(at, text.length > 2000 ? `${text.slice(0, 1999)}…` : Buffer.from(text, 'utf8').toString('utf8'));
  }

  private nextRandom(): number {
    // xorshift32: deterministic, so a rerun samples the same rows.
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x >>> 0;
    return this.rand;
  }

  private resize(size: number): void {
    this.input = grow(this.input, size);
    this.line = grow(this.line, size);
    this.client = grow(this.client, size);
    this.protocol = grow(this.protocol, size);
    this.status = grow(this.status, size);
    this.durationMs = grow(this.durationMs, size);
    this.endMs = grow(this.endMs, size);
    this.flags = grow(this.flags, size);
    this.key = grow(this.key, size);
    this.nextSameKey = grow(this.nextSameKey, size);
  }
}

/** Per-key state: how often, on which inputs with which protocol, and the chain of its rows. */
export class KeyTable {
  static readonly MAX_KEYS = 1_000_000;
  private readonly ids = new Map<string, number>();
  names: string[] = [];
  count = new Uint32Array(1024);
  /** Bit i set: seen on input i (inputs past 31 share bit 31). */
  inputs = new Uint32Array(1024);
  inputs10 = new Uint32Array(1024);
  inputs11 = new Uint32Array(1024);
  /** Bit i set: seen more than once on input i. */
  repeated = new Uint32Array(1024);
  firstRow = new Int32Array(1024);
  lastRow = new Int32Array(1024);
  evicted = 0;

  get size(): number {
    return this.names.length;
  }

  /** Records one sighting of `key` on `input`; returns the key's id. */
  see(key: string, input: number, protocol: number, row: number, table: HandshakeTable): number {
    let id = this.ids.get(key);
    const bit = 1 << Math.min(31, input);
    if (id === undefined) {
      if (this.names.length >= KeyTable.MAX_KEYS) {
        this.evicted++;
        return -1;
      }
      id = this.names.length;
      // A fresh copy, so the map does not keep the whole line alive through a sliced string.
      const copy = Buffer.from(key, 'utf8').toString('utf8');
      this.ids.set(copy, id);
      this.names.push(copy);
      if (id === this.count.length) this.resize(id * 2);
      this.firstRow[id] = row;
      this.lastRow[id] = row;
    } else {
      if (this.inputs[id]! & bit) this.repeated[id]! |= bit;
      if (row >= 0) {
        const last = this.lastRow[id] as number;
        if (last >= 0) table.nextSameKey[last] = row;
        else this.firstRow[id] = row;
        this.lastRow[id] = row;
      }
    }
    this.count[id]!++;
    this.inputs[id]! |= bit;
    if (protocol === 1) this.inputs10[id]! |= bit;
    else if (protocol === 2) this.inputs11[id]! |= bit;
    return id;
  }

  /** HTTP/1.0 on one input and HTTP/1.1 on another (neither set of inputs holds the other). */
  isHiddenDowngrade(id: number): boolean {
    const i10 = this.inputs10[id] as number;
    const i11 = this.inputs11[id] as number;
    return i10 !== 0 && i11 !== 0 && (i10 | i11) !== i10 && (i10 | i11) !== i11;
  }

  /** Repeated on `input` (reused-key), or a hidden downgrade: a key a finding will cite. */
  isNotable(id: number, input: number): boolean {
    return ((this.repeated[id] as number) & (1 << Math.min(31, input))) !== 0 || this.isHiddenDowngrade(id);
  }

  private resize(size: number): void {
    this.count = grow(this.count, size);
    this.inputs = grow(this.inputs, size);
    this.inputs10 = grow(this.inputs10, size);
    this.inputs11 = grow(this.inputs11, size);
    this.repeated = grow(this.repeated, size);
    this.firstRow = grow(this.firstRow, size);
    this.lastRow = grow(this.lastRow, size);
  }
}
