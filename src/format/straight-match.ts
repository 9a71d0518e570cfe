/*!
 * A template's usual line as straight-line code, generated once per format: each value ends at
 * the first place its shape allows, with the format's literals compared byte by byte, inline.
 * That is the first path format/parse-line.ts's run() tries; when it fails anywhere (a value that
 * needs a later candidate, a backtrack, a line that does not fit) the straight code answers
 * "don't know" and run() decides. So a line's bounds never depend on which of the two found them.
 */
import type { TemplateFormat } from './compile.js';
import { BASE64_BYTES, SHAPE_CHECKS, Shape, checkCode, digitCode, isSpaceless, type ShapeCheck } from './fields.js';

/** Matches b[start, end) (bounds into `bounds`, offsets in b): true, or false for "let run() decide". */
export type StraightMatch = (b: Uint8Array, start: number, end: number, bounds: Int32Array) => boolean;

const SPACE = 32;
const QUOTE = 34;
const DASH = 45;
const GLUE = [SPACE, 58, SPACE];

/** `lit` at `at`, inside the line: an expression. */
function litTest(at: string, lit: readonly number[]): string {
  if (lit.length === 0) return `${at} <= end`;
  return [`${at} + ${lit.length} <= end`, ...lit.map((c, i) => `b[${at} + ${i}] === ${c}`)].join(' && ');
}

/** Literals this long and longer are searched for by skipping (Horspool): the search reads a few bytes of a value, not each. */
const SKIP_FROM = 4;

/**
 * Horspool's table for `lit`: how far a window may move on when its last byte is c (the distance
 * from c's last place in lit, the last byte aside, to lit's end; lit's length when c is not in it).
 */
function skipTable(lit: readonly number[]): Uint8Array {
  const n = Math.min(lit.length, 255);
  const t = new Uint8Array(256).fill(n);
  for (let k = Math.max(0, lit.length - 1 - n); k < lit.length - 1; k++) t[lit[k] as number] = lit.length - 1 - k;
  return t;
}

/**
 * The first end of a value from `from` on, where `lit` starts (e = -1 when none): statements. A
 * long literal's window moves on by its skip table, `skip<table>` in the code, which the caller passes.
 */
function firstLit(from: string, lit: readonly number[], table: number): string {
  if (lit.length === 0) return `e = ${from};`;
  if (lit.length >= SKIP_FROM) {
    const last = lit.length - 1;
    const rest = lit.slice(0, last).map((c, k) => ` && b[i + ${k}] === ${c}`).join('');
    return `e = -1; for (let i = ${from}; i <= end - ${lit.length};) { const c = b[i + ${last}]; if (c === ${lit[last]}${rest}) { e = i; break; } i += skip${table}[c]; }`;
  }
  const rest = lit.slice(1).map((c, k) => ` && b[i + ${k + 1}] === ${c}`).join('');
  return `e = -1; for (let i = ${from}; i <= end - ${lit.length}; i++) if (b[i] === ${lit[0]}${rest}) { e = i; break; }`;
}

/**
 * Statements ending a number before a space in one pass: e past the value's digits (and, for
 * SECONDS, its `.` and three more), `ok` set when that is the whole value's shape (the space
 * that must follow is the literal's to test); else e at the first space, as for any token, and
 * `ok` false, so the shape's own check decides.
 */
function numberScan(shape: Shape): string {
  const whole = shape === Shape.SECONDS
    ? `e > p && e + 4 <= end && b[e] === 46 && ${digitCode('e + 1')} && ${digitCode('e + 2')} && ${digitCode('e + 3')}`
    : 'e > p';
  return `e = p; while (e < end && ${digitCode('e')}) e++; ok = ${whole}; if (ok) e += ${shape === Shape.SECONDS ? 4 : 0}; else { e = p; while (e < end && b[e] !== ${SPACE}) e++; }`;
}

/** Per format, once: a new function would be compiled and optimized again by V8 (a part of an input each). */
const compiled = new WeakMap<TemplateFormat, StraightMatch | null>();

/**
 * The straight code for the format's strict shapes; null when it has no variable. Generated with
 * `new Function` from numbers only (literal bytes, shapes, widths): no text of the format or of
 * a line is ever part of the code.
 */
export function compileStraight(f: TemplateFormat): StraightMatch | null {
  let fn = compiled.get(f);
  if (fn === undefined) {
    fn = generate(f);
    compiled.set(f, fn);
  }
  return fn;
}

