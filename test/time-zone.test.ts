// Times in the log's own clock: the UTC offset written in $time_local / $time_iso8601 becomes
// meta.utcOffsetMinutes, and the terminal, Markdown and HTML reports show every time in it (next
// to evidence like `[09/Mar/2018:15:04:34 +0800]`), or in UTC with --utc. JSON and CSV keep ISO
// strings in UTC. See: issue 18 ("Times are UTC only").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { utcOffsetAt } from '../src/core/record.js';
import { analyze } from '../src/index.js';
import { endStamp, span, stamp } from '../src/report/time.js';
import { FIXTURE, run } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-tz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ISO_TIME = /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)/g;

function out(args: string[]): string {
  const r = run(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** A $time_iso8601 log at -05:00: eight WebSocket handshakes downgraded and cut at 60 s. */
const ISO_FORMAT = '$remote_addr [$time_iso8601] "$request" $status $request_time';
function isoLog(offset: string, hour = 21): string {
  const file = join(tmp, `iso${offset.replace(':', '')}.log`);
  const lines = Array.from({ length: 8 }, (_, i) => `10.0.0.${i} [2018-03-08T${hour}:${String(10 + i).padStart(2, '0')}:00${offset}] "GET /ws/ HTTP/1.0" 499 60.00${i}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

test('utcOffsetAt reads ±hhmm and ±hh:mm, and nothing else', () => {
  const cases: [string, number][] = [['+0800', 480], ['-0530', -330], ['+08:00', 480], ['-05:00', -300], ['+0000', 0], ['0800', NaN], ['+08', NaN], ['+2500', NaN], ['+08:6x', NaN]];
  for (const [s, want] of cases) assert.deepEqual(utcOffsetAt(s, 0), want, s);
});

describe('meta.utcOffsetMinutes, where the lines are parsed', () => {
  test('$time_local +0800 (the demo), in this thread and in worker threads', async () => {
    assert.equal((await analyze({ inputs: [FIXTURE], workers: 1 })).meta.utcOffsetMinutes, 480);
    assert.equal((await analyze({ inputs: [FIXTURE], workers: 2, chunkBytes: 4096 })).meta.utcOffsetMinutes, 480);
  });

  test('$time_iso8601 -05:00', async () => {
    assert.equal((await analyze({ inputs: [isoLog('-05:00')], logFormat: ISO_FORMAT })).meta.utcOffsetMinutes, -300);
  });

  test('the offset of most lines wins (logs from two zones)', async () => {
    const few = join(tmp, 'few.log');
    writeFileSync(few, `${Array.from({ length: 3 }, (_, i) => `10.0.1.${i} [2018-03-09T03:0${i}:00+01:00] "GET /ws/ HTTP/1.1" 101 5.000`).join('\n')}\n`);
    const report = await analyze({ inputs: [few, isoLog('-05:00')], logFormat: ISO_FORMAT });
    assert.equal(report.meta.utcOffsetMinutes, -300);
  });

  test('no zoned time ($msec only): null, and the report shows UTC', async () => {
    const file = join(tmp, 'msec.log');
    writeFileSync(file, `${Array.from({ length: 4 }, (_, i) => `10.0.0.${i} 152057907${i}.716 "GET /ws/ HTTP/1.0" 499 60.00${i}`).join('\n')}\n`);
    const format = '$remote_addr $msec "$request" $status $request_time';
    const report = await analyze({ inputs: [file], logFormat: format });
    assert.equal(report.meta.utcOffsetMinutes, null);
    const text = out(['--log-format', format, '--verbose', file]);
    const times = text.match(ISO_TIME) ?? [];
    assert.ok(times.length > 0);
    for (const t of times) assert.ok(t.endsWith('Z'), t);
  });
});

describe('every time in the text outputs in the log\'s zone; --utc switches to UTC', () => {
  const json = JSON.parse(out(['-o', 'json', FIXTURE])) as { meta: { timeRange: { start: string; end: string }; utcOffsetMinutes: number } };

  test('json keeps ISO strings in UTC, with the offset beside them', () => {
    assert.equal(json.meta.timeRange.start, '2018-03-09T06:51:13.057Z');
    assert.equal(json.meta.utcOffsetMinutes, 480);
  });

  for (const output of ['table', 'markdown', 'html']) {
    test(`${output}: +08:00 by default, Z with --utc`, () => {
      const local = out(['-o', output, '--verbose', FIXTURE]);
      const times = local.match(ISO_TIME) ?? [];
      assert.ok(times.length >= 5, `${times.length} times`);
      for (const t of times) assert.ok(t.endsWith('+08:00'), `${t} in ${output}`);
      // The report's start is the log's 14:51:13 (+0800), as the evidence lines write it.
      assert.ok(local.includes('2018-03-09T14:51:13+08:00'));
      const utc = out(['-o', output, '--verbose', '--utc', FIXTURE]);
      const utcTimes = utc.match(ISO_TIME) ?? [];
      assert.equal(utcTimes.length, times.length);
      for (const t of utcTimes) assert.ok(t.endsWith('Z'), `${t} in ${output} --utc`);
      assert.ok(utc.includes('2018-03-09T06:51:13Z'));
    });
  }

  test('html: the timeline\'s axis and caption in the same zone', () => {
    const local = out(['-o', 'html', FIXTURE]);
    assert.match(local, /handshakes by start time \(UTC\+08:00\)/);
    assert.match(local, /<div class="xaxis"><span>2018-03-09 14:50<\/span>/);
    const utc = out(['-o', 'html', '--utc', FIXTURE]);
    assert.match(utc, /handshakes by start time \(UTC\)/);
    assert.match(utc, /<div class="xaxis"><span>2018-03-09 06:50<\/span>/);
  });

  test('a -05:00 log: its own times (another date than in UTC)', () => {
    const text = out(['--log-format', ISO_FORMAT, '--verbose', isoLog('-05:00', 23)]);
    // Handshakes started 60 s before their lines: 22:59:00-05:00 for the first.
    assert.ok(text.includes('2018-03-08T23:09:00-05:00'), text);
    for (const t of text.match(ISO_TIME) ?? []) assert.ok(t.endsWith('-05:00'), t);
  });
});

test('stamp, endStamp and span: wall-clock time in the zone, the end shortened on the same day', () => {
  const iso = '2018-03-09T02:30:00.250Z';
  assert.equal(stamp(iso, 0), '2018-03-09T02:30:00Z');
  assert.equal(stamp(iso, 480), '2018-03-09T10:30:00+08:00');
  assert.equal(stamp(iso, -300), '2018-03-08T21:30:00-05:00');
  assert.equal(stamp(iso, 330), '2018-03-09T08:00:00+05:30');
  assert.equal(stamp(null, 480), '-');
  assert.equal(endStamp(iso, '2018-03-09T03:00:00Z', 480), '11:00:00');
  assert.equal(endStamp(iso, '2018-03-09T06:00:00Z', -300), '2018-03-09T01:00:00-05:00');
  assert.equal(span(iso, '2018-03-09T03:00:00Z', 0), '2018-03-09T02:30:00Z … 03:00:00');
});
