/*!
 * A part's handshakes (core/part.ts Sightings) read one at a time, as the tally takes them
 * (core/tally.ts Tally.sight): numbers from the columns, strings made when asked for, a line's
 * text read from the part's block, its file or the part only when a reservoir keeps it.
 */
import type { LinesByPlace } from '../input/lines-by-place.js';
import type { TextBytes } from './evidence.js';
import { encodeKey } from './keys.js';
import { readRow, type PartTally, type Sightings } from './part.js';
import type { KeyedSighting } from './tally.js';

/** One handshake of a part, as the tally takes it; its text is read only if asked for (a reservoir keeps few). */
export class PartRow implements KeyedSighting {
  input = 0;
  line = 0;
  client = '';
  clientId = 0;
  row = -1;
  protocol = 0;
  status = 0;
  flags = 0;
  durationMs = -1;
  endMs = NaN;
  upstream = '';
  path = '';
  later = false;
  private sightings: Sightings | null = null;
  private places: LinesByPlace | null = null;
  /** A block's part: the block its sightings' places are in (kept only while the part is merged: its texts are not places to keep). */
  private block: Buffer | null = null;
  private readonly inBlock: TextBytes = { b: Buffer.alloc(0), start: 0, end: 0 };
  private index = 0;

  get key(): string {
    const w = this.sightings;
    if (w === null) return '';
    const i = this.index;
    return w.key.bytesOf(i) === 0 && w.keyPlain[i] === 1 ? encodeKey(w.keyWords.subarray(4 * i, 4 * i + 4)) : w.key.at(i);
  }

  get hasKey(): boolean {
    const w = this.sightings;
    return w !== null && (w.keyPlain[this.index] === 1 || w.key.bytesOf(this.index) > 0);
  }

  keyWords(out: Uint32Array): boolean {
    const w = this.sightings;
    if (w === null || w.keyPlain[this.index] !== 1) return false;
    const at = 4 * this.index;
    for (let k = 0; k < 4; k++) out[k] = w.keyWords[at + k] as number;
    return true;
  }

  /** Where the line lies in its file (-1: the part holds its text). */
  get at(): number {
    const w = this.sightings;
    return w === null || this.places === null || this.block !== null ? -1 : (w.textAt[this.index] as number);
  }

  get bytes(): number {
    return this.at >= 0 ? ((this.sightings as Sightings).textBytes[this.index] as number) : 0;
  }

  /** Read when asked for (few are): from the part's texts, or from the file at its place. */
  get text(): string {
    const w = this.sightings;
    if (w === null) return '';
    const i = this.index;
    const at = w.textAt[i] as number;
    if (this.block !== null) return this.block.toString('utf8', at, at + (w.textBytes[i] as number));
    return at >= 0 && this.places !== null ? this.places.read(at, w.textBytes[i] as number) : w.text.at(i);
  }

  /** The text's bytes, read when asked for: a reservoir copies a class's latest line from them, making no string. */
  get source(): TextBytes | undefined {
    const w = this.sightings;
    if (w === null) return undefined;
    const i = this.index;
    const at = w.textAt[i] as number;
    if (this.block !== null) {
      const v = this.inBlock;
      v.b = this.block;
      v.start = at;
      v.end = at + (w.textBytes[i] as number);
      return v;
    }
    if (at < 0 || this.places === null) return w.text.bytesAt(i);
    return this.places.bytesAt(at, w.textBytes[i] as number) ?? undefined;
  }

  /**
   * Row i of part `p` of input `input`, whose lines are numbered on from `lineOffset`; its text in
   * the part's block if it has one, else at its place in `places` (a file's), else in the part.
   */
  moveTo(p: PartTally, i: number, input: number, lineOffset: number, places: LinesByPlace | null): void {
    const w = p.sightings;
    readRow(this, w, i, p.clients, lineOffset);
    this.input = input;
    this.later = p.reread !== null;
    this.upstream = p.upstreams[w.upstream[i] as number] as string;
    this.path = p.paths[w.path[i] as number] as string;
    this.sightings = w;
    this.index = i;
    this.places = places;
    this.block = p.block;
  }
}

/** Each of part p's handshakes (its texts in its block, if it has one), as `fn` takes them: one row, moved on. */
export function eachRow(p: PartTally, input: number, lineOffset: number, fn: (h: KeyedSighting) => void): void {
  const row = new PartRow();
  for (let i = 0; i < p.sightings.line.length; i++) {
    row.moveTo(p, i, input, lineOffset, null);
    fn(row);
  }
}
