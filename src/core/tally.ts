/*!
 * A run's tally: the exact counts (core/counts.ts) of every part of every input, merged as the
 * pipeline takes the parts (core/part.ts), and their handshakes, handed on one by one in time
 * order across inputs: counted, offered as evidence (core/evidence.ts), those with a key joined in
 * the key window (core/keys.ts), and with one CSV row per handshake asked for, put in the row
 * table (core/handshakes.ts). A part's handshakes cross as rows, not tallies: a part's cells and
 * evidence classes were nearly one a handshake, so merging them cost as much as counting them.
 * Owns nothing about verdicts (core/diagnose.ts) or presentation (report/).
 */
import { Counts, DEFAULT_COUNT_CAPS, type CountCaps } from './counts.js';
import { EvidenceReservoir, evidenceBudget, keptPerClass } from './evidence.js';
import type { PartTally, Slice } from './part.js';
import { DEPARTED_KEYS } from './departed.js';
import { HandshakeRows } from './handshakes.js';
import { KEY_WINDOW_MS, KeyWindow, MAX_LIVE_KEYS, type DecodedKey, type KeyCounts, type Sighting } from './keys.js';
import { eachRow } from './part-rows.js';

/** Every cap the analysis has; an internal option shrinks them so tests can run past each one. */
export interface Caps extends CountCaps {
  liveKeys: number;
  /** Keys remembered after they leave the key window (core/departed.ts). */
  departedKeys: number;
  evidenceRows: number;
}

export const DEFAULT_CAPS: Caps = { ...DEFAULT_COUNT_CAPS, liveKeys: MAX_LIVE_KEYS, departedKeys: DEPARTED_KEYS, evidenceRows: 8_000 };

/** What diagnosis and the report read: a whole run's tally, or a live window's merged panes. */
export interface TallyView {
  readonly counts: Counts;
  readonly evidence: EvidenceReservoir;
  readonly keys: { readonly counts: KeyCounts };
  readonly rows?: HandshakeRows | undefined;
}

/** Told of every slice of a part the tally takes, and of every handshake (a live window's panes, core/panes.ts). */
export interface SliceListener {
  /** Width of the panes parts are sliced into (core/part.ts PartRules.paneMs). */
  readonly paneMs: number;
  /** How far back a window looks: a pane before any window can reach is sliced as pane -Infinity (PartReader.onlyWindowFrom). */
  readonly windowMs: number;
  slice(pane: number, slice: Slice): void;
  /** A handshake, after slice() was told of its part (but not one of a part given to later(): its panes give it). */
  handshake(h: KeyedSighting): void;
  /** Should a stream's next part be read as one slice, its panes read later if a verdict may see it? */
  readonly wantsLater: boolean;
  /** A part read as one slice (PartRules.panesLater), after slice() was told of it. */
  later(part: LaterPart): void;
}

/** A part whose panes are read only if a verdict may see its lines (core/panes.ts PaneWindow.later). */
export interface LaterPart {
  /** The time of its newest line (-Infinity: none has one). */
  lastMs: number;
  /** The memory its block holds while it waits (the block's whole buffer). */
  bytes: number;
  /** Reads the part again, sliced by pane: its slices, and its handshakes, handed to `fn` one by one. */
  panes(): { slices: ReadonlyMap<number, Slice>; handshakes(fn: (h: KeyedSighting) => void): void };
  /** Lets its block go. */
  release(): void;
}

export interface TallyOptions {
  /** Keep one row per handshake (for one CSV row per handshake). */
  rows?: boolean;
  /** Evidence lines the report shows per finding. */
  evidence?: number;
  caps?: Partial<Caps>;
  listener?: SliceListener;
  /** One input is read: no key can be seen on two, so nothing is held for a hidden downgrade. */
  singleInput?: boolean;
}

/**
 * One handshake, as the pipeline hands it on in time order (one object, reused: the counts, the
 * key window and the reservoirs copy what they keep). The tally sets its client's number and its row.
 */
