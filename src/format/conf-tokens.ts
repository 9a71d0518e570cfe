/*!
 * nginx.conf syntax: the tokenizer of nginx's src/core/ngx_conf_file.c (`ngx_conf_read_token`) and
 * the grouping of its tokens into directives and blocks. It knows nothing about what a directive means;
 * reading log_format, access_log and include is format/nginx-conf.ts's job.
 */

import { AnalyzerError, clip } from '../errors.js';

export interface ConfToken {
  kind: 'word' | ';' | '{' | '}';
  /** A word's decoded text (quotes removed, escapes applied); for the others, the character itself. */
  value: string;
  /** The word was written '…' or "…". */
  quoted: boolean;
  /** 1-based position of the token's first character (the opening quote of a quoted word). */
  line: number;
  column: number;
}

export interface Directive {
  name: string;
  args: ConfToken[];
  /** Present when the directive opens a `{ … }` block, even an empty one. */
  block?: Directive[];
  file?: string;
  line: number;
  column: number;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const DQUOTE = 0x22;
const SHARP = 0x23;
const DOLLAR = 0x24;
const SQUOTE = 0x27;
const RPAREN = 0x29;
const SEMI = 0x3b;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF;
}

/** `file:line:column`, or `line:column` for text that came from no file. */
function at(file: string | undefined, line: number, column: number): string {
  return file === undefined ? `${line}:${column}` : `${file}:${line}:${column}`;
}

function show(ch: string): string {
  return JSON.stringify(ch);
}

/**
 * Splits nginx config text into tokens exactly as nginx does:
 * - a word is '…', "…" or bare, separated by space, tab, CR or LF;
 * - a backslash hides the next character from the scanner (so `\"` does not close a "…" word and `\ `
 *   does not end a bare one); when the word is stored, `\"` `\'` `\\` become that character,
 *   `\t` `\r` `\n` become TAB/CR/LF, and any other `\c` stays as the two characters;
 * - a bare word ends at a separator, `;` or `{`, except that a `{` right after `$` is kept (`${host}`);
 *   `}`, quotes and `#` inside a bare word are ordinary characters;
 * - after a closing quote nginx accepts only a separator, `;`, `{`, or `)` (which then starts the next
 *   word, for `if ($a = "b")`); anything else is its `unexpected "…"` error, and so is an unclosed quote;
 * - `#` starts a comment only where a new word could start;
 * - `;`, `{` and `}` where a word could start are structure tokens.
 * One extension: the body of an OpenResty `*_by_lua_block { … }` is Lua, skipped the way
 * lua-nginx-module does (strings, long brackets and comments may hold braces); stock nginx rejects
 * such directives anyway, so nothing nginx accepts is read differently.
 * Columns count UTF-16 code units from 1; a TAB is one column.
 */
export function tokenizeConf(text: string, file?: string): ConfToken[] {
  const tokens: ConfToken[] = [];
  const n = text.length;

  // Line bookkeeping runs forward only: `locate(k)` may be called with non-decreasing k.
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  const locate = (k: number): number => {
    for (; scanned < k; scanned++) {
      if (text.charCodeAt(scanned) === LF) {
        line++;
        lineStart = scanned + 1;
      }
    }
    return k - lineStart + 1;
  };
  const fail = (k: number, message: string): AnalyzerError => {
    const column = locate(k);
    const lineEnd = text.indexOf('\n', lineStart);
    const lineText = text.slice(lineStart, lineEnd === -1 ? n : lineEnd).replace(/\r$/, '');
    return new AnalyzerError('CONF_SYNTAX', `${at(file, line, column)}: ${message}`, {
      ...(file === undefined ? {} : { file }),
      line,
      column,
      text: clip(lineText),
    });
  };

  // For the Lua-block extension: is the next word a directive name, and is the current directive one
  // whose block holds Lua?
  let atDirectiveStart = true;
  let luaDirective = false;

  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === SHARP) {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? n : eol;
      continue;
    }

    const column = locate(i);
    if (c === SEMI || c === LBRACE || c === RBRACE) {
      const kind = c === SEMI ? ';' : c === LBRACE ? '{' : '}';
      tokens.push({ kind, value: kind, quoted: false, line, column });
      i++;
      if (kind === '{' && luaDirective) {
        i = skipLuaBlock(text, i, fail);
        const closeColumn = locate(i); // before reading `line`, which locate() advances
        tokens.push({ kind: '}', value: '}', quoted: false, line, column: closeColumn });
        i++;
      }
      atDirectiveStart = true;
      luaDirective = false;
      continue;
    }

    let value: string;
    let quoted = false;
    if (c === DQUOTE || c === SQUOTE) {
      quoted = true;
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) j += 2;
        else if (d === c) break;
        else j++;
      }
      const q = text[i] ?? '';
      if (j >= n) {
        throw fail(i, `unclosed ${q} quote: expected a closing ${q} before the end of the file`);
      }
      value = unescapeWord(text.slice(i + 1, j));
      i = j + 1;
      if (i < n) {
        const s = text.charCodeAt(i);
        if (!isSpace(s) && s !== SEMI && s !== LBRACE && s !== RPAREN) {
          throw fail(
            i,
            `unexpected ${show(text[i] ?? '')} after the closing ${q} quote: ` +
              'expected a space, ";" or "{" (nginx does not join quoted pieces)',
          );
        }
      }
    } else {
      // nginx's `variable` flag: set by an unescaped `$`, cleared by any other character it looks at,
      // but not by the `{` it lets through, so `${{` stays one word as in nginx.
      let variable = false;
      let j = i;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === LBRACE && variable) {
          j++;
          continue;
        }
        variable = false;
        if (d === BACKSLASH) {
          j += 2;
          continue;
        }
        if (d === DOLLAR) {
          variable = true;
          j++;
          continue;
        }
        if (isSpace(d) || d === SEMI || d === LBRACE) break;
        j++;
      }
      if (j > n) j = n; // a backslash as the very last character
      value = unescapeWord(text.slice(i, j));
      i = j;
    }

    tokens.push({ kind: 'word', value, quoted, line, column });
    if (atDirectiveStart) luaDirective = value.endsWith('_by_lua_block');
    atDirectiveStart = false;
  }
  return tokens;
}

