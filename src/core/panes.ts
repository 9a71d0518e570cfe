/*!
 * A live window of counts over the log's own time: panes of exact counts and evidence, each a
 * slice of the window (at most MAX_PANES of them), merged for a verdict (Counts.merge). A line
 * goes to the pane of its time; the window's end is the newest line's time, moving on with the
 * wall clock while the log is quiet, so a log fed fast (hours in seconds) and a log followed as it
 * is written both see the last --window of log. Parts are sliced by pane where they are read
 * (core/part.ts), or, a stream's blocks, read as one slice and sliced only if a verdict may see
 * their lines (later()): a log fed faster than its own time leaves most blocks behind unread.
 * Old panes drop off: memory stays flat however long the run. Key findings are not windowed: the
 * window's view has no key tallies.
 */
import { Counts } from './counts.js';
import { EvidenceReservoir, evidenceBudget, keptPerClass } from './evidence.js';
import { KeyCounts } from './keys.js';
import { firstPaneOf, type Slice } from './part.js';
import { countHandshake, type KeyedSighting, type LaterPart, type SliceListener, type TallyView } from './tally.js';

/** Panes a window is cut into, at most: merging them is each verdict's work. */
const MAX_PANES = 30;
/** Evidence lines a pane keeps in all: a window cites a few lines per finding, not thousands. */
const PANE_EVIDENCE = 200;
/** Slices a pane holds unmerged, at most (a followed log's parts are small and many). */
const PENDING_SLICES = 8;
/**
 * Bytes of parts whose panes wait to be read (their blocks held meanwhile). A log whose window
 * holds more is dense enough that most parts would be read twice: its parts are sliced as they
 * are read from then on.
 */
const LATER_BYTES = 32 << 20;

/**
 * A pane's slices are merged into it only when a verdict reads the window or they pile up: a log
 * fed faster than its own time (hours a second through a pipe) leaves most panes behind before
 * any verdict, and merging each slice as it came was most of such a run's work. A handshake is
 * counted as it comes (handshake()), its line offered as the pane's evidence.
 */
interface Pane {
  counts: Counts | null;
  evidence: EvidenceReservoir | null;
  pending: Slice[];
}

export class PaneWindow implements SliceListener {
  readonly paneMs: number;
  private readonly panes = new Map<number, Pane>();
  /** The newest pane index lines have reached, and when (wall clock) the newest line came. */
  private newest = -Infinity;
  private newestLineMs = NaN;
  private newestAtWall = 0;
  /** Parts read as one slice whose lines a verdict may still see, oldest first, and their bytes. */
  private readonly waiting: LaterPart[] = [];
  private waitingBytes = 0;
  /** Stream parts are read as one slice (SliceListener.wantsLater) until the waiting room overflows. */
  wantsLater = true;

  /** `windowMs`: how far back the verdict looks; `intervalMs`: how often it is taken; `evidence`: lines per finding. */
  constructor(readonly windowMs: number, intervalMs: number, private readonly evidencePerFinding: number) {
    this.paneMs = Math.max(intervalMs, Math.ceil(windowMs / MAX_PANES));
  }

  /** A part's lines of pane `k` (core/part.ts slices parts by this window's paneMs). */
  slice(k: number, slice: Slice): void {
    const last = slice.counts.lastMs;
    if (Number.isFinite(last) && !(last <= this.newestLineMs)) {
      this.newestLineMs = last;
      this.newestAtWall = Date.now();
    }
    // Lines before any window this part's lines let a verdict see (PartReader.onlyWindowFrom).
    const p = k === -Infinity ? null : this.paneAt(k);
    if (p === null) return;
    p.pending.push(slice);
    if (p.pending.length >= PENDING_SLICES) this.settle(p);
  }

  /**
   * A handshake, after slice() was told of its part (core/tally.ts Tally.sight): counted in the
   * pane of its time (a line without one goes with the newest), unless no window can see it,
   * after the slices the pane holds unmerged (its counts then number clients as they came).
   */
  handshake(h: KeyedSighting): void {
    const k = h.endMs === h.endMs ? Math.floor(h.endMs / this.paneMs) : this.newest;
    if (!Number.isFinite(k) || (Number.isFinite(this.newestLineMs) && k < firstPaneOf(this.newestLineMs, this.windowMs, this.paneMs))) return;
    const p = this.paneAt(k);
    if (p === null) return;
    const { counts, evidence } = this.settle(p);
    countHandshake(counts, evidence, h);
  }

