/*!
 * The benchmark behind `npm run bench`: makes (or reuses) seeded incident-format and combined-ws data in bench-data/,
 * then times `wc -l`, two awk one-liners, `zcat` and wsdiag (dist/cli.js: a file, its gzip copy, and the file on
 * standard input) on the incident log, and an awk one-liner and wsdiag on the combined-ws log, with /usr/bin/time,
 * checking every count against the generator's; and measures wsdiag's peak RSS at 1× and 10× the lines, and with
 * two tiers (front and back logs joined by key, two-tier.ts) at 1× and 10×, checking their counts, and live (both
 * logs fed through a pipe, a verdict every second). Prints a text table, ratios and a Markdown table.
 * It owns no parsing logic and is not run by `npm test`; data generation lives in generate.ts.
 */

import { spawn } from 'node:child_process';
import type { IOType } from 'node:child_process';
import {
  closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync,
  rmSync, statSync, writeFileSync,
} from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { benchClickHouse } from './clickhouse.js';
import { GENERATOR_VERSION, LOG_FORMAT_TEXT, generateLog } from './generate.js';
import { TWO_TIER_FORMAT, TWO_TIER_VERSION, generateTwoTier, type TwoTierTruth } from './two-tier.js';
import type { Report } from '../../src/index.js';
import type { GenerateStats, LogFormat } from './generate.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
/** The main data: wc, both incident awks, zcat and every wsdiag row, the memory runs. */
const FORMAT = 'incident';
/** The second data file: `combined` + `"$http_upgrade" $request_time $msec "$http_sec_websocket_key"`, one awk and one wsdiag row. */
const COMBINED = 'combined-ws';

const USAGE = `usage: node --import tsx test/bench/run.ts [options]     (npm run bench -- [options])
  --lines N        lines in the 1× incident and the combined-ws data files (default 2000000, about 0.64 and 0.53 GB)
  --runs R         runs per command, timed (in rounds) and memory rows alike; the median is reported (default 3, minimum 1)
  --seed S         generator seed (default 1)
  --skip-10x       skip the 10× memory run (and building the 10× file)
  --two-tier N     handshakes per tier in the 1× two-tier memory check (default 1300000, about 0.5 GB in all)
  --skip-two-tier  skip the two-tier memory check (front and back logs joined by key, at 1× and 10×)
  --data-dir DIR   where data files are kept and reused (default bench-data/ at the repo root, git-ignored)
  --cli FILE       the wsdiag CLI to time (default dist/cli.js; skipped with a message when missing)
  --clickhouse     also time wsdiag ingest and wsdiag --clickhouse on a local clickhouse-server (slow)
  --clickhouse-lines N  lines the ClickHouse bench ingests (default 10000000)`;

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions {
  twoTier: number;
  skipTwoTier: boolean;
  lines: number;
  runs: number;
  seed: number;
  skip10x: boolean;
  dataDir: string;
  cli: string;
  /** Lines for the ClickHouse bench; 0 skips it. */
  clickhouseLines: number;
}

