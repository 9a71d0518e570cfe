/*!
 * A run's tally: the exact counts (core/counts.ts) and evidence (core/evidence.ts) of every part
 * of every input, merged as the pipeline takes the parts (core/part.ts), and the handshakes with a
 * key, in time order across inputs, joined in the key window (core/keys.ts); with one CSV row per
 * handshake asked for, every handshake also goes to the row table (core/handshakes.ts). Owns
 * nothing about verdicts (core/diagnose.ts) or presentation (report/).
 */
import { Counts, DEFAULT_COUNT_CAPS, type CountCaps } from './counts.js';
import { EvidenceReservoir } from './evidence.js';
import type { PartTally, Slice } from './part.js';
import { DEPARTED_KEYS } from './departed.js';
import { HandshakeRows } from './handshakes.js';
import { KEY_WINDOW_MS, KeyWindow, MAX_LIVE_KEYS, type DecodedKey, type KeyCounts, type Sighting } from './keys.js';

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

/** Told of every slice of a part the tally takes (a live window's panes, core/panes.ts). */
export interface SliceListener {
  /** Width of the panes parts are sliced into (core/part.ts PartRules.paneMs). */
  readonly paneMs: number;
  /** How far back a window looks: a pane before any window can reach is sliced as pane -Infinity (PartReader.onlyWindowFrom). */
  readonly windowMs: number;
  slice(pane: number, slice: Slice, lineOffset: number): void;
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
  lineOffset: number;
  /** Reads the part again, sliced by pane. */
  panes(): ReadonlyMap<number, Slice>;
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
 * One handshake to join by key (or keep as a row), as the pipeline hands it on in time order
 * (one object, reused: the key window and the reservoirs copy what they keep). The tally sets its
 * client's number and its row.
 */
export interface KeyedSighting extends Sighting, DecodedKey {
  /** The line has a Sec-WebSocket-Key (its text, `key`, is made only when asked for: a row, a key that is not canonical). */
  readonly hasKey: boolean;
  /** $upstream_addr as logged ('' when not, or when rows are not kept). */
  upstream: string;
}

export class Tally implements TallyView {
  readonly counts: Counts;
  readonly evidence: EvidenceReservoir;
  readonly keys: KeyWindow;
  readonly rows: HandshakeRows | undefined;
  readonly listener: SliceListener | undefined;
  readonly caps: Caps;
  /** Lines a finding cites, plus a few to choose from, per evidence class. */
  readonly evidencePerClass: number;

  constructor(opts: TallyOptions = {}) {
    this.listener = opts.listener;
    const caps = (this.caps = { ...DEFAULT_CAPS, ...opts.caps });
    this.counts = new Counts(caps);
    // A finding cites up to `evidence` lines, varied: a few more per class leave room to choose.
    this.evidencePerClass = Math.max(4, (opts.evidence ?? 5) + 1);
    this.evidence = new EvidenceReservoir(this.evidencePerClass, caps.evidenceRows);
    this.rows = opts.rows ? new HandshakeRows() : undefined;
    this.keys = new KeyWindow(this.evidence, this.rows, KEY_WINDOW_MS, caps.liveKeys, caps.departedKeys, opts.singleInput !== true);
  }

  /**
   * A part's counts and evidence (core/part.ts), its line numbers moved on by `lineOffset`. A
   * block's part keeps its lines by their places in `block`, which is let go once the part is
   * merged: the evidence reads their texts from it (a copy for a live window's pane, which merges
   * later; the slice of pane -Infinity goes to no pane).
   */
  absorb(slices: ReadonlyMap<number, Slice>, lineOffset: number, block: Buffer | null = null): void {
    for (const [pane, slice] of slices) {
      if (block !== null) slice.evidence.textsFrom(block, this.listener !== undefined && pane !== -Infinity);
      this.counts.merge(slice.counts);
      this.evidence.merge(slice.evidence, lineOffset);
      this.listener?.slice(pane, slice, lineOffset);
    }
  }

  /**
   * A part read as one slice for the live window's sake (PartRules.panesLater), absorbed already:
   * the window is given how to read its panes should a verdict see its lines, and the block,
   * which it lets go when done (the part's own release() then leaves the block alone).
   */
  later(p: PartTally, lineOffset: number): void {
    const { block, reread, recycle } = p;
    if (this.listener === undefined || block === null || reread === null) return;
    p.recycle = null;
    let lastMs = -Infinity;
    for (const s of p.slices.values()) if (s.counts.lastMs > lastMs) lastMs = s.counts.lastMs;
    this.listener.later({
      lastMs, bytes: block.buffer.byteLength, lineOffset,
      panes: () => {
        const slices = reread().slices;
        // The panes merge later, after the block has gone back: they keep copies of their lines.
        for (const s of slices.values()) s.evidence.textsFrom(block, true);
        return slices;
      },
      release: () => recycle?.(),
    });
  }

  /** A handshake to join by key, or to keep as a row: in time order across inputs, after absorb() took its part. */
  sight(h: KeyedSighting): void {
    const client = this.counts.clientId(h.client);
    const rows = this.rows;
    const row = rows === undefined ? -1 : rows.add({ input: h.input, line: h.line, client, protocol: h.protocol, status: h.status, durationMs: h.durationMs, endMs: h.endMs, flags: h.flags, upstream: rows.upstreamId(h.upstream) }, h.key);
    if (!h.hasKey) return;
    h.clientId = client;
    h.row = row;
    this.keys.see(h, h);
  }

  /** Call once after the last record. */
  finish(): void {
    this.keys.finish();
  }
}