export interface KeyedSighting extends Sighting, DecodedKey {
  /** The line has a Sec-WebSocket-Key (its text, `key`, is made only when asked for: a row, a key that is not canonical). */
  readonly hasKey: boolean;
  /** $upstream_addr as logged ('' when not). */
  upstream: string;
  /** The path asked for, without its query string (core/outcomes.ts handshakePath). */
  path: string;
  /** Its part was given to the live window to read later (Tally.later): the window takes it then, if at all. */
  readonly later: boolean;
}

/** A handshake counted in `counts` and offered to `evidence` (a run's, or a live window's pane); gives its client's number there. */
export function countHandshake(counts: Counts, evidence: EvidenceReservoir, h: KeyedSighting): number {
  const client = counts.clientId(h.client);
  counts.handshake(h.input, client, h.protocol, h.status, h.flags, h.durationMs, h.durationMs >= 0 ? h.endMs - h.durationMs : h.endMs, h.endMs);
  counts.target(h.input, h.upstream, h.path, h.status);
  evidence.offer(EvidenceReservoir.classFor(h.protocol, h.status, h.flags, h.durationMs), h);
  return client;
}

export class Tally implements TallyView {
  readonly counts: Counts;
  readonly evidence: EvidenceReservoir;
  readonly keys: KeyWindow;
  readonly rows: HandshakeRows | undefined;
  readonly listener: SliceListener | undefined;
  readonly caps: Caps;

  constructor(opts: TallyOptions = {}) {
    this.listener = opts.listener;
    const caps = (this.caps = { ...DEFAULT_CAPS, ...opts.caps });
    this.counts = new Counts(caps);
    const perClass = keptPerClass(opts.evidence ?? 5);
    this.evidence = new EvidenceReservoir(perClass, evidenceBudget(caps.evidenceRows, perClass), true);
    this.rows = opts.rows ? new HandshakeRows() : undefined;
    this.keys = new KeyWindow(this.evidence, this.rows, KEY_WINDOW_MS, caps.liveKeys, caps.departedKeys, opts.singleInput !== true);
  }

  /** A part's counts (core/part.ts); its handshakes come after, through sight(). */
  absorb(slices: ReadonlyMap<number, Slice>): void {
    for (const [pane, slice] of slices) {
      this.counts.merge(slice.counts);
      this.listener?.slice(pane, slice);
    }
  }

  /**
   * A part read as one slice for the live window's sake (PartRules.panesLater), absorbed already:
   * the window is given how to read its panes should a verdict see its lines, and the block,
   * which goes back to be cut into once both the window and the part (its handshakes, whose
   * lines are read from it, taken) have let go of it.
   */
  later(p: PartTally, input: number, lineOffset: number): void {
    const { block, reread, recycle } = p;
    if (this.listener === undefined || block === null || reread === null) {
      // Its handshakes then go to the window as they come (PartRow.later).
      p.reread = null;
      return;
    }
    let holders = 2;
    const letGo = (): void => {
      if (--holders === 0) recycle?.();
    };
    p.recycle = letGo;
    let lastMs = -Infinity;
    for (const s of p.slices.values()) if (s.counts.lastMs > lastMs) lastMs = s.counts.lastMs;
    this.listener.later({
      lastMs, bytes: block.buffer.byteLength,
      panes: () => {
        const again = reread();
        again.block = block;
        return { slices: again.slices, handshakes: (fn) => eachRow(again, input, lineOffset, fn) };
      },
      release: letGo,
    });
  }

  /** A handshake, in time order across inputs, after absorb() took its part. */
  sight(h: KeyedSighting): void {
    const client = countHandshake(this.counts, this.evidence, h);
    if (!h.later) this.listener?.handshake(h);
    const rows = this.rows;
    const row = rows === undefined ? -1 : rows.add({ input: h.input, line: h.line, client, protocol: h.protocol, status: h.status, durationMs: h.durationMs, endMs: h.endMs, flags: h.flags, upstream: rows.upstreamId(h.upstream) }, h.key);
    if (!h.hasKey) return;
    h.clientId = client;
    h.row = row;
    this.keys.see(h, h);
  }

  /**
   * A part's handshakes are all taken: what the tally holds of its block (its evidence's latest
   * lines, read from it in place) is copied, before the block is given back to be cut into again.
   */
  taken(): void {
    this.evidence.settle();
  }

  /** Call once after the last record. */
  finish(): void {
    this.keys.finish();
  }
}
