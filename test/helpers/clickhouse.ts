/*
 * Starts Debian's clickhouse-server on loopback for the fleet tests: its own config, users and data
 * directory in a temp folder, free ports, optionally a `two_shards` cluster over several servers
 * (127.0.0.x), and a clean stop. Owns the server processes only; tests decide what to load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports.js';
import { programPath } from './requirements.js';

export interface ClickHouse {
  host: string;
  httpPort: number;
  tcpPort: number;
  /** http://host:port */
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** A password-protected user every server has, to test authentication failures. */
export const LOCKED_USER = { name: 'locked', password: 'right-password' };

const USERS = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default>
    <${LOCKED_USER.name}><password>${LOCKED_USER.password}</password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></${LOCKED_USER.name}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

function config(dir: string, host: string, http: number, tcp: number, inter: number, shards: { host: string; tcpPort: number }[]): string {
  const cluster = shards.length === 0 ? '' : `<remote_servers><two_shards>${shards.map((s) => `<shard><replica><host>${s.host}</host><port>${s.tcpPort}</port></replica></shard>`).join('')}</two_shards></remote_servers>`;
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/server.err.log</errorlog><console>0</console></logger>
  <http_port>${http}</http_port><tcp_port>${tcp}</tcp_port><interserver_http_port>${inter}</interserver_http_port>
  <interserver_http_host>${host}</interserver_http_host>
  <listen_host>${host}</listen_host>
  <path>${dir}/data/</path><tmp_path>${dir}/tmp/</tmp_path><user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  ${cluster}
</yandex>
`;
}

async function waitReady(url: string, child: ChildProcess, dir: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) break;
    try {
      const r = await fetch(`${url}/ping`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let log = '';
  try {
    log = readFileSync(path.join(dir, 'server.err.log'), 'utf8').slice(-2000);
  } catch {
    // no log written
  }
  throw new Error(`clickhouse-server at ${url} did not start (exit ${child.exitCode}): ${log}`);
}

export interface StartOptions {
  /** Loopback addresses to start one server on each (default ['127.0.0.1']). Every server knows the cluster `two_shards` over all of them. */
  hosts?: string[];
  timeoutMs?: number;
}

/** Starts one server per host; each stops (and its directory goes) with stop(). */
export async function startClickHouse(opts: StartOptions = {}): Promise<ClickHouse[]> {
  const bin = programPath('clickhouse');
  const hosts = opts.hosts ?? ['127.0.0.1'];
  const ports = [];
  for (const host of hosts) {
    const [http, tcp, inter] = (await freePorts(3, host)) as [number, number, number];
    ports.push({ host, http, tcp, inter });
  }
  const shards = hosts.length > 1 ? ports.map((p) => ({ host: p.host, tcpPort: p.tcp })) : [];
  const servers: ClickHouse[] = [];
  try {
    for (const p of ports) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'wsdiag-ch-'));
      for (const d of ['data', 'tmp', 'user_files', 'format_schemas']) mkdirSync(path.join(dir, d));
      writeFileSync(path.join(dir, 'users.xml'), USERS);
      writeFileSync(path.join(dir, 'config.xml'), config(dir, p.host, p.http, p.tcp, p.inter, shards));
      const child = spawn(bin, [`--config-file=${path.join(dir, 'config.xml')}`], { cwd: dir, stdio: 'ignore', detached: true });
      const url = `http://${p.host}:${p.http}`;
      const stop = async (): Promise<void> => {
        if (child.exitCode === null && child.pid !== undefined) {
          const exited = new Promise((r) => child.once('exit', r));
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // gone already
          }
          const timer = setTimeout(() => {
            try {
              process.kill(-(child.pid as number), 'SIGKILL');
            } catch {
              // gone already
            }
          }, 10_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      };
      servers.push({ host: p.host, httpPort: p.http, tcpPort: p.tcp, url, dir, stop });
      await waitReady(url, child, dir, opts.timeoutMs ?? 30_000);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  return servers;
}
