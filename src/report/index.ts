/*!
 * The renderers, keyed by the --output value: (report, options) → text, or a stream of text for
 * outputs that can be large (CSV rows per handshake). Adding an output form means adding a module
 * and a line here.
 */
import type { Readable } from 'node:stream';
import { renderCsv, type CsvOptions } from './csv.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import type { Report } from './model.js';
import { renderTable, type TableOptions } from './table.js';

export type RenderOptions = TableOptions & CsvOptions;
export type Rendered = string | Readable;

export const RENDERERS = {
  table: (r: Report, o: RenderOptions) => renderTable(r, o),
  markdown: (r: Report, o: RenderOptions) => renderMarkdown(r, o),
  json: (r: Report) => renderJson(r),
  csv: (r: Report, o: RenderOptions) => renderCsv(r, o),
  html: (r: Report, o: RenderOptions) => renderHtml(r, o),
} as const satisfies Record<string, (r: Report, o: RenderOptions) => Rendered>;

export type OutputName = keyof typeof RENDERERS;
export const OUTPUT_NAMES = Object.keys(RENDERERS) as OutputName[];
export { CSV_KINDS, type CsvKind } from './csv.js';
export { handshakeRows } from './rows.js';

/** The whole rendered text (reads a stream to its end). */
export async function renderedText(out: Rendered): Promise<string> {
  if (typeof out === 'string') return out;
  const chunks: string[] = [];
  for await (const chunk of out) chunks.push(String(chunk));
  return chunks.join('');
}
