/*!
 * The command line (src/cli.ts starts it once the heap is set up): yargs → analyze() → renderer
 * → stdout, diagnostics → stderr, exit codes (0 report written, 1 --fail-on matched, 2
 * usage/format/input error). The only module that touches process and console. A closed stdout
 * (`| head`) ends quietly; SIGINT prints what was read.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { isatty } from 'node:tty';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isPipe } from './input/pipe.js';
import { BadLinesFile, ProgressLine, StatusLine, replaceFile } from './sinks.js';
import { AnalyzerError, CSV_KINDS, DEFAULT_WS_PATHS, LiveMetrics, OUTPUT_NAMES, PRESET_FORMATS, RENDERERS, VERSION, analyze, analyzeClickHouse, ingest, isAnalyzerError, parseDuration, parseListenAddress, watch, type AnalyzeOptions, type CsvKind, type Finding, type OutputName, type Rendered, type Report, type Wire } from './index.js';
import { list } from './options.js';
import { assumedFieldsLines, sameInputsLine } from './report/sections.js';
import { int, visible } from './report/text.js';

const SEVERITIES = ['critical', 'warning', 'info'];

/** Messages quote log lines and file names: their control characters are shown, not sent to the terminal. */
function fail(message: string, hint?: string): never {
  failLines([visible(message)], hint);
}

/** Prints lines already made safe, then exits 2 (yargs' own messages span several lines). */
function failLines(lines: string[], hint?: string): never {
  process.stderr.write(`wsdiag: ${lines.join('\n')}\n${hint ? `hint: ${hint}\n` : ''}`);
  process.exit(2);
}


/** A reader that went away (`| head`) ends the run quietly: exit 0, nothing more on stderr. */
function onStdoutError(err: NodeJS.ErrnoException): never {
  if (err.code === 'EPIPE') process.exit(0);
  fail(`cannot write the report to standard output (${err.message})`);
}

/**
 * Columns the terminal report fits: the terminal's when stdout is one, else $COLUMNS (a pager, a
 * script, `watch`), else the renderer's default.
 */
