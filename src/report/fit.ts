/*!
 * Fitting text to a terminal's width: how many columns a string takes (colour codes none, wide
 * characters two), prose wrapped at word boundaries with a hanging indent, a line cut with `…`,
 * and a table's column plan (long text as footnotes, short headers, low-priority columns left
 * out, then narrower columns). No I/O and no cli-table3 here: report/table.ts draws.
 */

// eslint-disable-next-line no-control-regex
const SGR_RE = /\u001b\[[0-9;]*m/g;

/** East Asian wide and fullwidth ranges (and emoji): two terminal columns each. */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) || (code >= 0xac00 && code <= 0xd7a3)
    || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) || (code >= 0xffe0 && code <= 0xffe6)
    || (code >= 0x1f300 && code <= 0x1f64f) || (code >= 0x1f900 && code <= 0x1f9ff) || (code >= 0x20000 && code <= 0x3fffd);
}

/** Combining marks and zero-width characters: no column of their own. */
function isZeroWidth(code: number): boolean {
  return (code >= 0x300 && code <= 0x36f) || code === 0x200b || code === 0x200d || (code >= 0xfe00 && code <= 0xfe0f);
}

function charWidth(code: number): number {
  return isZeroWidth(code) ? 0 : isWide(code) ? 2 : 1;
}

/** Terminal columns `text` takes on one line (SGR colour codes take none). */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text.replace(SGR_RE, '')) w += charWidth(ch.codePointAt(0) as number);
  return w;
}

/** `text` cut to `width` columns, ending in `…` when something was cut. Text without colour codes. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let w = 0;
  let out = '';
  for (const ch of text) {
    const cw = charWidth(ch.codePointAt(0) as number);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** A word longer than `width` in pieces of at most `width` columns (only such words are broken). */