function parseOptions(argv: string[]): BenchOptions | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        lines: { type: 'string', default: '2000000' },
        runs: { type: 'string', default: '3' },
        seed: { type: 'string', default: '1' },
        'skip-10x': { type: 'boolean', default: false },
        'two-tier': { type: 'string', default: '1300000' },
        'skip-two-tier': { type: 'boolean', default: false },
        'data-dir': { type: 'string', default: join(REPO_ROOT, 'bench-data') },
        cli: { type: 'string', default: join(REPO_ROOT, 'dist', 'cli.js') },
        clickhouse: { type: 'boolean', default: false },
        'clickhouse-lines': { type: 'string', default: '10000000' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return (err as Error).message;
  }
  if (values.help) return '';
  const lines = Number(values.lines.replace(/_/g, ''));
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(lines) || lines < 1) return `--lines must be a positive integer, got "${values.lines}"`;
  if (!Number.isSafeInteger(runs) || runs < 1) return `--runs must be a positive integer, got "${values.runs}"`;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return `--seed must be an integer 0..4294967295, got "${values.seed}"`;
  const twoTier = Number(values['two-tier'].replace(/_/g, ''));
  if (!Number.isSafeInteger(twoTier) || twoTier < 1) return `--two-tier must be a positive integer, got "${values['two-tier']}"`;
  const clickhouseLines = Number(values['clickhouse-lines'].replace(/_/g, ''));
  if (!Number.isSafeInteger(clickhouseLines) || clickhouseLines < 1) return `--clickhouse-lines must be a positive integer, got "${values['clickhouse-lines']}"`;
  return {
    lines, runs, seed, skip10x: values['skip-10x'], twoTier, skipTwoTier: values['skip-two-tier'], dataDir: resolve(values['data-dir']), cli: resolve(values.cli),
    clickhouseLines: values.clickhouse ? clickhouseLines : 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Data: generated once per (format, lines, seed, generator version), reused while sizes match the sidecar metadata.

interface DataMeta {
  generatorVersion: number;
  format: string;
  lines: number;
  seed: number;
  bytes: number;
  stats: GenerateStats;
  gzBytes?: number;
  x10Bytes?: number;
  /** Handshakes in the 10× file (its segments have their own seeds). */
  x10Handshakes?: number;
}

interface DataFiles {
  log: string;
  gz: string;
  x10: string;
  meta: DataMeta;
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function log(message: string): void {
  process.stderr.write(message + '\n');
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1) + ' MB';
}

interface GeneratedLog {
  /** The data file's path without `.log`; its other files are named after it. */
  base: string;
  log: string;
  meta: DataMeta;
  saveMeta(): void;
}

/**
 * Generates (or reuses) the 1× log of a format, named by format, lines, seed and generator version. `wants` names
 * the truth fields this bench reads: a sidecar written by an older bench without one is regenerated.
 */
async function ensureLog(opts: BenchOptions, format: LogFormat, wants: readonly (keyof GenerateStats)[] = []): Promise<GeneratedLog> {
  mkdirSync(opts.dataDir, { recursive: true });
  const base = join(opts.dataDir, `${format}-${opts.lines}-s${opts.seed}-g${GENERATOR_VERSION}`);
  const logFile = base + '.log';
  const metaPath = base + '.meta.json';
  const save = (m: DataMeta): void => writeFileSync(metaPath, JSON.stringify(m, null, 2) + '\n');
  let meta: DataMeta | null = null;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as DataMeta;
  } catch {
    meta = null;
  }
  if (
    meta === null || meta.generatorVersion !== GENERATOR_VERSION || meta.format !== format ||
    meta.lines !== opts.lines || meta.seed !== opts.seed || sizeOf(logFile) !== meta.bytes ||
    wants.some((k) => (meta as DataMeta).stats[k] === undefined)
  ) {
    log(`generating ${opts.lines} ${format} lines (seed ${opts.seed}) → ${logFile}`);
    const t0 = performance.now();
    const partial = logFile + '.partial';
    const stats = await generateLog({ lines: opts.lines, format, seed: opts.seed, out: partial });
    renameSync(partial, logFile);
    meta = { generatorVersion: GENERATOR_VERSION, format, lines: opts.lines, seed: opts.seed, bytes: stats.bytes, stats };
    save(meta);
    log(`  ${mb(stats.bytes)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    log(`reusing ${logFile} (${mb(meta.bytes)})`);
  }
  const m = meta;
  return { base, log: logFile, meta: m, saveMeta: () => save(m) };
}

/** The incident log with its gzip copy and (when asked) its 10× continuation. */
async function ensureData(opts: BenchOptions, need10x: boolean): Promise<DataFiles> {
  const { base, log: logFile, meta, saveMeta } = await ensureLog(opts, FORMAT);
  const files = { log: logFile, gz: base + '.log.gz', x10: base + '.x10.log' };

  if (meta.gzBytes === undefined || sizeOf(files.gz) !== meta.gzBytes) {
    log(`gzipping → ${files.gz}`);
    const t0 = performance.now();
    const partial = files.gz + '.partial';
    await pipeline(createReadStream(files.log, { highWaterMark: 1 << 20 }), createGzip(), createWriteStream(partial));
    renameSync(partial, files.gz);
    meta.gzBytes = statSync(files.gz).size;
    saveMeta();
    log(`  ${mb(meta.gzBytes)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    log(`reusing ${files.gz} (${mb(meta.gzBytes)})`);
  }

  if (need10x) {
    if (meta.x10Bytes === undefined || meta.x10Handshakes === undefined || sizeOf(files.x10) !== meta.x10Bytes) {
      // 10 segments of the 1× size, each with its own seed and starting where the last ended: one
      // log 10 times as long (time moves on, keys are fresh), not 10 copies that rewind the clock.
      log(`generating 10 × ${opts.lines} lines, one continuing log → ${files.x10}`);
      const partial = files.x10 + '.partial';
      let startMsec: number | undefined;
      let handshakes = 0;
      for (let i = 0; i < 10; i++) {
        const out = createWriteStream(partial, { flags: i === 0 ? 'w' : 'a' });
        const s = await generateLog({ lines: opts.lines, format: FORMAT, seed: opts.seed * 1000 + i, startMsec, out });
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        startMsec = s.lastMsec + 1000;
        handshakes += s.handshakes;
      }
      renameSync(partial, files.x10);
      meta.x10Bytes = statSync(files.x10).size;
      meta.x10Handshakes = handshakes;
      saveMeta();
    } else {
      log(`reusing ${files.x10} (${mb(meta.x10Bytes)})`);
    }
  }
  return { log: files.log, gz: files.gz, x10: files.x10, meta };
}

// ---------------------------------------------------------------------------------------------
// Running and timing commands

function findInPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : findInPath('time');
const TIME_DIR = mkdtempSync(join(tmpdir(), 'wsdiag-bench-'));
const TIME_FILE = join(TIME_DIR, 'time.txt');

interface Sample {
  seconds: number;
  rssKB: number | null;
  cpuSeconds: number | null;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd args` under GNU time (`-f '%e %M %U %S'`) for peak RSS and CPU; wall time is taken here with a
 * monotonic clock (GNU time's %e has only 10 ms resolution). `stdout`: 'capture', 'ignore' (/dev/null) or a file.
 */
function runCommand(cmd: string, args: string[], stdout: 'capture' | 'ignore' | { file: string }, stdinFile?: string): Promise<Sample> {
  const argv = GNU_TIME === null ? [cmd, ...args] : [GNU_TIME, '-f', '%e %M %U %S', '-o', TIME_FILE, cmd, ...args];
  let fd: number | null = null;
  const inFd = stdinFile === undefined ? null : openSync(stdinFile, 'r');
  let out: IOType | number = 'ignore';
  if (stdout === 'capture') out = 'pipe';
  else if (typeof stdout === 'object') {
    fd = openSync(stdout.file, 'w');
    out = fd;
  }
  rmSync(TIME_FILE, { force: true });
  return new Promise<Sample>((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: [inFd ?? 'ignore', out, 'pipe'] });
    if (inFd !== null) closeSync(inFd);
    let so = '';
    let se = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { so += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { se = (se + d).slice(-8000); });
    child.on('error', (err) => {
      if (fd !== null) closeSync(fd);
      reject(err);
    });
    child.on('close', (code, childSignal) => {
      let signal: string | null = childSignal;
      const seconds = (performance.now() - t0) / 1000;
      if (fd !== null) closeSync(fd);
      let rssKB: number | null = null;
      let cpuSeconds: number | null = null;
      if (GNU_TIME !== null && existsSync(TIME_FILE)) {
        // the last line holds the format; a line before it may say "Command exited with non-zero status N"
        const lines = readFileSync(TIME_FILE, 'utf8').trim().split('\n');
        const last = (lines[lines.length - 1] ?? '').trim().split(/\s+/);
        if (last.length === 4) {
          rssKB = Number(last[1]);
          cpuSeconds = Number(last[2]) + Number(last[3]);
        }
        // GNU time itself exits normally when the timed command is killed; it says so in the file
        const killed = lines.find((l) => l.startsWith('Command terminated by signal'));
        if (killed !== undefined) signal = signal ?? `signal ${killed.replace(/\D+/g, '')}`;
      }
      resolvePromise({ seconds, rssKB, cpuSeconds, code, signal, stdout: so, stderr: se });
    });
  });
}

interface Bench {
  name: string;
  /** How to run it by hand (shown in the output). */
  shell: string;
  cmd: string;
  args: string[];
  /** Uncompressed bytes and lines it reads (MB/s, lines/s). */
  bytes: number;
  lines: number;
  stdout: 'capture' | 'ignore';
  /** A file given as standard input (`< file`). */
  stdin?: string;
  /** Exit codes that mean success. */
  okCodes: number[];
}

interface BenchResult {
  bench: Bench;
  samples: Sample[];
  failed: string | null;
  median: number;
  min: number;
  max: number;
  rssKB: number | null;
  cpuMedian: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function describeFailure(s: Sample): string {
  const how = s.signal !== null ? `killed by ${s.signal}` : `exited with ${s.code}`;
  const tail = s.stderr.trim().split('\n').slice(-5).join('\n    ');
  return tail === '' ? how : `${how}:\n    ${tail}`;
}

/**
 * Times every bench `runs` times, in rounds: each round runs each command once, in order, so a
 * command and its baseline are timed seconds apart, and the VM's drift over minutes (a tenth or
 * more) moves both alike rather than one round of one command.
 */
async function timeBenches(benches: readonly Bench[], runs: number): Promise<BenchResult[]> {
  const taken = benches.map((bench) => ({ bench, samples: [] as Sample[], failed: null as string | null }));
  for (let i = 0; i < runs; i++) {
    log(`round ${i + 1} of ${runs}`);
    for (const t of taken) {
      if (t.failed !== null) continue;
      if (i === 0) log(`timing ${t.bench.name}: ${t.bench.shell}`);
      const s = await runCommand(t.bench.cmd, t.bench.args, t.bench.stdout, t.bench.stdin);
      if (s.signal !== null || s.code === null || !t.bench.okCodes.includes(s.code)) {
        t.failed = describeFailure(s);
        log(`  ${t.bench.name} FAILED: ${t.failed}`);
        continue;
      }
      t.samples.push(s);
      log(`  ${t.bench.name}: ${s.seconds.toFixed(3)} s, ${s.rssKB === null ? '?' : (s.rssKB / 1024).toFixed(1)} MiB peak RSS`);
    }
  }
  return taken.map(({ bench, samples, failed }) => {
    const secs = samples.map((s) => s.seconds);
    const rss = samples.map((s) => s.rssKB).filter((x): x is number => x !== null);
    const cpu = samples.map((s) => s.cpuSeconds).filter((x): x is number => x !== null);
    return {
      bench, samples, failed,
      median: secs.length > 0 ? median(secs) : NaN,
      min: secs.length > 0 ? Math.min(...secs) : NaN,
      max: secs.length > 0 ? Math.max(...secs) : NaN,
      rssKB: rss.length > 0 ? Math.max(...rss) : null,
      cpuMedian: cpu.length > 0 ? median(cpu) : null,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The awk baselines. Written for the incident format: $request and the user agent are unquoted and contain
// spaces, so fields are found by their labels. The path and protocol are the two fields before the first
// `upstream_response_time` label (field 10 is the earliest the request can start).

const AWK_BODY =
  '{u=0;r="";s="";for(i=10;i<NF;i++){if($i=="upstream_response_time"){if(!u)u=i}' +
  'else if($i=="request_time")r=$(i+1);else if($i=="status"){s=$(i+1);break}}' +
  'if(u>2&&index($(u-2),"/ws")==1){n[$(u-1)" "s]++;if($(u-1)=="HTTP/1.0"&&s==499&&r>=59&&r<=61)t++}}' +
  'END{for(k in n)print k,n[k];print "HTTP/1.0 499 59-61s",t+0}';
/** What most people would type: a regex skips the ~90 % of lines that cannot be handshakes before splitting. */
const AWK_PREFILTER = '/ \\/ws/' + AWK_BODY;
/** The same counts with every line split into fields: the cost of a field-by-field parse in awk. */
const AWK_ALL_LINES = AWK_BODY;
/**
 * The combined-ws one-liner: every line split, the fields after the user agent found from the end ($(NF-3) is
 * `"$http_upgrade"`), lines with `Upgrade: websocket` counted by protocol (`$8`, `HTTP/1.1"` less its quote) × status.
 * It cannot see handshakes whose Upgrade header was dropped on the way (the incident's HTTP/1.0 ones).
 */
const AWK_COMBINED = '$(NF-3)=="\\"websocket\\""{n[substr($8,1,length($8)-1)" "$9]++}END{for(k in n)print k,n[k]}';

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `<protocol> <status> <count>` lines an awk one-liner printed, keyed like GenerateStats.byProtocolStatus. */
function awkCounts(output: string): Map<string, number> {
  const got = new Map<string, number>();
  for (const line of output.trim().split('\n')) {
    const m = /^(\S+ \d+) (\d+)$/.exec(line);
    if (m !== null) got.set(m[1] as string, Number(m[2]));
  }
  return got;
}

/** What differs between counts by protocol × status and the generator's (`who` names the counter). */
function countDiffs(who: string, got: ReadonlyMap<string, number>, want: Readonly<Record<string, number>>): string[] {
  const pairs = Object.entries(want);
  const diffs: string[] = [];
  for (const [k, v] of pairs) if (got.get(k) !== v) diffs.push(`${k}: ${who} ${got.get(k) ?? 0}, generator ${v}`);
  if (got.size !== pairs.length) diffs.push(`${who} saw ${got.size} protocol×status pairs, generator ${pairs.length}`);
  return diffs;
}

/** Checks an incident awk's counts (handshakes by protocol × status, HTTP/1.0 499s near 60 s); returns a problem or null. */
function checkAwk(output: string, stats: GenerateStats): string | null {
  const t = /^HTTP\/1\.0 499 59-61s (\d+)$/m.exec(output);
  const near60 = t === null ? -1 : Number(t[1]);
  const diffs = countDiffs('awk', awkCounts(output), stats.byProtocolStatus);
  if (near60 !== stats.http10Status499Near60) diffs.push(`HTTP/1.0 499 near 60 s: awk ${near60}, generator ${stats.http10Status499Near60}`);
  return diffs.length === 0 ? null : diffs.join('; ');
}

/** Checks the combined-ws awk's counts (lines with Upgrade: websocket by protocol × status); returns a problem or null. */
function checkAwkCombined(output: string, stats: GenerateStats): string | null {
  const diffs = countDiffs('awk', awkCounts(output), stats.upgradeByProtocolStatus);
  return diffs.length === 0 ? null : diffs.join('; ');
}

// ---------------------------------------------------------------------------------------------
// wsdiag's JSON, read leniently: the CLI is written in parallel and only the contract fields are assumed.

interface WsdiagSummary {
  total: number | null;
  parsed: number | null;
  handshakes: number | null;
  /** handshakes.byProtocolStatus as `"<protocol> <status>"` → count (rows without both left out). */
  byProtocolStatus: Map<string, number>;
}

function parseWsdiagJson(text: string): WsdiagSummary | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `output is not JSON (${(err as Error).message.slice(0, 120)})`;
  }
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const o = doc as {
    lines?: { total?: unknown; parsed?: unknown };
    handshakes?: { total?: unknown; byProtocolStatus?: unknown };
  } | null;
  const byProtocolStatus = new Map<string, number>();
  const rows = o?.handshakes?.byProtocolStatus;
  for (const row of Array.isArray(rows) ? rows as { protocol?: unknown; status?: unknown; count?: unknown }[] : []) {
    if (typeof row.protocol === 'string' && typeof row.status === 'number' && typeof row.count === 'number') {
      byProtocolStatus.set(`${row.protocol} ${row.status}`, row.count);
    }
  }
  return { total: num(o?.lines?.total), parsed: num(o?.lines?.parsed), handshakes: num(o?.handshakes?.total), byProtocolStatus };
}

function readWsdiagJson(file: string): WsdiagSummary | string {
  return parseWsdiagJson(readFileSync(file, 'utf8'));
}

/** Checks wsdiag's line and handshake counts, and its handshakes by protocol × status when the truth is known. */
function checkWsdiag(summary: WsdiagSummary | string, lines: number, handshakes: number, byProtocolStatus?: Record<string, number>): string | null {
  if (typeof summary === 'string') return summary;
  const problems: string[] = [];
  if (summary.total !== lines) problems.push(`lines.total ${summary.total} (expected ${lines})`);
  if (summary.parsed !== lines) problems.push(`lines.parsed ${summary.parsed} (expected ${lines})`);
  if (summary.handshakes !== handshakes) problems.push(`handshakes.total ${summary.handshakes} (generator wrote ${handshakes})`);
  if (byProtocolStatus !== undefined) problems.push(...countDiffs('wsdiag', summary.byProtocolStatus, byProtocolStatus));
  return problems.length === 0 ? null : problems.join('; ');
}

// ---------------------------------------------------------------------------------------------
// Output

function fmtNum(x: number | null, digits: number): string {
  return x === null || Number.isNaN(x) ? '–' : x.toFixed(digits);
}

function rowsOf(results: BenchResult[]): string[][] {
  return results.map((r) => {
    if (r.samples.length === 0) return [r.bench.name, 'FAILED', '', '', '', '', '', '', ''];
    return [
      r.bench.name,
      String(r.samples.length),
      fmtNum(r.median, 3),
      fmtNum(r.min, 3),
      fmtNum(r.max, 3),
      fmtNum(r.bench.bytes / 1e6 / r.median, 0),
      fmtNum(r.bench.lines / 1e6 / r.median, 2),
      r.rssKB === null ? '–' : (r.rssKB / 1024).toFixed(1),
      fmtNum(r.cpuMedian, 2),
    ];
  });
}

const HEADER = ['command', 'runs', 'median s', 'min s', 'max s', 'MB/s', 'M lines/s', 'peak RSS MiB', 'CPU s'];

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => '| ' + cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ') + ' |';
  return [line(header), '|' + header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|') + '|', ...rows.map(line)].join('\n');
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m !== null) return (m[1] as string).trim();
  } catch {
    // not Linux: fall through to os.cpus()
  }
  return cpus()[0]?.model ?? 'unknown';
}