function outputWidth(toTerminal: boolean): number | undefined {
  if (toTerminal && process.stdout.columns > 0) return process.stdout.columns;
  const columns = Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

interface LiveFlags {
  follow: boolean;
  fromStart: boolean;
  intervalSeconds: number;
  windowSeconds: number;
  stop: AbortSignal;
  jsonl: boolean;
  out: string | undefined;
  quiet: boolean;
  failOn: string[];
  render: ((report: Report) => Rendered) | undefined;
  /** --metrics: fed at every tick. */
  metrics: LiveMetrics | undefined;
}

/**
 * Live mode: events as JSON lines on stdout (--output jsonl), or on stderr a line per incident
 * opened or closed and per change of the window's verdict, with a status line on a terminal;
 * --out FILE is rewritten with the window's report every interval. --fail-on exits 1 as soon as a
 * matching finding opens. --metrics is fed at every tick. Returns the report over everything read.
 */
async function watchLive(common: AnalyzeOptions, l: LiveFlags): Promise<Report> {
  const status = !l.jsonl && process.stderr.isTTY && !l.quiet ? new StatusLine(process.stderr) : undefined;
  const say = (text: string): void => {
    if (l.quiet) return;
    status?.clear();
    process.stderr.write(`wsdiag: ${visible(text)}\n`);
  };
  let verdict = '';
  let lastLines = 0;
  let lastAt = Date.now();
  return watch({
    ...common, follow: l.follow, fromStart: l.fromStart, intervalSeconds: l.intervalSeconds, windowSeconds: l.windowSeconds, stop: l.stop,
    onTotals: l.metrics && ((t) => l.metrics?.totals(t)),
    onEvent: (e) => {
      l.metrics?.event(e);
      const clock = e.at.slice(11, 19);
      if (l.jsonl) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (e.finding !== undefined) say(`${clock} ${incidentLine(e.type === 'incident-opened' ? 'opened' : 'closed', e.finding)}`);
      if (e.type === 'snapshot' && e.report !== undefined) {
        const r = e.report;
        const lines = r.meta.inputs.reduce((n, i) => n + i.lines, 0);
        // An empty window is no all-clear: say so rather than "OK".
        const v = r.handshakes.total === 0 ? `no WebSocket handshakes in the window yet (${int(lines)} lines read)` : `${r.verdict.severity.toUpperCase()} ${r.verdict.headline}`;
        if (!l.jsonl && v !== verdict) say(`${clock} window verdict: ${v}`);
        verdict = v;
        const now = Date.now();
        status?.show(`${clock} ${int(Math.round(((lines - lastLines) * 1000) / Math.max(1, now - lastAt)))} lines/s · ${int(r.handshakes.total)} handshakes in the window · ${r.findings.length} open incident${r.findings.length === 1 ? '' : 's'}`);
        lastLines = lines;
        lastAt = now;
        if (l.out !== undefined && l.render !== undefined) {
          const page = l.render(r);
          if (typeof page === 'string') replaceFile(l.out, page);
        }
      }
      if (e.type === 'incident-opened' && e.finding !== undefined && matchedFailOn([e.finding], l.failOn).length > 0) {
        say(`--fail-on matched: ${e.finding.id}`);
        process.exit(1);
      }
    },
  });
}

/** "incident opened: critical downgraded-handshake, 17 handshakes, T ≈ 60.000 s, from 100.97.88.252, …". */
function incidentLine(what: 'opened' | 'closed', f: Finding): string {
  const n = f.handshakes ?? f.count;
  const t = f.timeoutSeconds === undefined ? '' : `, T ≈ ${f.timeoutSeconds.toFixed(3)} s`;
  const who = f.clients.length === 0 ? '' : `, from ${f.clients.slice(0, 4).map((c) => c.client).join(', ')}${f.clients.length > 4 ? ', …' : ''}`;
  return `incident ${what}: ${f.severity} ${f.id}, ${int(n)} in the window${t}${who}`;
}

/** Finding ids or severities named by --fail-on that the findings contain. */
function matchedFailOn(findings: readonly Finding[], failOn: readonly string[]): string[] {
  const wanted = new Set(failOn.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
  const hit = new Set<string>();
  for (const f of findings) {
    if (wanted.has(f.id) || wanted.has('any')) hit.add(f.id);
    if (wanted.has(f.severity)) hit.add(f.id);
    if (wanted.has('warning') && f.severity === 'critical') hit.add(f.id);
  }
  return [...hit];
}

/** Writes the rendered report to --out FILE, or to stdout (waiting for drain: CSV can be large). */
async function emit(out: Rendered, file: string | undefined): Promise<void> {
  if (file !== undefined) {
    try {
      await pipeline(typeof out === 'string' ? Readable.from([out]) : out, createWriteStream(file));
    } catch (err) {
      fail(`cannot write --out ${file}: ${(err as Error).message}`);
    }
    return;
  }
  if (typeof out !== 'string') {
    for await (const chunk of out) if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    return;
  }
  await new Promise<void>((resolve) => process.stdout.write(out, (err) => (err ? onStdoutError(err) : resolve())));
}

/** `1,234,567 bytes` */
function bytes(n: number): string {
  return `${int(n)} bytes`;
}

function wireLine(w: Wire): string {
  return `ClickHouse: ${w.queries} queries, ${bytes(w.sent)} sent, ${bytes(w.received)} received`;
}

/** `wsdiag ingest --clickhouse URL --table DB.TABLE [inputs..]`: parsed lines into ClickHouse (src/fleet/ingest.ts). */
async function ingestMain(args: string[]): Promise<void> {
  const argv = await yargs(args)
    .scriptName('wsdiag ingest')
    .detectLocale(false)
    .usage('$0 --clickhouse URL --table DB.TABLE [inputs..]\n\nParses logs as a report does and inserts one row per line into ClickHouse. Re-running over the same (or a grown) file adds only lines not stored yet for its (host, input).')
    .option('clickhouse', { type: 'string', demandOption: true, describe: 'ClickHouse HTTP URL: http://user:password@host:8123' })
    .option('table', { type: 'string', demandOption: true, describe: 'DB.TABLE to insert into' })
    .option('create', { type: 'boolean', default: false, describe: 'create the table if missing (MergeTree, partitioned by day, ordered by host, input, line)' })
    .option('host', { type: 'string', describe: 'the host column (default: this machine\'s name)' })
    .option('input-name', { type: 'string', describe: 'the input column for the one input given (default: its file name as given)' })
    .option('no-text', { type: 'boolean', default: false, describe: 'store no line text (evidence and bad-line samples then show none)' })
    .option('batch', { type: 'string', default: '20000', describe: 'rows per INSERT' })
    .option('log-format', { type: 'string', describe: 'the log_format as in nginx.conf (repeatable)' })
    .option('preset', { type: 'string', describe: `a named format: ${PRESET_FORMATS.map((p) => p.name).join(', ')}` })
    .option('nginx-conf', { type: 'string', describe: 'read log_format directives from this nginx.conf' })
    .option('format-name', { type: 'string', describe: 'which log_format of --nginx-conf to use' })
    .option('ws-path', { type: 'string', describe: 'extra WebSocket path pattern (`*` wildcard)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress or summary on stderr' })
    .example('$0 --clickhouse http://ch:8123 --table logs.nginx --create /var/log/nginx/access.log', 'load one host\'s log')
    .strictOptions()
    .version(VERSION)
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      failLines(msg.split('\n').map(visible), 'run wsdiag ingest --help for usage');
    })
    .parseAsync();
  const batch = Number(argv.batch);
  if (!Number.isInteger(batch) || batch <= 0) fail(`Invalid option --batch: expected a positive integer, got ${JSON.stringify(argv.batch)}`);
  const progress = process.stderr.isTTY && !argv.quiet;
  const r = await ingest({
    inputs: (argv._ as (string | number)[]).map(String), clickhouse: argv.clickhouse, table: argv.table, create: argv.create, host: argv.host, inputName: argv['input-name'], noText: argv['no-text'], batchRows: batch,
    logFormat: list(argv['log-format']), preset: list(argv.preset), nginxConf: argv['nginx-conf'], formatName: argv['format-name'], wsPath: list(argv['ws-path']), stdin: process.stdin,
    onIngestProgress: progress ? (input, lines) => void process.stderr.write(`\rwsdiag: ${visible(input)}: ${int(lines)} lines`) : undefined,
  });
  if (progress) process.stderr.write('\r\x1b[K');
  if (!argv.quiet) {
    for (const i of r.inputs) {
      const line = i.error ? `skipped: ${i.error.message}` : `${i.name}: ${int(i.inserted)} lines inserted${i.skipped > 0 ? `, ${int(i.skipped)} already stored` : ''}`;
      process.stderr.write(`wsdiag: ${visible(line)}\n`);
    }
    process.stderr.write(`wsdiag: ${int(r.rows)} rows in ${r.seconds.toFixed(1)} s; ${wireLine(r.wire)}\n`);
  }
  if (r.inputs.some((i) => i.error)) process.exit(2);
}

