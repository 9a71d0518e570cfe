/*!
 * Correlation by Sec-WebSocket-Key in bounded memory. A live key is a slot of fixed-size numbers
 * (the key's 16 bytes, per-input bitmasks, its row chain, when it was last seen) in typed
 * arrays, found through an open-addressing index; no string per key. Keys leave the
 * window when the log's time has moved past their last sighting by KEY_WINDOW_MS (or, at the
 * slot cap, oldest first); a leaving key is folded into the totals and, when it is one a finding
 * or the report needs (several tiers, a repeat), kept in a compact list. Only keys that are not
 * canonical base64 (hostile or odd clients) keep their text, and only while live or kept.
 */
import { Protocol } from './classify.js';
import type { HandshakeTable } from './handshakes.js';

/** How long after its last sighting a key can still meet another sighting (tiers, retries). */
export const KEY_WINDOW_MS = 10 * 60_000;
/** Live keys at most; past this the oldest leave early (counted in `evictedEarly`). */
const MAX_LIVE = 1 << 19;
/** Multi-tier keys kept for tracing even when nothing is wrong with them. */
const KEEP_PLAIN_MULTI = 10;

const B64 = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => {
  B64[c.charCodeAt(0)] = i;
});

/**
 * Writes the 16 bytes of a canonical base64 key (24 chars ending `==`, as RFC 6455 clients send)
 * into out[0..3] as big-endian words; false for anything else.
 */
export function decodeKey(s: string, out: Uint32Array): boolean {
  if (s.length !== 24 || s.charCodeAt(22) !== 61 || s.charCodeAt(23) !== 61) return false;
  let acc = 0;
  let bits = 0;
  let byte = 0;
  out.fill(0);
  for (let i = 0; i < 22; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? (B64[c] as number) : -1;
    if (v < 0) return false;
    acc = ((acc << 6) | v) & 0x3fff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const w = byte >> 2;
      out[w] = ((out[w] as number) | (((acc >> bits) & 0xff) << (24 - 8 * (byte & 3)))) >>> 0;
      byte++;
    }
  }
  // 22 chars carry 132 bits: the last 4 must be zero, or the text does not round-trip.
  return (acc & 0xf) === 0;
}

export function encodeKey(w: ArrayLike<number>): string {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32BE(w[i] as number, i * 4);
  return b.toString('base64');
}

