/*!
 * One line → its facts: which format fitted it (strictly, relaxed, after a syslog header), the
 * numbers the tally counts, and for handshakes the key, flags, upstream and path. LineScanner
 * leaves them in its fields for whoever reads lines (core/part.ts tallies a part of an input;
 * fleet/ingest.ts writes rows); it counts nothing across lines.
 */
import type { CompiledFormat } from '../format/compile.js';
import { explainMismatch, matchLine, newBounds, newFailure, type MatchFailure } from '../format/parse-line.js';
import { syslogBodyStart } from '../format/syslog.js';
import type { Classifier } from './classify.js';
import { RowFlag } from './counts.js';
import { handshakePath } from './outcomes.js';
import { RecordReader, newFacts, type LineFacts, type LogRecord } from './record.js';

/** What scan() says of a line that matched no format, and of an empty line; other values are format indices. */
export const LINE_BAD = 255;
export const LINE_EMPTY = 254;
/** Unparsed lines per scanner whose failure is described (BadLineLog keeps 20 samples). */
const DESCRIBED = 20;

interface Plan {
  /** Index in the run's format list. */
  index: number;
  format: CompiledFormat;
  reader: RecordReader;
  bounds: Int32Array;
  /** Lines this scanner matched with it: the tie-break when choosing whose words explain a bad line. */
  hits: number;
}

export class LineScanner {
  /** The last line's facts (parsed lines), read by the caller after scan(). */
  readonly facts: LineFacts = newFacts();
  /** The last line without a trailing `\r`, after a syslog header if it had one (the text evidence shows). */
  body = '';
  /** The last line is a WebSocket handshake; then its RowFlag bits. */
  handshake = false;
  flags = 0;
  /** Why the last line matched no format (described for the first few; else ''). */
  reason = '';
  private readonly order: Plan[];
  private readonly failure: MatchFailure = newFailure();
  private described = 0;
  /** The plan of the last line scan() matched (null: none). */
  private lastPlan: Plan | null = null;
  private lastPath = '';

  /** `order`: indices into `formats`, tried in that order for every line. */
  constructor(formats: readonly CompiledFormat[], order: readonly number[], private readonly classifier: Classifier) {
    this.order = order.map((index) => {
      const format = formats[index] as CompiledFormat;
      return { index, format, reader: new RecordReader(format), bounds: newBounds(format), hits: 0 };
    });
  }

  /**
   * Reads one line (as split at `\n`; a trailing `\r` is dropped here): LINE_EMPTY, LINE_BAD (the
   * text in `body`, why in `reason`) or the index of the format that fitted (facts in `facts`).
   */
  scan(line: string): number {
    const text = stripCr(line);
    this.lastPlan = null;
    this.body = text;
    if (text.length === 0) return LINE_EMPTY;
    // Strictly, then relaxed; each on the line, then after a syslog header: a relaxed $remote_addr
    // would otherwise swallow the header (`<190>Nov 30 06:59:33 host nginx: 127.0.0.3`).
    let body = text;
    let plan: Plan | null = null;
    let start = 0;
    for (let pass = 0; pass < 2 && plan === null; pass++) {
      plan = this.match(text, pass);
      if (plan === null && pass === 0) start = syslogBodyStart(text);
      if (plan === null && start > 0) {
        body = text.slice(start);
        plan = this.match(body, pass);
      }
    }
    if (plan === null) {
      this.reason = this.described++ >= DESCRIBED ? '' : this.explain(text, start > 0 ? body : null);
      return LINE_BAD;
    }
    this.lastPlan = plan;
    this.body = body;
    plan.hits++;
    const f = this.facts;
    const reader = plan.reader;
    reader.facts(body, plan.bounds, f);
    const classifier = this.classifier;
    const byHeaders = classifier.byHeaders(f.key, f.status, f.upgrade);
    // The path is read only where it can matter: a line with handshake headers (its WS_PATH flag) or an answer a WebSocket path makes a handshake.
    this.lastPath = byHeaders || classifier.byPath(f.status) ? reader.path() : '';
    const wsPath = this.lastPath !== '' && classifier.isWsPath(this.lastPath);
    this.handshake = byHeaders || wsPath;
    this.flags = this.handshake ? (f.key !== '' ? RowFlag.HAS_KEY : 0) | (f.logsUpgrade && f.upgrade === '' ? RowFlag.UPGRADE_MISSING : 0) | (wsPath ? RowFlag.WS_PATH : 0) : 0;
    return plan.index;
  }

  /** $upstream_addr of the handshake scan() last read ('' when not logged). */
  upstream(): string {
    return this.lastPlan?.reader.upstream() ?? '';
  }

  /** The path the handshake scan() last read asked for, without its query string (core/outcomes.ts handshakePath). */
  path(): string {
    return handshakePath(this.lastPath);
  }

  /**
   * The whole record of the line scan() was last given, into `rec`, with the name of the format
   * that fitted it; null when it fitted none. For callers that keep every field (src/fleet/ingest.ts).
   */
  read(rec: LogRecord): CompiledFormat | null {
    const p = this.lastPlan;
    if (p === null) return null;
    p.reader.read(this.body, p.bounds, rec);
    return p.format;
  }

  /** Whether the line scan() last matched logs $http_upgrade (so an empty one was absent). */
  logsUpgrade(): boolean {
    return this.lastPlan?.reader.logsUpgrade ?? false;
  }

  /** The UTC offset (minutes) of the line scan() last matched (NaN: none). */
  utcOffsetMinutes(): number {
    return this.lastPlan === null ? NaN : this.lastPlan.reader.utcOffsetMinutes();
  }

  /**
   * Tries the formats in order, strictly (pass 0) or relaxed (pass 1). The order is fixed (no
   * move-to-front): a format whose last field is free text also matches lines of a longer
   * format that appends fields, so the longer one must keep going first.
   */
  private match(text: string, pass: number): Plan | null {
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const p = order[i] as Plan;
      if (matchLine(p.format, text, p.bounds, this.failure, pass === 1)) return p;
    }
    return null;
  }

  /**
   * Why a line fits no format, in the words of the format that came closest: one that fits the
   * line's beginning (text follows its last field), else the one whose match got furthest; among
   * equals the one that fitted most lines so far (the input's own format), then the first tried.
   * So a combined log's bad line is not explained by a format that extends combined.
   */
  private explain(text: string, body: string | null): string {
    let best = '';
    let bestReach = -1;
    let bestHits = -1;
    for (const p of this.order) {
      for (const t of body === null ? [text] : [text, body]) {
        const m = explainMismatch(p.format, t);
        if (m.reach > bestReach || (m.reach === bestReach && p.hits > bestHits)) {
          best = `${p.format.name}: ${m.reason}`;
          bestReach = m.reach;
          bestHits = p.hits;
        }
      }
    }
    return best === '' ? 'no format' : best;
  }
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}
