// The missing-program policy of the test suites (test/helpers/requirements.ts) and npm test's
// install step (test/setup/system-packages.ts), with nginx, chromium, clickhouse and apt-get made absent or
// fake by pointing PATH at temporary directories: nothing is uninstalled or installed. See: issue 12.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findProgram, installCommand, installer, missingReason, requireProgram, searchDirs } from './helpers/requirements.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-requirements-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
/** A fresh directory holding the given executables (name → script text). */
function binDir(files: Record<string, string> = {}, name = 'bin'): string {
  const dir = join(tmp, String(dirs++), name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text, { mode: 0o755 });
  return dir;
}

const NOOP = '#!/bin/sh\nexit 0\n';
/** A node script (these fakes run with PATH pointing nowhere, so no /usr/bin tools). */
const script = (body: string): string => `#!${process.execPath}\n${body}\n`;
/** apt-get that logs its arguments and, for `install`, puts a stand-in of each package beside itself. */
const FAKE_APT = script(`
const fs = require('node:fs'), path = require('node:path');
const args = process.argv.slice(2);
fs.appendFileSync(path.join(__dirname, 'apt.log'), args.join(' ') + '\\n');
if (args[0] === 'install') for (const p of args.filter((a) => !a.startsWith('-')).slice(1)) fs.writeFileSync(path.join(__dirname, p), ${JSON.stringify(NOOP)}, { mode: 0o755 });`);
/** sudo without a password: `sudo -n [VAR=value…] command args` (`true` is no file here). */
const FAKE_SUDO = script(`
const args = process.argv.slice(2).filter((a) => a !== '-n');
if (args[0] === 'true') process.exit(0);
while (args[0] && /^[A-Z_]+=/.test(args[0])) { const [k, v] = args.shift().split('='); process.env[k] = v; }
process.exit(require('node:child_process').spawnSync(args[0], args.slice(1), { stdio: 'inherit' }).status ?? 1);`);

test('a program is found on PATH, in the sbin beside a PATH bin directory, or at its *_BIN variable', () => {
  const onPath = binDir({ nginx: NOOP });
  assert.equal(findProgram('nginx', { PATH: onPath }), join(onPath, 'nginx'));
  const bin = binDir();
  const sbin = join(bin, '..', 'sbin');
  mkdirSync(sbin);
  writeFileSync(join(sbin, 'nginx'), NOOP, { mode: 0o755 });
  assert.deepEqual(searchDirs({ PATH: bin }), [bin, sbin]);
  assert.equal(findProgram('nginx', { PATH: bin }), join(sbin, 'nginx'));
  assert.equal(findProgram('chromium', { PATH: binDir({ 'chromium-browser': NOOP }) })?.endsWith('/chromium-browser'), true);
  assert.equal(findProgram('nginx', { PATH: onPath, NGINX_BIN: join(tmp, 'nowhere') }), undefined, 'an explicit NGINX_BIN is the only place looked at');
  writeFileSync(join(onPath, 'not-executable'), NOOP, { mode: 0o644 });
  assert.equal(findProgram('nginx', { PATH: onPath, NGINX_BIN: join(onPath, 'not-executable') }), undefined);
});

test('a missing program skips the suite with one line naming it and its install command; on CI it throws', () => {
  const empty = { PATH: binDir() };
  assert.equal(requireProgram('nginx', { PATH: binDir({ nginx: NOOP }) }), false);
  const reason = requireProgram('nginx', empty);
  assert.equal(reason, "nginx is not installed; install it with: apt-get install -y nginx (Debian/Ubuntu; elsewhere your system's package)");
  assert.match(requireProgram('chromium', empty) || '', /^chromium is not installed; install it with: apt-get install -y chromium /);
  assert.equal(requireProgram('nginx', { ...empty, CI: 'false' }), reason, 'CI=false is not CI');
  for (const CI of ['true', '1']) assert.throws(() => requireProgram('nginx', { ...empty, CI }), /^Error: nginx is not installed; .*CI must run every suite/);
  assert.equal(missingReason('nginx', { ...empty, NGINX_BIN: '/nowhere/nginx' }), 'nginx not found: NGINX_BIN=/nowhere/nginx is not an executable file');
});

test('installable through apt-get as root or with passwordless sudo; not without apt-get, with a password, or when disabled', () => {
  const apt = binDir({ 'apt-get': NOOP });
  const aptBin = join(apt, 'apt-get');
  assert.deepEqual(installer({ PATH: binDir() }, 0), { why: 'no apt-get on PATH' });
  assert.deepEqual(installer({ PATH: apt }, 0), { apt: aptBin, asRoot: [] });
  assert.deepEqual(installer({ PATH: apt, WSDIAG_NO_INSTALL: '1' }, 0), { why: 'WSDIAG_NO_INSTALL is set' });
  assert.deepEqual(installer({ PATH: apt }, 1000), { why: 'not root, and sudo needs a password' });
  const sudo = binDir({ 'apt-get': NOOP, sudo: FAKE_SUDO });
  assert.deepEqual(installer({ PATH: sudo }, 1000), { apt: join(sudo, 'apt-get'), asRoot: [join(sudo, 'sudo'), '-n', 'DEBIAN_FRONTEND=noninteractive'] });
  const askingSudo = binDir({ 'apt-get': NOOP, sudo: '#!/bin/sh\nexit 1\n' });
  assert.deepEqual(installer({ PATH: askingSudo }, 1000), { why: 'not root, and sudo needs a password' });
  assert.equal(installCommand(['nginx'], { PATH: apt }, 0), 'apt-get install -y nginx');
  assert.equal(installCommand(['nginx'], { PATH: apt }, 1000), 'sudo apt-get install -y nginx');
});

