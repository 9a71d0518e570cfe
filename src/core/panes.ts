/*!
 * A live window of counts over the log's own time: panes of exact counts and evidence, each a
 * slice of the window (at most MAX_PANES of them), merged for a verdict (Counts.merge). A line
 * goes to the pane of its time; the window's end is the newest line's time, moving on with the
 * wall clock while the log is quiet, so a log fed fast (hours in seconds) and a log followed as it
 * is written both see the last --window of log. Old panes drop off: memory stays flat however long
 * the run. Key findings are not windowed: the window's view has no key tallies.
 */
import { COARSE } from './grid.js';
import { Counts } from './counts.js';
import { EvidenceReservoir, type EvidenceRow } from './evidence.js';
import { KeyCounts } from './keys.js';
import type { LineListener, TallyView } from './tally.js';

/** Panes a window is cut into, at most: merging them is each verdict's work. */
const MAX_PANES = 30;
/** Evidence lines a pane keeps in all: a window cites a few lines per finding, not thousands. */
const PANE_EVIDENCE = 200;

interface Pane {
  counts: Counts;
  evidence: EvidenceReservoir;
}

export class PaneWindow implements LineListener {
  private readonly paneMs: number;
  private readonly panes = new Map<number, Pane>();
  /** The newest pane index lines have reached, and when (wall clock) the newest line came. */
  private newest = -Infinity;
  private newestLineMs = NaN;
  private newestAtWall = 0;

  /** `windowMs`: how far back the verdict looks; `intervalMs`: how often it is taken; `evidence`: lines per finding. */
  constructor(private readonly windowMs: number, intervalMs: number, private readonly evidencePerFinding: number) {
    this.paneMs = Math.max(intervalMs, Math.ceil(windowMs / MAX_PANES));
  }

  request(input: number, client: string, protocol: number, startMs: number, endMs: number): void {
    const c = this.paneAt(endMs).counts;
    c.request(input, c.clientId(client), protocol, startMs, endMs);
  }

  handshake(input: number, client: string, protocol: number, status: number, flags: number, durationMs: number, startMs: number, endMs: number, row: EvidenceRow): void {
    const p = this.paneAt(endMs);
    p.counts.handshake(input, p.counts.clientId(client), protocol, status, flags, durationMs, startMs, endMs);
    p.evidence.offer(EvidenceReservoir.classOf(protocol, status, flags, durationMs < 0 ? -1 : COARSE.bin(durationMs)), row);
  }

  target(input: number, upstream: string, path: string, status: number): void {
    this.paneAt(this.newestLineMs).counts.target(input, upstream, path, status);
  }

  /**
   * The window ending now: the newest line's time, plus the wall-clock time since it came (a
   * quiet log's incidents close), every pane in it merged, older panes dropped.
   */
  view(wallMs = Date.now()): TallyView {
    const end = Number.isFinite(this.newestLineMs) ? this.newestLineMs + Math.max(0, wallMs - this.newestAtWall) : NaN;
    const from = Number.isFinite(end) ? Math.floor((end - this.windowMs) / this.paneMs) : -Infinity;
    for (const k of this.panes.keys()) if (k < from) this.panes.delete(k);
    const counts = new Counts();
    const evidence = new EvidenceReservoir(Math.max(4, this.evidencePerFinding + 1), PANE_EVIDENCE * MAX_PANES);
    for (const k of [...this.panes.keys()].sort((a, b) => a - b)) {
      const p = this.panes.get(k) as Pane;
      counts.merge(p.counts);
      evidence.merge(p.evidence);
    }
    return { counts, evidence, keys: { counts: new KeyCounts() } };
  }

  /** The pane of a line written at `endMs` (lines without a time go with the newest). */
  private paneAt(endMs: number): Pane {
    let k = Number.isFinite(endMs) ? Math.floor(endMs / this.paneMs) : this.newest;
    if (!Number.isFinite(k)) k = 0;
    if (Number.isFinite(endMs) && !(endMs <= this.newestLineMs)) {
      this.newestLineMs = endMs;
      this.newestAtWall = Date.now();
    }
    if (k > this.newest) {
      this.newest = k;
      // Drop what the window has left behind as lines move on (a fast feed never waits for a verdict).
      for (const old of this.panes.keys()) if (old < k - MAX_PANES - 1) this.panes.delete(old);
    }
    let p = this.panes.get(k);
    if (p === undefined) {
      p = { counts: new Counts(), evidence: new EvidenceReservoir(Math.max(4, this.evidencePerFinding + 1), PANE_EVIDENCE) };
      this.panes.set(k, p);
    }
    return p;
  }
}