async function toolVersion(cmd: string, args: string[]): Promise<string> {
  try {
    const s = await runCommand(cmd, args, 'capture');
    return (s.stdout.split('\n')[0] ?? '').trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (parsed === '') {
      console.log(USAGE);
      return 0;
    }
    console.error(`bench: ${parsed}\n${USAGE}`);
    return 2;
  }
  const opts = parsed;
  const failures: string[] = [];
  const warnings: string[] = [];

  const CLI_PATH = opts.cli;
  const haveCli = existsSync(CLI_PATH);
  const data = await ensureData(opts, haveCli && !opts.skip10x); // the 10× file only feeds wsdiag's memory run
  const { meta } = data;
  const combined = await ensureLog(opts, COMBINED, ['upgradeByProtocolStatus']);
  const cmeta = combined.meta;
  const show = (p: string): string => shellQuote(p.startsWith(REPO_ROOT + '/') ? relative(process.cwd(), p) || p : p);
  const awkBin = findInPath('mawk') ?? (existsSync('/usr/bin/mawk') ? '/usr/bin/mawk' : 'awk');
  const awkName = awkBin.endsWith('mawk') ? 'mawk' : 'awk';

  // warm the page cache so every command (including the first timed run) reads from memory
  log('warming the page cache');
  for (const f of [data.log, data.gz, combined.log]) await runCommand('cat', [f], 'ignore');

  const plain = { bytes: meta.bytes, lines: meta.lines };
  const benches: Bench[] = [
    { name: 'wc -l', shell: `wc -l ${show(data.log)}`, cmd: 'wc', args: ['-l', data.log], ...plain, stdout: 'capture', okCodes: [0] },
    {
      name: `${awkName} (/ws prefilter)`, shell: `${awkName} ${shellQuote(AWK_PREFILTER)} ${show(data.log)}`,
      cmd: awkBin, args: [AWK_PREFILTER, data.log], ...plain, stdout: 'capture', okCodes: [0],
    },
    {
      name: `${awkName} (all lines)`, shell: `${awkName} ${shellQuote(AWK_ALL_LINES)} ${show(data.log)}`,
      cmd: awkBin, args: [AWK_ALL_LINES, data.log], ...plain, stdout: 'capture', okCodes: [0],
    },
    { name: 'zcat .gz', shell: `zcat ${show(data.gz)} >/dev/null`, cmd: 'zcat', args: [data.gz], ...plain, stdout: 'ignore', okCodes: [0] },
  ];
  if (haveCli) {
    benches.push(
      {
        name: 'wsdiag', shell: `node ${show(CLI_PATH)} --output json ${show(data.log)} >/dev/null`,
        cmd: process.execPath, args: [CLI_PATH, '--output', 'json', data.log], ...plain, stdout: 'ignore', okCodes: [0, 1],
      },
      {
        name: 'wsdiag .gz', shell: `node ${show(CLI_PATH)} --output json ${show(data.gz)} >/dev/null`,
        cmd: process.execPath, args: [CLI_PATH, '--output', 'json', data.gz], ...plain, stdout: 'ignore', okCodes: [0, 1],
      },
      {
        name: 'wsdiag stdin', shell: `node ${show(CLI_PATH)} --output json - < ${show(data.log)} >/dev/null`,
        cmd: process.execPath, args: [CLI_PATH, '--output', 'json', '-'], stdin: data.log, ...plain, stdout: 'ignore', okCodes: [0, 1],
      },
    );
  } else {
    log(`wsdiag skipped: ${show(CLI_PATH)} does not exist (run \`npm run build\` first)`);
  }
  // the combined-ws log: awk and wsdiag both print their counts, to be checked against the generator's
  const onCombined = { bytes: cmeta.bytes, lines: cmeta.lines, stdout: 'capture' as const, okCodes: [0] };
  benches.push({
    name: `${awkName} (${COMBINED})`, shell: `${awkName} ${shellQuote(AWK_COMBINED)} ${show(combined.log)}`,
    cmd: awkBin, args: [AWK_COMBINED, combined.log], ...onCombined,
  });
  if (haveCli) {
    benches.push({
      name: `wsdiag (${COMBINED})`, shell: `node ${show(CLI_PATH)} --output json ${show(combined.log)}`,
      cmd: process.execPath, args: [CLI_PATH, '--output', 'json', combined.log], ...onCombined, okCodes: [0, 1],
    });
  }

  const results = await timeBenches(benches, opts.runs);
  for (const r of results) if (r.failed !== null) failures.push(`${r.bench.name} ${r.failed}`);
  const byName = (n: string): BenchResult | undefined => results.find((r) => r.bench.name === n && r.failed === null);

  // sanity checks: the baselines must have counted what the generator wrote
  const wc = byName('wc -l');
  if (wc !== undefined && Number(/\d+/.exec(wc.samples[0]?.stdout ?? '')?.[0]) !== meta.lines) {
    warnings.push(`wc -l printed "${wc.samples[0]?.stdout.trim()}", expected ${meta.lines} lines`);
  }
  const awkOutputs: string[] = [];
  for (const name of [`${awkName} (/ws prefilter)`, `${awkName} (all lines)`]) {
    const r = byName(name);
    if (r === undefined) continue;
    const out = r.samples[0]?.stdout ?? '';
    awkOutputs.push(out);
    const problem = checkAwk(out, meta.stats);
    if (problem !== null) warnings.push(`${name} disagrees with the generator: ${problem}`);
  }
  const awkCombined = byName(`${awkName} (${COMBINED})`);
  const awkCombinedOut = awkCombined?.samples[0]?.stdout;
  if (awkCombinedOut !== undefined) {
    const problem = checkAwkCombined(awkCombinedOut, cmeta.stats);
    if (problem !== null) warnings.push(`${awkName} (${COMBINED}) disagrees with the generator: ${problem}`);
  }
  // wsdiag on the combined-ws log must find every handshake the generator wrote, by protocol × status: a wrong
  // count there fails the bench (the time of a run that miscounts means nothing)
  const wsCombinedOut = byName(`wsdiag (${COMBINED})`)?.samples[0]?.stdout;
  let wsCombinedCounts: string | undefined; // `<protocol> <status> <count>` lines, like the awks print
  let wsCombinedCheck: string | null = null;
  if (wsCombinedOut !== undefined) {
    const jsonOut = join(opts.dataDir, `wsdiag-${COMBINED}.json`);
    writeFileSync(jsonOut, wsCombinedOut);
    const summary = parseWsdiagJson(wsCombinedOut);
    if (typeof summary !== 'string') wsCombinedCounts = [...summary.byProtocolStatus].map(([k, v]) => `${k} ${v}`).join('\n');
    wsCombinedCheck = checkWsdiag(summary, cmeta.lines, cmeta.stats.handshakes, cmeta.stats.byProtocolStatus);
    if (wsCombinedCheck !== null) failures.push(`wsdiag (${COMBINED}) disagrees with the generator: ${wsCombinedCheck} (see ${show(jsonOut)})`);
  }

  // memory: one wsdiag run over 1× and 10× lines, keeping the JSON to check what it counted
  interface MemRow { label: string; lines: number; bytes: number; sample: Sample | null; spread: string; check: string | null }
  const memRows: MemRow[] = [];
  if (haveCli) {
    const targets: { label: string; file: string; lines: number; bytes: number; times: number }[] = [
      { label: '1×', file: data.log, lines: meta.lines, bytes: meta.bytes, times: 1 },
    ];
    if (!opts.skip10x && meta.x10Bytes !== undefined) {
      targets.push({ label: '10×', file: data.x10, lines: meta.lines * 10, bytes: meta.x10Bytes, times: 10 });
    }
    for (const t of targets) {
      log(`memory run ${t.label}: wsdiag over ${t.lines} lines (${mb(t.bytes)})`);
      if (t.times > 1) await runCommand('cat', [t.file], 'ignore'); // warm cache, as for the timed runs
      const jsonOut = join(opts.dataDir, `wsdiag-${t.label === '1×' ? '1x' : '10x'}.json`);
      const runs = await memoryRuns(opts.runs, () => runCommand(process.execPath, [CLI_PATH, '--output', 'json', t.file], { file: jsonOut }));
      if ('failed' in runs) {
        const why = describeFailure(runs.failed);
        failures.push(`wsdiag memory run ${t.label} ${why}`);
        memRows.push({ label: t.label, lines: t.lines, bytes: t.bytes, sample: null, spread: '', check: why });
        continue;
      }
      const s = runs.sample;
      const check = t.times === 1
        ? checkWsdiag(readWsdiagJson(jsonOut), t.lines, meta.stats.handshakes, meta.stats.byProtocolStatus)
        : checkWsdiag(readWsdiagJson(jsonOut), t.lines, meta.x10Handshakes ?? NaN);
      if (check !== null) warnings.push(`wsdiag ${t.label} JSON: ${check} (see ${show(jsonOut)})`);
      memRows.push({ label: t.label, lines: t.lines, bytes: t.bytes, sample: s, spread: runs.spread, check });
    }
  }

  const fleet = opts.clickhouseLines > 0 && haveCli
    ? await benchClickHouse({ lines: opts.clickhouseLines, seed: opts.seed, dataDir: opts.dataDir, cli: CLI_PATH, log })
    : null;
  if (fleet !== null) failures.push(...fleet.failures);

  // memory with two tiers: every handshake logged by a front and a back nginx, joined by key
  const tierRows = haveCli && !opts.skipTwoTier ? await twoTierMemory(opts, warnings, failures) : [];

  // memory live: the 1× and 10× logs fed fast through a pipe (hours of log time in seconds), verdicts every second
  const liveRows: { label: string; bytes: number; sample: Sample }[] = [];
  if (haveCli) {
    for (const [label, file, bytes] of [['1×', data.log, meta.bytes], ['10×', data.x10, meta.x10Bytes]] as const) {
      if (bytes === undefined || (label === '10×' && opts.skip10x)) continue;
      log(`live memory run ${label}: cat | wsdiag --interval 1 --output jsonl -`);
      const s = await runCommand('sh', ['-c', `cat "$1" | "$2" "$3" --interval 1 --output jsonl - > /dev/null`, 'sh', file, process.execPath, opts.cli], 'ignore');
      if (s.signal !== null || (s.code !== 0 && s.code !== 1)) failures.push(`wsdiag live ${label} ${describeFailure(s)}`);
      else liveRows.push({ label, bytes, sample: s });
    }
  }

  // ---- report (stdout)
  const nodeVersion = process.version;
  const awkVersion = await toolVersion(awkBin, awkName === 'mawk' ? ['-W', 'version'] : ['--version']);
  const system = `Node ${nodeVersion}; ${cpuModel()}; ${cpus().length} cores; ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; ${awkVersion}`;
  const dataLine = `data: ${meta.lines.toLocaleString('en-US')} ${FORMAT}-format lines (seed ${meta.seed}), ` +
    `${mb(meta.bytes)} plain, ${meta.gzBytes === undefined ? '?' : mb(meta.gzBytes)} gzip; the (${COMBINED}) rows read ` +
    `${cmeta.lines.toLocaleString('en-US')} ${COMBINED}-format lines, ${mb(cmeta.bytes)}; warm page cache; ` +
    `median of ${opts.runs} run${opts.runs === 1 ? '' : 's'} (timed in rounds: each command once a round); MB/s and lines/s count uncompressed bytes and lines (1 MB = 10^6 bytes)`;
  const rows = rowsOf(results);

  const ratio = (a: string, b: string): string => {
    const ra = byName(a);
    const rb = byName(b);
    return ra === undefined || rb === undefined ? 'n/a' : (ra.median / rb.median).toFixed(2) + '×';
  };
  const ratioPairs: [string, string][] = [
    ['wsdiag', `${awkName} (/ws prefilter)`],
    ['wsdiag', `${awkName} (all lines)`],
    ['wsdiag', 'wc -l'],
    ['wsdiag .gz', 'zcat .gz'],
    ['wsdiag stdin', `${awkName} (/ws prefilter)`],
    [`wsdiag (${COMBINED})`, `${awkName} (${COMBINED})`],
  ];
  const ratioNames = ratioPairs.map(([a, b]) => `${a} / ${b}`);
  const ratioWidth = Math.max(...ratioNames.map((n) => n.length));
  const ratioLines = haveCli
    ? ratioPairs.map(([a, b], i) => `${(ratioNames[i] ?? '').padEnd(ratioWidth)} = ${ratio(a, b)}`)
    : [`wsdiag was skipped (${show(CLI_PATH)} missing): no wsdiag ratios`];

  const memHeader = ['wsdiag input', 'lines', 'MB', 'seconds', 'MB/s', 'peak RSS MiB', 'of the runs'];
  const memTable = memRows.map((m) => [
    m.label, m.lines.toLocaleString('en-US'), (m.bytes / 1e6).toFixed(0),
    m.sample === null ? 'FAILED' : m.sample.seconds.toFixed(2),
    m.sample === null ? '–' : (m.bytes / 1e6 / m.sample.seconds).toFixed(0),
    m.sample?.rssKB == null ? '–' : (m.sample.rssKB / 1024).toFixed(1), m.spread,
  ]);
  const m1 = memRows.find((m) => m.label === '1×')?.sample?.rssKB;
  const m10 = memRows.find((m) => m.label === '10×')?.sample?.rssKB;
  const memNote = m1 != null && m10 != null
    ? `peak RSS 10× / 1× = ${(m10 / m1).toFixed(2)} (flat memory ≈ 1.0)`
    : opts.skip10x ? '10× memory run skipped (--skip-10x)' : '';

  const out: string[] = [];
  out.push('', `wsdiag benchmark — ${system}`, dataLine, '');
  out.push('commands:');
  for (const b of benches) out.push(`  ${b.name.padEnd(22)} ${b.shell}`);
  out.push(`  (${COMBINED} log_format: ${LOG_FORMAT_TEXT[COMBINED]})`);
  out.push('', textTable(HEADER, rows), '');
  const counts = (title: string, output: string | undefined): void => {
    if (output === undefined) return;
    out.push(`${title}:`);
    for (const l of output.trim().split('\n').sort()) out.push('  ' + l);
    out.push('');
  };
  counts(`${awkName} counts (handshakes by protocol × status; HTTP/1.0 499s at 59–61 s)`, awkOutputs[0]);
  counts(`${awkName} (${COMBINED}) counts (lines with Upgrade: websocket by protocol × status; ` +
    'the HTTP/1.0 handshakes lost the header on the way, so awk does not see them)', awkCombinedOut);
  counts(`wsdiag (${COMBINED}) counts (handshakes by protocol × status; ` +
    `${wsCombinedCheck === null ? "equal to the generator's" : "NOT the generator's, see FAILED below"})`, wsCombinedCounts);
  out.push(...ratioLines);
  if (haveCli) out.push('(ratios of median wall time; below 1 means wsdiag is faster)');
  out.push('');
  if (memRows.length > 0) {
    out.push(`memory (the run of median peak RSS of ${opts.runs}, and the least and most of them; the 10× file is one log ten times as long: ten seeded segments, time moving on):`);
    out.push(textTable(memHeader, memTable));
    if (memNote !== '') out.push(memNote);
    out.push('');
  } else if (!haveCli) {
    out.push(`memory run skipped: wsdiag (${show(CLI_PATH)}) missing`, '');
  }
  if (tierRows.length > 0) {
    out.push(`memory with two tiers (front + back logs of the same handshakes; the run of median peak RSS of ${opts.runs}; counts checked against the generator):`);
    out.push(textTable(TIER_HEADER, tierRows.map(tierCells)));
    const r1 = tierRows[0]?.sample?.rssKB;
    const r10 = tierRows[1]?.sample?.rssKB;
    if (r1 != null && r10 != null) out.push(`peak RSS 10× / 1× = ${(r10 / r1).toFixed(2)} (flat memory ≈ 1.0)`);
    out.push('');
  }
  if (liveRows.length > 0) {
    out.push('memory live (the same logs fed through a pipe, a verdict over a 5-minute window every second, events as JSON lines):');
    out.push(textTable(['live', 'MB', 'seconds', 'peak RSS MiB'], liveRows.map((r) => [r.label, (r.bytes / 1e6).toFixed(0), r.sample.seconds.toFixed(2), r.sample.rssKB == null ? '–' : (r.sample.rssKB / 1024).toFixed(1)])));
    const l1 = liveRows[0]?.sample.rssKB;
    const l10 = liveRows[1]?.sample.rssKB;
    if (l1 != null && l10 != null) out.push(`peak RSS 10× / 1× = ${(l10 / l1).toFixed(2)} (flat memory ≈ 1.0)`);
    out.push('');
  }
  out.push('Markdown:', '');
  out.push(`${system}. ${dataLine[0]?.toUpperCase()}${dataLine.slice(1)}.`, '');
  out.push(markdownTable(HEADER, rows), '');
  if (haveCli) out.push(ratioPairs.map(([a, b], i) => `- ${ratioNames[i]} = ${ratio(a, b)}`).join('\n'), '');
  if (memRows.length > 0) {
    out.push(markdownTable(memHeader, memTable), '');
    if (memNote !== '') out.push(memNote, '');
  }
  if (fleet !== null) out.push(...fleet.lines);
  for (const w of warnings) out.push(`WARNING: ${w}`);
  for (const f of failures) out.push(`FAILED: ${f}`);
  process.stdout.write(out.join('\n') + '\n');
  return failures.length > 0 ? 1 : 0;
}

