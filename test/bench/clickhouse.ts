/*!
 * The fleet part of `npm run bench -- --clickhouse`: generates (or reuses) N seeded incident-format
 * lines, starts a local clickhouse-server (test/helpers/clickhouse.ts), times `wsdiag ingest` (rows/s)
 * and `wsdiag --clickhouse` (report time, bytes over the wire), and checks the report counted what
 * the generator wrote. Owns no wsdiag logic; run.ts calls it and prints what it returns.
 */
import { spawn } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startClickHouse } from '../helpers/clickhouse.js';
import { GENERATOR_VERSION, generateLog, type GenerateStats } from './generate.js';

export interface ClickHouseBenchOptions {
  lines: number;
  seed: number;
  dataDir: string;
  cli: string;
  log: (message: string) => void;
}

interface Ran {
  seconds: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(cli: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ seconds: (performance.now() - t0) / 1000, code, stdout, stderr }));
  });
}

const WIRE = /ClickHouse: (\d+) queries, ([\d,]+) bytes sent, ([\d,]+) bytes received/;
const n = (s: string | undefined): number => Number((s ?? '').replace(/,/g, ''));

/** Lines for run.ts to print (a text table and the same as Markdown); failures are returned, not thrown. */
export async function benchClickHouse(o: ClickHouseBenchOptions): Promise<{ lines: string[]; failures: string[] }> {
  const file = join(o.dataDir, `incident-${o.lines}-s${o.seed}-g${GENERATOR_VERSION}.clickhouse.log`);
  let stats: GenerateStats | null = null;
  if (!existsSync(file)) {
    o.log(`generating ${o.lines} incident lines for the ClickHouse bench → ${file}`);
    stats = await generateLog({ lines: o.lines, format: 'incident', seed: o.seed, out: `${file}.partial` });
    renameSync(`${file}.partial`, file);
  }
  const failures: string[] = [];
  const [server] = await startClickHouse();
  if (server === undefined) return { lines: [], failures: ['no clickhouse-server started'] };
  try {
    o.log(`ingesting ${o.lines} lines into ${server.url} (default.bench)`);
    const ing = await runCli(o.cli, ['ingest', '--clickhouse', server.url, '--table', 'default.bench', '--create', '--preset', 'upstream-ws', '--host', 'bench', file]);
    if (ing.code !== 0) failures.push(`wsdiag ingest exited ${ing.code}: ${ing.stderr.trim().slice(-500)}`);
    const ingWire = WIRE.exec(ing.stderr);
    o.log(`report from ClickHouse`);
    const rep = await runCli(o.cli, ['--clickhouse', server.url, '--table', 'default.bench', '--output', 'json']);
    if (rep.code !== 0 && rep.code !== 1) failures.push(`wsdiag --clickhouse exited ${rep.code}: ${rep.stderr.trim().slice(-500)}`);
    const wire = WIRE.exec(rep.stderr);
    const disk = await fetch(`${server.url}/`, { method: 'POST', body: "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'default' AND table = 'bench' AND active" })
      .then((r) => r.text()).catch(() => '?');
    let handshakes = NaN;
    try {
      handshakes = (JSON.parse(rep.stdout) as { handshakes: { total: number } }).handshakes.total;
    } catch {
      failures.push('wsdiag --clickhouse printed no JSON report');
    }
    if (stats !== null && handshakes !== stats.handshakes) failures.push(`the ClickHouse report counted ${handshakes} handshakes, the generator wrote ${stats.handshakes}`);
    const header = ['step', 'lines', 'seconds', 'rows/s', 'bytes sent', 'bytes received'];
    const rows = [
      ['wsdiag ingest', o.lines.toLocaleString('en-US'), ing.seconds.toFixed(1), Math.round(o.lines / ing.seconds).toLocaleString('en-US'), ingWire?.[2] ?? '?', ingWire?.[3] ?? '?'],
      ['wsdiag --clickhouse', o.lines.toLocaleString('en-US'), rep.seconds.toFixed(1), '–', wire?.[2] ?? '?', wire?.[3] ?? '?'],
    ];
    const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (r: string[]): string => r.map((c, i) => c.padEnd(width[i] ?? 0)).join('  ');
    return {
      lines: [
        `ClickHouse (clickhouse-server on loopback, one server; table ${Number(disk) > 0 ? `${(Number(disk) / 1e6).toFixed(1)} MB on disk` : 'size unknown'}; ${n(wire?.[1])} report queries):`,
        line(header), ...rows.map(line), '',
        `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), '',
      ],
      failures,
    };
  } finally {
    await server.stop();
  }
}