/** Runs npm test's install step with this environment. */
function setup(env: NodeJS.ProcessEnv): { code: number | null; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/setup/system-packages.ts'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

test('install step: missing programs are apt-installed in one line (as root, or through sudo), then found', () => {
  const dir = binDir({ 'apt-get': FAKE_APT, sudo: FAKE_SUDO });
  const r = setup({ PATH: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'test setup: installing nginx, chromium, clickhouse-server with apt-get (the test suites run them)\n');
  assert.equal(readFileSync(join(dir, 'apt.log'), 'utf8'), 'update -qq\ninstall -y -qq --no-install-recommends nginx chromium clickhouse-server\n');
  assert.equal(findProgram('nginx', { PATH: dir }), join(dir, 'nginx'));
  const again = setup({ PATH: dir });
  assert.deepEqual([again.code, again.stderr], [0, ''], 'nothing to do, nothing said');
});

test('install step: where it cannot install, one line per missing program, exit 0; on CI exit 1', () => {
  const r = setup({ PATH: binDir() });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [
    "test setup: nginx is not installed; install it with: apt-get install -y nginx (Debian/Ubuntu; elsewhere your system's package) (not installed automatically: no apt-get on PATH); the suites that need it are skipped",
    "test setup: chromium is not installed; install it with: apt-get install -y chromium (Debian/Ubuntu; elsewhere your system's package) (not installed automatically: no apt-get on PATH); the suites that need it are skipped",
    "test setup: clickhouse is not installed; install it with: apt-get install -y clickhouse-server (Debian/Ubuntu; elsewhere your system's package) (not installed automatically: no apt-get on PATH); the suites that need it are skipped",
  ]);
  const disabled = binDir({ 'apt-get': FAKE_APT, nginx: NOOP });
  const off = setup({ PATH: disabled, WSDIAG_NO_INSTALL: '1' });
  assert.equal(off.code, 0);
  assert.match(off.stderr, /^test setup: chromium is not installed; .*\(not installed automatically: WSDIAG_NO_INSTALL is set\)/);
  assert.doesNotMatch(off.stderr, /nginx/);
  assert.throws(() => readFileSync(join(disabled, 'apt.log')), /ENOENT/, 'apt-get was not run');
  const ci = setup({ PATH: binDir(), CI: 'true' });
  assert.equal(ci.code, 1);
  assert.match(ci.stderr, /nginx is not installed; .*CI must run every suite/);
});

/** npm test's own runner command (package.json scripts.test) on these files instead of the globs. */
function runSuites(files: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; ms: number } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { test: string } };
  const [node, ...args] = pkg.scripts.test.split(' ').filter((a) => !a.includes('*'));
  assert.equal(node, 'node');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...args, ...files], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, ms: Date.now() - t0 };
}

test('an e2e file and the browser test without nginx and chromium: skipped at once, exit 0, a summary at the end', (t) => {
  const env = { PATH: binDir(), TZ: 'UTC' };
  const r = runSuites(['test/e2e/formats.test.ts', 'test/html-browser.test.ts'], env);
  assert.equal(r.code, 0, r.stdout);
  assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
  t.diagnostic(`simulated absent: the two files ran in ${r.ms} ms`);
  const nginx = "nginx is not installed; install it with: apt-get install -y nginx (Debian/Ubuntu; elsewhere your system's package)";
  const chromium = "chromium is not installed; install it with: apt-get install -y chromium (Debian/Ubuntu; elsewhere your system's package)";
  const suiteLine = r.stdout.split('\n').find((l) => l.startsWith('﹣ wsdiag formats against real nginx'));
  assert.ok(suiteLine?.endsWith(`ms) # ${nginx}`), `the suite's one line: ${suiteLine}`);
  assert.ok(r.stdout.trimEnd().endsWith(['skipped:', `  1 × ${nginx} — test/e2e/formats.test.ts`, `  1 × ${chromium} — test/html-browser.test.ts`].join('\n')), r.stdout);
  const ci = runSuites(['test/e2e/formats.test.ts'], { ...env, CI: '1' });
  assert.notEqual(ci.code, 0);
  assert.ok(ci.ms < 30_000, `took ${ci.ms} ms`);
  assert.match(ci.stdout, /nginx is not installed; .*CI must run every suite/);
});
