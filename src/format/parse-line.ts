/*!
 * Runs a CompiledFormat on one line: finds where each variable starts and ends, and decodes values.
 * A template is matched on the line's bytes (matchBytes: never throws, allocates nothing; bounds
 * go into a caller's Int32Array, a mismatch into a reused MatchFailure); a line given as a string
 * is matched on its UTF-8 and its bounds given back as string offsets. Formats of kind `json` are
 * matched by format/json-format.ts, on the text, behind the same calls. Describing a failure in
 * words happens only for sampled lines.
 */
import type { CompiledFormat, Escape, TemplateFormat } from './compile.js';
import { Shape, fitsShape, isSpaceless } from './fields.js';
import { describeJsonFailure, matchJson } from './json-format.js';

/** Where matching stopped: the furthest point any attempt reached. */
export interface MatchFailure {
  /** 0-based offset in the line. */
  offset: number;
  /** Variable index whose end could not be found, or -1 when the leading literal did not match. */
  varIndex: number;
}

export function newFailure(): MatchFailure {
  return { offset: 0, varIndex: -1 };
}

/** Backtracking budget per line: ambiguous lines fail rather than taking quadratic time. */
const MAX_STEPS = 4096;

/** bounds must hold 2 × vars.length entries: [start0, end0, start1, end1, …]. */
export function newBounds(f: CompiledFormat): Int32Array {
  return new Int32Array(Math.max(2, f.vars.length * 2));
}

/**
 * Matches `text` against the format with its strict shapes, or with the relaxed ones (an address
 * or method a client made odd must not lose the line). Callers try every format strictly first:
 * a relaxed match of the wrong format is worse than a strict match of the right one. Bounds are
 * offsets in the string; a template is matched on the string's UTF-8 (matchBytes).
 */
export function matchLine(f: CompiledFormat, text: string, bounds: Int32Array, failure: MatchFailure, relaxed = false): boolean {
  if (!relaxed) {
    failure.offset = -1;
    failure.varIndex = -1;
    if (f.kind === 'json') return matchJson(f, text, bounds, failure);
  } else if (f.kind !== 'template' || f.relaxed === f.shapes) return false;
  const n = encode(text);
  const ascii = n === text.length;
  if (!ascii && failure.offset > 0) failure.offset = Buffer.byteLength(text.slice(0, failure.offset));
  const ok = matchBytes(f, encoded, 0, n, bounds, failure, relaxed);
  if (!ascii) {
    const chars = (at: number): number => (at <= 0 ? at : encoded.toString('utf8', 0, at).length);
    if (failure.offset > 0) failure.offset = chars(failure.offset);
    if (ok) for (let i = 0; i < 2 * f.vars.length; i++) bounds[i] = chars(bounds[i] as number);
  }
  return ok;
}

/** String offsets in `text` (-1: absent) → offsets in its UTF-8, moved on by `base` (where the text starts in a larger buffer). */
export function byteOffsets(text: string, bounds: Int32Array, base = 0): void {
  const ascii = Buffer.byteLength(text) === text.length;
  for (let i = 0; i < bounds.length; i++) {
    const at = bounds[i] as number;
    if (at >= 0) bounds[i] = base + (ascii ? at : Buffer.byteLength(text.slice(0, at)));
  }
}

/** The UTF-8 of the last string encode() was given. */
let encoded = Buffer.allocUnsafe(1024);

function encode(text: string): number {
  if (3 * text.length > encoded.length) encoded = Buffer.allocUnsafe(Math.max(3 * text.length, 2 * encoded.length));
  return encoded.write(text, 0, 'utf8');
}

/** Strict, then relaxed: for one format on its own. */
export function matchAny(f: CompiledFormat, text: string, bounds: Int32Array, failure: MatchFailure): boolean {
  return matchLine(f, text, bounds, failure) || matchLine(f, text, bounds, failure, true);
}

/**
 * matchLine for a template on the bytes b[start, end) of a line (no newline): bounds are offsets
 * in b. The hot path: no string is made. `failure` is not reset here.
 */
export function matchBytes(f: TemplateFormat, b: Buffer, start: number, end: number, bounds: Int32Array, failure: MatchFailure, relaxed: boolean): boolean {
  return run(f, relaxed ? f.relaxed : f.shapes, b, start, end, bounds, failure);
}

/** Does b hold `lit` at `at`, inside the line that ends at `end`? */
function litAt(b: Buffer, at: number, end: number, lit: Buffer): boolean {
  const n = lit.length;
  if (at < 0 || at + n > end) return false;
  for (let i = 0; i < n; i++) if (b[at + i] !== lit[i]) return false;
  return true;
}

/** Where `lit` first starts in b[from, end) (wholly inside), or -1. */
function findLit(b: Buffer, from: number, end: number, lit: Buffer): number {
  const n = lit.length;
  if (n === 0) return from <= end ? from : -1;
  const c0 = lit[0] as number;
  const last = end - n;
  for (let i = from; i <= last; i++) {
    if (b[i] !== c0) continue;
    let k = 1;
    while (k < n && b[i + k] === lit[k]) k++;
    if (k === n) return i;
  }
  return -1;
}