const TIER_HEADER = ['two tiers', 'handshakes', 'MB', 'seconds', 'peak RSS MiB', 'of the runs', 'counts'];

interface TierRow { label: string; truth: TwoTierTruth; bytes: number; sample: Sample | null; spread: string; check: string }

function tierCells(r: TierRow): string[] {
  return [
    r.label, r.truth.handshakes.toLocaleString('en-US'), (r.bytes / 1e6).toFixed(0), r.sample === null ? 'FAILED' : r.sample.seconds.toFixed(2),
    r.sample?.rssKB == null ? '–' : (r.sample.rssKB / 1024).toFixed(1), r.spread, r.check,
  ];
}

/**
 * A memory row's runs: a peak is one moment of a run, and moves by a tenth from run to run, so a
 * row quotes the run of median peak RSS, with the least and the most; or the first run that failed.
 */
async function memoryRuns(runs: number, run: () => Promise<Sample>): Promise<{ sample: Sample; spread: string } | { failed: Sample }> {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await run();
    if (s.signal !== null || (s.code !== 0 && s.code !== 1)) return { failed: s };
    log(`  run ${i + 1}: ${s.seconds.toFixed(2)} s, ${s.rssKB === null ? '?' : (s.rssKB / 1024).toFixed(1)} MiB peak RSS`);
    samples.push(s);
  }
  const mib = (s: Sample): string => (s.rssKB === null ? '?' : (s.rssKB / 1024).toFixed(1));
  const sorted = [...samples].sort((a, b) => (a.rssKB ?? 0) - (b.rssKB ?? 0));
  const first = sorted[0] as Sample;
  const last = sorted[sorted.length - 1] as Sample;
  return { sample: sorted[Math.floor((sorted.length - 1) / 2)] as Sample, spread: sorted.length > 1 ? `${mib(first)}–${mib(last)}` : '' };
}