  /** The pane of index k, made if new; null when the window has left it behind (older ones dropped as lines move on). */
  private paneAt(k: number): Pane | null {
    if (k > this.newest) {
      this.newest = k;
      // Drop what the window has left behind as lines move on (a fast feed never waits for a verdict).
      for (const old of this.panes.keys()) if (old < k - MAX_PANES - 1) this.panes.delete(old);
    }
    if (k < this.newest - MAX_PANES - 1) return null;
    let p = this.panes.get(k);
    if (p === undefined) {
      p = { counts: null, evidence: null, pending: [] };
      this.panes.set(k, p);
    }
    return p;
  }

  /** An evidence reservoir of `budget` lines that keeps a few more per class than a finding cites. */
  private reservoir(budget: number): EvidenceReservoir {
    const perClass = keptPerClass(this.evidencePerFinding);
    return new EvidenceReservoir(perClass, evidenceBudget(budget, perClass));
  }

  /**
   * A part read as one slice (core/part.ts PartRules.panesLater): its panes are read when a
   * verdict may see its lines, or never, if the window moves past them first (a log fed faster
   * than its own time leaves most parts behind before any verdict).
   */
  later(part: LaterPart): void {
    this.waiting.push(part);
    this.waitingBytes += part.bytes;
    this.leaveBehind(this.newestLineMs);
    if (this.waitingBytes <= LATER_BYTES) return;
    this.wantsLater = false;
    this.readWaiting();
  }

  /** Lets go of the waiting parts no window ending at `endMs` or later can see. */
  private leaveBehind(endMs: number): void {
    if (!Number.isFinite(endMs)) return;
    const from = firstPaneOf(endMs, this.windowMs, this.paneMs) * this.paneMs;
    for (let i = 0; i < this.waiting.length; ) {
      const part = this.waiting[i] as LaterPart;
      if (part.lastMs >= from) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.waitingBytes -= part.bytes;
      part.release();
    }
  }

  /** The waiting parts' panes read, oldest first, and their blocks let go. */
  private readWaiting(): void {
    for (const part of this.waiting.splice(0)) {
      const again = part.panes();
      for (const [k, slice] of again.slices) this.slice(k, slice);
      again.handshakes((h) => this.handshake(h));
      part.release();
    }
    this.waitingBytes = 0;
  }

  /** The pane with its slices merged, in the order they came. */
  private settle(p: Pane): { counts: Counts; evidence: EvidenceReservoir } {
    const counts = (p.counts ??= new Counts());
    const evidence = (p.evidence ??= this.reservoir(PANE_EVIDENCE));
    for (const slice of p.pending) counts.merge(slice.counts);
    p.pending.length = 0;
    return { counts, evidence };
  }

  /**
   * The window ending now: the newest line's time, plus the wall-clock time since it came (a
   * quiet log's incidents close), every pane in it merged, older panes dropped.
   */
  view(wallMs = Date.now()): TallyView {
    const end = Number.isFinite(this.newestLineMs) ? this.newestLineMs + Math.max(0, wallMs - this.newestAtWall) : NaN;
    const from = Number.isFinite(end) ? firstPaneOf(end, this.windowMs, this.paneMs) : -Infinity;
    this.leaveBehind(end);
    this.readWaiting();
    for (const k of this.panes.keys()) if (k < from) this.panes.delete(k);
    const counts = new Counts();
    const evidence = this.reservoir(PANE_EVIDENCE * MAX_PANES);
    for (const k of [...this.panes.keys()].sort((a, b) => a - b)) {
      const p = this.settle(this.panes.get(k) as Pane);
      counts.merge(p.counts);
      evidence.merge(p.evidence);
    }
    return { counts, evidence, keys: { counts: new KeyCounts() } };
  }
}
