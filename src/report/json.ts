/*!
 * --output json: the Report as one JSON object, the contract outside checks rely on.
 */
import type { Report } from './model.js';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