function findByte(b: Buffer, from: number, end: number, c: number): number {
  for (let i = from; i < end; i++) if (b[i] === c) return i;
  return -1;
}

const SPACE = 32;
const QUOTE = 34;
const DASH = 45;
/** ` : `, which continues an upstream list. */
const LIST_GLUE = Buffer.from(' : ');

function run(f: TemplateFormat, shapes: Uint8Array, b: Buffer, lineStart: number, lineEnd: number, bounds: Int32Array, failure: MatchFailure): boolean {
  const lits = f.literalBytes;
  const n = f.vars.length;
  const head = lits[0] as Buffer;
  if (!litAt(b, lineStart, lineEnd, head)) {
    let k = 0;
    while (k < head.length && lineStart + k < lineEnd && b[lineStart + k] === head[k]) k++;
    if (lineStart + k > failure.offset) {
      failure.offset = lineStart + k;
      failure.varIndex = -1;
    }
    return false;
  }
  if (n === 0) return lineEnd - lineStart === head.length;
  const { allowDash, allowEmpty } = f;
  const tail = lits[n] as Buffer;
  const lastSpaceless = isSpaceless(shapes[n - 1] as Shape);
  let v = 0;
  let from = lineStart + head.length;
  bounds[0] = from;
  let steps = 0;
  while (v >= 0) {
    const start = bounds[2 * v] as number;
    const lit = lits[v + 1] as Buffer;
    const shape = shapes[v] as Shape;
    const dash = allowDash[v] === 1;
    const empty = allowEmpty[v] === 1;
    let end = -1;
    if (v === n - 1) {
      // The last variable ends where the trailing literal ends the line; only one candidate.
      const e = lineEnd - lit.length;
      if (from === start && e >= start && litAt(b, e, lineEnd, lit) && fitsShape(shape, b, start, e, dash, empty)) end = e;
    } else {
      // Before a last value that holds no space, the literal must end after the line's last space:
      // earlier candidates (the spaces of an unquoted user agent) cannot lead to a match.
      if (v === n - 2 && lastSpaceless && lit.includes(SPACE)) {
        let sp = lineEnd - tail.length - 1;
        while (sp >= lineStart && b[sp] !== SPACE) sp--;
        const skip = sp - lit.length + 1;
        if (sp >= lineStart && skip > from) from = skip;
      }
      const only = onlyEnd(shape, b, start, lineEnd, lit);
      if (only !== NO_SHORTCUT) {
        // Ending at the first space (or quote), a value has none inside: only an empty one needs its shape checked.
        const spared = only > start && (shape === Shape.TOKEN || shape === Shape.QUOTED);
        end = only >= from && litAt(b, only, lineEnd, lit) && (spared || fitsShape(shape, b, start, only, dash, empty)) ? only : -1;
      } else {
        end = findLit(b, from, lineEnd, lit);
        // A list does not end where ` : ` continues it (`502 : 101`), unless the format says ` : ` next.
        const glued = shape === Shape.LIST && !litAt(lit, 0, lit.length, LIST_GLUE);
        while (end >= 0 && (!fitsShape(shape, b, start, end, dash, empty) || (glued && litAt(b, end, lineEnd, LIST_GLUE)))) {
          if (++steps > MAX_STEPS) return false;
          end = findLit(b, end + 1, lineEnd, lit);
        }
      }
    }
    if (end < 0) {
      if (start > failure.offset || (start === failure.offset && v > failure.varIndex)) {
        failure.offset = start;
        failure.varIndex = v;
      }
      if (++steps > MAX_STEPS) return false;
      v--;
      if (v >= 0) from = (bounds[2 * v + 1] as number) + 1;
      continue;
    }
    bounds[2 * v + 1] = end;
    if (v === n - 1) return true;
    v++;
    from = end + lit.length;
    bounds[2 * v] = from;
  }
  return false;
}

const NO_SHORTCUT = -2;

/**
 * Where a value starting at `start` must end when its shape leaves one place only: a value that
 * holds no space before a literal that starts with one ends at the first space; a quoted one
 * before a `"` at the first `"`; a fixed-width one (`-` aside) at its width. NO_SHORTCUT when the
 * shape allows several (run() then tries each occurrence of the literal); -1 when there is none.
 * The same end the search finds, for less work: one byte looked for, not the literal.
 */
function onlyEnd(shape: Shape, b: Buffer, start: number, end: number, lit: Buffer): number {
  const c = lit[0];
  switch (shape) {
    case Shape.TOKEN:
    case Shape.UINT:
    case Shape.SECONDS:
      return c === SPACE ? findByte(b, start, end, SPACE) : NO_SHORTCUT;
    case Shape.QUOTED:
      return c === QUOTE ? findByte(b, start, end, QUOTE) : NO_SHORTCUT;
    case Shape.STATUS:
    case Shape.TIME_LOCAL:
    case Shape.WS_KEY: {
      // A `-` (or nothing) is one character (or none) wide: those ends come first.
      if ((start < end && b[start] === DASH) || litAt(b, start, end, lit)) return NO_SHORTCUT;
      return start + (shape === Shape.STATUS ? 3 : shape === Shape.TIME_LOCAL ? 26 : 24);
    }
    default:
      return NO_SHORTCUT;
  }
}

