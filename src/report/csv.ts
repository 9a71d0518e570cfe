/*!
 * --output csv: one row per handshake (default) or, with --csv findings, one row per finding.
 * RFC 4180 (CRLF, quotes doubled) through fast-csv, the only module that loads it (when a CSV is
 * written: a run that writes another form never loads it). Streams:
 * handshake rows are formatted one at a time, never held as one string. Cells that a spreadsheet
 * would run as a formula get a leading apostrophe (OWASP "CSV injection").
 */
import { createRequire } from 'node:module';
import { Readable, pipeline } from 'node:stream';
import type * as FastCsv from 'fast-csv';
import type { HandshakeRow, Report } from './model.js';
import { handshakeRows } from './rows.js';

export const CSV_KINDS = ['handshakes', 'findings'] as const;
export type CsvKind = (typeof CSV_KINDS)[number];

export interface CsvOptions {
  csv?: CsvKind;
}

type Cell = string | number | null;

export const HANDSHAKE_COLUMNS = ['file', 'line', 'key', 'key_inputs', 'key_protocols', 'protocol', 'status', 'request_time', 'start', 'end', 'client', 'upstream', 'findings'] as const;
export const FINDING_COLUMNS = ['id', 'severity', 'title', 'count', 'timeout_seconds', 'first_seen', 'last_seen', 'clients', 'outcomes', 'evidence', 'explanation', 'fix'] as const;

/** A number as text stays a number; anything else starting like a formula is made inert. */
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

export function neutralise(cell: string): string {
  return FORMULA_START.test(cell) && cell !== '-' && !PLAIN_NUMBER.test(cell) ? `'${cell}` : cell;
}

function handshakeCells(h: HandshakeRow): Cell[] {
  return [
    h.file, h.line, h.key,
    h.keyInputs.map((k) => k.file).join(';'),
    h.keyInputs.map((k) => `${k.file}=${k.protocols.join('+')}`).join(';'),
    h.protocol, h.status, h.requestTime === null ? null : h.requestTime.toFixed(3), h.start, h.end, h.client, h.upstream,
    h.findings.join(' '),
  ];
}

function findingRows(report: Report): Cell[][] {
  return report.findings.map((f) => [
    f.id, f.severity, f.title, f.count, f.timeoutSeconds === undefined ? null : f.timeoutSeconds.toFixed(3), f.firstSeen, f.lastSeen,
    f.clients.map((c) => `${c.client}=${c.count}`).join(';'),
    Object.entries(f.breakdown).map(([k, n]) => `${k}=${n}`).join(';'),
    f.evidence.map((e) => `${e.file}:${e.line}`).join(';'),
    f.explanation, f.fix,
  ]);
}

function* mapRows<T>(rows: Iterable<T>, cells: (row: T) => Cell[]): Generator<(string | number)[]> {
  for (const row of rows) yield cells(row).map((c) => (c === null ? '' : typeof c === 'number' ? c : neutralise(c)));
}

export function renderCsv(report: Report, opts: CsvOptions): Readable {
  let source: Generator<(string | number)[]>;
  let headers: readonly string[];
  if (opts.csv === 'findings') {
    headers = FINDING_COLUMNS;
    source = mapRows(findingRows(report), (r) => r);
  } else {
    const rows = handshakeRows(report);
    if (rows === undefined) throw new Error('per-handshake CSV needs a report made by analyze() in this process (a report read back from JSON has no rows); use --csv findings');
    headers = HANDSHAKE_COLUMNS;
    source = mapRows(rows, handshakeCells);
  }
  // alwaysWriteHeaders: with no row, fast-csv would write nothing but a line end; a reader wants the columns.
  const { format } = createRequire(import.meta.url)('fast-csv') as typeof FastCsv;
  const csv = format<(string | number)[], (string | number)[]>({ headers: [...headers], alwaysWriteHeaders: true, rowDelimiter: '\r\n', includeEndRowDelimiter: true });
  // pipeline destroys the formatter on a source error, so whoever reads `csv` sees the error.
  return pipeline(Readable.from(source), csv, () => undefined);
}