function pieces(word: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  let w = 0;
  for (const ch of word) {
    const cw = charWidth(ch.codePointAt(0) as number);
    if (w + cw > width && cur !== '') {
      out.push(cur);
      cur = '';
      w = 0;
    }
    cur += ch;
    w += cw;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * Prose as lines of at most `width` columns, broken at spaces; every line after the first starts
 * with `indent` spaces (a hanging indent) within the same width. Only a word longer than a whole
 * line is broken inside. `first` columns are already taken on the first line (a label before it).
 */
export function wrapLines(text: string, width: number, indent: number, first = 0): string[] {
  const lines: string[] = [];
  let cur = '';
  let curW = 0;
  let room = Math.max(1, width - first);
  const flush = (): void => {
    lines.push(cur);
    cur = '';
    curW = 0;
    room = Math.max(1, width - indent);
  };
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const ww = displayWidth(word);
    if (curW > 0 && curW + 1 + ww <= room) {
      cur += ` ${word}`;
      curW += 1 + ww;
      continue;
    }
    if (curW > 0) flush();
    if (ww <= room) {
      cur = word;
      curW = ww;
      continue;
    }
    const parts = pieces(word, room);
    for (const p of parts.slice(0, -1)) {
      cur = p;
      flush();
    }
    cur = parts[parts.length - 1] ?? '';
    curW = displayWidth(cur);
  }
  if (cur !== '' || lines.length === 0) lines.push(cur);
  return lines.map((l, i) => (i === 0 ? l : `${' '.repeat(indent)}${l}`));
}

/** wrapLines joined: `label` (already printed) takes the first `first` columns. */
export function wrap(text: string, width: number, indent: number, first = indent): string {
  return wrapLines(text, width, indent, first).join('\n');
}

/** A table column as the terminal shows it when the table is too wide. */
export interface FitColumn {
  title: string;
  /** A shorter header, used when the table does not fit. */
  short?: string;
  /** Left out when the table does not fit, highest first; undefined: always kept. */
  drop?: number;
  /** Long prose: shown as `[n]` with the text below the table when the table does not fit. */
  note?: boolean;
}

export interface TablePlan {
  /** Indices of the columns kept, in order. */
  keep: number[];
  head: string[];
  rows: string[][];
  /** Texts moved out of the cells, in marker order ([1] is notes[0]). */
  notes: string[];
  /** Titles of the columns left out. */
  dropped: string[];
  /** Column widths (padding included) when cells must wrap; undefined when the table fits as it is. */
  widths: number[] | undefined;
}

/** Columns + borders of a cli-table3 table whose columns are `widths` wide (padding included). */
function tableWidth(widths: readonly number[]): number {
  return widths.reduce((a, b) => a + b, 0) + widths.length + 1;
}

function naturalWidths(head: readonly string[], rows: readonly string[][]): number[] {
  const longest = (texts: string[]): number => Math.max(0, ...texts.flatMap((t) => t.split('\n')).map(displayWidth));
  return head.map((h, i) => 2 + longest([h, ...rows.map((r) => r[i] ?? '')]));
}

/**
 * How a table of `rows` (plain text, `\n` between lines of a cell) fits `width` columns, trying in
 * turn: long-prose columns as footnotes, short headers, leaving out columns by `drop` priority
 * (never the last one kept), and last narrower columns whose cells wrap (fitColumns).
 */
export function planTable(columns: readonly FitColumn[], rows: readonly string[][], width: number): TablePlan {
  let keep = columns.map((_, i) => i);
  const notes: string[] = [];
  let cells = rows.map((r) => [...r]);
  let head = columns.map((c) => c.title);
  const fits = (): boolean => tableWidth(naturalWidths(keep.map((i) => head[i] ?? ''), cells.map((r) => keep.map((i) => r[i] ?? '')))) <= width;
  if (!fits()) {
    cells = cells.map((r) => r.map((c, i) => {
      if (!columns[i]?.note || c === '') return c;
      let n = notes.indexOf(c);
      if (n < 0) n = notes.push(c) - 1;
      return `[${n + 1}]`;
    }));
  }
  if (!fits()) head = columns.map((c) => c.short ?? c.title);
  const dropped: string[] = [];
  const order = columns.map((c, i) => ({ i, p: c.drop })).filter((c) => c.p !== undefined).sort((a, b) => (b.p as number) - (a.p as number) || b.i - a.i);
  for (const { i } of order) {
    if (fits() || keep.length <= 1) break;
    keep = keep.filter((k) => k !== i);
    dropped.push(columns[i]?.title ?? '');
  }
  const keptHead = keep.map((i) => head[i] ?? '');
  const keptRows = cells.map((r) => keep.map((i) => r[i] ?? ''));
  return { keep, head: keptHead, rows: keptRows, notes, dropped, widths: fitColumns(keptHead, keptRows, width) };
}

/** Narrowest a column is squeezed to (padding included) before the table may be wider than the terminal. */
const MIN_COLUMN = 5;

/**
 * Column widths (padding included) that make the table fit `width`; undefined when it fits as it
 * is. Cells wrap at spaces (cli-table3 wordWrap), so the widest column is narrowed first down to
 * its longest word; then header words are cut (data words, such as addresses and keys, stay
 * whole); only then data words, down to MIN_COLUMN.
 */
export function fitColumns(head: readonly string[], rows: readonly string[][], width: number): number[] | undefined {
  const lines = (cells: string[]): string[] => cells.flatMap((c) => c.split('\n'));
  const longestWord = (texts: string[]): number => Math.max(MIN_COLUMN, 2 + Math.max(0, ...lines(texts).flatMap((t) => t.split(' ')).map(displayWidth)));
  const data = (i: number): string[] => rows.map((r) => r[i] ?? '');
  const natural = naturalWidths(head, rows);
  let excess = tableWidth(natural) - width;
  if (excess <= 0) return undefined;
  const w = [...natural];
  const floors = [head.map((h, i) => longestWord([h, ...data(i)])), head.map((_, i) => longestWord(data(i))), head.map(() => MIN_COLUMN)];
  for (const floor of floors) {
    while (excess > 0) {
      let widest = -1;
      for (let i = 0; i < w.length; i++) if ((w[i] as number) > (floor[i] as number) && (widest < 0 || (w[i] as number) > (w[widest] as number))) widest = i;
      if (widest < 0) break;
      w[widest] = (w[widest] as number) - 1;
      excess--;
    }
  }
  return w;
}
