/*
 * npm test's pretest step: apt-installs the programs the suites need (test/helpers/requirements.ts
 * names them) when they are missing and this user may (root, or passwordless sudo), saying so in one
 * line. Otherwise it says which are missing; their suites skip, except on CI, where this step fails.
 */
import { spawnSync } from 'node:child_process';
import { PROGRAMS, PROGRAM_NAMES, findCommand, findProgram, installer, missingReason, onCI, type ProgramName } from '../helpers/requirements.js';

const env = process.env;
const say = (line: string): void => void process.stderr.write(`test setup: ${line}\n`);

/** Runs a command quietly; on failure shows the end of what it printed. */
function quietly(argv: string[]): void {
  const r = spawnSync(argv[0] as string, argv.slice(1), { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status === 0) return;
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trimEnd().split('\n').slice(-15);
  say(`\`${argv.join(' ')}\` failed (exit ${r.status}):\n${out.map((l) => `  ${l}`).join('\n')}`);
}

const missing = PROGRAM_NAMES.filter((n) => findProgram(n, env) === undefined);
const how = missing.length > 0 ? installer(env) : undefined;
if (how?.apt !== undefined) {
  const packages = missing.map((n: ProgramName) => PROGRAMS[n].package);
  say(`installing ${packages.join(', ')} with apt-get (the test suites run them)`);
  quietly([...how.asRoot, how.apt, 'update', '-qq']); // a fresh image has no package lists; a failed update may still install from cache
  quietly([...how.asRoot, how.apt, 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
  // Debian starts the packaged nginx service; the suites run their own nginx on loopback ports.
  const service = findCommand('service', env);
  if (missing.includes('nginx') && service !== undefined) {
    const stop = [...how.asRoot, service, 'nginx', 'stop'];
    spawnSync(stop[0] as string, stop.slice(1), { env, stdio: 'ignore' });
  }
}

const still = missing.filter((n) => findProgram(n, env) === undefined);
const why = how?.why === undefined ? '' : ` (not installed automatically: ${how.why})`;
for (const n of still) say(`${missingReason(n, env)}${why}; ${onCI(env) ? 'CI must run every suite' : 'the suites that need it are skipped'}`);
if (still.length > 0 && onCI(env)) process.exit(1);
