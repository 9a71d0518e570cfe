/*!
 * Correlation by Sec-WebSocket-Key in bounded memory: the one owner of key state. A live key is a
 * slot of fixed-size numbers (the key's 16 bytes, per-input bitmasks, its first sightings, when it
 * was last seen) in typed arrays, found through an open-addressing index, and listed in order of
 * last sighting; no string per key. Keys leave the window from the front of that list when the
 * log's time has moved past their last sighting by KEY_WINDOW_MS (at the slot cap, the key seen
 * longest ago leaves early, counted in `evictedEarly`); a leaving key is folded into KeyCounts
 * (totals, the hidden-downgrade and reused-key tallies, a few traced keys) and remembered, 64 bits
 * and its inputs, in core/departed.ts: a key seen again after it left counts as reused over the
 * whole input. Only keys that are not canonical base64 keep their text, and only while live.
 */
import { Protocol } from './classify.js';
import { resized, type Column } from './columns.js';
import { DEPARTED_KEYS, DepartedKeys, type Departed } from './departed.js';
import { KEY_CLASS, keep, type EvidenceReservoir, type EvidenceRow } from './evidence.js';
import { ownCopy } from './lists.js';

/**
 * How long after its last sighting a key can still meet another sighting. Each tier writes its
 * line of a handshake when the connection ends, and the tiers' connections end together (either
 * side's close closes the other), so one handshake's lines lie milliseconds apart in log time:
 * the window covers clocks that disagree by up to this much. A retry that reuses a key later
 * still counts (core/departed.ts). The window's memory is the handshake rate times this: 60,000
 * keys at 500 handshakes a second, 6 MB.
 */
export const KEY_WINDOW_MS = 2 * 60_000;
/** Live keys at most; past this the key seen longest ago leaves early (counted in `evictedEarly`). */
export const MAX_LIVE_KEYS = 1 << 19;
/**
 * How the slots grow when all are live: by a quarter. Doubling left up to half of them empty
 * (300,000 live keys in room for 524,288, 97 bytes each); the copies are native, a few per cent of
 * the run.
 */
const SLOT_GROWTH = 1.25;
/** Keys traced in the report, of each kind (protocol mismatch across inputs, or plain multi-tier). */
const TRACED = 10;
/** Sightings whose client is kept per live key (a reused key's lines go to the clients that sent them). */
const SIGHTINGS = 3;
/** Live multi-tier keys whose sightings are kept for tracing, at most. */
const TRACE_CANDIDATES = 4 * TRACED;
/** HTTP/1.0 first sightings whose text is kept while their key is live, to cite when it turns out a hidden downgrade. */
const HELD_TEXTS = 1024;

const B64 = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => {
  B64[c.charCodeAt(0)] = i;
});

/** The length of a canonical key's text. */
export const KEY_LENGTH = 24;

/**
 * Writes the 16 bytes of a canonical base64 key (24 chars ending `==`, as RFC 6455 clients send)
 * into out[0..3] as big-endian words; false for anything else.
 */
export function decodeKey(s: string, out: Uint32Array): boolean {
  if (s.length !== KEY_LENGTH) return false;
  for (let i = 0; i < KEY_LENGTH; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return false;
    KEY_CHARS[i] = c;
  }
  return decodeKeyBytes(KEY_CHARS, 0, out);
}

const KEY_CHARS = new Uint8Array(KEY_LENGTH);