/** Four independent 32-bit hashes of an arbitrary key text: its identity when it is not base64. */
function fingerprint(s: string, out: Uint32Array): void {
  for (let k = 0; k < 4; k++) {
    let h = (0x811c9dc5 ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h ^= s.length;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    out[k] = (h ^ (h >>> 16)) >>> 0;
  }
}

/** HTTP/1.0 on one input and HTTP/1.1 on another (neither set of inputs holds the other). */
export function isHiddenDowngrade(inputs10: number, inputs11: number): boolean {
  return inputs10 !== 0 && inputs11 !== 0 && (inputs10 | inputs11) !== inputs10 && (inputs10 | inputs11) !== inputs11;
}

/** A key's state as the findings and the report read it. */
export interface KeyState {
  inputs: number;
  inputs10: number;
  inputs11: number;
  repeated: number;
  firstRow: number;
  name: string;
}

/** Bit i: seen on input i (inputs past 31 share bit 31). */
function isMulti(inputs: number): boolean {
  return (inputs & (inputs - 1)) !== 0;
}

export class KeyTable {
  /** Keys ever seen (live and folded). */
  keys = 0;
  multiTier = 0;
  reused = 0;
  protocolMismatch = 0;
  /** Keys that left the window because the slot cap was reached before their time was up. */
  evictedEarly = 0;

  // Live slots: a ring from `head`, `live` long, in order of first sighting.
  private cap = 1024;
  private head = 0;
  private live = 0;
  private words = new Uint32Array(4 * 1024);
  private plain = new Uint8Array(1024);
  private inputs = new Uint32Array(1024);
  private inputs10 = new Uint32Array(1024);
  private inputs11 = new Uint32Array(1024);
  private repeated = new Uint32Array(1024);
  private firstRow = new Int32Array(1024);
  private lastRow = new Int32Array(1024);
  private lastMs = new Float64Array(1024);
  /** Texts of live keys that are not canonical base64, by slot. */
  private texts = new Map<number, string>();
  /** Open addressing, linear probing: slot + 1, 0 = empty. */
  private index = new Int32Array(2048);
  private readonly probe = new Uint32Array(4);
  private now = -Infinity;

  /** Keys kept after leaving the window, for the findings and the report. */
  private readonly kept: KeyState[] = [];
  /** Called as each key leaves the window, with its first row and where it was seen. */
  onFold: ((firstRow: number, inputs: number, inputs10: number, inputs11: number) => void) | undefined;
  private keptPlainMulti = 0;

  constructor(private readonly windowMs = KEY_WINDOW_MS) {}

  /**
   * Records one sighting of `key` on `input` at time `atMs` (NaN: unknown), row `row` (-1: not
   * kept). True when the key is now one a finding will cite: repeated on this input, or a hidden
   * downgrade.
   */
  see(key: string, input: number, protocol: number, row: number, atMs: number, table: HandshakeTable): boolean {
    if (atMs > this.now) {
      this.now = atMs;
      this.expire();
    }
    const w = this.probe;
    const isPlain = decodeKey(key, w) ? 1 : 0;
    if (!isPlain) fingerprint(key, w);
    const mask = this.index.length - 1;
    let i = (w[0] as number) & mask;
    let slot = -1;
    for (let e = this.index[i] as number; e !== 0; e = this.index[i] as number) {
      const s = e - 1;
      const o = 4 * s;
      if (this.words[o] === w[0] && this.words[o + 1] === w[1] && this.words[o + 2] === w[2] && this.words[o + 3] === w[3] && this.plain[s] === isPlain) {
        slot = s;
        break;
      }
      i = (i + 1) & mask;
    }
    const bit = 1 << Math.min(31, input);
    if (slot < 0) {
      slot = this.allocate();
      // The allocation may have rebuilt the index: probe again for the free place.
      i = (w[0] as number) & (this.index.length - 1);
      while (this.index[i] !== 0) i = (i + 1) & (this.index.length - 1);
      this.index[i] = slot + 1;
      this.keys++;
      this.words.set(w, 4 * slot);
      this.plain[slot] = isPlain;
      this.inputs[slot] = 0;
      this.inputs10[slot] = 0;
      this.inputs11[slot] = 0;
      this.repeated[slot] = 0;
      this.firstRow[slot] = row;
      this.lastRow[slot] = row;
      this.lastMs[slot] = this.now;
      // A fresh copy: a sliced string would keep its whole line alive.
      if (!isPlain) this.texts.set(slot, Buffer.from(key, 'utf8').toString('utf8'));
    } else {
      if ((this.inputs[slot] as number) & bit) this.repeated[slot]! |= bit;
      if (row >= 0) {
        const last = this.lastRow[slot] as number;
        if (last >= 0) table.nextSameKey[last] = row;
        else this.firstRow[slot] = row;
        this.lastRow[slot] = row;
      }
    }
    this.inputs[slot]! |= bit;
    if (protocol === Protocol.HTTP10) this.inputs10[slot]! |= bit;
    else if (protocol === Protocol.HTTP11) this.inputs11[slot]! |= bit;
    if (atMs === atMs) this.lastMs[slot] = atMs;
    return ((this.repeated[slot] as number) & bit) !== 0 || isHiddenDowngrade(this.inputs10[slot] as number, this.inputs11[slot] as number);
  }

  /** Folds every live key; call once after the last sighting. */
  finish(): void {
    while (this.live > 0) this.evictHead();
  }

  /** Keys that left the window and matter: several inputs, or a repeat. */
  get keptKeys(): readonly KeyState[] {
    return this.kept;
  }

  /** Drops keys whose last sighting is more than the window behind the newest time. */
  private expire(): void {
    const limit = this.now - this.windowMs;
    while (this.live > 0 && (this.lastMs[this.head] as number) < limit) this.evictHead();
  }

  private allocate(): number {
    if (this.live === this.cap) {
      if (this.cap >= MAX_LIVE) {
        this.evictedEarly++;
        this.evictHead();
      } else {
        this.resize(this.cap * 2);
      }
    }
    const slot = (this.head + this.live) % this.cap;
    this.live++;
    return slot;
  }

  private evictHead(): void {
    const s = this.head;
    this.fold(s);
    this.unindex(s);
    this.texts.delete(s);
    this.head = (s + 1) % this.cap;
    this.live--;
  }

  private fold(s: number): void {
    const inputs = this.inputs[s] as number;
    const i10 = this.inputs10[s] as number;
    const i11 = this.inputs11[s] as number;
    const repeated = this.repeated[s] as number;
    this.onFold?.(this.firstRow[s] as number, inputs, i10, i11);
    const multi = isMulti(inputs);
    const mixed = i10 !== 0 && i11 !== 0;
    if (multi) this.multiTier++;
    if (repeated !== 0) this.reused++;
    if (mixed) this.protocolMismatch++;
    const plainMulti = multi && !mixed && repeated === 0 && this.keptPlainMulti < KEEP_PLAIN_MULTI;
    if (!(multi && mixed) && repeated === 0 && !plainMulti) return;
    if (plainMulti) this.keptPlainMulti++;
    const name = this.plain[s] ? encodeKey(this.words.subarray(4 * s, 4 * s + 4)) : (this.texts.get(s) ?? '');
    this.kept.push({ inputs, inputs10: i10, inputs11: i11, repeated, firstRow: this.firstRow[s] as number, name });
  }

  /** Removes slot s from the index (backward-shift deletion keeps probe chains whole). */
  private unindex(s: number): void {
    const mask = this.index.length - 1;
    let i = (this.words[4 * s] as number) & mask;
    while (this.index[i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = this.index[j] as number;
      if (e === 0) break;
      const home = (this.words[4 * (e - 1)] as number) & mask;
      // Move e back into the hole unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        this.index[i] = e;
        i = j;
      }
    }
    this.index[i] = 0;
  }

  /** Grows the ring to `size` slots, laying the live keys out from slot 0, and rebuilds the index. */
  private resize(size: number): void {
    const order = new Int32Array(this.live);
    for (let k = 0; k < this.live; k++) order[k] = (this.head + k) % this.cap;
    const relayout = <T extends Uint32Array | Int32Array | Float64Array | Uint8Array>(a: T, width = 1): T => {
      const b = new (a.constructor as new (n: number) => T)(size * width);
      for (let k = 0; k < order.length; k++) {
        const from = (order[k] as number) * width;
        for (let x = 0; x < width; x++) b[k * width + x] = a[from + x] as number;
      }
      return b;
    };
    this.words = relayout(this.words, 4);
    this.plain = relayout(this.plain);
    this.inputs = relayout(this.inputs);
    this.inputs10 = relayout(this.inputs10);
    this.inputs11 = relayout(this.inputs11);
    this.repeated = relayout(this.repeated);
    this.firstRow = relayout(this.firstRow);
    this.lastRow = relayout(this.lastRow);
    this.lastMs = relayout(this.lastMs);
    const texts = new Map<number, string>();
    for (let k = 0; k < order.length; k++) {
      const t = this.texts.get(order[k] as number);
      if (t !== undefined) texts.set(k, t);
    }
    this.texts = texts;
    this.head = 0;
    this.cap = size;
    this.index = new Int32Array(size * 2);
    const mask = this.index.length - 1;
    for (let s = 0; s < this.live; s++) {
      let i = (this.words[4 * s] as number) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = s + 1;
    }
  }
}
