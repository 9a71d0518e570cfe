/*!
 * log_format text → CompiledFormat, once, the way nginx's ngx_http_log_compile_format reads it:
 * quoted pieces concatenated, `$name` / `${name}` variables, an optional leading `escape=`.
 * Owns the FORMAT_* errors (with the column). Matching lines is format/parse-line.ts's job.
 */
import { AnalyzerError, clip } from '../errors.js';
import { tokenizeConf } from './conf-tokens.js';
import { Shape, isLogModuleVar, shapeOf } from './fields.js';

export type Escape = 'default' | 'json' | 'none';

/** A compiled format: literals[i] precedes vars[i]; literals[vars.length] trails the last variable. */
export interface CompiledFormat {
  readonly name: string;
  /** The format string after concatenation (what nginx compiles). */
  readonly text: string;
  readonly escape: Escape;
  readonly vars: readonly string[];
  readonly literals: readonly string[];
  /** Per variable: the shape tried first, then the relaxed one (client-controlled values may be odd). */
  readonly shapes: Uint8Array;
  readonly relaxed: Uint8Array;
  /** Per variable: may it be `-` (absent in escape=default, or a `-` item) or nothing (absent in json/none, or empty)? */
  readonly allowDash: Uint8Array;
  readonly allowEmpty: Uint8Array;
  /** Variable name → index of its first occurrence. */
  readonly index: ReadonlyMap<string, number>;
}

export interface CompileOptions {
  name?: string;
  escape?: Escape;
}

const ESCAPES: readonly Escape[] = ['default', 'json', 'none'];

function isNameChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * Values a client controls may break their usual shape; on a second try they are taken as ANY.
 * Not WS_KEY: its shape is what tells a line with a key from one without (a format change mid-file).
 */
const RELAXABLE = new Set<Shape>([Shape.TOKEN]);

/**
 * Splits what a user wrote into (escape, format string). Accepted: a whole `log_format name …;`
 * directive, nginx argument syntax (`escape=json '…' '…'`), or the bare format string itself.
 */
export function readFormatText(input: string): { name?: string; escape?: Escape; text: string } {
  let src = input.trim();
  let name: string | undefined;
  const directive = /^log_format\s+([^\s'";]+)\s+/.exec(src);
  if (directive) {
    name = directive[1];
    src = src.slice(directive[0].length);
  }
  let escape: Escape | undefined;
  const esc = /^escape=(\S+?)(\s+|(?=['"]))/.exec(src);
  if (esc) {
    const value = esc[1] as Escape;
    if (!ESCAPES.includes(value)) {
      throw new AnalyzerError('FORMAT_BAD_ESCAPE', `unknown log format escaping "${esc[1]}": expected escape=default, escape=json or escape=none`, { column: input.indexOf('escape=') + 1, text: clip(input) });
    }
    escape = value;
    src = src.slice(esc[0].length);
  }
  const quoted = src.startsWith("'") || src.startsWith('"');
  if (!quoted) return { name, escape, text: directive ? src.replace(/;\s*$/, '') : src };
  let text = '';
  for (const tok of tokenizeConf(src)) {
    if (tok.kind === ';') break;
    if (tok.kind !== 'word') {
      throw new AnalyzerError('FORMAT_UNCLOSED_QUOTE', `unexpected "${tok.kind}" in log_format text`, { column: tok.column, text: clip(input) });
    }
    text += tok.value;
  }
  return { name, escape, text };
}

/** Compiles a log_format (any form readFormatText accepts) into a CompiledFormat. */
export function compileFormat(input: string, opts: CompileOptions = {}): CompiledFormat {
  const read = readFormatText(input);
  const escape = opts.escape ?? read.escape ?? 'default';
  return compileFormatString(read.text, escape, opts.name ?? read.name ?? 'custom');
}

/** Compiles an already-concatenated format string. */
export function compileFormatString(text: string, escape: Escape, name: string): CompiledFormat {
  if (text.length === 0) throw new AnalyzerError('FORMAT_EMPTY', 'the log format is empty');
  const vars: string[] = [];
  const literals: string[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 36 /* $ */) {
      literal += text[i];
      i++;
      continue;
    }
    const column = i + 1;
    let nameStart = i + 1;
    let nameEnd: number;
    let next: number;
    if (text.charCodeAt(nameStart) === 123 /* { */) {
      nameStart++;
      nameEnd = text.indexOf('}', nameStart);
      if (nameEnd < 0) {
        throw new AnalyzerError('FORMAT_UNCLOSED_BRACE', `the closing bracket in "${text.slice(nameStart, nameStart + 40)}" variable is missing (column ${column})`, { column, text: clip(text) });
      }
      for (let j = nameStart; j < nameEnd; j++) {
        if (!isNameChar(text.charCodeAt(j))) {
          throw new AnalyzerError('FORMAT_UNCLOSED_BRACE', `invalid character "${text[j]}" in variable name "\${${text.slice(nameStart, nameEnd)}}" (column ${j + 1})`, { column: j + 1, text: clip(text) });
        }
      }
      next = nameEnd + 1;
    } else {
      nameEnd = nameStart;
      while (nameEnd < text.length && isNameChar(text.charCodeAt(nameEnd))) nameEnd++;
      next = nameEnd;
    }
    if (nameEnd === nameStart) {
      throw new AnalyzerError('FORMAT_EMPTY_VARIABLE', `"$" without a variable name at column ${column}`, { column, text: clip(text) });
    }
    if (vars.length > 0 && literal === '') {
      throw new AnalyzerError('FORMAT_ADJACENT_VARIABLES', `$${vars[vars.length - 1]} and $${text.slice(nameStart, nameEnd)} touch at column ${column}: wsdiag needs some literal text between two variables to tell where one ends`, { column, text: clip(text) });
    }
    literals.push(literal);
    literal = '';
    vars.push(text.slice(nameStart, nameEnd));
    i = next;
  }
  literals.push(literal);
  return build(name, text, escape, vars, literals);
}

function build(name: string, text: string, escape: Escape, vars: string[], literals: string[]): CompiledFormat {
  const n = vars.length;
  const shapes = new Uint8Array(n);
  const relaxed = new Uint8Array(n);
  const allowDash = new Uint8Array(n);
  const allowEmpty = new Uint8Array(n);
  const index = new Map<string, number>();
  for (let v = 0; v < n; v++) {
    const varName = vars[v] as string;
    const own = isLogModuleVar(varName);
    const shape = shapeOf(varName);
    shapes[v] = shape;
    relaxed[v] = RELAXABLE.has(shape) ? Shape.ANY : shape;
    allowDash[v] = own ? 0 : 1;
    allowEmpty[v] = own ? 0 : 1;
    if (!index.has(varName)) index.set(varName, v);
  }
  const sameShapes = relaxed.every((s, v) => s === shapes[v]);
  return { name, text, escape, vars, literals, shapes, relaxed: sameShapes ? shapes : relaxed, allowDash, allowEmpty, index };
}
