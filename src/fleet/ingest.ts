/*!
 * `wsdiag ingest`: reads inputs as a report does (same formats, detection, line numbering) and
 * inserts one row per line, normalised (fleet/sql.ts TABLE_COLUMNS), in batches, waiting for each
 * insert before reading on. Re-runs are idempotent: an input resumes after the highest line
 * already stored for its (host, input), so a grown file adds only its new lines. Builds no report.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { pipeline, type Readable } from 'node:stream';
import split2 from 'split2';
import { Classifier } from '../core/classify.js';
import { newRecord } from '../core/record.js';
import { LINE_BAD, LINE_EMPTY, LineScanner } from '../core/scan.js';
import { AnalyzerError, isAnalyzerError } from '../errors.js';
import type { CompiledFormat } from '../format/compile.js';
import { detectFormats } from '../format/detect.js';
import { openInput } from '../input/open.js';
import { normalizeOptions, type AnalyzeOptions } from '../options.js';
import { Fleet, type Wire } from './client.js';
import { COLUMN_NAMES, NO_OFFSET, createTableSql, lit, tableName } from './sql.js';

export interface IngestOptions extends AnalyzeOptions {
  clickhouse: string;
  table: string;
  /** CREATE TABLE IF NOT EXISTS first (MergeTree, by day). */
  create?: boolean;
  /** The host column (default: this machine's name). */
  host?: string;
  /** Store no line text (evidence and bad-line samples then show none). */
  noText?: boolean;
  /** The input column for the one input given (default: its name as given). */
  inputName?: string;
  /** Rows per INSERT (default 20,000: larger batches cost more in garbage collection than they save in requests). */
  batchRows?: number;
  onIngestProgress?: (input: string, lines: number, inserted: number) => void;
}

export interface IngestedInput {
  /** The input column its lines went to: the name given, or the one its file was stored under before (rotated), or name@id when the name held another file. */
  name: string;
  lines: number;
  /** Lines already in the table from an earlier run (skipped). */
  skipped: number;
  inserted: number;
  error: { code: string; message: string } | null;
}

export interface IngestResult {
  inputs: IngestedInput[];
  rows: number;
  seconds: number;
  wire: Wire;
}

/** Lines auto-detection looks at (as core/pipeline.ts). */
const DETECT_LINES = 20;

export async function ingest(opts: IngestOptions): Promise<IngestResult> {
  const o = await normalizeOptions(opts);
  const table = tableName(opts.table);
  const fleet = new Fleet(opts.clickhouse);
  const started = Date.now();
  const out: IngestResult = { inputs: [], rows: 0, seconds: 0, wire: fleet.wire };
  try {
    if (opts.create === true) await fleet.command(createTableSql(table));
    const host = opts.host ?? hostname();
    const classifier = new Classifier(o.wsPaths);
    if (opts.inputName !== undefined && o.inputs.length !== 1) throw new AnalyzerError('OPTION_INVALID', 'Invalid option --input-name: it names one input; give exactly one');
    for (const name of o.inputs) {
      const r = await ingestInput(fleet, table, host, name, opts.inputName ?? name, o.formats, o.detect, classifier, opts, o.stdin);
      out.rows += r.inserted;
      out.inputs.push(r);
    }
  } finally {
    await fleet.close();
  }
  out.seconds = (Date.now() - started) / 1000;
  return out;
}

/** The formats an input tries, in order, after detection on its first lines (as core/pipeline.ts orderFor). */
function scannerFor(formats: readonly CompiledFormat[], detect: boolean, sample: string[], classifier: Classifier): LineScanner {
  if (!detect) return new LineScanner(formats, formats.map((_, i) => i), classifier);
  const d = detectFormats(formats, sample);
  const list = d.inferred === null ? [...formats] : [...formats, d.inferred.format];
  return new LineScanner(list, [...new Set(d.order)].filter((i) => i < list.length), classifier);
}

async function ingestInput(fleet: Fleet, table: string, host: string, file: string, name: string, formats: readonly CompiledFormat[], detect: boolean,
  classifier: Classifier, opts: IngestOptions, stdin: Readable | number | undefined): Promise<IngestedInput> {
  const result: IngestedInput = { name, lines: 0, skipped: 0, inserted: 0, error: null };
  // A file resumes after its last stored line wherever it is now (access.log → access.log.1 after
  // rotation keeps its input name); a new file under a name an earlier file had gets its own name.
  const fileId = await fileIdOf(file);
  const [same] = fileId === '' ? [] : await fleet.rows(`SELECT max(line), any(input), count() FROM ${table} WHERE host = ${lit(host)} AND file_id = ${lit(fileId)}`);
  let resumeAfter = 0;
  if (same !== undefined && Number(same[2]) > 0) {
    resumeAfter = Number(same[0]);
    result.name = String(same[1]);
  } else {
    const [taken] = await fleet.rows(`SELECT max(line), countIf(file_id != ${lit(fileId)}) FROM ${table} WHERE host = ${lit(host)} AND input = ${lit(name)}`);
    if (fileId !== '' && Number(taken?.[1] ?? 0) > 0) result.name = `${name}@${fileId.slice(0, 8)}`;
    else resumeAfter = Number(taken?.[0] ?? 0);
  }
  let opened;
  try {
    opened = await openInput(file, stdin);
  } catch (err) {
    if (!isAnalyzerError(err)) throw err;
    result.error = { code: err.code, message: err.message };
    return result;
  }
  const batchRows = Math.max(1, opts.batchRows ?? 20_000);
  const rows = new RowWriter(host, result.name, fileId, opts.noText !== true);
  let scanner: LineScanner | null = null;
  const pending: string[] = [];
  // One insert in flight while the next batch is read: reading waits for it (backpressure), and
  // at most two batches are held.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (rows.count === 0) return;
    const data = rows.take();
    await inFlight;
    const lines = result.lines;
    const inserted = result.inserted;
    inFlight = fleet.insert(table, COLUMN_NAMES, data).then(() => opts.onIngestProgress?.(name, lines, inserted));
    // A failed insert surfaces at the next await of inFlight; keep it from being reported as unhandled meanwhile.
    inFlight.catch(() => {});
  };
  // Synchronous per line; the read loop flushes between chunks (a batch overshoots by one chunk's lines at most).
  const scan = (text: string): void => {
    const s = scanner as LineScanner;
    const kind = s.scan(text);
    const n = ++result.lines;
    rows.line(s, kind, n, n <= resumeAfter);
    if (n <= resumeAfter) result.skipped++;
    else result.inserted++;
  };
  const detectNow = (): void => {
    scanner = scannerFor(formats, detect, pending.map(stripCr), classifier);
    for (const t of pending.splice(0)) scan(t);
  };
  const line = (text: string): void => {
    if (scanner !== null) return scan(text);
    pending.push(text);
    if (pending.length >= DETECT_LINES) detectNow();
  };
  // One thread cuts the stream into lines: split2 (a last line without `\n` counts too). A read
  // error ends the lines with that error (pipeline), thrown by the loop.
  const lines = split2('\n');
  pipeline(opened.stream, lines, () => {});
  for await (const text of lines as AsyncIterable<string>) {
    line(text);
    if (rows.count >= batchRows) await flush();
  }
  if (scanner === null && pending.length > 0) detectNow();
  await flush();
  await inFlight;
  return result;
}