async function main(): Promise<void> {
  process.stdout.on('error', onStdoutError);
  if (process.argv[2] === 'ingest') return ingestMain(process.argv.slice(3));
  const argv = await yargs(hideBin(process.argv))
    .scriptName('wsdiag')
    // English, as everything else the command says (and yargs' translations are files the bundle leaves out).
    .detectLocale(false)
    .usage('$0 [inputs..]\n\nReads nginx access logs (files, "-" for stdin, gzip detected) and explains why WebSocket handshakes fail.')
    .positional('inputs', { describe: 'log files; "-" or none reads stdin', type: 'string' })
    // Repeatable flags are plain strings (yargs collects repeats into an array; list() reads both):
    // an `array: true` option would swallow the input file names that follow it.
    .option('log-format', { type: 'string', describe: 'the log_format as in nginx.conf (quoted pieces, escape=...); repeat for logs whose format changed: each line uses the first that fits' })
    .option('preset', { type: 'string', describe: `a named format: ${PRESET_FORMATS.map((p) => p.name).join(', ')}` })
    .option('nginx-conf', { type: 'string', describe: 'read log_format directives from this nginx.conf (includes followed)' })
    .option('format-name', { type: 'string', describe: 'which log_format of --nginx-conf to use (default: the one whose access_log writes the input file, else the first log_format defined, else combined)' })
    .option('output', { alias: 'o', choices: [...OUTPUT_NAMES, 'jsonl' as const], default: 'table' as OutputName | 'jsonl', describe: 'report form: terminal table, GitHub Markdown, JSON, CSV, a self-contained HTML page, or (live) JSON lines: one event per line' })
    .option('csv', { choices: CSV_KINDS, default: 'handshakes' as CsvKind, describe: 'with --output csv: one row per handshake, or per finding' })
    .option('out', { type: 'string', describe: 'write the report to this file instead of stdout (any --output)' })
    .option('timeout', { type: 'string', describe: 'the timeout T in seconds, instead of inferring it from request_time clusters' })
    .option('tolerance', { type: 'string', describe: 'half-width of a timeout cluster in ms (default: max(25, 0.2% of T))' })
    .option('ws-path', { type: 'string', describe: `extra WebSocket path pattern (\`*\` wildcard), besides ${DEFAULT_WS_PATHS.join(', ')}` })
    .option('fail-on', { type: 'string', describe: 'exit 1 when these findings are present: finding ids, a severity (critical, warning) or "any"' })
    .option('evidence', { type: 'string', default: '5', describe: 'evidence lines per finding' })
    .option('top', { type: 'string', describe: 'findings and rows per table (default: 5 in the terminal, 20 with --verbose and in markdown and html)' })
    .option('verbose', { type: 'boolean', default: false, describe: 'terminal: everything (every explanation, fix and evidence line, the timeline, histogram and traced keys)' })
    .option('wide', { type: 'boolean', default: false, describe: 'terminal: evidence lines whole, however long, instead of cut to the width' })
    .option('utc', { type: 'boolean', default: false, describe: 'times in UTC instead of the log\'s own UTC offset (from $time_local / $time_iso8601)' })
    .option('since', { type: 'string', describe: 'only lines logged at or after this time: 2h, 30m (ago), 09/Mar/2018:15:00:00 +0800, 2018-03-09T07:00Z, epoch seconds' })
    .option('until', { type: 'string', describe: 'only lines logged at or before this time (same forms as --since)' })
    .option('workers', { type: 'string', describe: 'threads that parse (default: one per core; 1 keeps everything in one thread, for less memory)' })
    .option('bad-lines', { type: 'string', describe: 'write every unparsed line to this file as "file:line<TAB>text"' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no notes or progress on stderr' })
    .option('clickhouse', { type: 'string', describe: 'build the report in ClickHouse from --table (filled by wsdiag ingest) instead of reading inputs' })
    .option('table', { type: 'string', describe: 'with --clickhouse: DB.TABLE to report on (a Distributed table spreads the queries over its shards)' })
    .option('where', { type: 'string', describe: 'with --clickhouse: an SQL condition on the table\'s columns, e.g. "host LIKE \'lb-%\'"' })
    .option('columns', { type: 'string', describe: 'with --clickhouse: map another shipper\'s columns, e.g. time=ts,client=remote_addr,duration_ms=request_time*1000' })
    .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'live: follow the files like tail -F (rotation too) and report as lines come; Ctrl-C or SIGTERM ends with the report over everything read' })
    .option('from-start', { type: 'boolean', default: false, describe: 'with --follow: read what the files hold first, then follow' })
    .option('interval', { type: 'string', default: '10', describe: 'live: seconds between verdicts over the window' })
    .option('window', { type: 'string', default: '5m', describe: 'live: how far back the verdict looks (90s, 5m, 1h)' })
    .option('metrics', { type: 'string', describe: 'live: serve Prometheus metrics at http://HOST:PORT/metrics while it runs; HOST may be left out (default: 127.0.0.1)' })
    .example('$0 access.log', 'terminal report, format auto-detected')
    .example("$0 --log-format '[$time_local] $remote_addr - ... $http_sec_websocket_key' front.log", 'your own log_format, pasted from nginx.conf')
    .example('zcat access.log.*.gz | $0 --preset combined -', 'rotated logs from stdin')
    .example('$0 --output json access.log | jq .findings', 'machine-readable findings')
    .example('$0 --output markdown access.log > incident.md', 'paste into an issue or incident ticket')
    .example('$0 --output html --out report.html access.log', 'one self-contained page with charts, to attach or mail')
    .example('$0 --output csv access.log > handshakes.csv', 'one row per handshake, for a spreadsheet')
    .example('$0 --output csv --csv findings access.log', 'one row per finding')
    .example('$0 --top 5 access.log', 'five findings and rows per table')
    .example('$0 --verbose --wide --utc access.log', 'the whole terminal report, log lines uncut, times in UTC')
    .example('$0 --fail-on critical access.log', 'for cron/CI: exit 1 when a critical finding is present')
    .example('$0 front.log back.log', 'two tiers: joins the same Sec-WebSocket-Key across files')
    .example('$0 ingest --clickhouse http://ch:8123 --table logs.nginx --create access.log', 'on each host: load parsed lines into ClickHouse')
    .example('$0 --clickhouse http://ch:8123 --table logs.nginx --since 2h', 'centrally: the same report, computed by ClickHouse')
    .example('$0 --follow /var/log/nginx/access.log', 'live: incidents as they open and close, the report on Ctrl-C')
    .example('tail -F access.log | $0 --output jsonl -', 'live events as JSON lines, for an alert pipeline')
    .example('$0 --follow access.log --metrics 9464', 'live, with Prometheus metrics at http://127.0.0.1:9464/metrics')
    .example('$0 --since 2h --bad-lines bad.txt access.log', 'the last two hours; every line that did not parse goes to bad.txt')
    .completion('completion', 'print a bash/zsh completion script: wsdiag completion >> ~/.bashrc')
    .strictOptions()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      // Each line shown safely, the line breaks kept (`Invalid values:` then one line per argument).
      failLines(msg.split('\n').map(visible), 'run wsdiag --help for usage');
    })
    .parseAsync();

  const inputs = (argv._ as (string | number)[]).map(String);
  const failOn = list(argv['fail-on']);
  for (const sev of failOn) {
    for (const part of sev.split(',')) {
      const p = part.trim();
      if (p !== '' && !SEVERITIES.includes(p) && p !== 'any' && !/^[a-z]+(-[a-z]+)*$/.test(p)) fail(`Invalid option --fail-on: expected a finding id, a severity or "any", got ${JSON.stringify(p)}`);
    }
  }
  const top = argv.top === undefined ? undefined : Number(argv.top);
  if (top !== undefined && (!Number.isInteger(top) || top <= 0)) fail(`Invalid option --top: expected a positive integer, got ${JSON.stringify(argv.top)}`);

  // Live: followed files, JSON-lines events, or standard input that is a pipe (`tail -F … | wsdiag -`).
  const readsStdin = inputs.length === 0 || inputs.includes('-');
  const fromClickHouse = argv.clickhouse !== undefined;
  if (fromClickHouse && argv.follow) fail('Invalid option --follow with --clickhouse: the report comes from --table, not from followed files');
  const live = !fromClickHouse && (argv.follow || argv.output === 'jsonl' || (readsStdin && isPipe(0)));
  const intervalSeconds = Number(argv.interval);
  if (!(intervalSeconds > 0)) fail(`Invalid option --interval: expected a positive number of seconds, got ${JSON.stringify(argv.interval)}`);
  const windowSeconds = parseDuration(argv.window);
  if (windowSeconds === undefined) fail(`Invalid option --window: expected a duration such as 90s, 5m or 1h, got ${JSON.stringify(argv.window)}`);
  if (argv.metrics !== undefined && !live) fail('Invalid option --metrics: metrics are served while wsdiag runs live; add --follow, or pipe the log in (tail -F access.log | wsdiag --metrics 9464)');
  const metricsAt = argv.metrics === undefined ? undefined : parseListenAddress('metrics', argv.metrics);

  // SIGINT and SIGTERM (kill, timeout, systemd) both end the run with the report over what was read.
  const abort = new AbortController();
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (!argv.quiet) process.stderr.write('\nwsdiag: interrupted; reporting what was read so far\n');
      (live ? stop : abort).abort();
      // A terminal's standard input would wait for one more line before it noticed.
      if (isatty(0)) process.stdin.destroy();
      process.once(sig, () => process.exit(130));
    });
  }
  if (inputs.length === 0 && !fromClickHouse && isatty(0) && !argv.quiet) process.stderr.write('wsdiag: reading standard input (give file names, or pipe a log in)\n');

  const fleetOnly = ['table', 'where', 'columns'].find((k) => argv[k] !== undefined && argv.clickhouse === undefined);
  if (fleetOnly !== undefined) fail(`Invalid option --${fleetOnly}: it goes with --clickhouse URL`);
  if (argv.clickhouse !== undefined && argv.table === undefined) fail('Invalid option --clickhouse: give the table too, --table DB.TABLE');
  if (argv.clickhouse !== undefined && argv.output === 'csv' && argv.csv === 'handshakes') fail('Invalid option --output csv with --clickhouse: one row per handshake would pull every row out of ClickHouse; use --csv findings');
  if (argv.clickhouse !== undefined && inputs.length > 0) fail('Invalid inputs: with --clickhouse the report comes from --table; ingest files with wsdiag ingest');
  const badLines = argv['bad-lines'] === undefined ? undefined : new BadLinesFile(argv['bad-lines']);
  // Followed files have no end to make progress towards: their terminal gets the live status line.
  const progress = process.stderr.isTTY && !argv.quiet && !argv.follow && !fromClickHouse ? new ProgressLine(process.stderr) : undefined;
  const common: AnalyzeOptions = {
    inputs,
    logFormat: list(argv['log-format']),
    preset: list(argv.preset),
    nginxConf: argv['nginx-conf'],
    formatName: argv['format-name'],
    timeout: argv.timeout,
    tolerance: argv.tolerance,
    wsPath: list(argv['ws-path']),
    evidence: argv.evidence,
    since: argv.since,
    until: argv.until,
    keysPerHandshake: argv.output === 'csv' && argv.csv === 'handshakes',
    workers: argv.workers,
    // The descriptor, not process.stdin: a pipe is read straight into blocks (input/pipe.ts).
    stdin: 0,
    signal: abort.signal,
    onBadLine: badLines && ((file, line, text) => badLines.add(file, line, text)),
    onProgress: progress && ((bytes, lines) => progress.update(bytes, lines)),
  };
  let wire: Wire | undefined;
  let metrics: LiveMetrics | undefined;
  if (metricsAt !== undefined) {
    metrics = await LiveMetrics.create();
    const url = await metrics.listen(metricsAt);
    if (!argv.quiet) process.stderr.write(`wsdiag: Prometheus metrics at ${url}\n`);
  }
  const report = live
    ? await watchLive(common, {
      follow: argv.follow, fromStart: argv['from-start'], intervalSeconds, windowSeconds: windowSeconds as number, stop: stop.signal, jsonl: argv.output === 'jsonl',
      out: argv.out, quiet: argv.quiet, failOn, metrics,
      render: argv.output === 'jsonl' ? undefined : (r) => RENDERERS[argv.output as OutputName](r, { color: false, width: outputWidth(false), top, csv: argv.csv, verbose: argv.verbose, wide: argv.wide, utc: argv.utc }),
    }).finally(() => metrics?.close())
    : fromClickHouse ? await analyzeClickHouse({
      clickhouse: argv.clickhouse as string, table: argv.table as string, where: argv.where, columns: argv.columns,
      timeout: argv.timeout, tolerance: argv.tolerance, wsPath: list(argv['ws-path']), evidence: argv.evidence, since: argv.since, until: argv.until,
    }).then((r) => ((wire = r.wire), r.report))
      : await analyze(common);
  progress?.clear();
  badLines?.close();

  const notes: string[] = [];
  const fatalInputs = report.meta.inputs.filter((i) => i.error);
  const parsedAny = report.lines.parsed > 0;
  if (!parsedAny && fatalInputs.length > 0 && !abort.signal.aborted) {
    const first = fatalInputs[0]?.error;
    fail(first?.message ?? 'no input could be read', first?.code === 'FORMAT_NO_MATCH' ? 'give the format with --log-format \'<log_format text>\', --nginx-conf FILE, or --preset NAME' : undefined);
  }
  const toTerminal = argv.out === undefined && Boolean(process.stdout.isTTY);
  // NO_COLOR (no-color.org): any non-empty value turns colour off.
  const out = argv.output === 'jsonl' ? `${JSON.stringify({ type: 'snapshot', at: new Date().toISOString(), final: true, report })}\n` : RENDERERS[argv.output](report, {
    color: toTerminal && !process.env.NO_COLOR, width: outputWidth(toTerminal), top, csv: argv.csv, verbose: argv.verbose, wide: argv.wide, utc: argv.utc,
  });
  if (!argv.quiet) {
    if (report.meta.formats.length > 0) notes.push(`format: ${report.meta.formats.map((f) => `"${f.name}" (${int(f.lines)} lines)`).join(', ')}`);
    notes.push(...assumedFieldsLines(report));
    if (report.lines.unparsed > 0) {
      notes.push(`${int(report.lines.unparsed)} of ${int(report.lines.total)} lines did not match the format (first ${report.lines.samples.length} below)`);
      for (const s of report.lines.samples.slice(0, 5)) notes.push(`  ${s.file}:${s.line}: ${s.reason}`);
    }
    if (report.lines.filtered > 0) notes.push(`${int(report.lines.filtered)} parsed lines fell outside --since/--until and were left out`);
    if (badLines) notes.push(`${int(badLines.count)} unparsed line${badLines.count === 1 ? '' : 's'} written to ${badLines.path}`);
    const same = sameInputsLine(report);
    if (same !== null) notes.push(same);
    for (const i of fatalInputs) notes.push(`${i.status === 'skipped' ? 'skipped' : 'read part-way'}: ${i.error?.message}`);
    if (report.meta.partial) notes.push('the report is partial: not every input was read to the end');
    if (wire !== undefined) notes.push(wireLine(wire));
  }
  await emit(out, argv.out);
  if (argv.out !== undefined && !argv.quiet) notes.push(`report written to ${argv.out}`);
  if (notes.length > 0) process.stderr.write(notes.map((n) => `wsdiag: ${visible(n)}\n`).join(''));
  if (fatalInputs.length > 0 || report.meta.partial) process.exit(2);
  const matched = matchedFailOn(report.findings, failOn);
  if (matched.length > 0) {
    if (!argv.quiet) process.stderr.write(`wsdiag: --fail-on matched: ${matched.join(', ')}\n`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  if (isAnalyzerError(err)) {
    const e = err as AnalyzerError;
    const where = e.where?.file ? `${e.where.file}${e.where.line ? `:${e.where.line}` : ''}${e.where.column ? `:${e.where.column}` : ''}: ` : '';
    const hint = e.code.startsWith('FORMAT_') ? 'the format is the log_format text from nginx.conf, e.g. --log-format \'$remote_addr - $remote_user [$time_local] "$request" $status\'' : undefined;
    fail(`${e.message.startsWith(where) ? '' : where}${e.message}`, hint);
  }
  throw err;
});
