/*!
 * A live window of counts: one pane of exact counts and evidence per interval, the window being
 * the last few panes merged (Counts.merge). Panes are told of every line by the run's tally
 * (LineListener) and rotate on a clock; old panes drop off, so memory stays flat however long the
 * run. Key findings are not windowed: the window's view has no key tallies.
 */
import { COARSE } from './grid.js';
import { Counts } from './counts.js';
import { EvidenceReservoir, type EvidenceRow } from './evidence.js';
import { KeyCounts } from './keys.js';
import type { LineListener, TallyView } from './tally.js';

/** Evidence lines a pane keeps in all: a window cites a few lines per finding, not thousands. */
const PANE_EVIDENCE = 400;

interface Pane {
  counts: Counts;
  evidence: EvidenceReservoir;
}

export class PaneWindow implements LineListener {
  private panes: Pane[] = [];
  private current: Pane;

  /** `panes`: how many intervals the window spans; `evidence`: lines per finding. */
  constructor(private readonly size: number, private readonly evidencePerFinding: number) {
    this.current = this.newPane();
    this.panes.push(this.current);
  }

  request(input: number, client: string, protocol: number, startMs: number, endMs: number): void {
    const c = this.current.counts;
    c.request(input, c.clientId(client), protocol, startMs, endMs);
  }

  handshake(input: number, client: string, protocol: number, status: number, flags: number, durationMs: number, startMs: number, endMs: number, row: EvidenceRow): void {
    const c = this.current.counts;
    c.handshake(input, c.clientId(client), protocol, status, flags, durationMs, startMs, endMs);
    this.current.evidence.offer(EvidenceReservoir.classOf(protocol, status, flags, durationMs < 0 ? -1 : COARSE.bin(durationMs)), row);
  }

  target(input: number, upstream: string, path: string, status: number): void {
    this.current.counts.target(input, upstream, path, status);
  }

  /** Starts the next interval's pane; the oldest leaves the window. */
  rotate(): void {
    this.current = this.newPane();
    this.panes.push(this.current);
    if (this.panes.length > this.size) this.panes.shift();
  }

  /** The window: every pane's counts and evidence merged, oldest first. */
  view(): TallyView {
    const counts = new Counts();
    const evidence = new EvidenceReservoir(Math.max(4, this.evidencePerFinding + 1), PANE_EVIDENCE * this.size);
    for (const p of this.panes) {
      counts.merge(p.counts);
      evidence.merge(p.evidence);
    }
    return { counts, evidence, keys: { counts: new KeyCounts() } };
  }

  private newPane(): Pane {
    return { counts: new Counts(), evidence: new EvidenceReservoir(Math.max(4, this.evidencePerFinding + 1), PANE_EVIDENCE) };
  }
}