/** decodeKey() of the 24 bytes b[at, at + 24) as they are (a line's bytes: no string made). */
export function decodeKeyBytes(b: Uint8Array, at: number, out: Uint32Array): boolean {
  if (b[at + 22] !== 61 || b[at + 23] !== 61) return false;
  let acc = 0;
  let bits = 0;
  let byte = 0;
  out.fill(0);
  for (let i = at; i < at + 22; i++) {
    const c = b[i] as number;
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

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A key's 128 bits (w[at..at+3]) folded to the 64 core/departed.ts keeps, into out[0] and
 * out[1]: each half depends on all four words, so keys that differ in one word only (or agree in
 * half their bytes) still differ in both.
 */
function fold64(w: Uint32Array, at: number, out: Uint32Array): void {
  const a = w[at] as number;
  const b = w[at + 1] as number;
  const c = w[at + 2] as number;
  const d = w[at + 3] as number;
  out[0] = fmix(a ^ fmix(b ^ fmix(c ^ fmix(d ^ 0x9e3779b9))));
  out[1] = fmix(d ^ fmix(c ^ fmix(b ^ fmix(a ^ 0x7f4a7c15))));
}

/** HTTP/1.0 on one input and HTTP/1.1 on another (neither set of inputs holds the other). */
export function isHiddenDowngrade(inputs10: number, inputs11: number): boolean {
  return inputs10 !== 0 && inputs11 !== 0 && (inputs10 | inputs11) !== inputs10 && (inputs10 | inputs11) !== inputs11;
}

/** Bit i: seen on input i (inputs past 31 share bit 31). */
function isMulti(inputs: number): boolean {
  return (inputs & (inputs - 1)) !== 0;
}

/** A finding over keys: how many, whose, when, and by which pattern of inputs. */
export interface KeyFindingCounts {
  keys: number;
  /** The keys' lines per client id (all of a key's lines go to the client of its HTTP/1.0 sighting for hidden downgrades, else of its first). */
  clients: Map<number, number>;
  firstMs: number;
  lastMs: number;
  /** The keys' lines per pattern of inputs (bitmasks as text; the report names them). */
  patterns: Map<string, number>;
}

export interface TracedSighting {
  input: number;
  line: number;
  protocol: number;
  status: number;
  durationMs: number;
}

/** Everything the key window learnt, folded: exact for the keys that left it (all, after finish()). */
export class KeyCounts {
  keys = 0;
  multiTier = 0;
  reused = 0;
  protocolMismatch = 0;
  evictedEarly = 0;
  /** Keys forgotten after they left (core/departed.ts): reused keys may be undercounted by at most this. */
  forgotten = 0;
  readonly hidden = newKeyFinding();
  readonly reusedKeys = newKeyFinding();
  readonly traced: TracedKeyCounts[] = [];
}

/** A traced key: its sightings from the first, and whether its protocol differed between inputs. */
export interface TracedKeyCounts {
  key: string;
  mismatch: boolean;
  sightings: TracedSighting[];
}

function newKeyFinding(): KeyFindingCounts {
  return { keys: 0, clients: new Map(), firstMs: Infinity, lastMs: -Infinity, patterns: new Map() };
}

/** Per-row detail for one CSV row per handshake: rows of a key linked, told how the key ended. */
export interface KeyRowLinks {
  link(previousRow: number, row: number): void;
  folded(firstRow: number, inputs: number, inputs10: number, inputs11: number, findings: number): void;
}

/** Bits of KeyRowLinks.folded's `findings`. */
export const KEY_HIDDEN = 1;
export const KEY_REUSED = 2;

/** A key decoded where its line was read: its words when canonical, else its text. */
export interface DecodedKey {
  /** Writes the key's 4 words into `out`; false when it is not canonical base64 (then `key` is read). */
  keyWords(out: Uint32Array): boolean;
  readonly key: string;
}

/** A sighting, as KeyWindow.see takes it: the handshake's evidence row, its client's number and its detail row. */
export interface Sighting extends EvidenceRow {
  clientId: number;
  /** Row index in the per-row detail table, -1 without one. */
  row: number;
}

export class KeyWindow {
  readonly counts = new KeyCounts();

  // Slots (room for `cap`): `used` so far, those freed on a stack; the `live` ones in a list in
  // order of last sighting, `oldest` first (`next`, `prev`; -1: none), so keys leave from its front.
  private cap = 1024;
  private used = 0;
  private live = 0;
  private free = new Int32Array(1024);
  private freed = 0;
  private oldest = -1;
  private newest = -1;
  private next = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private words = new Uint32Array(4 * 1024);
  private plain = new Uint8Array(1024);
  private inputs = new Uint32Array(1024);
  private inputs10 = new Uint32Array(1024);
  private inputs11 = new Uint32Array(1024);
  private repeated = new Uint32Array(1024);
  /** Inputs the key was seen on before it last left the window, and 0: new, 1: seen before, 3: and counted reused then. */
  private prior = new Uint32Array(1024);
  private before = new Uint8Array(1024);
  /**
   * Lines of its earlier stays in the window while it was not counted reused (core/departed.ts),
   * and the client of the first: a key that turns out reused brings them to the finding.
   */
  private carried = new Uint8Array(1024);
  private carriedClient = new Int32Array(1024);
  private firstMs = new Float64Array(1024);
  private lastMs = new Float64Array(1024);
  /** The client of the first sighting, and of the first HTTP/1.0 sighting (-1: none). */
  private client = new Int32Array(1024);
  private client10 = new Int32Array(1024);
  private sightings = new Uint8Array(1024);
  /** The key's lines (saturating at 255). */
  private lines = new Uint8Array(1024);
  /** The first sighting: input, line, protocol, status, duration. */
  private sInput = new Uint16Array(1024);
  private sLine = new Uint32Array(1024);
  private sProtocol = new Uint8Array(1024);
  private sStatus = new Uint16Array(1024);
  private sDuration = new Int32Array(1024);
  /** SIGHTINGS per slot: the client of each of the first sightings. */
  private sClient = new Int32Array(SIGHTINGS * 1024);
  /** Sightings of the first few live keys seen on several inputs, by slot: the traced keys come from these. */
  private candidates = new Map<number, TracedSighting[]>();
  /** The first and last row of the key, only with per-row detail (KeyRowLinks). */
  private firstRow: Int32Array<ArrayBuffer>;
  private lastRow: Int32Array<ArrayBuffer>;
  /** Texts of live keys that are not canonical base64, by slot. */
  private texts = new Map<number, string>();
  /** First sightings' evidence, by slot, for the first HELD_TEXTS live keys that have one. */
  private held = new Map<number, EvidenceRow>();
  /** Open addressing, linear probing: slot + 1, 0 = empty. */
  private index = new Int32Array(2048);
  private readonly probe = new Uint32Array(4);
  private readonly folded = new Uint32Array(2);
  private readonly leaving: Departed = { inputs: 0, counted: false, lines: 0, client: -1, firstMs: Infinity };
  private now = -Infinity;
  private readonly departed: DepartedKeys;

  constructor(
    private readonly evidence: EvidenceReservoir,
    private readonly links?: KeyRowLinks,
    private readonly windowMs = KEY_WINDOW_MS,
    private readonly maxLive = MAX_LIVE_KEYS,
    departedKeys = DEPARTED_KEYS,
    /** Hold HTTP/1.0 first sightings' texts: false when one input is read (a hidden downgrade needs two). */
    private readonly holdFirsts = true,
  ) {
    this.departed = new DepartedKeys(departedKeys);
    this.firstRow = new Int32Array(links === undefined ? 0 : 1024);
    this.lastRow = new Int32Array(links === undefined ? 0 : 1024);
    // A cap below the first size is the size (the cap is only checked when every slot is live).
    if (maxLive < this.cap) this.resize(Math.max(1, maxLive));
  }

  /** One sighting of `key`: its text, or a DecodedKey (no string is made for a canonical key). */
  see(key: string | DecodedKey, s: Sighting): void {
    const atMs = s.endMs;
    if (atMs > this.now) {
      this.now = atMs;
      this.expire();
    }
    const w = this.probe;
    const isPlain = (typeof key === 'string' ? decodeKey(key, w) : key.keyWords(w)) ? 1 : 0;
    const text = typeof key === 'string' ? key : isPlain ? '' : key.key;
    if (!isPlain) fingerprint(text, w);
    let slot = this.find(w, isPlain);
    const bit = 1 << Math.min(31, s.input);
    const startMs = s.durationMs >= 0 ? atMs - s.durationMs : atMs;
    if (slot < 0) {
      slot = this.allocate();
      // The allocation may have rebuilt the index: probe again for the free place.
      const mask = this.index.length - 1;
      let i = (w[0] as number) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = slot + 1;
      fold64(w, 0, this.folded);
      const prior = this.departed.take(this.folded[0] as number, this.folded[1] as number);
      if (prior === null) this.counts.keys++;
      this.prior[slot] = prior === null ? 0 : prior.inputs;
      this.before[slot] = prior === null ? 0 : prior.counted ? 3 : 1;
      const carries = prior !== null && !prior.counted;
      this.carried[slot] = carries ? prior.lines : 0;
      this.carriedClient[slot] = carries ? prior.client : -1;
      this.words.set(w, 4 * slot);
      this.plain[slot] = isPlain;
      this.inputs[slot] = 0;
      this.inputs10[slot] = 0;
      this.inputs11[slot] = 0;
      this.repeated[slot] = 0;
      // Over all its stays while not counted: a reused key's first line may lie in an earlier one.
      this.firstMs[slot] = carries && prior.firstMs < startMs ? prior.firstMs : startMs;
      this.lastMs[slot] = this.now;
      this.client[slot] = s.clientId;
      this.client10[slot] = -1;
      this.sightings[slot] = 0;
      this.lines[slot] = 0;
      this.firstRow[slot] = s.row;
      this.lastRow[slot] = s.row;
      if (!isPlain) this.texts.set(slot, ownCopy(text));
      // An HTTP/1.0 first sighting may turn out one side of a hidden downgrade: hold its text, while
      // few are held and the finding still wants lines (a copy per key would flood the old generation).
      if (this.holdFirsts && s.protocol === Protocol.HTTP10 && this.held.size < HELD_TEXTS && !this.evidence.full(KEY_CLASS.hidden)) {
        this.held.set(slot, keep(s));
      }
    } else {
      if (s.row >= 0 && this.links !== undefined) {
        const last = this.lastRow[slot] as number;
        if (last >= 0) this.links.link(last, s.row);
        else this.firstRow[slot] = s.row;
        this.lastRow[slot] = s.row;
      }
      if (startMs < (this.firstMs[slot] as number)) this.firstMs[slot] = startMs;
    }
    // On an input it was seen on already, in this stay in the window or an earlier one: reused.
    if (((this.inputs[slot] as number) | (this.prior[slot] as number)) & bit) this.repeated[slot]! |= bit;
    if ((this.lines[slot] as number) < 255) this.lines[slot]!++;
    const wasNotable = this.notable(slot);
    this.inputs[slot]! |= bit;
    if (s.protocol === Protocol.HTTP10) {
      this.inputs10[slot]! |= bit;
      if (this.client10[slot] === -1) this.client10[slot] = s.clientId;
    } else if (s.protocol === Protocol.HTTP11) this.inputs11[slot]! |= bit;
    if (atMs === atMs && atMs > (this.lastMs[slot] as number)) {
      this.lastMs[slot] = atMs;
      this.toNewest(slot);
    }
    const n = this.sightings[slot] as number;
    if (n === 0) {
      this.sInput[slot] = s.input;
      this.sLine[slot] = s.line;
      this.sProtocol[slot] = s.protocol;
      this.sStatus[slot] = s.status;
      this.sDuration[slot] = s.durationMs;
    }
    if (n < SIGHTINGS) {
      this.sClient[SIGHTINGS * slot + n] = s.clientId;
      this.sightings[slot] = n + 1;
    }
    this.trace(slot, s);
    const notable = this.notable(slot);
    if (notable !== 0) {
      const cls = notable & KEY_HIDDEN ? KEY_CLASS.hidden : KEY_CLASS.reused;
      // The first sighting too, when its text is still held: a pair of lines tells the story.
      const first = this.held.get(slot);
      if (first !== undefined && wasNotable === 0) {
        this.evidence.offer(cls, first);
        this.held.delete(slot);
      }
      this.evidence.offer(cls, s);
    }
  }

  /** Keeps the sightings of a key that is (now) on several inputs, while there are few such keys. */
  private trace(slot: number, s: Sighting): void {
    let list = this.candidates.get(slot);
    if (list === undefined) {
      if (!isMulti(this.inputs[slot] as number) || this.candidates.size >= TRACE_CANDIDATES || this.counts.traced.length >= 2 * TRACED) return;
      list = [{ input: this.sInput[slot] as number, line: this.sLine[slot] as number, protocol: this.sProtocol[slot] as number, status: this.sStatus[slot] as number, durationMs: this.sDuration[slot] as number }];
      this.candidates.set(slot, list);
    }
    if (list.length < 10) list.push({ input: s.input, line: s.line, protocol: s.protocol, status: s.status, durationMs: s.durationMs });
  }

  /** Folds every live key; call once after the last sighting. */
  finish(): void {
    while (this.live > 0) this.evictOldest();
  }

  private notable(slot: number): number {
    return (isHiddenDowngrade(this.inputs10[slot] as number, this.inputs11[slot] as number) ? KEY_HIDDEN : 0) | (this.repeated[slot] !== 0 ? KEY_REUSED : 0);
  }

  private find(w: Uint32Array, isPlain: number): number {
    const mask = this.index.length - 1;
    let i = (w[0] as number) & mask;
    for (let e = this.index[i] as number; e !== 0; e = this.index[i] as number) {
      const s = e - 1;
      const o = 4 * s;
      if (this.words[o] === w[0] && this.words[o + 1] === w[1] && this.words[o + 2] === w[2] && this.words[o + 3] === w[3] && this.plain[s] === isPlain) return s;
      i = (i + 1) & mask;
    }
    return -1;
  }

  /** Drops keys whose last sighting is more than the window behind the newest time. */
  private expire(): void {
    const limit = this.now - this.windowMs;
    while (this.live > 0 && (this.lastMs[this.oldest] as number) < limit) this.evictOldest();
  }

  /** A free slot, last in the list; past the cap, the key seen longest ago leaves early. */
  private allocate(): number {
    if (this.live === this.cap) {
      if (this.cap >= this.maxLive) {
        this.counts.evictedEarly++;
        this.evictOldest();
      } else {
        this.resize(Math.min(this.maxLive, Math.ceil(this.cap * SLOT_GROWTH)));
      }
    }
    const slot = this.freed > 0 ? (this.free[--this.freed] as number) : this.used++;
    this.live++;
    this.link(slot);
    return slot;
  }

  private evictOldest(): void {
    const s = this.oldest;
    this.fold(s);
    this.unindex(s);
    this.texts.delete(s);
    this.held.delete(s);
    this.candidates.delete(s);
    this.unlink(s);
    this.free[this.freed++] = s;
    this.live--;
  }

  /** Appends slot s to the list (the newest). */
  private link(s: number): void {
    this.prev[s] = this.newest;
    this.next[s] = -1;
    if (this.newest >= 0) this.next[this.newest] = s;
    else this.oldest = s;
    this.newest = s;
  }

  private unlink(s: number): void {
    const p = this.prev[s] as number;
    const n = this.next[s] as number;
    if (p >= 0) this.next[p] = n;
    else this.oldest = n;
    if (n >= 0) this.prev[n] = p;
    else this.newest = p;
  }

  /** A key seen again goes to the end: one seen every minute holds no other in the window. */
  private toNewest(s: number): void {
    if (s === this.newest) return;
    this.unlink(s);
    this.link(s);
  }

  private fold(s: number): void {
    const c = this.counts;
    const inputs = this.inputs[s] as number;
    const i10 = this.inputs10[s] as number;
    const i11 = this.inputs11[s] as number;
    const repeated = this.repeated[s] as number;
    const multi = isMulti(inputs);
    const mixed = i10 !== 0 && i11 !== 0;
    if (multi) c.multiTier++;
    // A key counted reused in an earlier stay is one key: its lines add, its count does not.
    const counted = this.before[s] === 3;
    if (repeated !== 0 && !counted) c.reused++;
    if (mixed) c.protocolMismatch++;
    const findings = this.notable(s);
    this.links?.folded(this.firstRow[s] as number, inputs, i10, i11, findings);
    const lines = this.lines[s] as number;
    if (findings & KEY_HIDDEN) this.tallyKey(c.hidden, s, this.client10[s] as number, lines, `${i10}:${i11}`);
    const carried = this.carried[s] as number;
    if (findings & KEY_REUSED) {
      this.tallyKey(c.reusedKeys, s, this.client[s] as number, lines, `${repeated}`, !counted);
      // Counted now: its earlier stays' lines too.
      if (!counted && carried > 0) this.tallyLines(c.reusedKeys, this.carriedClient[s] as number, carried, `${repeated}`);
    }
    fold64(this.words, 4 * s, this.folded);
    const d = this.leaving;
    d.inputs = inputs | (this.prior[s] as number);
    d.counted = repeated !== 0 || counted;
    d.lines = carried + lines;
    d.client = carried > 0 ? (this.carriedClient[s] as number) : (this.client[s] as number);
    d.firstMs = this.firstMs[s] as number;
    this.departed.add(this.folded[0] as number, this.folded[1] as number, d);
    c.forgotten = this.departed.forgotten;
    const sightings = this.candidates.get(s);
    if (sightings !== undefined && c.traced.filter((t) => t.mismatch === mixed).length < TRACED) c.traced.push({ key: this.name(s), mismatch: mixed, sightings });
  }

  /** Patterns are input bitmasks as text ("1:2": HTTP/1.0 on input 0, HTTP/1.1 on input 1); the report names them. */
  private tallyKey(f: KeyFindingCounts, s: number, client: number, lines: number, pattern: string, newKey = true): void {
    if (newKey) f.keys++;
    // Each kept sighting's line to its own client; lines past those to `client`.
    const kept = this.sightings[s] as number;
    for (let k = 0; k < kept; k++) {
      const c = this.sClient[SIGHTINGS * s + k] as number;
      f.clients.set(c, (f.clients.get(c) ?? 0) + 1);
    }
    if (lines > kept) f.clients.set(client, (f.clients.get(client) ?? 0) + lines - kept);
    if ((this.firstMs[s] as number) < f.firstMs) f.firstMs = this.firstMs[s] as number;
    if ((this.lastMs[s] as number) > f.lastMs) f.lastMs = this.lastMs[s] as number;
    f.patterns.set(pattern, (f.patterns.get(pattern) ?? 0) + lines);
  }

  /** Lines of a key's earlier stays, to one client. */
  private tallyLines(f: KeyFindingCounts, client: number, lines: number, pattern: string): void {
    f.clients.set(client, (f.clients.get(client) ?? 0) + lines);
    f.patterns.set(pattern, (f.patterns.get(pattern) ?? 0) + lines);
  }

  private name(s: number): string {
    return this.plain[s] ? encodeKey(this.words.subarray(4 * s, 4 * s + 4)) : (this.texts.get(s) ?? '');
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

  /**
   * Room for `size` slots (when all are live: none is free), each key in the slot it had (the
   * maps by slot stay as they are); the index is rebuilt, twice as large.
   */
  private resize(size: number): void {
    const cap = this.cap;
    // A column holds `cap` × its width numbers.
    const grow = <T extends Column>(a: T): T => resized(a, size * (a.length / cap));
    this.free = grow(this.free);
    this.next = grow(this.next);
    this.prev = grow(this.prev);
    this.words = grow(this.words);
    this.plain = grow(this.plain);
    this.inputs = grow(this.inputs);
    this.inputs10 = grow(this.inputs10);
    this.inputs11 = grow(this.inputs11);
    this.repeated = grow(this.repeated);
    this.prior = grow(this.prior);
    this.before = grow(this.before);
    this.carried = grow(this.carried);
    this.carriedClient = grow(this.carriedClient);
    this.firstMs = grow(this.firstMs);
    this.lastMs = grow(this.lastMs);
    this.client = grow(this.client);
    this.client10 = grow(this.client10);
    this.sightings = grow(this.sightings);
    this.lines = grow(this.lines);
    this.sInput = grow(this.sInput);
    this.sLine = grow(this.sLine);
    this.sProtocol = grow(this.sProtocol);
    this.sStatus = grow(this.sStatus);
    this.sDuration = grow(this.sDuration);
    this.sClient = grow(this.sClient);
    this.firstRow = grow(this.firstRow);
    this.lastRow = grow(this.lastRow);
    this.cap = size;
    // A power of two at least twice the slots: probes stay short, and a mask finds the home.
    this.index = new Int32Array(2 ** Math.ceil(Math.log2(size * 2)));
    const mask = this.index.length - 1;
    for (let s = this.oldest; s >= 0; s = this.next[s] as number) {
      let i = (this.words[4 * s] as number) & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = s + 1;
    }
  }
}
