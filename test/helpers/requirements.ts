/*
 * The system programs the test suites need (nginx, chromium): where each is, whether this user can
 * apt-install it, and what a suite does when it is missing (skip with one line naming the program
 * and the install command; on CI, fail). The one place that decides; test/setup/ installs through it.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

type Env = NodeJS.ProcessEnv;

interface ProgramSpec {
  /** The Debian package that provides it. */
  readonly package: string;
  /** Command names tried in this order. */
  readonly commands: readonly string[];
  /** An environment variable naming the binary; when set it is the only place looked at. */
  readonly envVar: string;
}

export const PROGRAMS = {
  nginx: { package: 'nginx', commands: ['nginx'], envVar: 'NGINX_BIN' },
  chromium: { package: 'chromium', commands: ['chromium', 'chromium-browser', 'google-chrome'], envVar: 'CHROMIUM_BIN' },
  clickhouse: { package: 'clickhouse-server', commands: ['clickhouse-server'], envVar: 'CLICKHOUSE_SERVER_BIN' },
} as const satisfies Record<string, ProgramSpec>;

export type ProgramName = keyof typeof PROGRAMS;
export const PROGRAM_NAMES = Object.keys(PROGRAMS) as ProgramName[];

/** Set (to anything but `0`) to never install system packages, even as root. */
export const NO_INSTALL_VAR = 'WSDIAG_NO_INSTALL';

function flag(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/** CI=true / CI=1 (any value but empty, 0 or false): there every suite must run. */
export function onCI(env: Env = process.env): boolean {
  return flag(env['CI']);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * PATH, each `…/bin` followed by its sibling `…/sbin`: Debian puts nginx in /usr/sbin, which a
 * non-root user's PATH leaves out. Pointing PATH elsewhere therefore hides every program.
 */
export function searchDirs(env: Env = process.env): string[] {
  const dirs: string[] = [];
  for (const d of (env['PATH'] ?? '').split(path.delimiter)) {
    if (d === '') continue;
    dirs.push(d);
    if (path.basename(d) === 'bin') dirs.push(path.join(path.dirname(d), 'sbin'));
  }
  return [...new Set(dirs)];
}

/** The absolute path of a command found in searchDirs(), like `command -v`. */
export function findCommand(command: string, env: Env = process.env): string | undefined {
  for (const d of searchDirs(env)) {
    const p = path.join(d, command);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

/** The binary of a program: its environment variable if set (and executable), else the first command found. */
export function findProgram(name: ProgramName, env: Env = process.env): string | undefined {
  const spec: ProgramSpec = PROGRAMS[name];
  const explicit = env[spec.envVar];
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  for (const c of spec.commands) {
    const p = findCommand(c, env);
    if (p !== undefined) return p;
  }
  return undefined;
}

/**
 * How packages can be installed here: apt-get and the prefix that runs a command as root (empty
 * for root, sudo for others), or why they cannot be.
 */
export type Installer = { apt: string; asRoot: string[]; why?: undefined } | { apt?: undefined; why: string };

/**
 * apt-get as root, or through passwordless sudo; nothing when WSDIAG_NO_INSTALL is set, apt-get is
 * not on PATH, or sudo would ask for a password (tests never wait on a prompt).
 */
export function installer(env: Env = process.env, uid: number = process.getuid?.() ?? -1): Installer {
  if (flag(env[NO_INSTALL_VAR])) return { why: `${NO_INSTALL_VAR} is set` };
  const apt = findCommand('apt-get', env);
  if (apt === undefined) return { why: 'no apt-get on PATH' };
  if (uid === 0) return { apt, asRoot: [] };
  const sudo = findCommand('sudo', env);
  if (sudo !== undefined && spawnSync(sudo, ['-n', 'true'], { env, stdio: 'ignore', timeout: 10_000 }).status === 0) {
    return { apt, asRoot: [sudo, '-n', 'DEBIAN_FRONTEND=noninteractive'] }; // sudo resets the environment
  }
  return { why: 'not root, and sudo needs a password' };
}

/** The command a person would type to install these packages here. */
export function installCommand(packages: readonly string[], env: Env = process.env, uid: number = process.getuid?.() ?? -1): string {
  const apt = `apt-get install -y ${packages.join(' ')}`;
  if (findCommand('apt-get', env) === undefined) return `${apt} (Debian/Ubuntu; elsewhere your system's package)`;
  return uid === 0 ? apt : `sudo ${apt}`;
}

/** One line: which program is missing and how to get it. */
export function missingReason(name: ProgramName, env: Env = process.env, uid?: number): string {
  const spec: ProgramSpec = PROGRAMS[name];
  const explicit = env[spec.envVar];
  if (explicit) return `${name} not found: ${spec.envVar}=${explicit} is not an executable file`;
  return `${name} is not installed; install it with: ${installCommand([spec.package], env, uid)}`;
}

/**
 * For `{ skip }` in a suite that needs a program: false when it is there, else the reason to skip.
 * On CI the absence throws instead, so the suite fails at once rather than being skipped.
 */
export function requireProgram(name: ProgramName, env: Env = process.env): string | false {
  if (findProgram(name, env) !== undefined) return false;
  const reason = missingReason(name, env);
  if (onCI(env)) throw new Error(`${reason} (CI must run every suite; npm test installs it as root)`);
  return reason;
}

/** The binary of a program, for code that runs it; throws the missing-program reason when absent. */
export function programPath(name: ProgramName, env: Env = process.env): string {
  const p = findProgram(name, env);
  if (p === undefined) throw new Error(missingReason(name, env));
  return p;
}
