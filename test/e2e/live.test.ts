/*!
 * Live mode against a real nginx (see: issue "Live: watch the log while the incident happens"):
 * wsdiag --follow reads nginx's access log while traffic goes through the LB simulator. A downgrade
 * that starts mid-run is announced within --interval + T and closed once it stops; rotation by
 * rename + USR1 and copytruncate lose no line and count none twice (lines counted = lines nginx
 * wrote); SIGTERM ends with the report over everything read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import type { LiveEvent, Report } from '../../src/index.js';
import { CLI, ENV } from '../helpers/cli.js';
import { requireProgram } from '../helpers/requirements.js';
import { countLines, performAction, startApp, startLb, startNginx, waitForLines, type Action, type App, type Lb, type Nginx } from './harness/index.js';

const FORMAT = `log_format live '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status $msec';`;
/** The LB node's timeout: downgraded handshakes hang until it (T). */
const T_MS = 1500;
const INTERVAL_S = 0.5;

describe('live: wsdiag --follow on a real nginx log, through an incident and two rotations', { skip: requireProgram('nginx') }, () => {
  let app: App;
  let nginx: Nginx;
  let lb: Lb;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsdiag-live-e2e-'));
    app = await startApp();
    nginx = await startNginx({ appPort: app.port, formats: [FORMAT], prefix: dir, proxyReadTimeout: 5 });
    lb = await startLb({ targetPort: nginx.port, nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: T_MS }] });
  });
  after(async () => {
    await lb?.close();
    await nginx?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('announced within interval + T, closed after, no line lost or counted twice across rotations, report on SIGTERM', async () => {
    const log = nginx.logPath('live');
    const child = spawn(process.execPath, [CLI, '--follow', '--interval', String(INTERVAL_S), '--window', '3s', '--output', 'jsonl', log], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const done = new Promise<number | null>((resolve) => child.once('close', resolve));
    const events = (): (LiveEvent & { final?: boolean })[] => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LiveEvent);
    const readSoFar = (): number => {
      const last = events().filter((e) => e.type === 'snapshot').at(-1)?.report;
      return last === undefined ? 0 : last.meta.inputs.reduce((n, i) => n + i.lines, 0);
    };
    const until = async (cond: () => boolean, ms: number, what: string): Promise<number> => {
      const t0 = Date.now();
      while (!cond() && Date.now() - t0 < ms) await sleep(25);
      assert.ok(cond(), `${what}: not within ${ms} ms; stderr: ${err}`);
      return Date.now();
    };
    try {
      await until(() => events().some((e) => e.type === 'snapshot'), 10_000, 'wsdiag started');
      let written = 0;
      /** n healthy sessions; waits until `file` holds `linesAfter` lines (default: the live log, all written so far). */
      const healthy = async (n: number, file = log, linesAfter?: number): Promise<void> => {
        const a: Action = { kind: 'ws-session', holdMs: 50, messages: 1 };
        await Promise.all(Array.from({ length: n }, () => performAction({ host: lb.nodes[0]!.addr, port: lb.nodes[0]!.port }, a)));
        written += n;
        await waitForLines(file, linesAfter ?? written, 5000);
      };
      await healthy(4);
      assert.ok(!events().some((e) => e.type === 'incident-opened'), 'healthy traffic opens no incident');

      // The downgrade starts: handshakes through the HTTP/1.0 node hang until its timeout T.
      const started = Date.now();
      const down: Action = { kind: 'ws-session', holdMs: 50 };
      await Promise.all(Array.from({ length: 5 }, () => performAction({ host: lb.nodes[1]!.addr, port: lb.nodes[1]!.port }, down)));
      written += 5;
      const opened = await until(() => events().some((e) => e.type === 'incident-opened' && e.finding?.id === 'downgraded-handshake'), 10_000, 'the downgrade is announced');
      assert.ok(opened - started <= T_MS + INTERVAL_S * 1000 + 1500, `announced ${opened - started} ms after the first downgraded handshake (T ${T_MS} ms, interval ${INTERVAL_S * 1000} ms)`);

      // Rotation as logrotate does it by default: rename, then nginx reopens its logs on USR1.
      await waitForLines(log, written, 5000);
      renameSync(log, `${log}.1`);
      await healthy(3, `${log}.1`); // nginx writes to the renamed file until it reopens its logs
      process.kill(Number(readFileSync(join(dir, 'nginx.pid'), 'utf8')), 'SIGUSR1');
      await sleep(300);
      await healthy(3, log, 3);
      // copytruncate: copied away, then emptied in place while nginx keeps writing. (Lines written
      // between the copy and the truncate are lost to any reader, logrotate warns; here the copy
      // is taken once wsdiag has read what the file holds, as a follower that keeps up has.)
      await until(() => readSoFar() >= written, 5000, 'wsdiag has read every line so far');
      copyFileSync(log, `${log}.2`);
      truncateSync(log, 0);
      await healthy(4, log, 4);
      await until(() => events().some((e) => e.type === 'incident-closed' && e.finding?.id === 'downgraded-handshake'), 10_000, 'the incident closes once the downgrade stopped');

      // Every line nginx wrote is in exactly one of the renamed file, the copy and the live file.
      const onDisk = countLines(`${log}.1`) + countLines(`${log}.2`) + countLines(log);
      assert.equal(onDisk, written, `on disk: ${countLines(`${log}.1`)} + ${countLines(`${log}.2`)} + ${countLines(log)}`);
      await sleep(INTERVAL_S * 1000 * 2);
      child.kill('SIGTERM');
      assert.equal(await done, 0, err);
      const final = events().at(-1);
      assert.equal(final?.final, true, 'the last event is the report over everything read');
      const report = final?.report as Report;
      assert.equal(report.lines.total, written, `every line nginx wrote, once (files: ${onDisk} lines)`);
      assert.equal(report.lines.unparsed, 0);
      assert.equal(report.findings.find((f) => f.id === 'downgraded-handshake')?.count, 5);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
