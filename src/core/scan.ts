/*!
 * One line → its facts: which format fitted it (strictly, relaxed, after a syslog header), the
 * numbers the tally counts, and for handshakes the key, flags, upstream and path. LineScanner
 * leaves them in its fields for whoever reads lines (core/part.ts tallies a part of an input;
 * fleet/ingest.ts writes rows); it counts nothing across lines.
 */
import type { CompiledFormat } from '../format/compile.js';
import { byteOffsets, explainMismatch, matchBytes, matchLine, newBounds, newFailure, type MatchFailure } from '../format/parse-line.js';
import { compileStraight, type StraightMatch } from '../format/straight-match.js';
import { syslogBodyStart } from '../format/syslog.js';
import type { Classifier } from './classify.js';
import { RowFlag } from './counts.js';
import { handshakePath } from './outcomes.js';
import { RecordReader, newFacts, type LineFacts, type LogRecord } from './record.js';

/** What scan() says of a line that matched no format, and of an empty line; other values are format indices. */
export const LINE_BAD = 255;
export const LINE_EMPTY = 254;
/** Lines lastTime() looks at, at most: a part's last lines rarely all lack a time or fail to parse. */
const LAST_TIME_LINES = 8;
/** Unparsed lines per scanner whose failure is described (BadLineLog keeps 20 samples). */
const DESCRIBED = 20;

interface Plan {
  /** Index in the run's format list. */
  index: number;
  format: CompiledFormat;
  reader: RecordReader;
  /** A template's usual line, matched by generated code (format/straight-match.ts); null for JSON. */
  straight: StraightMatch | null;
  bounds: Int32Array;
  /** Lines this scanner matched with it: the tie-break when choosing whose words explain a bad line. */
  hits: number;
}

export class LineScanner {
  /** The last line's facts (parsed lines), read by the caller after scan(). */
  readonly facts: LineFacts = newFacts();
  /** lastTime()'s facts, apart from the line being read. */
  private readonly probe: LineFacts = newFacts();
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
  /**
   * The last line's body (after a syslog header, without `\r`): b[bodyStart, bodyEnd) of the
   * bytes scanBytes() was given, so valid only until they change; bounds are offsets in b. Set
   * here, read by callers.
   */
  b: Buffer = Buffer.alloc(0);
  bodyStart = 0;
  bodyEnd = 0;
  private bodyText: string | null = null;
  /** Where scan() puts a string's bytes. */
  private encoded = Buffer.allocUnsafe(1024);

  /** `order`: indices into `formats`, tried in that order for every line. */
  constructor(formats: readonly CompiledFormat[], order: readonly number[], private readonly classifier: Classifier) {
    this.order = order.map((index) => {
      const format = formats[index] as CompiledFormat;
      const straight = format.kind === 'template' ? compileStraight(format) : null;
      return { index, format, reader: new RecordReader(format), straight, bounds: newBounds(format), hits: 0 };
    });
  }

  /** The last line without a trailing `\r`, after a syslog header if it had one (the text evidence shows). */
  get body(): string {
    this.bodyText ??= this.b.toString('utf8', this.bodyStart, this.bodyEnd);
    return this.bodyText;
  }

  /** scanBytes() on a line given as a string (split at `\n`; a trailing `\r` is dropped). */
  scan(line: string): number {
    if (3 * line.length > this.encoded.length) this.encoded = Buffer.allocUnsafe(Math.max(3 * line.length, 2 * this.encoded.length));
    const n = this.encoded.write(line, 0, 'utf8');
    return this.scanBytes(this.encoded, 0, n);
  }

  /**
   * Reads one line, the bytes b[start, end) as split at `\n` (a trailing `\r` is dropped here):
   * LINE_EMPTY, LINE_BAD (the text in `body`, why in `reason`) or the index of the format that
   * fitted (facts in `facts`). Templates are matched on the bytes; strings are made only for a
   * handshake's values and for a client not seen lately.
   */
  scanBytes(b: Buffer, start: number, end: number): number {
    if (end > start && b[end - 1] === 13) end--;
    this.lastPlan = null;
    this.bodyText = null;
    this.b = b;
    this.bodyStart = start;
    this.bodyEnd = end;
    if (end === start) return LINE_EMPTY;
    const plan = this.match(b, start, end, 0) ?? this.retry(b, start, end);
    if (plan === null) return LINE_BAD;
    this.lastPlan = plan;
    plan.hits++;
    const f = this.facts;
    const reader = plan.reader;
    reader.facts(b, plan.bounds, f);
    const classifier = this.classifier;
    const byHeaders = classifier.byHeaders(f.hasKey, f.status, f.upgrade);
    // The path is read only where it can matter: a line with handshake headers (its WS_PATH flag) or an answer a WebSocket path makes a handshake.
    this.lastPath = byHeaders || classifier.byPath(f.status) ? reader.path() : '';
    const wsPath = this.lastPath !== '' && classifier.isWsPath(this.lastPath);
    this.handshake = byHeaders || wsPath;
    this.flags = this.handshake ? (f.hasKey ? RowFlag.HAS_KEY : 0) | (f.logsUpgrade && f.upgrade === '' ? RowFlag.UPGRADE_MISSING : 0) | (wsPath ? RowFlag.WS_PATH : 0) : 0;
    return plan.index;
  }