/** The decoding loop of `ngx_conf_read_token` (the `found` branch). */
function unescapeWord(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  let k = 0;
  while (k < raw.length) {
    const ch = raw[k] ?? '';
    if (ch === '\\') {
      const next = raw[k + 1];
      if (next === '"' || next === "'" || next === '\\') {
        out += next;
        k += 2;
        continue;
      }
      if (next === 't' || next === 'r' || next === 'n') {
        out += next === 't' ? '\t' : next === 'r' ? '\r' : '\n';
        k += 2;
        continue;
      }
    }
    out += ch;
    k++;
  }
  return out;
}

/** Length of the `=` run of a Lua long bracket opening at `k` (`[[`, `[==[`), or -1 if none opens there. */
function longBracketLevel(text: string, k: number): number {
  let j = k + 1;
  while (text.charCodeAt(j) === 0x3d) j++;
  return text[j] === '[' ? j - k - 1 : -1;
}

/**
 * Skips a Lua block body starting just after its `{`; returns the index of the matching `}`.
 * Follows lua-nginx-module's lexer (ngx_http_lua_directive.c): strings, long brackets and comments
 * may contain braces.
 */
function skipLuaBlock(text: string, from: number, fail: (k: number, message: string) => AnalyzerError): number {
  const n = text.length;
  let depth = 1;
  let k = from;
  while (k < n) {
    const c = text[k];
    if (c === '-' && text[k + 1] === '-') {
      const level = text[k + 2] === '[' ? longBracketLevel(text, k + 2) : -1;
      if (level >= 0) {
        const end = text.indexOf(`]${'='.repeat(level)}]`, k + 4 + level);
        if (end === -1) throw fail(k, 'unclosed Lua long comment: expected its closing bracket');
        k = end + level + 2;
      } else {
        const eol = text.indexOf('\n', k);
        k = eol === -1 ? n : eol + 1;
      }
      continue;
    }
    if (c === '[') {
      const level = longBracketLevel(text, k);
      if (level >= 0) {
        const end = text.indexOf(`]${'='.repeat(level)}]`, k + 2 + level);
        if (end === -1) throw fail(k, 'unclosed Lua long string: expected its closing bracket');
        k = end + level + 2;
        continue;
      }
    } else if (c === '"' || c === "'") {
      let j = k + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (j >= n || text[j] !== c) throw fail(k, `unclosed Lua string: expected a closing ${c}`);
      k = j + 1;
      continue;
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) return k;
    }
    k++;
  }
  throw fail(from - 1, 'unclosed Lua block: expected "}" before the end of the file');
}

/**
 * Groups tokens into directives: words up to `;` form a directive, words up to `{` a block directive
 * whose body ends at the matching `}`. Errors mirror nginx's (`unexpected ";"`, `unexpected "}"`,
 * `unexpected end of file`), each with the position of the token at fault.
 */
export function parseDirectives(tokens: readonly ConfToken[], file?: string): Directive[] {
  const fail = (t: ConfToken, message: string): AnalyzerError =>
    new AnalyzerError('CONF_SYNTAX', `${at(file, t.line, t.column)}: ${message}`, {
      ...(file === undefined ? {} : { file }),
      line: t.line,
      column: t.column,
      text: clip(t.value),
    });
  const directive = (words: ConfToken[]): Directive => {
    const [first, ...args] = words;
    if (first === undefined) throw new Error('parseDirectives: directive without words');
    return {
      name: first.value,
      args,
      ...(file === undefined ? {} : { file }),
      line: first.line,
      column: first.column,
    };
  };

  const root: Directive[] = [];
  const open: { parent: Directive[]; owner: Directive; brace: ConfToken }[] = [];
  let list = root;
  let words: ConfToken[] = [];

  for (const t of tokens) {
    if (t.kind === 'word') {
      words.push(t);
      continue;
    }
    if (t.kind === ';') {
      if (words.length === 0) throw fail(t, 'unexpected ";": expected a directive name before it');
      list.push(directive(words));
      words = [];
      continue;
    }
    if (t.kind === '{') {
      if (words.length === 0) throw fail(t, 'unexpected "{": expected a directive name before it');
      const owner = directive(words);
      owner.block = [];
      list.push(owner);
      open.push({ parent: list, owner, brace: t });
      list = owner.block;
      words = [];
      continue;
    }
    const pending = words[0];
    if (pending !== undefined) {
      throw fail(
        t,
        `unexpected "}": directive "${pending.value}" at ${pending.line}:${pending.column} ` +
          'is not terminated by ";"',
      );
    }
    const top = open.pop();
    if (top === undefined) throw fail(t, 'unexpected "}": no block is open here');
    list = top.parent;
  }

  const pending = words[0];
  if (pending !== undefined) {
    throw fail(pending, `directive "${pending.value}" is not terminated by ";" (unexpected end of file)`);
  }
  const top = open[open.length - 1];
  if (top !== undefined) {
    throw fail(
      top.brace,
      `block "${top.owner.name}" opened here is not closed: expected "}" before the end of the file`,
    );
  }
  return root;
}
