/*!
 * The per-handshake rows behind a Report, kept out of the Report object itself so that the JSON
 * report stays a summary however many handshakes there were. analyze() attaches a source; the CSV
 * renderer iterates it lazily, one row at a time.
 */
import type { HandshakeRow, Report } from './model.js';

const SOURCES = new WeakMap<Report, () => Iterable<HandshakeRow>>();

export function attachHandshakeRows(report: Report, rows: () => Iterable<HandshakeRow>): void {
  SOURCES.set(report, rows);
}

/** The report's handshake rows in input and line order; undefined for a Report not made by analyze() (e.g. read back from JSON). */
export function handshakeRows(report: Report): Iterable<HandshakeRow> | undefined {
  return SOURCES.get(report)?.();
}