/** Generates (or reuses) seeded two-tier logs at 1× and 10×, runs wsdiag on each and checks its findings against the truth. */
async function twoTierMemory(opts: BenchOptions, warnings: string[], failures: string[]): Promise<TierRow[]> {
  const rows: TierRow[] = [];
  for (const times of [1, 10]) {
    const n = opts.twoTier * times;
    const dir = join(opts.dataDir, `two-tier-${n}-${opts.seed}-v${TWO_TIER_VERSION}`);
    const truthFile = join(dir, 'truth.json');
    let truth: TwoTierTruth;
    if (existsSync(truthFile)) {
      truth = JSON.parse(readFileSync(truthFile, 'utf8')) as TwoTierTruth;
      log(`reusing ${dir}`);
    } else {
      mkdirSync(dir, { recursive: true });
      log(`generating two tiers of ${n} handshakes → ${dir}`);
      truth = await generateTwoTier(dir, n, opts.seed, 0.4);
      writeFileSync(truthFile, JSON.stringify(truth));
    }
    const front = join(dir, 'front.log');
    const back = join(dir, 'back.log');
    const bytes = statSync(front).size + statSync(back).size;
    const jsonOut = join(dir, 'wsdiag.json');
    log(`two-tier memory run ${times}×: ${mb(bytes)}`);
    const runs = await memoryRuns(opts.runs, () => runCommand(process.execPath, [opts.cli, '--output', 'json', '--log-format', TWO_TIER_FORMAT, front, back], { file: jsonOut }));
    if ('failed' in runs) {
      failures.push(`wsdiag two-tier ${times}× ${describeFailure(runs.failed)}`);
      rows.push({ label: `${times}×`, truth, bytes, sample: null, spread: '', check: 'failed' });
      continue;
    }
    const check = checkTwoTier(JSON.parse(readFileSync(jsonOut, 'utf8')) as Report, truth);
    if (check !== 'exact') warnings.push(`two-tier ${times}×: ${check}`);
    rows.push({ label: `${times}×`, truth, bytes, sample: runs.sample, spread: runs.spread, check });
  }
  return rows;
}

