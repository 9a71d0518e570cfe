/*!
 * Every handshake line, kept as a row of numbers in typed arrays that grow in place (30 bytes a row, no
 * text), so findings can be decided after the timeouts are known. Past MAX_ROWS rows it keeps a
 * uniform sample (and says so). Evidence text is kept only for a few rows per (protocol, status,
 * second of duration) cell. Keys live in core/keys.ts; rows only carry the per-key chain.
 */

import { decodeKey, encodeKey } from './keys.js';

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
  /** Index into Tally.upstreams ($upstream_addr as logged). */
  upstream: number;
}

/** Rows kept exactly; beyond this a reservoir sample keeps memory flat. */
const MAX_ROWS = 4_000_000;
const EVIDENCE_PER_CELL = 4;
const MAX_EVIDENCE = 20_000;

type Column = Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array;

/**
 * A column of `width` numbers a row on a resizable ArrayBuffer that reserves room for MAX_ROWS:
 * it grows in place, so growing never holds the old and the new copy at once.
 */
function column<T extends Column>(ctor: { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, rows: number, width = 1): T {
  const bytes = ctor.BYTES_PER_ELEMENT * width;
  return new ctor(new ArrayBuffer(rows * bytes, { maxByteLength: MAX_ROWS * bytes }));
}

/** Resizes column()s to `size` rows in place (length-tracking views follow); `words` holds 4 a row. */
function grow(size: number, columns: readonly Column[], width = 1): void {
  for (const a of columns) (a.buffer as ArrayBuffer).resize(size * width * a.BYTES_PER_ELEMENT);
}

/**
 * Which handshake rows keep their text: the first few per (protocol, status, second of duration)
 * cell. The answer depends only on the rows offered before, in order, and a cell's count never
 * falls behind the same count over fewer rows: so a scanner that sees only part of an input (a
 * worker's byte range) wants every text the whole table will keep, and ships no other.
 */
export class EvidenceCells {
  private readonly cells = new Map<number, number>();

  wants(protocol: number, status: number, durationMs: number, flags: number): boolean {
    const cell = (protocol * 1000 + status) * 100_000 + (durationMs < 0 ? 99_999 : Math.min(99_998, Math.floor(durationMs / 1000)));
    const n = this.cells.get(cell) ?? 0;
    // Missing-Upgrade rows get their own allowance: they are rare and always worth showing.
    if (n >= EVIDENCE_PER_CELL && !(flags & RowFlag.UPGRADE_MISSING && n < EVIDENCE_PER_CELL * 2)) return false;
    this.cells.set(cell, n + 1);
    return true;
  }
}

export class HandshakeTable {
  length = 0;
  /** Rows offered, including those the sample left out. */
  seen = 0;
  readonly input = column(Uint16Array, 1024);
  readonly line = column(Uint32Array, 1024);
  readonly client = column(Uint32Array, 1024);
  readonly protocol = column(Uint8Array, 1024);
  readonly status = column(Uint16Array, 1024);
  readonly durationMs = column(Int32Array, 1024);
  readonly endMs = column(Float64Array, 1024);
  readonly flags = column(Uint8Array, 1024);
  /** Next row with the same key (-1 = none): a per-key chain for tracing across tiers. */
  readonly nextSameKey = column(Int32Array, 1024);
  readonly texts = new Map<number, string>();
  /** Each row's key, where else it was seen, and its upstream: only when one row per handshake is wanted (CSV). */
  readonly keys: RowKeys | undefined;
  private readonly cells = new EvidenceCells();
  private rand = 0x2545f491;

  constructor(withKeys = false) {
    this.keys = withKeys ? new RowKeys() : undefined;
  }

  get sampled(): boolean {
    return this.seen > this.length;
  }

  /**
   * Adds a row; returns its index, or -1 if the sample left it out. `text` is needed only when
   * EvidenceCells.wants() said so for this row, in the same order (otherwise '' will do).
   */
  add(r: RowInput, text: string): number {
    this.seen++;
    const wanted = this.cells.wants(r.protocol, r.status, r.durationMs, r.flags);
    let at = this.length;
    if (at >= MAX_ROWS) {
      at = this.nextRandom() % this.seen;
      if (at >= MAX_ROWS) return -1;
      this.texts.delete(at);
    } else {
      // In place and by a quarter: a column's slack stays under 25 %.
      if (at === this.input.length) this.resize(Math.min(MAX_ROWS, Math.ceil(at * 1.25)));
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
    this.nextSameKey[at] = -1;
    this.keys?.clear(at, r.upstream);
    if (wanted) this.keepEvidence(at, text);
    return at;
  }

  /** Keeps a row's text whatever its cell holds (a rare row that a finding will cite). */
  keepEvidence(at: number, text: string): void {
    if (this.texts.size >= MAX_EVIDENCE || this.texts.has(at) || text === '') return;
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
    grow(size, [this.input, this.line, this.client, this.protocol, this.status, this.durationMs, this.endMs, this.flags, this.nextSameKey]);
    this.keys?.resize(size);
  }
}

/**
 * Per row: the key (16 bytes, or its text when not canonical base64), once the key has left the
 * correlation window the inputs it was seen on with which protocol, and the $upstream_addr. 32
 * bytes a row, so it is kept only on request.
 */
export class RowKeys {
  readonly words = column(Uint32Array, 1024, 4);
  readonly inputs = column(Uint32Array, 1024);
  readonly inputs10 = column(Uint32Array, 1024);
  readonly inputs11 = column(Uint32Array, 1024);
  /** Index into Tally.upstreams. */
  readonly upstream = column(Uint32Array, 1024);
  readonly texts = new Map<number, string>();
  private readonly scratch = new Uint32Array(4);

  set(row: number, key: string): void {
    const w = this.scratch;
    // An all-zero key would read back as "no key": keep it as text, like non-canonical ones.
    if (decodeKey(key, w) && (w[0] || w[1] || w[2] || w[3])) this.words.set(w, 4 * row);
    else this.texts.set(row, Buffer.from(key, 'utf8').toString('utf8'));
  }

  /** The key of `row` ('' when it had none). */
  text(row: number): string {
    const t = this.texts.get(row);
    if (t !== undefined) return t;
    const o = 4 * row;
    return this.words[o] === 0 && this.words[o + 1] === 0 && this.words[o + 2] === 0 && this.words[o + 3] === 0 ? '' : encodeKey(this.words.subarray(o, o + 4));
  }

  /** A new row: no key yet, and its upstream. */
  clear(row: number, upstream: number): void {
    this.words.fill(0, 4 * row, 4 * row + 4);
    this.texts.delete(row);
    this.inputs[row] = 0;
    this.inputs10[row] = 0;
    this.inputs11[row] = 0;
    this.upstream[row] = upstream;
  }

  resize(size: number): void {
    grow(size, [this.words], 4);
    grow(size, [this.inputs, this.inputs10, this.inputs11, this.upstream]);
  }
}