  /**
   * The time of the last of the lines in b[from, to) that fits a format strictly and has one,
   * looking at LAST_TIME_LINES lines at most from the end; NaN when none does. Counts and
   * remembers nothing: the lines are read again, in order, by scanBytes().
   */
  lastTime(b: Buffer, from: number, to: number): number {
    let end = to > from && b[to - 1] === 10 ? to - 1 : to;
    for (let n = 0; n < LAST_TIME_LINES && end > from; n++) {
      const start = Math.max(from, b.lastIndexOf(10, end - 1) + 1);
      const e = end > start && b[end - 1] === 13 ? end - 1 : end;
      const plan = e > start ? this.match(b, start, e, 0) : null;
      if (plan !== null) {
        plan.reader.facts(b, plan.bounds, this.probe);
        if (this.probe.endMs === this.probe.endMs) return this.probe.endMs;
      }
      end = start - 1;
    }
    return NaN;
  }

  /**
   * A line no format fits strictly: strictly after a syslog header, then relaxed, on the line and
   * after the header; a relaxed $remote_addr would otherwise swallow the header
   * (`<190>Nov 30 06:59:33 host nginx: 127.0.0.3`). null (and `reason` said) when nothing fits.
   */
  private retry(b: Buffer, start: number, end: number): Plan | null {
    const text = b.toString('utf8', start, end);
    const at = syslogBodyStart(text);
    const bodyStart = at > 0 ? start + Buffer.byteLength(text.slice(0, at)) : -1;
    const afterHeader = (pass: number): Plan | null => {
      const plan = bodyStart > 0 ? this.match(b, bodyStart, end, pass) : null;
      if (plan !== null) this.bodyStart = bodyStart;
      return plan;
    };
    const plan = afterHeader(0) ?? this.match(b, start, end, 1) ?? afterHeader(1);
    if (plan !== null) return plan;
    this.bodyText = text;
    this.reason = this.described++ >= DESCRIBED ? '' : this.explain(text, at > 0 ? text.slice(at) : null);
    return null;
  }

  /** The Sec-WebSocket-Key of the line scan() last read, decoded ('' when absent). */
  key(): string {
    return this.lastPlan?.reader.key() ?? '';
  }

  /** Its 16 bytes into out[0..3] when it is a canonical key (core/keys.ts decodeKey), read from the line's bytes. */
  keyWords(out: Uint32Array): boolean {
    return this.lastPlan?.reader.keyWords(out) ?? false;
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
    p.reader.read(this.b, p.bounds, rec);
    rec.text = this.body;
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
   * Tries the formats in order on b[start, end), strictly (pass 0) or relaxed (pass 1). The order
   * is fixed (no move-to-front): a format whose last field is free text also matches lines of a
   * longer format that appends fields, so the longer one must keep going first. A JSON format is
   * matched on the text, its bounds then made byte offsets.
   */
  private match(b: Buffer, start: number, end: number, pass: number): Plan | null {
    const order = this.order;
    const failure = this.failure;
    for (let i = 0; i < order.length; i++) {
      const p = order[i] as Plan;
      const f = p.format;
      if (f.kind === 'template') {
        if (pass === 0) {
          // The straight code first; run() when it cannot tell.
          if ((p.straight !== null && p.straight(b, start, end, p.bounds)) || matchBytes(f, b, start, end, p.bounds, failure, false)) return p;
        } else if (f.relaxed !== f.shapes && matchBytes(f, b, start, end, p.bounds, failure, true)) return p;
      } else if (pass === 0) {
        const text = b.toString('utf8', start, end);
        if (matchLine(f, text, p.bounds, failure)) {
          byteOffsets(text, p.bounds, start);
          return p;
        }
      }
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

