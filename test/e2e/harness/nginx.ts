/*
 * Starts a real nginx (Debian's binary) on loopback for the e2e harness: generated nginx.conf with the
 * caller's log_formats verbatim, an escape=json cross-check log of every variable used, WebSocket
 * proxying to the app, an optional second tier, and a clean stop. Owns nginx config and process only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../helpers/ports.js';
import { programPath } from '../../helpers/requirements.js';

export type Tier = 'front' | 'back';

/** A proxied location with its own timeouts (seconds, fractions allowed). */
export interface ProxyLocation {
  /** nginx prefix location, e.g. '/ws/slow/'. Requests are proxied to the app with the URI unchanged. */
  path: string;
  proxyReadTimeout?: number;
  proxySendTimeout?: number;
}

export interface NginxOptions {
  appPort: number;
  appHost?: string;
  /**
   * Raw `log_format name [escape=…] '…';` texts, passed to nginx verbatim (a missing `;` is added),
   * or the bare name of a built-in format ('combined').
   */
  formats?: string[];
  /** 2 = front nginx → back nginx → app (both log with the same formats). Default 1. */
  tiers?: 1 | 2;
  /** Seconds for /ws/, /dead/, /retry/ and the catch-all (default 2). */
  proxyReadTimeout?: number;
  proxySendTimeout?: number;
  /** Extra locations with their own timeouts (e.g. a WS path where nginx outlasts the LB). */
  locations?: ProxyLocation[];
  /**
   * Write each of `formats` to conf/log_formats/NAME.conf (after a comment line) and pull them in
   * with `include log_formats/*.conf;`, as distribution configs split nginx.conf, instead of inline.
   */
  formatsInclude?: boolean;
  /** Extra text inside http {} (e.g. `map` blocks defining $proxy_upstream_name). */
  httpConfig?: string;
  /** Extra text inside every server {} block. */
  serverConfig?: string;
  /** Directory to use as nginx prefix; default a fresh mkdtemp under os.tmpdir(). */
  prefix?: string;
  /** nginx binary; default $NGINX_BIN, then `nginx` on PATH or its sibling sbin directories. */
  nginxBin?: string;
  /** Milliseconds to wait for nginx to accept connections (default 5000). */
  startTimeoutMs?: number;
}

export interface Nginx {
  /** Port clients (or the LB) connect to: the front tier when tiers = 2. */
  port: number;
  /** Port of the back tier (tiers = 2 only). */
  backPort: number | undefined;
  prefix: string;
  confPath: string;
  errorLogPath: string;
  /** Names of the caller's formats, in order. */
  formatNames: string[];
  /** Variables logged by the cross-check log (keys of each JSON object). */
  crossCheckVars: string[];
  /** Port nothing listens on (/dead/ proxies there). */
  deadPort: number;
  logPath(name: string, tier?: Tier): string;
  /** Path of the escape=json cross-check log of a tier. */
  jsonLogPath(tier?: Tier): string;
  readErrorLog(): string;
  /** SIGQUIT, wait up to graceMs (default 2000), then SIGKILL the process group. */
  stop(graceMs?: number): Promise<void>;
}

/** Formats nginx defines itself; pass the bare name in `formats` to log with them (no log_format line). */
export const BUILTIN_FORMATS: Readonly<Record<string, string>> = {
  combined: `log_format combined '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';`,
};

/** Name of the cross-check log_format and file (logs/<tier>/xcheck.log or logs/xcheck.log). */
export const CROSS_CHECK_NAME = 'xcheck';
const CROSS_CHECK_FORMAT = 'wsdiag_xcheck';
/** Directory under conf/ for NginxOptions.formatsInclude. */
const FORMATS_DIR = 'log_formats';

/** Variables the cross-check log always holds, besides those used by the caller's formats. */
export const BASE_VARS: readonly string[] = [
  'remote_addr', 'remote_user', 'time_local', 'time_iso8601', 'msec', 'request', 'request_method',
  'request_uri', 'server_protocol', 'status', 'body_bytes_sent', 'bytes_sent', 'request_time',
  'request_length', 'http_referer', 'http_user_agent', 'http_upgrade', 'http_connection',
  'http_sec_websocket_key', 'upstream_addr', 'upstream_status', 'upstream_response_time',
  'upstream_connect_time', 'upstream_header_time', 'server_addr', 'connection',
  // harness extras: the driver tags every request with X-Test-Id; connection_requests helps joins.
  'http_x_test_id', 'http_x_forwarded_for', 'connection_requests',
];

