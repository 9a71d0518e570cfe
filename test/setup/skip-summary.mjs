/*
 * A node:test reporter that ends the run with what was skipped: one line per skip reason (a missing
 * program and its install command, say) with how many suites and tests it skipped, in which files.
 * Prints nothing when nothing was skipped. JavaScript: node loads reporters before tsx's hooks.
 */
import path from 'node:path';
import process from 'node:process';

export default async function* skipSummary(source) {
  /** reason → file → how many suites/tests were skipped for it */
  const byReason = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, file } = event.data;
    if (skip === undefined || skip === false) continue;
    const reason = typeof skip === 'string' ? skip : '(no reason given)';
    const files = byReason.get(reason) ?? new Map();
    const name = file ? path.relative(process.cwd(), file) : '?';
    files.set(name, (files.get(name) ?? 0) + 1);
    byReason.set(reason, files);
  }
  if (byReason.size === 0) return;
  const lines = ['skipped:'];
  for (const [reason, files] of byReason) {
    const total = [...files.values()].reduce((a, b) => a + b, 0);
    const where = [...files].map(([f, n]) => (n === 1 ? f : `${f} ×${n}`)).join(', ');
    lines.push(`  ${total} × ${reason} — ${where}`);
  }
  yield `${lines.join('\n')}\n`;
}
