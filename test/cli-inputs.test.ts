/*!
 * What the command says about its inputs, through dist/cli.js: auto-detection's errors and
 * unparsed-line reasons in the words of the format the input was detected as, combined/main with
 * fields appended recognised without flags, the same log given twice, CSV with no row, and
 * standard input redirected from a file (read as that file, unless opened further in).
 * See: issue 14 items 11, 12 and 13.
 */
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { PRESET_FORMATS, type Report } from '../src/index.js';
import { FIXTURE, assertNoStack, run } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-inputs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, lines: readonly string[]): string {
  const path = join(tmp, name);
  writeFileSync(path, `${lines.join('\n')}\n`, 'latin1');
  return path;
}

function json(args: string[]): { report: Report; stderr: string } {
  const r = run(['--output', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const appended = (name: string): string[] => readFileSync(`fixtures/appended/${name}.log`, 'latin1').split('\n').filter((l) => l !== '');

// usingnamespacestc/Pychat-1 nginx_access.log (combined), verbatim: no WebSocket handshake.
const COMBINED_LINES = [
  '223.72.74.152 - - [07/Jul/2020:16:07:21 +0800] "GET / HTTP/1.1" 502 584 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.116 Safari/537.36"',
  '223.72.74.152 - - [07/Jul/2020:16:07:22 +0800] "GET /favicon.ico HTTP/1.1" 502 584 "http://59.110.172.43/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.116 Safari/537.36"',
  '223.72.74.152 - - [07/Jul/2020:16:08:30 +0800] "GET / HTTP/1.1" 502 584 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.116 Safari/537.36"',
];
// tstack/lnav test/logfile_bad_access_log.0: no `- -` after the address.
const LNAV_BAD = '192.168.202.254 [20/Jul/2009:22:59:29 +0000] "GET /vmw/vSphere/default/vmkboot.gz HTTP/1.0" 404 46210 "-" "gPXE/0.9.7"';
// nginxinc/nginx-amplify-doc#16: one line of NGINX Amplify's main_ext (key=value fields after main).
const AMPLIFY = '10.140.0.4 - - [03/Feb/2017:11:49:25 +0000] "GET /socket.io/?EIO=3&transport=websocket HTTP/1.1" 101 2945 "-" "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/57.0.2987.21 Safari/537.36" "xxx.xxx.xxx.xxx,xxx.xxx.xxx.xxx" "xxx.com" sn="xxx.com" rt=24388.248 ua="10.115.242.54:8082" us="101" ut="24388.248" ul="0" cs=-';

describe('messages that point at the real problem (issue 14 item 12)', () => {
  test('a one-line input no format fits: exit 2, every format tried named, the closest one\'s words', () => {
    const r = run([file('amplify.log', [AMPLIFY])]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assertNoStack(r.stderr);
    for (const p of PRESET_FORMATS) assert.ok(r.stderr.includes(`"${p.name}"`), `"${p.name}" named: ${r.stderr}`);
    assert.match(r.stderr, /amplify\.log:1: main: 96 extra characters after the last field \(\$http_x_forwarded_for\)/);
  });

  test('a short input whose lines all fail: every format tried named, as for a long one', () => {
    const r = run([file('short-bad.log', [LNAV_BAD, LNAV_BAD, LNAV_BAD])]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /its 3 lines match no format tried \(/);
    for (const p of PRESET_FORMATS) assert.ok(r.stderr.includes(`"${p.name}"`), `"${p.name}" named: ${r.stderr}`);
  });

  test('a combined log: an unparsed line is explained by combined, not by a format the input does not use', () => {
    const { report, stderr } = json([file('combined-bad.log', [...COMBINED_LINES, LNAV_BAD])]);
    assert.deepEqual(report.meta.formats.map((f) => f.name), ['combined']);
    assert.equal(report.lines.unparsed, 1);
    assert.match(report.lines.samples[0]?.reason ?? '', /^combined: no value for \$remote_addr followed by " - " fits at column 1/);
    assert.doesNotMatch(stderr, /upstreaminfo|combined-ws|upstream-ws/);
  });

  test('a combined log with text after the last field on some lines: "N extra characters", not a bad user agent', () => {
    const extra = `${COMBINED_LINES[0]} sn="x" rt=0.1`;
    const { report } = json([file('combined-extra.log', [...COMBINED_LINES, extra])]);
    assert.equal(report.lines.unparsed, 1);
    assert.equal(report.lines.samples[0]?.reason, 'combined: 14 extra characters after the last field ($http_user_agent): " sn=\\"x\\" rt=0.1"');
  });

  test('combined + fields appended (real nginx output), no flags: every line parsed, stderr says what was assumed', () => {
    const { report, stderr } = json(['fixtures/appended/tail_ws.log']);
    assert.equal(report.lines.unparsed, 0);
    assert.equal(report.lines.parsed, appended('tail_ws').length);
    assert.match(stderr, /tail_ws\.log: "combined" followed by 6 fields read from their values, assumed to be \$request_time \$upstream_response_time \$upstream_status "\$http_upgrade" "\$http_sec_websocket_key" \$msec/);
    assert.ok(report.correlation.keys > 0, 'the Sec-WebSocket-Key is read');
    assert.ok(report.handshakes.byProtocolStatus.every((r) => r.durations.max !== null), '$request_time is read');
  });
});

describe('the same log twice (issue 14 item 11)', () => {
  test('a log and its gzip copy: a warning on stderr, in the report, and meta.inputs[].sameAs', () => {
    const gz = join(tmp, 'front.log.gz');
    writeFileSync(gz, gzipSync(readFileSync(FIXTURE)));
    const { report, stderr } = json([FIXTURE, gz]);
    assert.deepEqual(report.meta.inputs.map((i) => i.sameAs), [null, FIXTURE]);
    assert.ok(stderr.includes(`${gz} holds the same lines as ${FIXTURE}: both were read, so every count includes those lines twice`), stderr);
    const table = run([FIXTURE, gz]);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /warning: .*front\.log\.gz holds the same lines as/);
  });

  test('one file named twice, read by worker threads: the same', () => {
    const { report } = json(['--workers', '3', FIXTURE, FIXTURE]);
    assert.deepEqual(report.meta.inputs.map((i) => i.sameAs), [null, FIXTURE]);
  });

  test('logs that share only their beginning, or differ in one line, are not the same log', () => {
    const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l !== '');
    const head = file('head.log', lines.slice(0, 100));
    const at = lines.findIndex((l, i) => i > 100 && l.includes(' status 101 '));
    const edited = file('edited.log', lines.map((l, i) => (i === at ? l.replace(' status 101 ', ' status 500 ') : l)));
    const { report, stderr } = json([FIXTURE, head, edited]);
    assert.deepEqual(report.meta.inputs.map((i) => i.sameAs), [null, null, null]);
    assert.doesNotMatch(stderr, /same lines/);
  });
});

describe('CSV with no row (issue 14 item 13)', () => {
  test('a log without a WebSocket handshake: the header line, and nothing else', () => {
    const copy = join(tmp, 'plain.log');
    copyFileSync(file('plain-src.log', COMBINED_LINES), copy);
    for (const kind of ['handshakes', 'findings']) {
      const r = run(['--output', 'csv', '--csv', kind, copy]);
      assert.equal(r.code, 0, r.stderr);
      const header = kind === 'handshakes' ? 'file,line,key,' : 'id,severity,title,';
      assert.ok(r.stdout.startsWith(header), JSON.stringify(r.stdout));
      assert.equal(r.stdout.split('\r\n').length, 2, 'one line, then the end');
    }
  });
});

describe('standard input redirected from a file', () => {
  const lines = readFileSync(FIXTURE, 'latin1').split('\n').filter((l) => l !== '');
  const stdinFrom = (path: string, skipBytes = 0): Report => {
    const fd = openSync(path, 'r');
    try {
      if (skipBytes > 0) readSync(fd, Buffer.alloc(skipBytes), 0, skipBytes, null);
      const r = run(['--output', 'json', '-'], undefined, { stdio: [fd, 'pipe', 'pipe'] });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Report;
    } finally {
      closeSync(fd);
    }
  };
  const same = (a: Report, b: Report): void => {
    assert.deepEqual({ ...a.lines, samples: [] }, { ...b.lines, samples: [] });
    assert.deepEqual(a.findings.map((f) => [f.id, f.count, f.evidence.map((e) => [e.line, e.text])]), b.findings.map((f) => [f.id, f.count, f.evidence.map((e) => [e.line, e.text])]));
  };

  test('reads the same lines as the file named (read as a file: in byte ranges), plain or gzip', () => {
    const fromFile = json([FIXTURE]).report;
    same(stdinFrom(FIXTURE), fromFile);
    const gz = join(tmp, 'front.log.gz');
    writeFileSync(gz, gzipSync(readFileSync(FIXTURE)));
    same(stdinFrom(gz), fromFile);
    assert.equal(stdinFrom(FIXTURE).meta.inputs[0]?.name, '-');
  });

  test('a file the shell opened further in: only what follows is read, as from a pipe', () => {
    const skip = Buffer.byteLength(`${lines.slice(0, 3).join('\n')}\n`, 'latin1');
    const rest = file('rest.log', lines.slice(3));
    same(stdinFrom(FIXTURE, skip), json([rest]).report);
  });
});
