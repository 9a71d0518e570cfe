/*!
 * log_format text → CompiledFormat, once, the way nginx's ngx_http_log_compile_format reads it:
 * quoted pieces concatenated, `$name` / `${name}` variables, an optional leading `escape=`.
 * Owns the FORMAT_* errors (with the column). Matching lines is format/parse-line.ts's job.
 */
import { AnalyzerError, clip, isAnalyzerError } from '../errors.js';
import { tokenizeConf, type ConfToken } from './conf-tokens.js';
import { Shape, isLogModuleVar, shapeOf } from './fields.js';
import type { JsonFormat } from './json-format.js';

export type Escape = 'default' | 'json' | 'none';

/**
 * What every format offers the line matcher and the record reader: named variables whose values a
 * match leaves as [start, end) bounds in the line (format/parse-line.ts). Two kinds: a compiled
 * log_format template (here) and JSON read by key name (format/json-format.ts).
 */
export interface FormatBase {
  readonly name: string;
  /** The format string after concatenation (what nginx compiles), or a description for `json`. */
  readonly text: string;
  readonly escape: Escape;
  readonly vars: readonly string[];
  /** Variable name → index of its first occurrence. */
  readonly index: ReadonlyMap<string, number>;
}

export type CompiledFormat = TemplateFormat | JsonFormat;

/** A compiled log_format: literals[i] precedes vars[i]; literals[vars.length] trails the last variable. */
export interface TemplateFormat extends FormatBase {
  readonly kind: 'template';
  readonly literals: readonly string[];
  /** The literals as UTF-8, for matching a line's bytes. */
  readonly literalBytes: readonly Buffer[];
  /** Per variable: the shape tried first, then the relaxed one (client-controlled values may be odd). */
  readonly shapes: Uint8Array;
  readonly relaxed: Uint8Array;
  /** Per variable: may it be `-` (absent in escape=default, or a `-` item) or nothing (absent in json/none, or empty)? */
  readonly allowDash: Uint8Array;
  readonly allowEmpty: Uint8Array;
  /** Variables from this index on were named by auto-detection from their values (format/trailing.ts): any may be `-`. */
  readonly assumedFrom?: number;
}

export interface CompileOptions {
  name?: string;
  escape?: Escape;
}

export interface StringCompileOptions {
  /**
   * Variables from this index on are guesses (format/trailing.ts): each may also be `-`, so a
   * field taken as `$request_time` that is really `$upstream_response_time` does not lose the lines where it is absent.
   */
  assumedFrom?: number;
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
 * directive or nginx argument syntax (`escape=json '…' '…'`), both read with nginx's own
 * tokenizer and joined with no separator as nginx does; or the bare format string itself.
 * Columns in errors count from the start of what the user wrote.
 */
export function readFormatText(input: string): { name?: string; escape?: Escape; text: string } {
  const lead = input.length - input.trimStart().length;
  const src = input.trim();
  const isDirective = /^log_format\s/.test(src);
  const argSyntax = isDirective || /^(escape=\S+\s+)?['"]/.test(src);
  const bare = (): { name?: string; escape?: Escape; text: string } => {
    const esc = /^escape=(\S+)\s+/.exec(src);
    return { name: undefined, escape: esc ? escapeValue(esc[1] as string, input, lead + 1) : undefined, text: esc ? src.slice(esc[0].length) : src };
  };
  if (!argSyntax) return bare();
  let tokens;
  try {
    tokens = tokenizeConf(src);
  } catch (err) {
    if (isAnalyzerError(err) && err.where?.column !== undefined && (err.where.line ?? 1) === 1) {
      const column = err.where.column + lead;
      throw new AnalyzerError(err.code, `${err.message.replace(/^\S*?:?\d+:\d+: /, '')} (column ${column})`, { line: 1, column, text: clip(input) }, { cause: err });
    }
    throw err;
  }
  const words: ConfToken[] = [];
  for (const tok of tokens) {
    if (tok.kind === ';') break;
    if (tok.kind !== 'word') {
      const column = tok.column + lead;
      throw new AnalyzerError('FORMAT_UNCLOSED_QUOTE', `unexpected "${tok.kind}" in log_format text (column ${column})`, { column, text: clip(input) });
    }
    words.push(tok);
  }
  let i = 0;
  let name: string | undefined;
  if (isDirective) {
    name = words[1]?.value;
    i = 2;
  }
  let escape: Escape | undefined;
  const first = words[i];
  if (first && !first.quoted && first.value.startsWith('escape=')) {
    escape = escapeValue(first.value.slice('escape='.length), input, first.column + lead);
    i++;
  }
  // `"$request" $status` starts with a quote but is a bare format string: nginx argument syntax
  // outside a directive is quoted pieces only.
  if (!isDirective && words.slice(i).some((w) => !w.quoted)) return bare();
  const text = words.slice(i).map((w) => w.value).join('');
  return { name, escape, text };
}

function escapeValue(value: string, input: string, column: number): Escape {
  if (!ESCAPES.includes(value as Escape)) {
    throw new AnalyzerError('FORMAT_BAD_ESCAPE', `unknown log format escaping "${value}" at column ${column}: expected escape=default, escape=json or escape=none`, { column, text: clip(input) });
  }
  return value as Escape;
}

/** Compiles a log_format (any form readFormatText accepts) into a CompiledFormat. */
export function compileFormat(input: string, opts: CompileOptions = {}): TemplateFormat {
  const read = readFormatText(input);
  const escape = opts.escape ?? read.escape ?? 'default';
  return compileFormatString(read.text, escape, opts.name ?? read.name ?? 'custom');
}

/** Compiles an already-concatenated format string. */
export function compileFormatString(text: string, escape: Escape, name: string, opts: StringCompileOptions = {}): TemplateFormat {
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
  return build(name, text, escape, vars, literals, opts.assumedFrom);
}

function build(name: string, text: string, escape: Escape, vars: string[], literals: string[], assumedFrom: number | undefined): TemplateFormat {
  const n = vars.length;
  const shapes = new Uint8Array(n);
  const relaxed = new Uint8Array(n);
  const allowDash = new Uint8Array(n);
  const allowEmpty = new Uint8Array(n);
  const index = new Map<string, number>();
  for (let v = 0; v < n; v++) {
    const varName = vars[v] as string;
    const own = isLogModuleVar(varName);
    // Free text between quotes cannot hold an unescaped quote, except with escape=none.
    const quoted = (literals[v] as string).endsWith('"') && (literals[v + 1] as string).startsWith('"');
    let shape = shapeOf(varName);
    if (shape === Shape.ANY && quoted && escape !== 'none') shape = escape === 'json' ? Shape.JSON_QUOTED : Shape.QUOTED;
    shapes[v] = shape;
    relaxed[v] = RELAXABLE.has(shape) ? Shape.ANY : shape;
    allowDash[v] = own && (assumedFrom === undefined || v < assumedFrom) ? 0 : 1;
    allowEmpty[v] = own ? 0 : 1;
    if (!index.has(varName)) index.set(varName, v);
  }
  const sameShapes = relaxed.every((s, v) => s === shapes[v]);
  const literalBytes = literals.map((l) => Buffer.from(l, 'utf8'));
  return { kind: 'template', name, text, escape, vars, literals, literalBytes, shapes, relaxed: sameShapes ? shapes : relaxed, allowDash, allowEmpty, index, ...(assumedFrom === undefined ? {} : { assumedFrom }) };
}
