/*
 * Bad input made of real nginx output: the access log with nginx's own error.log lines, another
 * program's syslog line and binary junk mixed in (counted, sampled with file:line and why), the
 * same access lines as nginx sends them to syslog (read as the line inside the header), and
 * attacker-controlled bytes (terminal escape sequences in a User-Agent, logged raw by an
 * escape=none format) shown, not executed, by the terminal report. See: issue 7.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoStack, run } from '../helpers/cli.js';
import { readLogLines, runScenario, type ScenarioResult } from './harness/index.js';
import { requireProgram } from '../helpers/requirements.js';

// Every suite here runs real nginx: skipped at once without it (a failure on CI).
const skip = requireProgram('nginx');

const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
const COMBINED_WS = `${COMBINED} $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status`;
const RAW = `${COMBINED_WS} "$http_x_note"`;

/** OSC "set title", BEL, "clear screen", red; then C1 CSI (U+009B as UTF-8) and a right-to-left override. */
const ESCAPES = Buffer.concat([Buffer.from('\u001b]0;pwned\u0007\u001b[2J\u001b[31m'), Buffer.from('\u009b1m\u202eevil')]);
const HOSTILE_UA = Buffer.concat([Buffer.from('Mozilla/5.0 '), ESCAPES]);
/** Characters that must never reach the terminal raw: ESC, BEL, CSI, RLO. */
const RAW_CONTROLS = ['\u001b', '\u0007', '\u009b', '\u202e'];

function assertNoRawControls(text: string): void {
  for (const c of RAW_CONTROLS) assert.ok(!text.includes(c), `U+${c.charCodeAt(0).toString(16).padStart(4, '0')} reached the terminal raw`);
}

/** Bytes that are not text at all: NUL, invalid UTF-8, ESC; seeded, no newline. */
function junk(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = (s >> 16) & 0xff;
  }
  return Buffer.from(out.filter((b) => b !== 10 && b !== 13));
}

describe('bad input from real nginx 1.22 output', { skip }, () => {
  let res: ScenarioResult | undefined;
  let dir = '';
  /** What nginx sent to `access_log syslog:` (one datagram per request). */
  const syslogged: Buffer[] = [];
  let syslogd: Socket | undefined;
  before(async () => {
    syslogd = createSocket('udp4');
    syslogd.on('message', (m) => syslogged.push(m));
    await new Promise<void>((resolve) => syslogd?.bind(0, '127.0.0.1', resolve));
    res = await runScenario({
      formats: [`log_format cws '${COMBINED_WS}';`, `log_format raw escape=none '${RAW}';`],
      serverConfig: `    access_log syslog:server=127.0.0.1:${syslogd.address().port},tag=nginx cws;`,
      actions: [
        { kind: 'ws-session', holdMs: 100, messages: 1 },
        { kind: 'plain', path: '/api/ok' },
        { kind: 'ws-dead', userAgent: HOSTILE_UA, headers: [['X-Note', ESCAPES]] },
        { kind: 'ws-session', holdMs: 100, messages: 1, delayMs: 50 },
        { kind: 'ws-dead', delayMs: 100 },
        { kind: 'plain', path: '/api/again', delayMs: 150 },
      ],
    });
    dir = res.dir;
  });
  after(() => {
    res?.cleanup();
    syslogd?.close();
  });

  test('error.log lines, a syslog line and binary junk inside an access log: counted, sampled with file:line and why', () => {
    assert.ok(res);
    const access = readLogLines(res.logs['cws'] as string);
    const errors = readLogLines(res.errorLog).filter((l) => l.includes(' [error] '));
    assert.ok(errors.length >= 2, 'nginx logged the refused upstream connections');
    const syslog = Buffer.from('<30>Mar  9 15:20:01 web1 systemd[1]: Started Daily apt download activities.');
    // Access lines first (the format is detected from them), then every kind of stranger among them.
    const strangers = [errors[0], syslog, junk(7, 120), errors[1], junk(11, 40)] as Buffer[];
    const wrapped = syslogged[syslogged.length - 1];
    assert.ok(wrapped && /^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ nginx: /.test(wrapped.toString()), `a syslog datagram from nginx: ${wrapped}`);
    const lines: Buffer[] = [access[0] as Buffer, access[1] as Buffer, wrapped];
    const strangerLines: number[] = [];
    access.slice(2).forEach((l, i) => {
      const s = strangers[i];
      if (s) {
        lines.push(s);
        strangerLines.push(lines.length);
      }
      lines.push(l);
    });
    for (const s of strangers.slice(access.length - 2)) {
      lines.push(s);
      strangerLines.push(lines.length);
    }
    const file = path.join(dir, 'mixed.log');
    writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));

    const r = run([file, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { lines: { total: number; parsed: number; unparsed: number; samples: { file: string; line: number; reason: string }[] } };
    assert.deepEqual([j.lines.total, j.lines.parsed, j.lines.unparsed], [lines.length, access.length + 1, strangers.length]);
    assert.deepEqual(j.lines.samples.map((s) => [s.file, s.line]), strangerLines.map((n) => [file, n]));
    for (const s of j.lines.samples) assert.match(s.reason, /^combined-ws: (no value for \$\w+ followed by .* fits at column \d+|expected the line to start with .*); got /);

    const t = run([file]);
    assert.equal(t.code, 0);
    assertNoStack(t.stderr);
    assert.match(t.stderr, new RegExp(`wsdiag: ${strangers.length} of ${lines.length} lines did not match the format`));
    for (const n of strangerLines) assert.match(t.stdout, new RegExp(`^ {2}${file}:${n}: combined-ws: `, 'm'));
    assertNoRawControls(t.stdout + t.stderr);
  });

  test('escape sequences nginx logged raw (escape=none) are shown as \\xHH / \\uHHHH in the terminal report, never sent', () => {
    assert.ok(res);
    const rawLog = res.logs['raw'] as string;
    const logged = readLogLines(rawLog);
    assert.ok(logged.some((l) => l.includes(ESCAPES)), 'nginx wrote the escape bytes raw');
    // And one line that fits no format, carrying the same bytes, for the notes on stderr.
    const file = path.join(dir, 'raw-plus-junk.log');
    writeFileSync(file, Buffer.concat([...logged, Buffer.concat([Buffer.from('junk '), ESCAPES])].flatMap((l) => [l, Buffer.from('\n')])));

    const r = run(['--log-format', RAW, '--evidence', '50', '--verbose', '--wide', file]);
    assert.equal(r.code, 0, r.stderr);
    assertNoStack(r.stderr);
    assertNoRawControls(r.stdout);
    assertNoRawControls(r.stderr);
    const shown = '\\x1B]0;pwned\\x07\\x1B[2J\\x1B[31m\\x9B1m\\u202Eevil';
    assert.ok(r.stdout.includes(`Mozilla/5.0 ${shown}`), 'the evidence line shows the sequence');
    assert.ok(r.stdout.includes(`${file}:${logged.length + 1}: `), 'the junk line is sampled');
    assert.match(r.stderr, /\\x9B1m\\u202Eevil/, 'the note on stderr shows it too');
  });
});