/** 'exact' when every count the generator knows is the report's, else what differs. */
function checkTwoTier(r: Report, t: TwoTierTruth): string {
  const count = (id: string, field: 'count' | 'handshakes' = 'count'): number | undefined => r.findings.find((f) => f.id === id)?.[field];
  const pairs: [string, number | undefined, number][] = [
    ['handshakes', r.handshakes.total, 2 * t.handshakes],
    ['downgraded-handshake', count('downgraded-handshake'), t.downgraded],
    ['abandoned-at-timeout lines', count('abandoned-at-timeout'), t.abandonedLines],
    ['abandoned-at-timeout handshakes', count('abandoned-at-timeout', 'handshakes'), t.downgraded],
    ['hidden-downgrade keys', count('hidden-downgrade'), t.hiddenKeys],
    ['multi-tier keys', r.correlation.multiTier, t.multiTierKeys],
  ];
  const wrong = pairs.filter(([, got, want]) => got !== want).map(([what, got, want]) => `${what} ${got ?? 'missing'} ≠ ${want}`);
  return wrong.length === 0 ? 'exact' : wrong.join('; ');
}

main().then(
  (code) => {
    rmSync(TIME_DIR, { recursive: true, force: true });
    process.exitCode = code;
  },
  (err: unknown) => {
    rmSync(TIME_DIR, { recursive: true, force: true });
    console.error(err);
    process.exitCode = 1;
  },
);
