/*!
 * Every handshake line, kept as a row of numbers in growable typed arrays (≈30 bytes a row, no
 * text), so findings can be decided after the timeouts are known. Past MAX_ROWS rows it keeps a
 * uniform sample (and says so). Evidence text is kept only for a few rows per (protocol, status,
 * second of duration) cell. Keys live in core/keys.ts; rows only carry the per-key chain.
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
  input = new Uint16Array(1024);
  line = new Uint32Array(1024);
  client = new Uint32Array(1024);
  protocol = new Uint8Array(1024);
  status = new Uint16Array(1024);
  durationMs = new Int32Array(1024);
  endMs = new Float64Array(1024);
  flags = new Uint8Array(1024);
  /** Next row with the same key (-1 = none): a per-key chain for tracing across tiers. */
  nextSameKey = new Int32Array(1024);
  readonly texts = new Map<number, string>();
  private readonly cells = new EvidenceCells();
  private rand = 0x2545f491;

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
    this.nextSameKey[at] = -1;
    if (wanted && this.texts.size < MAX_EVIDENCE) {
      this.texts.set(at, text.length > 2000 ? `${text.slice(0, 1999)}…` : Buffer.from(text, 'utf8').toString('utf8'));
    }
    return at;
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
    this.nextSameKey = grow(this.nextSameKey, size);
  }
}
