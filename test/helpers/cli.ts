/*
 * Running the built CLI (dist/cli.js, built by `npm test`) as users do, for the CLI test files:
 * a clean environment, stdout, stderr and the exit code. Owns no assertions about behaviour.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
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