/** `log_format NAME …` → NAME. */
export function formatName(text: string): string {
  if (BUILTIN_FORMATS[text.trim()] !== undefined) return text.trim();
  const m = /^\s*log_format\s+([^\s;'"]+)/.exec(text);
  if (!m?.[1]) throw new Error(`not a log_format directive: ${text.slice(0, 80)}`);
  return m[1];
}

/** Variable names used in a log_format text (`$name` / `${name}`), in order of first use. */
export function formatVariables(text: string): string[] {
  const body = (BUILTIN_FORMATS[text.trim()] ?? text).replace(/^\s*log_format\s+\S+/, '');
  const out: string[] = [];
  for (const m of body.matchAll(/\$\{?([A-Za-z0-9_]+)/g)) {
    const v = m[1];
    if (v !== undefined && !out.includes(v)) out.push(v);
  }
  return out;
}

/** The nginx binary: `explicit`, else where test/helpers/requirements.ts finds it (throws when missing). */
export function findNginx(explicit?: string): string {
  return explicit || programPath('nginx');
}

/** Version string of an nginx binary, e.g. "1.22.1". */
export async function nginxVersion(bin = findNginx()): Promise<string> {
  const child = spawn(bin, ['-v'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise((r) => child.on('close', r));
  return /nginx\/(\S+)/.exec(err)?.[1] ?? err.trim();
}

function ms(seconds: number): string {
  return `${Math.round(seconds * 1000)}ms`;
}

interface ConfParts {
  prefix: string;
  opts: NginxOptions;
  port: number;
  backPort: number | undefined;
  deadPort: number;
  names: string[];
  vars: string[];
}

function renderConf(p: ConfParts): string {
  const { opts, prefix } = p;
  const appHost = opts.appHost ?? '127.0.0.1';
  const app = `${appHost}:${opts.appPort}`;
  const read = opts.proxyReadTimeout ?? 2;
  const send = opts.proxySendTimeout ?? read;
  const two = opts.tiers === 2;
  const logDir = path.join(prefix, 'logs');

  const formats = (opts.formats ?? [])
    .filter((f) => BUILTIN_FORMATS[f.trim()] === undefined)
    .map((f) => (f.trim().endsWith(';') ? f.trim() : f.trim() + ';'));
  const json = '{' + p.vars.map((v) => `"${v}":"\${${v}}"`).join(',') + '}';

  const accessLogs = (tier: Tier | undefined): string => {
    const dir = tier ? path.join(logDir, tier) : logDir;
    const lines = p.names.map((n) => `    access_log ${path.join(dir, n + '.log')} ${n};`);
    lines.push(`    access_log ${path.join(dir, CROSS_CHECK_NAME + '.log')} ${CROSS_CHECK_FORMAT};`);
    return lines.join('\n');
  };
  const proxyCommon = (readS: number, sendS: number, extra = ''): string =>
    [
      '      proxy_http_version 1.1;',
      '      proxy_set_header Upgrade $http_upgrade;',
      '      proxy_set_header Connection $connection_upgrade;',
      '      proxy_set_header Host $host;',
      '      proxy_set_header X-Test-Id $http_x_test_id;',
      extra,
      `      proxy_read_timeout ${ms(readS)};`,
      `      proxy_send_timeout ${ms(sendS)};`,
    ]
      .filter(Boolean)
      .join('\n');

  // Locations of the tier that talks to the app.
  const appLocations = (): string => {
    const locs: string[] = [];
    const loc = (where: string, target: string, readS: number, sendS: number): void => {
      locs.push(`    location ${where} {\n      proxy_pass ${target};\n${proxyCommon(readS, sendS)}\n    }`);
    };
    loc('/ws/', `http://${app}`, read, send);
    for (const l of opts.locations ?? []) loc(l.path, `http://${app}`, l.proxyReadTimeout ?? read, l.proxySendTimeout ?? send);
    loc('/api/', `http://${app}`, read, send);
    loc('/static/', `http://${app}`, read, send);
    loc('/missing', `http://${app}`, read, send);
    // Nothing listens on deadPort: connect() is refused → 502.
    loc('/dead/', `http://127.0.0.1:${p.deadPort}`, read, send);
    // Dead primary, app as backup: every request logs two attempts (`502, 101`, `a:1, b:2`).
    // The trailing slash strips /retry, so /retry/ws/x reaches the app as /ws/x.
    loc('/retry/', 'http://wsdiag_retry/', read, send);
    loc('/', `http://${app}`, read, send);
    return locs.join('\n');
  };
  const frontLocations = (): string => {
    const back = `http://127.0.0.1:${p.backPort}`;
    const xff = '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;';
    const locs: string[] = [];
    const loc = (where: string, readS: number, sendS: number): void => {
      locs.push(`    location ${where} {\n      proxy_pass ${back};\n${proxyCommon(readS, sendS, xff)}\n    }`);
    };
    for (const l of opts.locations ?? []) loc(l.path, l.proxyReadTimeout ?? read, l.proxySendTimeout ?? send);
    loc('/', read, send);
    return locs.join('\n');
  };

  const server = (port: number, tier: Tier | undefined, locations: string): string => `
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
${accessLogs(tier)}
${opts.serverConfig ?? ''}
${locations}
  }`;

  const tmp = (n: string): string => path.join(prefix, 'tmp', n);
  return `# generated by test/e2e/harness/nginx.ts
daemon off;
master_process on;
worker_processes 1;
user root;
pid ${path.join(prefix, 'nginx.pid')};
lock_file ${path.join(prefix, 'nginx.lock')};
error_log ${path.join(logDir, 'error.log')} info;

events {
  worker_connections 1024;
}

http {
  client_body_temp_path ${tmp('client_body')};
  proxy_temp_path ${tmp('proxy')};
  fastcgi_temp_path ${tmp('fastcgi')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  default_type text/plain;
  keepalive_timeout 5s;

  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }

  upstream wsdiag_retry {
    server 127.0.0.1:${p.deadPort} max_fails=0;
    server ${app} backup;
  }

${opts.formatsInclude ? `  # the caller's log formats, one file each\n  include ${FORMATS_DIR}/*.conf;` : formats.map((f) => '  ' + f).join('\n')}
  log_format ${CROSS_CHECK_FORMAT} escape=json '${json}';
${opts.httpConfig ?? ''}
${two ? server(p.port, 'front', frontLocations()) + server(p.backPort as number, 'back', appLocations()) : server(p.port, undefined, appLocations())}
}
`;
}

/** conf/log_formats/NAME.conf per caller format, for NginxOptions.formatsInclude. */
function writeFormatIncludes(confDir: string, formats: readonly string[]): void {
  mkdirSync(path.join(confDir, FORMATS_DIR), { recursive: true });
  for (const f of formats) {
    if (BUILTIN_FORMATS[f.trim()] !== undefined) continue;
    const text = f.trim().endsWith(';') ? f.trim() : f.trim() + ';';
    writeFileSync(path.join(confDir, FORMATS_DIR, `${formatName(f)}.conf`), `# log_format ${formatName(f)} (written by the e2e harness)\n${text}\n`);
  }
}

async function waitForPort(port: number, child: ChildProcess, deadline: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not accept connections on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  const bin = findNginx(opts.nginxBin);
  const prefix = opts.prefix ?? (await mkdtemp(path.join(os.tmpdir(), 'wsdiag-nginx-')));
  const two = opts.tiers === 2;
  for (const d of ['logs', 'tmp', 'conf', ...(two ? ['logs/front', 'logs/back'] : [])]) {
    mkdirSync(path.join(prefix, d), { recursive: true });
  }
  const names = (opts.formats ?? []).map(formatName);
  if (names.includes(CROSS_CHECK_FORMAT)) throw new Error(`format name ${CROSS_CHECK_FORMAT} is reserved`);
  const vars = [...BASE_VARS];
  for (const f of opts.formats ?? []) for (const v of formatVariables(f)) if (!vars.includes(v)) vars.push(v);

  const [port, deadPort, back] = (await freePorts(two ? 3 : 2)) as [number, number, number?];
  const backPort = two ? back : undefined;
  const confPath = path.join(prefix, 'conf', 'nginx.conf');
  const errorLogPath = path.join(prefix, 'logs', 'error.log');
  if (opts.formatsInclude) writeFormatIncludes(path.dirname(confPath), opts.formats ?? []);
  writeFileSync(confPath, renderConf({ prefix, opts, port, backPort, deadPort, names, vars }));

  // detached: nginx gets its own process group, so a last-resort SIGKILL to -pid takes the workers too.
  const child = spawn(bin, ['-p', prefix + '/', '-c', confPath, '-e', errorLogPath], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  const killGroup = (): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', killGroup);

  const readErrorLog = (): string => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');
  try {
    await waitForPort(port, child, Date.now() + (opts.startTimeoutMs ?? 5000));
    if (backPort !== undefined) await waitForPort(backPort, child, Date.now() + (opts.startTimeoutMs ?? 5000));
  } catch (e) {
    killGroup();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 1000).unref())]);
    process.off('exit', killGroup);
    throw new Error(
      `${(e as Error).message}\n--- nginx output ---\n${output}\n--- error log ${errorLogPath} ---\n${readErrorLog()}\n--- conf ${confPath} ---\n${readFileSync(confPath, 'utf8')}`,
    );
  }

  let stopping: Promise<void> | undefined;
  const logPath = (name: string, tier: Tier = 'front'): string => {
    if (!two && tier === 'back') throw new Error('no back tier (tiers: 1)');
    return two ? path.join(prefix, 'logs', tier, name + '.log') : path.join(prefix, 'logs', name + '.log');
  };
  return {
    port,
    backPort,
    prefix,
    confPath,
    errorLogPath,
    formatNames: names,
    crossCheckVars: vars,
    deadPort,
    logPath,
    jsonLogPath: (tier: Tier = 'front') => logPath(CROSS_CHECK_NAME, tier),
    readErrorLog,
    stop(graceMs = 2000): Promise<void> {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null && pid !== undefined) {
          try {
            process.kill(pid, 'SIGQUIT'); // graceful: finish open requests, then exit
          } catch {
            /* gone */
          }
          let t: NodeJS.Timeout | undefined;
          const timer = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), graceMs)));
          const first = await Promise.race([exited.then(() => 'exited' as const), timer]);
          clearTimeout(t);
          if (first === 'timeout') {
            killGroup(); // master and workers
            await exited;
          }
        }
        // The master exits only after its workers, so nothing of the group is left here.
        process.off('exit', killGroup);
      })();
      return stopping;
    },
  };
}
