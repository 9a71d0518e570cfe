/*!
 * Auto-detection: the formats an input tries, in which order, chosen from its first lines; and,
 * when some of those lines fit no candidate, a well-known format with appended fields read from
 * their values (format/trailing.ts). Reads no input: core/pipeline.ts hands it the sample lines
 * and keeps the list of formats every input shares.
 */
import type { CompiledFormat } from './compile.js';
import { Shape } from './fields.js';
import { matchAny, newBounds, newFailure } from './parse-line.js';
import { syslogBodyStart } from './syslog.js';
import { inferTrailingFields, type InferredFormat } from './trailing.js';

export interface Detection {
  /** Indices into the candidates, `candidates.length` standing for `inferred`, in the order to try them. */
  order: number[];
  /** A format built for lines no candidate fits; the caller adds it to its list. */
  inferred: InferredFormat | null;
}

/** The line as the scanner reads it when the whole line fits no format: after its syslog header, if any. */
function bodyOf(text: string): string {
  const start = syslogBodyStart(text);
  return start > 0 ? text.slice(start) : text;
}

/** How many of `lines` the format fits (strictly or relaxed; whole, or after a syslog header). */
function hitsOf(f: CompiledFormat, lines: readonly string[], fitted: boolean[]): number {
  const bounds = newBounds(f);
  const failure = newFailure();
  let hits = 0;
  lines.forEach((text, i) => {
    const body = bodyOf(text);
    if (matchAny(f, text, bounds, failure) || (body !== text && matchAny(f, body, bounds, failure))) {
      hits++;
      fitted[i] = true;
    }
  });
  return hits;
}

/**
 * A format whose last field is free text running to the end of the line (the incident's unquoted
 * `$http_user_agent`) also matches lines of a longer format that appends fields to it, the
 * appended values swallowed into that field: the longer one must be tried before it.
 */
function swallowsAppended(f: CompiledFormat): boolean {
  return f.kind === 'template' && f.literals[f.vars.length] === '' && f.shapes[f.vars.length - 1] === Shape.ANY;
}

/**
 * Candidates ordered by how many sample lines they fit (ties: the earlier, more specific one
 * first); all stay in the list, so a format change mid-file still parses. A format that extends
 * one whose last field swallows appended fields always goes before it.
 */
export function detectFormats(candidates: readonly CompiledFormat[], sample: readonly string[]): Detection {
  const lines = sample.filter((l) => l.length > 0);
  const fitted = lines.map(() => false);
  const hits = candidates.map((f) => hitsOf(f, lines, fitted));
  const unmatched = lines.filter((_, i) => !fitted[i]).map(bodyOf);
  const inferred = unmatched.length > 0 ? inferTrailingFields(unmatched) : null;
  const all = inferred === null ? candidates : [...candidates, inferred.format];
  if (inferred !== null) hits.push(inferred.lines);
  const scored = all.map((f, i) => ({ f, i, hits: hits[i] as number }));
  scored.sort((a, b) => b.hits - a.hits || a.i - b.i);
  const order = scored.filter((s) => s.hits > 0);
  for (const s of scored) {
    if (s.hits > 0) continue;
    const base = order.findIndex((o) => swallowsAppended(o.f) && s.f.text.startsWith(o.f.text));
    if (base >= 0) order.splice(base, 0, s);
  }
  for (const s of scored) if (!order.includes(s)) order.push(s);
  return { order: order.map((s) => s.i), inferred };
}
