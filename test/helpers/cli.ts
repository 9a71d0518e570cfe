/*
 * Running the built CLI (dist/cli.js, built by `npm test`) as users do, for the CLI test files:
 * a clean environment, stdout, stderr and the exit code; or, for live runs, a process to write to,
 * signal and wait for. Owns no assertions about behaviour.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** Absolute, so tests may run the CLI from another working directory. */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const FIXTURE = 'fixtures/incident/front.log';
export const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', NO_COLOR: '1', TZ: 'UTC' };

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[], input?: string | Buffer, options: SpawnSyncOptions = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: ENV, input, encoding: 'utf8', timeout: 30_000, ...options });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** No stack trace ever reaches the user. */
export function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+\)?\n/);
}

/** A CLI still running: what it wrote so far, its stdin, and its exit. */
export interface LiveRun {
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
  kill: (sig: NodeJS.Signals) => void;
  write: (text: string) => void;
  end: () => void;
}

/** Starts the CLI with a pipe on each of stdin, stdout and stderr. */
export function startCli(args: string[]): LiveRun {
  const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  return {
    stdout: () => out,
    stderr: () => err,
    done: new Promise((resolve) => child.once('close', (code) => resolve(code))),
    kill: (sig) => child.kill(sig),
    write: (text) => child.stdin.write(text),
    end: () => child.stdin.end(),
  };
}

/** Polls `cond` every 50 ms for up to `ms`, then asserts it. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond()) && Date.now() - t0 < ms) await sleep(50);
  assert.ok(await cond(), `${what} (after ${ms} ms)`);
}
