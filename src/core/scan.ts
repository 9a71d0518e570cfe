/*!
 * One input's lines → Batches of per-line facts, in line order: which format fitted each line
 * (strictly, relaxed, after a syslog header), the numbers the tally counts, and for handshakes the
 * key, flags and (while it may become evidence) the text. Runs where the lines are: in a worker
 * over a part of an input (core/worker.ts: a byte range of a file, a block of a stream's lines),
 * or in the main thread over a small file or with one thread. Counts nothing across lines:
 * core/pipeline.ts replays the batches, in order, into the tally.
 */
import type { CompiledFormat } from '../format/compile.js';
import { explainMismatch, matchLine, newBounds, newFailure, type MatchFailure } from '../format/parse-line.js';
import { syslogBodyStart } from '../format/syslog.js';
import type { Classifier } from './classify.js';
import { RowFlag } from './counts.js';
import { handshakePath } from './outcomes.js';
import { RecordReader, newFacts, type LogRecord } from './record.js';
import type { LineQueue } from '../input/lines.js';
import type { OpenedInput } from '../input/open.js';

/** `kind` of a line that matched no format, and of an empty line; other kinds are format indices. */
export const LINE_BAD = 255;
export const LINE_EMPTY = 254;
/**
 * Lines per batch, at most; a worker also posts one once its lines reach BATCH_CHARS. Small:
 * what a batch holds (keys and texts, and the read chunks they are cut from) lives until it is
 * posted, and at 8192 lines it lived long enough to be promoted unless a worker had a large
 * young generation (core/workers.ts).
 */
export const BATCH_LINES = 1024;
export const BATCH_CHARS = 1 << 18;
/** Unparsed lines per scanner whose failure is described (BadLineLog keeps 20 samples). */
const DESCRIBED = 20;
/** Distinct clients a scanner remembers before it starts its numbering afresh. */
const MAX_LOCAL_CLIENTS = 1 << 16;

/** Per-line columns, plus the strings a few lines need. Plain data: it crosses to the main thread. */
export interface Batch {
  length: number;
  /** Per line: the index of the format that fitted, LINE_BAD or LINE_EMPTY. */
  kind: Uint8Array;
  /** Per parsed line: the client, numbered by the scanner (see `clients`). */
  client: Uint32Array;
  protocol: Uint8Array;
  durationMs: Int32Array;
  /** NaN when the line has no time. */
  endMs: Float64Array;
  /** Per line: 1 when it is a WebSocket handshake. */
  handshake: Uint8Array;
  /** Per handshake, in line order. */
  status: Uint16Array;
  flags: Uint8Array;
  keys: string[];
  /**
   * The line's text while it may become evidence (core/handshakes.ts EvidenceCells), or when it
   * has a key (a reused or hidden-downgrade key's lines are cited whatever their cell), else ''.
   */
  texts: string[];
  /** $upstream_addr as logged ('' when not). */
  upstreams: string[];
  /** The path asked for, without its query string (core/outcomes.ts handshakePath). */
  paths: string[];
  /** When set, the scanner numbered clients afresh from 0 at this batch. */
  clientsRestart: boolean;
  /** Clients met for the first time, in the order of their numbers. */
  clients: string[];
  /** Per unparsed line, in order: the text, and why it failed (for the first few; else ''). */
  bad: string[];
  reasons: string[];
  /**
   * The UTC offset (minutes) of the first line in the batch whose $time_local or $time_iso8601
   * has one; NaN when none does. The report shows times in the log's own zone (pipeline.ts).
   */
  utcOffsetMin: number;
}

export function newBatch(): Batch {
  return {
    length: 0, kind: new Uint8Array(BATCH_LINES), client: new Uint32Array(BATCH_LINES), protocol: new Uint8Array(BATCH_LINES),
    durationMs: new Int32Array(BATCH_LINES), endMs: new Float64Array(BATCH_LINES), handshake: new Uint8Array(BATCH_LINES),
    status: new Uint16Array(BATCH_LINES), flags: new Uint8Array(BATCH_LINES), keys: [], texts: [], upstreams: [], paths: [],
    clientsRestart: false, clients: [], bad: [], reasons: [], utcOffsetMin: NaN,
  };
}

/** Empties a batch for reuse (StreamSource hands out one batch again and again): its typed arrays stay. */
export function clearBatch(b: Batch): Batch {
  b.length = 0;
  b.clientsRestart = false;
  b.keys = [];
  b.texts = [];
  b.upstreams = [];
  b.paths = [];
  b.clients = [];
  b.bad = [];
  b.reasons = [];
  b.utcOffsetMin = NaN;
  return b;
}

/** The typed arrays of a batch, to transfer rather than copy. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  return [b.kind, b.client, b.protocol, b.durationMs, b.endMs, b.handshake, b.status, b.flags].map((a) => a.buffer as ArrayBuffer);
}

interface Plan {
  /** Index in the pipeline's format list. */
  index: number;
  format: CompiledFormat;
  reader: RecordReader;
  bounds: Int32Array;
  /** Lines this scanner matched with it: the tie-break when choosing whose words explain a bad line. */
  hits: number;
}

export class LineScanner {
  private readonly order: Plan[];
  private readonly failure: MatchFailure = newFailure();
  private readonly facts = newFacts();
  private readonly clientIds = new Map<string, number>();
  private described = 0;
  private firstBatch = true;
  /** The plan and body of the last line scan() matched (null: none), for read(). */
  private lastPlan: Plan | null = null;
  private lastBody = '';

