/*!
 * The renderers, keyed by the --output value: (report, options) → text. Adding an output form
 * means adding a module and a line here.
 */
import { renderJson } from './json.js';
import type { Report } from './model.js';
import { renderTable, type TableOptions } from './table.js';

export type RenderOptions = TableOptions;

export const RENDERERS = {
  table: (r: Report, o: RenderOptions) => renderTable(r, o),
  json: (r: Report) => renderJson(r),
} as const satisfies Record<string, (r: Report, o: RenderOptions) => string>;

export type OutputName = keyof typeof RENDERERS;
export const OUTPUT_NAMES = Object.keys(RENDERERS) as OutputName[];