/**
 * The identity of a file: a hash of its first line (of its first 4 KiB when that holds no line
 * end); '' for standard input, and for a file without a whole first line yet.
 */
async function fileIdOf(name: string): Promise<string> {
  if (name === '-') return '';
  let fh;
  try {
    fh = await open(name, 'r');
  } catch {
    return ''; // openInput reports it
  }
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    const end = nl >= 0 ? nl : bytesRead === buf.length ? bytesRead : -1;
    return end < 0 ? '' : createHash('sha1').update(buf.subarray(0, end)).digest('hex').slice(0, 16);
  } finally {
    await fh.close();
  }
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}

/** ClickHouse 18.16 reads a DateTime in TabSeparated as a date or exactly ten digits. */
const NO_TIME = '0000000000';

/** TabSeparated escaping (backslash, tab, line breaks, NUL); most values need none. */
function tsv(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(ESCAPED, (c) => TSV_ESCAPES[c] as string) : v;
}
const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
const ESCAPED = /[\\\t\n\r\0]/g;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/**
 * Serialises lines as TabSeparated rows of TABLE_COLUMNS (a third of the bytes of JSONEachRow, and
 * no object per row); tracks the input's merge-order time. A format's text goes with its first line
 * of the run only (the report reads it with max()).
 */
class RowWriter {
  count = 0;
  private parts: string[] = [];
  private readonly rec = newRecord();
  private orderMs = -1;
  private readonly formatsSent = new Set<CompiledFormat>();
  private readonly prefix: string;

  constructor(host: string, input: string, private readonly fileId: string, private readonly keepText: boolean) {
    this.prefix = `${tsv(host)}\t${tsv(input)}\t`;
  }

  /** Line number `n`, scanned just now (`kind` as scan() said); `skip`: counted for the merge order only. */
  line(s: LineScanner, kind: number, n: number, skip: boolean): void {
    const rec = this.rec;
    if (kind === LINE_EMPTY || kind === LINE_BAD) {
      if (skip) return;
      const text = kind === LINE_BAD && this.keepText ? tsv(s.body) : '';
      const reason = kind === LINE_BAD ? tsv(s.reason) : '';
      this.push(`${NO_TIME}\t-1\t${this.orderMs}\t${this.prefix}${n}\t${kind === LINE_BAD ? 1 : 2}\t\t\t\t${NO_OFFSET}\t\t\t\t\t0\t-1\t\t0\t\t\t\t${text}\t${reason}\t0\t0`);
      return;
    }
    const format = s.read(rec) as CompiledFormat;
    const end = rec.endMs;
    // The local run hands an input's lines to the tally in line order, merged with other inputs by the latest time met (core/pipeline.ts).
    if (end === end && end > this.orderMs) this.orderMs = end;
    if (skip) return;
    const offset = s.utcOffsetMinutes();
    const handshake = s.handshake;
    const first = !this.formatsSent.has(format);
    if (first) this.formatsSent.add(format);
    const timed = end === end;
    this.push(`${timed ? String(Math.floor(end / 1000)).padStart(10, '0') : NO_TIME}\t${timed ? end : -1}\t${this.orderMs}\t${this.prefix}${n}\t0\t${tsv(format.name)}\t${first ? tsv(format.escape) : ''}\t${first ? tsv(format.text) : ''}\t${offset === offset ? offset : NO_OFFSET}\t`
      + `${tsv(rec.client)}\t${tsv(rec.protocol)}\t${tsv(rec.method)}\t${tsv(rec.path)}\t${rec.status}\t${rec.durationMs}\t${tsv(rec.upgrade)}\t${s.logsUpgrade() ? 1 : 0}\t`
      + `${tsv(rec.key)}\t${tsv(rec.upstreamStatus)}\t${tsv(rec.upstreamAddr)}\t${handshake && this.keepText ? tsv(rec.text) : ''}\t\t${handshake ? 1 : 0}\t${s.flags}`);
  }

  private push(row: string): void {
    this.parts.push(`${row}\t${this.fileId}`);
    this.count++;
  }

  take(): string {
    const s = `${this.parts.join('\n')}\n`;
    this.parts = [];
    this.count = 0;
    return s;
  }
}