/** Words for a failure: `expected " status " after $request_time, got "…"` (≤ 60 characters shown). */
export function describeFailure(f: CompiledFormat, text: string, failure: MatchFailure): string {
  if (f.kind === 'json') return describeJsonFailure(f, text, failure);
  const at = Math.max(0, failure.offset);
  const got = at >= text.length ? 'end of line' : JSON.stringify(text.slice(at, at + 60));
  if (failure.varIndex < 0) return `expected the line to start with ${JSON.stringify(f.literals[0])}, got ${got}`;
  const name = f.vars[failure.varIndex];
  const lit = f.literals[failure.varIndex + 1] as string;
  const what = lit === '' ? 'end of line' : JSON.stringify(lit);
  return `no value for $${name} followed by ${what} fits at column ${at + 1}; got ${got}`;
}

/** Cut points tried by matchedPrefix: bounds the work on a line full of quotes and spaces. */
const MAX_PREFIX_TRIES = 64;

/**
 * Where the shortest beginning of `text` that the whole format matches ends, when a space and
 * more text follow it (a log_format with fields appended to this one); -1 when none does. Not
 * for hot loops: it slices the line per try. `bounds` hold the match of that beginning.
 */
export function matchedPrefix(f: CompiledFormat, text: string, bounds: Int32Array, failure: MatchFailure): number {
  if (f.kind !== 'template') return -1;
  const tail = f.literals[f.vars.length] as string;
  let tries = 0;
  for (let k = text.indexOf(' ', tail.length); k >= 0 && tries < MAX_PREFIX_TRIES; k = text.indexOf(' ', k + 1)) {
    if (!text.startsWith(tail, k - tail.length)) continue;
    tries++;
    if (matchAny(f, text.slice(0, k), bounds, failure)) return k;
  }
  return -1;
}

/** Why a line does not fit a format, and how far into the line the format got (to choose whose words to show). */
export interface Mismatch {
  /** Larger is closer: a failure's offset, or beyond the line's length when the whole format fits its beginning. */
  reach: number;
  reason: string;
}

/**
 * Explains a line that `f` does not match: the field that did not fit, or, when the whole format
 * fits the line's beginning, how much text follows its last field. Runs the match again, for the
 * few unparsed lines whose reason is kept.
 */
export function explainMismatch(f: CompiledFormat, text: string): Mismatch {
  const bounds = newBounds(f);
  const failure = newFailure();
  if (matchAny(f, text, bounds, failure)) return { reach: 2 * text.length + 1, reason: 'matches' };
  const reach = Math.max(0, failure.offset);
  const reason = describeFailure(f, text, failure);
  const cut = matchedPrefix(f, text, bounds, newFailure());
  if (cut < 0) return { reach, reason };
  const extra = text.length - cut;
  const last = f.vars[f.vars.length - 1] as string;
  return { reach: text.length + cut, reason: `${extra} extra character${extra === 1 ? '' : 's'} after the last field ($${last}): ${JSON.stringify(text.slice(cut, cut + 60))}` };
}

/** The decoded value of variable v (nginx's escaping undone); '' when a JSON line lacks its key. */
export function fieldValue(f: CompiledFormat, text: string, bounds: Int32Array, v: number): string {
  return decodeValue(f.escape, text.slice(bounds[2 * v], bounds[2 * v + 1]));
}

export function decodeValue(escape: Escape, raw: string): string {
  if (escape === 'default') return raw.includes('\\x') ? decodeHexEscapes(raw) : raw;
  if (escape === 'json') return raw.includes('\\') ? decodeJsonEscapes(raw) : raw;
  return raw;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** nginx default escaping writes `"`, `\`, controls and bytes ≥ 0x7F as `\xHH`: back to bytes, then UTF-8. */
export function decodeHexEscapes(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 92 && raw.charCodeAt(i + 1) === 120 && i + 3 < raw.length) {
      const hi = hexValue(raw.charCodeAt(i + 2));
      const lo = hexValue(raw.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo);
        i += 3;
        continue;
      }
    }
    if (c < 0x80) bytes.push(c);
    else for (const b of Buffer.from(raw[i] as string, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

const JSON_SIMPLE: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** escape=json writes `\"`, `\\`, `\n`… and `\u00XX`; anything else stays as written. */
export function decodeJsonEscapes(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch !== '\\' || i + 1 >= raw.length) {
      out += ch;
      continue;
    }
    const next = raw[i + 1] as string;
    const simple = JSON_SIMPLE[next];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(raw.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(raw.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      out += ch;
    }
  }
  return out;
}
