/*!
 * Seeded two-tier logs for the exactness and memory checks: a front nginx (behind LB nodes) and a
 * back nginx (behind the front) log the same handshakes, joined by Sec-WebSocket-Key. A share of
 * them arrive at the front as HTTP/1.0 and end 499 at 59.999 s (HTTP/1.1 499 at the back); the
 * rest upgrade (101) with spread session lengths. Prints the truth a report must match as JSON.
 * usage: node --import tsx test/bench/two-tier.ts --handshakes N --dir DIR [--seed S] [--downgraded 0.4]
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prng } from '../helpers/prng.js';

/** Bump when the generated lines change (the bench keys its reused data on it). */
export const TWO_TIER_VERSION = 1;

/** `combined` + the fields the two-tier case of the exactness issue logs. */
export const TWO_TIER_FORMAT = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_upgrade" $request_time $msec "$http_sec_websocket_key"';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function timeLocal(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

export interface TwoTierTruth {
  handshakes: number;
  linesPerTier: number;
  downgraded: number;
  abandonedLines: number;
  hiddenKeys: number;
  multiTierKeys: number;
}

/** Pending line pairs, smallest end first. */
class EndHeap {
  private readonly ends: number[] = [];
  private readonly lines: [string, string][] = [];

  get size(): number {
    return this.ends.length;
  }

  top(): number {
    return this.ends[0] as number;
  }

  push(end: number, front: string, back: string): void {
    let i = this.ends.length;
    this.ends.push(end);
    this.lines.push([front, back]);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.ends[p] as number) <= end) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [string, string] {
    const out = this.lines[0] as [string, string];
    const lastEnd = this.ends.pop() as number;
    const lastLines = this.lines.pop() as [string, string];
    if (this.ends.length > 0) {
      this.ends[0] = lastEnd;
      this.lines[0] = lastLines;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.ends.length && (this.ends[l] as number) < (this.ends[m] as number)) m = l;
        if (r < this.ends.length && (this.ends[r] as number) < (this.ends[m] as number)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return out;
  }

  private swap(a: number, b: number): void {
    [this.ends[a], this.ends[b]] = [this.ends[b] as number, this.ends[a] as number];
    [this.lines[a], this.lines[b]] = [this.lines[b] as [string, string], this.lines[a] as [string, string]];
  }
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
}

export async function generateTwoTier(dir: string, handshakes: number, seed: number, downgradedShare: number): Promise<TwoTierTruth> {
  const rand = prng(seed);
  const front = createWriteStream(join(dir, 'front.log'));
  const back = createWriteStream(join(dir, 'back.log'));
  const t0 = Date.UTC(2026, 0, 5, 0, 0, 0);
  const lbNodes = ['100.97.88.241', '100.97.88.238', '100.97.89.3', '100.97.88.252', '100.97.89.10'];
  const key = Buffer.alloc(16);
  let downgraded = 0;
  const heap = new EndHeap();
  let fb = '';
  let bb = '';
  for (let i = 0; i < handshakes; i++) {
    // One handshake every 2 ms on average: start times rise, ends interleave.
    const start = t0 + i * 2 + Math.floor(rand() * 2);
    key.writeUInt32BE(i, 0);
    key.writeUInt32BE(seed, 4);
    key.writeUInt32BE(Math.floor(rand() * 0xffffffff), 8);
    const k = key.toString('base64');
    const down = rand() < downgradedShare;
    const node = down ? lbNodes[3 + (i % 2)] : lbNodes[i % 3];
    const dur = down ? 59_999 : 1_000 + Math.floor(rand() * 1_800_000);
    const status = down ? 499 : 101;
    const bdur = down ? dur - 1 : dur - 2;
    const end = start + dur;
    const line = (client: string, proto: string, st: number, d: number, e: number): string =>
      `${client} - - [${timeLocal(e)}] "GET /ws/ HTTP/${proto}" ${st} 0 "-" "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0" "websocket" ${(d / 1000).toFixed(3)} ${(e / 1000).toFixed(3)} "${k}"\n`;
    // nginx writes a line when the request ends: hold each pair until no earlier end can come.
    heap.push(end, line(node as string, down ? '1.0' : '1.1', status, dur, end), line('10.0.20.11', '1.1', status, bdur, end - 1));
    if (down) downgraded++;
    while (heap.size > 0 && heap.top() <= start) {
      const [f, bk] = heap.pop();
      fb += f;
      bb += bk;
    }
    if (fb.length > 1 << 16) {
      await write(front, fb);
      await write(back, bb);
      fb = '';
      bb = '';
    }
  }
  while (heap.size > 0) {
    const [f, bk] = heap.pop();
    fb += f;
    bb += bk;
  }
  await write(front, fb);
  await write(back, bb);
  await Promise.all([new Promise<void>((r) => front.end(r)), new Promise<void>((r) => back.end(r))]);
  return { handshakes, linesPerTier: handshakes, downgraded, abandonedLines: 2 * downgraded, hiddenKeys: downgraded, multiTierKeys: handshakes };
}

if (process.argv[1]?.endsWith('two-tier.ts')) {
  const { values } = parseArgs({ options: { handshakes: { type: 'string', default: '1000000' }, dir: { type: 'string' }, seed: { type: 'string', default: '1' }, downgraded: { type: 'string', default: '0.4' } } });
  if (values.dir === undefined) {
    process.stderr.write('usage: two-tier.ts --handshakes N --dir DIR [--seed S] [--downgraded SHARE]\n');
    process.exitCode = 2;
  } else {
    const truth = await generateTwoTier(values.dir, Number(values.handshakes), Number(values.seed), Number(values.downgraded));
    process.stdout.write(`${JSON.stringify(truth)}\n`);
  }
}
