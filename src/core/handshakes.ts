/*!
 * One row per handshake line, kept only when the user asks for them (`--output csv`, one row per
 * handshake): numbers in typed arrays (about 60 bytes a row), the key and where else it was seen.
 * Nothing counts from here: counts come from core/counts.ts. The key window (core/keys.ts) links a
 * key's rows and says, when the key leaves it, where the key was seen and what it amounted to.
 */
import { resized, type Column } from './columns.js';
import { decodeKey, encodeKey, type KeyRowLinks } from './keys.js';
import { ownCopy } from './lists.js';

export interface RowInput {
  input: number;
  line: number;
  client: number;
  protocol: number;
  status: number;
  durationMs: number;
  endMs: number;
  flags: number;
  /** Index into HandshakeRows.upstreams ($upstream_addr as logged). */
  upstream: number;
}

export class HandshakeRows implements KeyRowLinks {
  length = 0;
  input = new Uint16Array(1024);
  line = new Uint32Array(1024);
  client = new Uint32Array(1024);
  protocol = new Uint8Array(1024);
  status = new Uint16Array(1024);
  durationMs = new Int32Array(1024);
  endMs = new Float64Array(1024);
  flags = new Uint8Array(1024);
  /** Next row with the same key (-1 = none). */
  private next = new Int32Array(1024);
  /** The key's 16 bytes (all zero: none, or kept as text). */
  private words = new Uint32Array(4 * 1024);
  /** Once the key left the window: the inputs it was seen on, with HTTP/1.0, with HTTP/1.1; and KEY_* findings. */
  keyInputs = new Uint32Array(1024);
  keyInputs10 = new Uint32Array(1024);
  keyInputs11 = new Uint32Array(1024);
  keyFindings = new Uint8Array(1024);
  upstream = new Uint32Array(1024);
  private readonly texts = new Map<number, string>();
  private readonly upstreamIds = new Map<string, number>();
  /** Distinct $upstream_addr values, by id. */
  readonly upstreams: string[] = [];
  private readonly scratch = new Uint32Array(4);

  add(r: RowInput, key: string): number {
    const at = this.length++;
    if (at === this.input.length) this.grow();
    this.input[at] = r.input;
    this.line[at] = r.line;
    this.client[at] = r.client;
    this.protocol[at] = r.protocol;
    this.status[at] = r.status;
    this.durationMs[at] = r.durationMs;
    this.endMs[at] = r.endMs;
    this.flags[at] = r.flags;
    this.next[at] = -1;
    this.upstream[at] = r.upstream;
    const w = this.scratch;
    // An all-zero key would read back as "no key": keep it as text, like non-canonical ones.
    if (key !== '') {
      if (decodeKey(key, w) && (w[0] || w[1] || w[2] || w[3])) this.words.set(w, 4 * at);
      else this.texts.set(at, ownCopy(key));
    }
    return at;
  }

  upstreamId(addr: string): number {
    let id = this.upstreamIds.get(addr);
    if (id === undefined) {
      id = this.upstreams.length;
      this.upstreams.push(ownCopy(addr));
      this.upstreamIds.set(this.upstreams[id] as string, id);
    }
    return id;
  }

  /** The key of `row` ('' when it had none). */
  key(row: number): string {
    const t = this.texts.get(row);
    if (t !== undefined) return t;
    const o = 4 * row;
    const w = this.words;
    return w[o] === 0 && w[o + 1] === 0 && w[o + 2] === 0 && w[o + 3] === 0 ? '' : encodeKey(w.subarray(o, o + 4));
  }

  link(previousRow: number, row: number): void {
    this.next[previousRow] = row;
  }

  folded(firstRow: number, inputs: number, inputs10: number, inputs11: number, findings: number): void {
    for (let r = firstRow; r >= 0; r = this.next[r] as number) {
      this.keyInputs[r] = inputs;
      this.keyInputs10[r] = inputs10;
      this.keyInputs11[r] = inputs11;
      this.keyFindings[r] = findings;
    }
  }

  private grow(): void {
    const copy = <T extends Column>(a: T): T => resized(a, 2 * a.length);
    this.input = copy(this.input);
    this.line = copy(this.line);
    this.client = copy(this.client);
    this.protocol = copy(this.protocol);
    this.status = copy(this.status);
    this.durationMs = copy(this.durationMs);
    this.endMs = copy(this.endMs);
    this.flags = copy(this.flags);
    this.next = copy(this.next);
    this.words = copy(this.words);
    this.keyInputs = copy(this.keyInputs);
    this.keyInputs10 = copy(this.keyInputs10);
    this.keyInputs11 = copy(this.keyInputs11);
    this.keyFindings = copy(this.keyFindings);
    this.upstream = copy(this.upstream);
  }
}
