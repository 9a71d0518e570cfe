/*!
 * Over-long lines (src/input/line-cap.ts): the cap equals "cut every line to N bytes" on any
 * chunking, and a 600 MB input without a newline is one unparsed line, not a crash (issue 7).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';

import { analyze } from '../src/index.js';
import { LineCapper, MAX_LINE_BYTES } from '../src/input/line-cap.js';

function through(chunks: readonly Buffer[], max: number): Buffer {
  const capper = new LineCapper(max);
  return Buffer.concat(chunks.map((c) => capper.cut(c)));
}

function cutEveryLine(all: Buffer, max: number): Buffer {
  return Buffer.from(all.toString('latin1').split('\n').map((l) => l.slice(0, max)).join('\n'), 'latin1');
}

test('LineCapper cuts each line to the cap and keeps every newline, however the bytes are chunked', async () => {
  const chunk = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.map((x) => (x % 7 === 0 ? 10 : x))));
  await fc.assert(fc.asyncProperty(fc.array(chunk, { maxLength: 20 }), fc.integer({ min: 1, max: 30 }), async (chunks, max) => {
    assert.deepEqual(through(chunks, max), cutEveryLine(Buffer.concat(chunks), max));
  }), { numRuns: 1000 });
});

test('600 MB without a newline, then a line: one unparsed (clipped) line and the next line still counted', async () => {
  const mb = Buffer.alloc(1 << 20, 0x41);
  let sent = 0;
  const stdin = new Readable({
    read() {
      if (sent < 600) {
        sent++;
        this.push(mb);
      } else if (sent === 600) {
        sent++;
        this.push('\n127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /ws HTTP/1.1" 101 0 "-" "ua"\n');
      } else {
        this.push(null);
      }
    },
  });
  const report = await analyze({ inputs: ['-'], stdin, preset: 'combined' });
  assert.equal(report.lines.total, 2);
  assert.equal(report.lines.unparsed, 1);
  assert.equal(report.lines.parsed, 1);
  assert.ok((report.lines.samples[0]?.text.length ?? Infinity) <= 2000, 'the sample is clipped');
  assert.ok(MAX_LINE_BYTES < 600 * (1 << 20));
});