  /** `order`: indices into `formats`, tried in that order for every line. */
  constructor(formats: readonly CompiledFormat[], order: readonly number[], private readonly classifier: Classifier) {
    this.order = order.map((index) => {
      const format = formats[index] as CompiledFormat;
      return { index, format, reader: new RecordReader(format), bounds: newBounds(format), hits: 0 };
    });
  }

  /** Adds one line (as split at `\n`; a trailing `\r` is dropped here) to the batch, which must have room. */
  scan(line: string, b: Batch): void {
    const i = b.length++;
    if (i === 0) {
      // The main thread maps these numbers to its own; both start afresh with a scanner's first
      // batch, and between batches when many clients were met.
      b.clientsRestart = this.firstBatch || this.clientIds.size >= MAX_LOCAL_CLIENTS;
      this.firstBatch = false;
      if (b.clientsRestart) this.clientIds.clear();
    }
    const text = stripCr(line);
    if (text.length === 0) {
      this.lastPlan = null;
      b.kind[i] = LINE_EMPTY;
      return;
    }
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
    this.lastPlan = plan;
    this.lastBody = body;
    if (plan === null) {
      b.kind[i] = LINE_BAD;
      b.bad.push(text);
      b.reasons.push(this.described++ >= DESCRIBED ? '' : this.explain(text, start > 0 ? body : null));
      return;
    }
    plan.hits++;
    b.kind[i] = plan.index;
    const f = this.facts;
    const reader = plan.reader;
    reader.facts(body, plan.bounds, f);
    b.client[i] = this.clientId(f.client, b);
    b.protocol[i] = f.protocol;
    b.durationMs[i] = f.durationMs;
    b.endMs[i] = f.endMs;
    if (b.utcOffsetMin !== b.utcOffsetMin) b.utcOffsetMin = reader.utcOffsetMinutes();
    const path = reader.path();
    const wsPath = this.classifier.isWsPath(path);
    if (!this.classifier.byHeaders(f.key, f.status, f.upgrade) && !(wsPath && this.classifier.byPath(f.status))) {
      b.handshake[i] = 0;
      return;
    }
    b.handshake[i] = 1;
    const h = b.keys.length;
    const flags = (f.key !== '' ? RowFlag.HAS_KEY : 0) | (f.logsUpgrade && f.upgrade === '' ? RowFlag.UPGRADE_MISSING : 0) | (wsPath ? RowFlag.WS_PATH : 0);
    b.status[h] = f.status;
    b.flags[h] = flags;
    b.keys.push(f.key);
    // Every handshake ships its text: the evidence reservoir keeps each class's last line too.
    b.texts.push(body);
    b.upstreams.push(reader.upstream());
    b.paths.push(handshakePath(path));
  }

  /**
   * The whole record of the line scan() was last given, into `rec`, with the name of the format
   * that fitted it; null when it fitted none. For callers that keep every field (src/fleet/ingest.ts).
   */
  read(rec: LogRecord): CompiledFormat | null {
    const p = this.lastPlan;
    if (p === null) return null;
    p.reader.read(this.lastBody, p.bounds, rec);
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

  private clientId(client: string, b: Batch): number {
    const ids = this.clientIds;
    let id = ids.get(client);
    if (id !== undefined) return id;
    id = ids.size;
    // A copy: a sliced string would keep its whole read chunk alive as a map key.
    ids.set(Buffer.from(client, 'utf8').toString('utf8'), id);
    b.clients.push(client);
    return id;
  }
}

/** Where a cursor gets an input's batches: scanned here from a stream, or by workers over ranges. */
export interface BatchSource {
  /** The next batch, or null when none is ready; the previous one is done with. */
  next(): Batch | null;
  /** No batch will come any more (end of input, error, or close()). */
  readonly ended: boolean;
  readonly error: Error | null;
  /** Input bytes (compressed, for gzip) read and scanned so far. */
  bytesRead(): number;
  /** Stops reading; batches not yet taken are dropped. */
  close(): void;
  /** Stops reading; what was read already still comes out of next(). */
  stopReading(): void;
}

/** An input scanned in this thread as its lines arrive (stdin, gzip, small files). */
export class StreamSource implements BatchSource {
  private scanner: LineScanner | null = null;
  private readonly batch = newBatch();

  /** `choose` picks the format order from the first lines (called once, when DETECT_LINES are in or the input ended). */
  constructor(
    private readonly lines: LineQueue,
    private readonly opened: OpenedInput,
    private readonly detectLines: number,
    private readonly choose: (sample: string[]) => LineScanner,
  ) {}

  get ended(): boolean {
    return this.lines.ended;
  }

  get error(): Error | null {
    return this.lines.error;
  }

  next(): Batch | null {
    const q = this.lines;
    if (this.scanner === null) {
      if (q.size < this.detectLines && !q.ended) return null;
      const sample: string[] = [];
      for (let i = 0; i < this.detectLines && i < q.size; i++) sample.push(stripCr(q.peek(i) as string));
      this.scanner = this.choose(sample);
    }
    const b = clearBatch(this.batch);
    for (let line = q.shift(); line !== undefined; line = b.length < BATCH_LINES ? q.shift() : undefined) this.scanner.scan(line, b);
    return b.length > 0 ? b : null;
  }

  bytesRead(): number {
    return this.opened.bytesRead();
  }

  close(): void {
    this.lines.close();
  }

  stopReading(): void {
    this.lines.stopReading();
  }
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}