function generate(f: TemplateFormat): StraightMatch | null {
  const n = f.vars.length;
  if (n === 0) return null;
  const shapes = f.shapes;
  const lits = f.literalBytes.map((l) => [...l]);
  const tail = lits[n] as number[];
  const lastSpaceless = isSpaceless(shapes[n - 1] as Shape);
  /** The skip tables of the long literals searched for, passed to the code as skip0, skip1, … */
  const skips: Uint8Array[] = [];
  const out: string[] = [`if (!(${litTest('start', lits[0] as number[])})) return false;`, `let p = start + ${(lits[0] as number[]).length};`, 'let e = 0;', 'let from = 0;', 'let ok = false;'];
  for (let v = 0; v < n; v++) {
    const lit = lits[v + 1] as number[];
    const shape = shapes[v] as Shape;
    const stop = (shape === Shape.TOKEN || shape === Shape.UINT || shape === Shape.SECONDS) && lit[0] === SPACE ? SPACE : shape === Shape.QUOTED && lit[0] === QUOTE ? QUOTE : -1;
    const scansNumber = stop === SPACE && (shape === Shape.UINT || shape === Shape.SECONDS);
    // fitsShape(), unrolled: the shape's check as code where it has one (its `before` run once e
    // is set), a number's shape seen as it was scanned (`ok`), else its check function called.
    const dash = f.allowDash[v] === 1 ? `(e - p === 1 && b[p] === ${DASH}) || ` : '';
    const code = shape === Shape.ANY ? { before: '', test: 'true' } : checkCode(shape, 'p', 'e') ?? { before: '', test: `check${shape}(b, p, e)` };
    const before = code.before;
    const fits = `(${scansNumber ? 'ok || ' : ''}(e === p ? ${f.allowEmpty[v] === 1 || shape === Shape.ANY} : ${dash}${code.test}))`;
    out.push(`bounds[${2 * v}] = p;`);
    if (v === n - 1) {
      out.push(`e = end - ${lit.length};`, before, `if (e < p || !(${litTest('e', lit)}) || !${fits}) return false;`, `bounds[${2 * v + 1}] = e;`, 'return true;');
      break;
    }
    out.push('from = p;');
    if (v === n - 2 && lastSpaceless && lit.includes(SPACE)) {
      // As run(): the literal before a last value that holds no space ends after the line's last space.
      out.push(`{ let sp = end - ${tail.length + 1}; while (sp >= start && b[sp] !== ${SPACE}) sp--; if (sp >= start && sp - ${lit.length - 1} > from) from = sp - ${lit.length - 1}; }`);
    }
    const width = shape === Shape.STATUS ? 3 : shape === Shape.TIME_LOCAL ? 26 : shape === Shape.WS_KEY ? 24 : 0;
    if (stop >= 0) {
      const spared = shape === Shape.TOKEN || shape === Shape.QUOTED ? 'e > p || ' : '';
      // A short token is stepped through here; a quoted value (a request, a user agent: tens of
      // bytes) is searched natively, unless it is `-` or empty (most lines' referrer, Upgrade
      // header and key), which a call into the buffer's search would cost more than.
      const search = shape === Shape.QUOTED
        ? `if (p < end && b[p] === ${stop}) e = p; else if (p + 1 < end && b[p] === ${DASH} && b[p + 1] === ${stop}) e = p + 1; else { e = b.indexOf(${stop}, p); if (e < 0 || e > end) e = end; }`
        : scansNumber ? numberScan(shape) : `e = p; while (e < end && b[e] !== ${stop}) e++;`;
      out.push(search, before, `if (e === end || e < from || !(${litTest('e', lit)}) || !(${spared}${fits})) return false;`);
    } else if (width > 0) {
      out.push(`if ((p < end && b[p] === ${DASH}) || (${litTest('p', lit)})) return false;`, `e = p + ${width};`, before, `if (e < from || !(${litTest('e', lit)}) || !${fits}) return false;`);
    } else {
      const glued = shape === Shape.LIST && !GLUE.every((c, i) => lit[i] === c) ? ` || (${litTest('e', GLUE)})` : '';
      if (lit.length >= SKIP_FROM) skips.push(skipTable(lit));
      out.push(firstLit('from', lit, skips.length - 1), before, `if (e < 0 || !${fits}${glued}) return false;`);
    }
    out.push(`bounds[${2 * v + 1}] = e;`, `p = e + ${lit.length};`);
  }
  const names = [...SHAPE_CHECKS.map((_, k) => `check${k}`), 'b64', ...skips.map((_, k) => `skip${k}`)];
  try {
    const make = new Function(...names, `return function straight(b, start, end, bounds) {\n${out.filter((s) => s !== '').join('\n')}\n};`) as (...args: (ShapeCheck | Uint8Array)[]) => StraightMatch;
    return make(...SHAPE_CHECKS, BASE64_BYTES, ...skips);
  } catch {
    // Code generation refused (node --disallow-code-generation-from-strings): run() matches alone.
    return null;
  }
}
