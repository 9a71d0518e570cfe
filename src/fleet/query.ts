/*!
 * The report from a ClickHouse table: fills the aggregates a local run fills (core/counts.ts
 * Counts, the key counts of core/keys.ts, the evidence reservoir) from GROUP BY and LIMIT BY
 * queries pushed down to the server (and through a Distributed table to every shard), in the
 * local run's first-seen order, plus the per-input line counts; diagnose and buildReport then run
 * unchanged (src/index.ts). Node never reads the rows: answers are sized by distinct groups.
 */
import { BUCKET_LADDER_S, Counts, type Bucket, type ClientCounts, type Group } from '../core/counts.js';
import { EvidenceReservoir, KEY_CLASS, clipText, type EvidenceRow } from '../core/evidence.js';
import { DurationHistogram, FINE } from '../core/grid.js';
import { OutcomeTable } from '../core/outcomes.js';
import type { InputResult, PipelineResult } from '../core/pipeline.js';
import { BadLineLog } from '../core/stats.js';
import { Tally } from '../core/tally.js';
import { AnalyzerError } from '../errors.js';
import { compileFormatString, type CompiledFormat, type Escape } from '../format/compile.js';
import { JSON_FORMAT_TEXT } from '../format/json-format.js';
import type { ResolvedOptions } from '../options.js';
import { Fleet, type Wire } from './client.js';
import { columnsFor, lineSql, lit, parseColumnMap, tableName, type ColumnName, type LineSql } from './sql.js';

export interface FleetQueryOptions {
  clickhouse: string;
  table: string;
  /** A SQL condition over the table's own columns, added to every query. */
  where?: string;
  /** --columns NAME=COLUMN,… for tables other shippers wrote. */
  columns?: string;
}

export interface FleetTally {
  tally: Tally;
  pipeline: PipelineResult;
  wire: Wire;
  /**
   * Fills in the text of evidence rows (the reservoir holds them without: only the few a report
   * cites are fetched). Call before close().
   */
  evidenceTexts(rows: readonly EvidenceRow[]): Promise<void>;
  close(): Promise<void>;
}

type Row = unknown[];
type Ord = [number, number, number];

const num = (v: unknown): number => Number(v);
const str = (v: unknown): string => String(v);
/** A merge-order tuple as TabSeparated writes it: `(1520579031198,0,12)`. */
const ord = (v: unknown): Ord => String(v).slice(1, -1).split(',').map(Number) as Ord;
const byOrd = (a: Ord, b: Ord): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
/** minIf over no rows gives 0: `n` timed rows or it is ±Infinity. */
const timedOr = (v: unknown, n: unknown, none: number): number => (num(n) > 0 ? num(v) : none);

/** Counts.merge reads only these: an image of a Counts whose lines come "after" an empty one. */
type CountsImage = Pick<Counts, 'requests' | 'requestsHttp10' | 'handshakes' | 'firstMs' | 'lastMs' | 'clientsCapped' | 'clients' | 'clientCounts' | 'groups' | 'bucketSeconds' | 'buckets' | 'forEachCell' | 'byUpstream' | 'byPath'>;

export async function fleetTally(o: ResolvedOptions, q: FleetQueryOptions): Promise<FleetTally> {
  const table = tableName(q.table);
  const fleet = new Fleet(q.clickhouse);
  try {
    const tally = new Tally({ evidence: o.evidence, caps: o.caps });
    const { pipeline, texts } = await fill(fleet, table, o, q, tally);
    return { tally, pipeline, wire: fleet.wire, evidenceTexts: texts, close: () => fleet.close() };
  } catch (err) {
    await fleet.close();
    throw err;
  }
}

async function fill(fleet: Fleet, table: string, o: ResolvedOptions, q: FleetQueryOptions, tally: Tally): Promise<{ pipeline: PipelineResult; texts: FleetTally['evidenceTexts'] }> {
  const [db, name] = table.includes('.') ? table.split('.') as [string, string] : [null, table];
  const present = new Set((await fleet.rows(`SELECT name FROM system.columns WHERE database = ${db === null ? 'currentDatabase()' : lit(db)} AND table = ${lit(name)}`)).map((r) => str(r[0])));
  if (present.size === 0) throw new AnalyzerError('CLICKHOUSE_NO_TABLE', `ClickHouse has no table ${table} (create it with wsdiag ingest --create)`);
  const c = columnsFor(parseColumnMap(q.columns), present, table);
  const user = q.where === undefined || q.where.trim() === '' ? '1' : `(${q.where})`;

  // Inputs, in (host, input) order; named by input alone when one host wrote them all.
  const inputRows = await fleet.rows(`SELECT toString(${c.host}) AS h, toString(${c.input}) AS i, count(), countIf(${c.kind} = 0), countIf(${c.kind} = 1), countIf(${c.kind} = 2),
    countIf(${c.kind} = 0 AND toInt64(${c.end_ms}) >= 0 AND NOT (toInt64(${c.end_ms}) BETWEEN ${o.sinceMs ?? -1} AND ${o.untilMs ?? '9223372036854775807'}))
    FROM ${table} WHERE ${user} GROUP BY h, i ORDER BY h, i`);
  const keys = inputRows.map((r) => `${str(r[0])}\u0000${str(r[1])}`);
  const oneHost = new Set(inputRows.map((r) => str(r[0]))).size <= 1;
  const names = inputRows.map((r) => (oneHost ? str(r[1]) : `${str(r[0])}:${str(r[1])}`));
  const e = lineSql(c, keys, o.wsPaths);
  const inWindow = `toInt64(${c.end_ms}) < 0 OR toInt64(${c.end_ms}) BETWEEN ${o.sinceMs ?? -1} AND ${o.untilMs ?? '9223372036854775807'}`;
  const W = `${user} AND ${c.kind} = 0 AND (${inWindow})`;
  const H = `${W} AND ${e.handshake}`;
  const K = `${H} AND ${e.key} != ''`;

  const inputs: InputResult[] = inputRows.map((r, i) => ({
    name: names[i] as string, lines: num(r[2]), parsed: num(r[3]), unparsed: num(r[4]), empty: num(r[5]), filtered: num(r[6]),
    bytes: 0, gzip: false, formats: {}, assumed: null, sameAs: null, error: null,
  }));
  const used = await formats(fleet, table, c, e, user, inputs);
  const bad = new BadLineLog();
  for (const r of await fleet.rows(`SELECT ${e.idx} AS x, ${e.line} AS l, ${e.text}, toString(${c.reason}) FROM ${table} WHERE ${user} AND ${c.kind} = 1 ORDER BY x, l LIMIT ${BadLineLog.MAX_SAMPLES}`)) {
    bad.add(num(r[0]), names[num(r[0])] ?? '?', num(r[1]), str(r[2]), () => str(r[3]));
  }
  bad.count = inputs.reduce((n, i) => n + i.unparsed, 0);
  const [offset] = await fleet.rows(`SELECT toInt32(${c.utc_offset}) AS z, count() AS n FROM ${table} WHERE ${user} AND ${c.kind} = 0 AND z != -32768 GROUP BY z ORDER BY n DESC, z LIMIT 1`);

  tally.counts.merge(await counts(fleet, table, e, W, H, tally.counts.caps.timeBuckets, tally.counts.caps.names) as Counts);
  await keyCounts(fleet, table, e, K, tally);
  await evidence(fleet, table, e, H, K, tally.evidence);
  const pipeline: PipelineResult = { inputs, bad, used, partial: false, sinceMs: o.sinceMs, untilMs: o.untilMs, utcOffsetMinutes: offset === undefined ? null : num(offset[0]),
    // Its rows' texts come from the table (`texts` below), none from a file.
    readTexts: () => {}, close: () => {} };
  const texts = async (rows: readonly EvidenceRow[]): Promise<void> => {
    if (rows.length === 0) return;
    const places = [...new Set(rows.map((r) => `(${r.input}, ${r.line})`))];
    const lines = [...new Set(rows.map((r) => r.line))];
    const got = new Map((await fleet.rows(`SELECT ${e.idx} AS x, ${e.line} AS l, ${e.text} FROM ${table} WHERE ${c.kind} = 0 AND l IN (${lines.join(', ')}) AND (x, l) IN (${places.join(', ')})`))
      .map((r) => [`${num(r[0])}:${num(r[1])}`, str(r[2])]));
    for (const r of rows) r.text = clipText(got.get(`${r.input}:${r.line}`) ?? '');
  };
  return { pipeline, texts };
}

/** The formats lines were parsed with: per input in first-use order, and the run's list in first-use order. */
async function formats(fleet: Fleet, table: string, c: Record<ColumnName, string>, e: LineSql, user: string, inputs: InputResult[]): Promise<CompiledFormat[]> {
  const rows = await fleet.rows(`SELECT ${e.idx} AS x, toString(${c.format}) AS f, any(toString(${c.format_escape})), any(toString(${c.format_text})), count(), ${e.firstOrd('x')} AS o
    FROM ${table} WHERE ${user} AND ${c.kind} = 0 GROUP BY x, f ORDER BY x, o`);
  const used = new Map<string, { o: Ord; f: CompiledFormat }>();
  for (const r of rows) {
    const input = inputs[num(r[0])];
    if (input === undefined) continue;
    const n = str(r[1]);
    input.formats[n] = num(r[4]);
    const at = ord(r[5]);
    const seen = used.get(n);
    if (seen === undefined || byOrd(at, seen.o) < 0) used.set(n, { o: at, f: formatOf(n, str(r[2]), str(r[3])) });
  }
  return [...used.values()].sort((a, b) => byOrd(a.o, b.o)).map((x) => x.f);
}

/**
 * What report/build.ts reads of a format: its name, escape and text, and for a log_format its
 * variables (report/logging.ts names those it lacks) — compiled again from its text.
 */
function formatOf(name: string, escape: string, text: string): CompiledFormat {
  const stub = { name, escape, text } as CompiledFormat;
  if (text === JSON_FORMAT_TEXT || text === '') return stub;
  try {
    return compileFormatString(text, escape as Escape, name);
  } catch {
    return stub;
  }
}

/** Requests per (input, client), handshake groups × FINE bin, cells × COARSE bin and time buckets, in first-seen order. */
async function counts(fleet: Fleet, table: string, e: LineSql, W: string, H: string, maxBuckets: number, maxNames: number): Promise<CountsImage> {
  const clients: string[] = [];
  const clientId = new Map<string, number>();
  const pairs = (await fleet.rows(`SELECT ${e.idx} AS x, ${e.client} AS cl, count(), countIf(${e.proto} = 1), countIf(${e.handshake}), countIf(${e.handshake} AND ${e.proto} = 1),
    countIf(${e.handshake} AND ${e.status} = 101), ${e.firstOrd('x')} FROM ${table} WHERE ${W} GROUP BY x, cl`)).sort((a, b) => byOrd(ord(a[7]), ord(b[7])));
  const id = (name: string): number => {
    let i = clientId.get(name);
    if (i === undefined) {
      clientId.set(name, (i = clients.length));
      clients.push(name);
    }
    return i;
  };
  const clientCounts: ClientCounts[] = pairs.map((r) => ({ input: num(r[0]), client: id(str(r[1])), total: num(r[2]), http10: num(r[3]), handshakes: num(r[4]), handshakesHttp10: num(r[5]), upgraded: num(r[6]) }));
  const [span] = await fleet.rows(`SELECT minIf(${e.start}, ${e.timed}), maxIf(${e.end}, ${e.timed}), countIf(${e.timed}) FROM ${table} WHERE ${W}`);

  const groupRows = await fleet.rows(`SELECT ${e.idx} AS x, ${e.proto} AS p, ${e.status} AS s, ${e.flags} AS f, if(${e.dur} < 0, -1, ${e.fine}) AS b, count(), max(${e.dur}), ${e.firstOrd('x')}
    FROM ${table} WHERE ${H} GROUP BY x, p, s, f, b ORDER BY b`);
  // By bin: each histogram's bins then come in order, each added at the end of its sorted ones (core/grid.ts).
  const groupOrder = new Map<number, Ord>();
  const groups = new Map<number, Group>();
  const groupKey = (input: number, protocol: number, status: number, flags: number): number => ((input * 8 + protocol) * 256 + flags) * 1000 + status;
  for (const r of groupRows) {
    const [input, protocol, status, flags] = [num(r[0]), num(r[1]), num(r[2]), num(r[3])];
    const k = groupKey(input, protocol, status, flags);
    const o = ord(r[7]);
    const seen = groupOrder.get(k);
    if (seen === undefined || byOrd(o, seen) < 0) groupOrder.set(k, o);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { input, protocol, status, flags, count: 0, durations: new DurationHistogram() }));
    const n = num(r[5]);
    g.count += n;
    if (num(r[4]) >= 0) {
      g.durations.add(FINE.lo(num(r[4])), n);
      g.durations.maxMs = Math.max(g.durations.maxMs, num(r[6]));
    }
  }
  const orderedGroups = new Map([...groups].sort((a, b) => byOrd(groupOrder.get(a[0]) as Ord, groupOrder.get(b[0]) as Ord)));

  const cells = (await fleet.rows(`SELECT ${e.idx} AS x, ${e.proto} AS p, ${e.flags} AS f, ${e.status} AS s, ${e.client} AS cl, ${e.coarse} AS b, count(),
    minIf(${e.start}, ${e.timed}), minIf(${e.end}, ${e.timed}), maxIf(${e.end}, ${e.timed}), countIf(${e.timed}), ${e.firstOrd('x')}
    FROM ${table} WHERE ${H} GROUP BY x, p, f, s, cl, b`)).sort((a, b) => byOrd(ord(a[11]), ord(b[11])));

  // The bucket width a local run ends with: the first step of the ladder with at most maxBuckets buckets.
  const widths = await fleet.rows(`SELECT ${BUCKET_LADDER_S.map((w) => `uniqExact(intDiv(${e.start}, ${w * 1000}))`).join(', ')} FROM ${table} WHERE ${H} AND ${e.timed}`);
  const distinct = (widths[0] ?? []).map(num);
  const w = BUCKET_LADDER_S[Math.max(0, distinct.findIndex((n, i) => n <= maxBuckets || i === BUCKET_LADDER_S.length - 1))] as number;
  const buckets = new Map<number, Bucket>();
  const bucket = (k: number): Bucket => {
    let b = buckets.get(k);
    if (b === undefined) buckets.set(k, (b = { handshakes: 0, downgraded: 0, failed: 0, failedBy: new Map(), failedFirst: Infinity, failedLast: -Infinity }));
    return b;
  };
  const at = `intDiv(${e.start}, ${w * 1000})`;
  for (const r of await fleet.rows(`SELECT ${at} AS k, count(), countIf(${e.proto} = 1) FROM ${table} WHERE ${H} AND ${e.timed} GROUP BY k`)) {
    const b = bucket(num(r[0]));
    b.handshakes = num(r[1]);
    b.downgraded = num(r[2]);
  }
  // Failed attempts by client, in the order each client first failed in the bucket.
  const failedRows = (await fleet.rows(`SELECT ${at} AS k, ${e.client} AS cl, count(), min(${e.start}), max(${e.start}), min(${e.ord})
    FROM ${table} WHERE ${H} AND ${e.timed} AND ${e.failed} GROUP BY k, cl`)).sort((a, b) => byOrd(ord(a[5]), ord(b[5])));
  for (const r of failedRows) {
    const b = bucket(num(r[0]));
    const failed = num(r[2]);
    b.failed += failed;
    b.failedBy.set(id(str(r[1])), failed);
    b.failedFirst = Math.min(b.failedFirst, num(r[3]));
    b.failedLast = Math.max(b.failedLast, num(r[4]));
  }

  // Handshakes by (input, answering upstream) and (input, path) and status, added in first-seen order (names numbered and capped as they come).
  const byUpstream = new OutcomeTable(maxNames);
  const byPath = new OutcomeTable(maxNames);
  for (const [t, name] of [[byUpstream, e.upstream], [byPath, e.target]] as const) {
    const rows = (await fleet.rows(`SELECT ${e.idx} AS x, ${name} AS n, ${e.status} AS s, count(), ${e.firstOrd('x')} FROM ${table} WHERE ${H} GROUP BY x, n, s`))
      .sort((a, b) => byOrd(ord(a[4]), ord(b[4])));
    for (const r of rows) t.add(num(r[0]), str(r[1]), num(r[2]), num(r[3]));
  }

  return {
    byUpstream,
    byPath,
    requests: pairs.reduce((n, r) => n + num(r[2]), 0),
    requestsHttp10: pairs.reduce((n, r) => n + num(r[3]), 0),
    handshakes: pairs.reduce((n, r) => n + num(r[4]), 0),
    firstMs: timedOr(span?.[0], span?.[2], Infinity),
    lastMs: timedOr(span?.[1], span?.[2], -Infinity),
    clientsCapped: false,
    clients,
    clientCounts,
    groups: orderedGroups,
    bucketSeconds: w,
    buckets,
    forEachCell: (fn) => {
      for (const r of cells) {
        const n = num(r[10]);
        fn({ input: num(r[0]), protocol: num(r[1]), flags: num(r[2]), status: num(r[3]), client: id(str(r[4])), bin: num(r[5]), count: num(r[6]),
          firstMs: timedOr(r[7], n, Infinity), firstEndMs: timedOr(r[8], n, Infinity), lastMs: timedOr(r[9], n, -Infinity) });
      }
    },
  };
}

/** One row per key (of keyed handshakes): inputs, per protocol, repeated inputs, lines, sightings in order. */
function perKey(table: string, e: LineSql, K: string): string {
  const bit = `toUInt32(bitShiftLeft(toUInt32(1), least(${e.idx}, 31)))`;
  return `SELECT ${e.key} AS k, groupBitOr(${bit}) AS inputs, groupBitOrIf(${bit}, ${e.proto} = 1) AS i10, groupBitOrIf(${bit}, ${e.proto} = 2) AS i11,
    arraySort(groupArray(${bit})) AS bits, arrayReduce('groupBitOr', arrayFilter((v, j) -> j > 1 AND bits[j - 1] = v, bits, arrayEnumerate(bits))) AS rep,
    count() AS lines, minIf(${e.start}, ${e.timed}) AS fs, maxIf(${e.end}, ${e.timed}) AS le, countIf(${e.timed}) AS nt, min(${e.ord}) AS fo,
    arraySort(groupArray((${e.ord}, ${e.client}))) AS sg, arrayMap(x -> tupleElement(x, 2), arraySlice(sg, 1, 3)) AS c3,
    tupleElement(arraySort(groupArrayIf((${e.ord}, ${e.client}), ${e.proto} = 1))[1], 2) AS c10,
    arraySort(groupArray((${e.ord}, ${bit}))) AS seen,
    tupleElement(arrayFirst(x -> tupleElement(x, 2) != tupleElement(seen[1], 2), seen), 1) AS mo
    FROM ${table} WHERE ${K} GROUP BY k`;
}

const HIDDEN = 'i10 != 0 AND i11 != 0 AND bitOr(i10, i11) != i10 AND bitOr(i10, i11) != i11';
const REUSED = 'rep != 0';
const MULTI = 'bitAnd(inputs, inputs - 1) != 0';
/** core/keys.ts traces keys from the first few that turn multi-tier (TRACE_CANDIDATES), 10 of each kind. */
const TRACE_CANDIDATES = 40;
const TRACED = 10;
const SIGHTINGS = 10;

/** KeyCounts (core/keys.ts) from GROUP BY key: totals, hidden-downgrade and reused-key tallies, traced keys. */
async function keyCounts(fleet: Fleet, table: string, e: LineSql, K: string, tally: Tally): Promise<void> {
  const kc = tally.keys.counts;
  const keys = perKey(table, e, K);
  const [t] = await fleet.rows(`SELECT count(), countIf(${MULTI}), countIf(${REUSED}), countIf(i10 != 0 AND i11 != 0) FROM (${keys})`);
  kc.keys = num(t?.[0]);
  kc.multiTier = num(t?.[1]);
  kc.reused = num(t?.[2]);
  kc.protocolMismatch = num(t?.[3]);
  for (const [f, cond, pattern, rest] of [[kc.hidden, HIDDEN, "concat(toString(i10), ':', toString(i11))", 'c10'], [kc.reusedKeys, REUSED, 'toString(rep)', 'tupleElement(sg[1], 2)']] as const) {
    // The keys' lines: each of the first three sightings to its client, the rest to `rest`; patterns in fold (first-sighting) order.
    const patterns = await fleet.rows(`SELECT ${pattern} AS pat, count(), sum(least(lines, 255)), minIf(fs, nt > 0), maxIf(le, nt > 0), countIf(nt > 0), min(fo) AS o
      FROM (${keys}) WHERE ${cond} GROUP BY pat ORDER BY o`);
    for (const r of patterns) {
      f.keys += num(r[1]);
      f.patterns.set(str(r[0]), num(r[2]));
      if (num(r[5]) > 0) {
        f.firstMs = Math.min(f.firstMs, num(r[3]));
        f.lastMs = Math.max(f.lastMs, num(r[4]));
      }
    }
    if (patterns.length === 0) continue;
    const clients = await fleet.rows(`SELECT tupleElement(x, 1) AS cl, sum(tupleElement(x, 2)), min(tupleElement(x, 3)) AS o FROM (
      SELECT arrayJoin(arrayPushBack(arrayMap((cl, j) -> (cl, toInt64(1), (fo, toUInt64(j))), c3, arrayEnumerate(c3)), (${rest}, toInt64(least(lines, 255)) - length(c3), (fo, toUInt64(4))))) AS x
      FROM (${keys}) WHERE ${cond}) WHERE tupleElement(x, 2) > 0 GROUP BY cl ORDER BY o`);
    const ids = tally.counts;
    for (const r of clients) f.clients.set(ids.clientId(str(r[0])), num(r[1]));
  }
  // Traced: of the first keys to turn multi-tier, in first-sighting order, TRACED with a protocol mismatch and TRACED without.
  const candidates = (await fleet.rows(`SELECT k, fo, i10 != 0 AND i11 != 0, mo FROM (${keys}) WHERE ${MULTI} ORDER BY mo LIMIT ${TRACE_CANDIDATES}`))
    .sort((a, b) => byOrd(ord(a[1]), ord(b[1])));
  const chosen = [...candidates.filter((r) => num(r[2]) === 1).slice(0, TRACED), ...candidates.filter((r) => num(r[2]) !== 1).slice(0, TRACED)]
    .sort((a, b) => byOrd(ord(a[1]), ord(b[1])));
  if (chosen.length === 0) return;
  const sightings = await fleet.rows(`SELECT ${e.key} AS k, ${e.idx}, ${e.line}, ${e.proto}, ${e.status}, ${e.dur}, ${e.ord} AS o FROM ${table}
    WHERE ${K} AND k IN (${chosen.map((r) => lit(str(r[0]))).join(', ')}) ORDER BY o`);
  for (const r of chosen) {
    const key = str(r[0]);
    const multiAt = ord(r[3]);
    const mine = sightings.filter((s) => str(s[0]) === key);
    const list = mine.filter((s, i) => i === 0 || byOrd(ord(s[6]), multiAt) >= 0).slice(0, SIGHTINGS)
      .map((s) => ({ input: num(s[1]), line: num(s[2]), protocol: num(s[3]), status: num(s[4]), durationMs: num(s[5]) }));
    kc.traced.push({ key, mismatch: num(r[2]) === 1, sightings: list });
  }
}

/** The evidence reservoir: per class (protocol × status × flags × duration bin) its first lines and its last, and the lines of hidden and reused keys. */
async function evidence(fleet: Fleet, table: string, e: LineSql, H: string, K: string, res: EvidenceReservoir): Promise<void> {
  // No text: evidenceTexts() fetches the text of the few lines a report cites.
  const cols = `${e.proto}, ${e.status}, ${e.flags}, ${e.evidenceBin}, ${e.idx}, ${e.line}, ${e.client}, ${e.dur}, ${e.end}, ${e.ord}`;
  const cls = (r: Row): number => EvidenceReservoir.classOf(num(r[0]), num(r[1]), num(r[2]), num(r[3]));
  const rowOf = (r: Row): EvidenceRow => ({ protocol: num(r[0]), status: num(r[1]), flags: num(r[2]), input: num(r[4]), line: num(r[5]), client: str(r[6]), durationMs: num(r[7]), endMs: num(r[8]) >= 0 ? num(r[8]) : NaN, at: -1, bytes: 0, text: '' });
  const offer = (c: number, first: Row[], last: Row[]): void => {
    const firsts = new Set(first.map((r) => `${num(r[4])}:${num(r[5])}`));
    for (const r of first) res.offer(c < 0 ? c : cls(r), rowOf(r));
    for (const r of last) if (!firsts.has(`${num(r[4])}:${num(r[5])}`)) res.offer(c < 0 ? c : cls(r), rowOf(r));
  };
  const by = `${e.proto}, ${e.status}, ${e.flags}, ${e.evidenceBin}`;
  // One line more than a class keeps: offered in the local run's order, it is what makes a class
  // count its last line towards the reservoir's budget when it does there.
  const first = await fleet.rows(`SELECT ${cols} FROM ${table} WHERE ${H} ORDER BY ${e.ord} LIMIT ${res.perClass + 1} BY ${by}`);
  const last = await fleet.rows(`SELECT ${cols} FROM ${table} WHERE ${H} ORDER BY ${e.ord} DESC LIMIT 1 BY ${by}`);
  offer(0, first, last);
  // A key's lines are offered once it turns hidden or reused (core/keys.ts): from that line on, and,
  // for a hidden downgrade, its first line then too when that line was HTTP/1.0 (only those are
  // held; a reused key is notable before that check).
  const bit = `toUInt32(bitShiftLeft(toUInt32(1), least(${e.idx}, 31)))`;
  const hiddenUpTo = (i: string): string => {
    const m10 = `arrayReduce('groupBitOr', arraySlice(b10, 1, ${i}))`;
    const m11 = `arrayReduce('groupBitOr', arraySlice(b11, 1, ${i}))`;
    return `(${m10} != 0 AND ${m11} != 0 AND bitOr(${m10}, ${m11}) != ${m10} AND bitOr(${m10}, ${m11}) != ${m11})`;
  };
  const offered = (j: string, cond: string, withFirst: boolean): string => `SELECT tupleElement(o, 1) AS at, tupleElement(o, 2) AS later, tupleElement(o, 3) AS r FROM (
    SELECT arraySort(groupArray((${e.ord}, ${bit}, ${e.proto}, (${cols})))) AS sg, arrayMap(t -> tupleElement(t, 2), sg) AS bits,
      arrayMap(t -> if(tupleElement(t, 3) = 1, tupleElement(t, 2), toUInt32(0)), sg) AS b10, arrayMap(t -> if(tupleElement(t, 3) = 2, tupleElement(t, 2), toUInt32(0)), sg) AS b11,
      ${j} AS j, arrayFilter(i -> ${withFirst ? '(i = 1 AND tupleElement(sg[1], 3) = 1) OR ' : ''}i >= j, arrayEnumerate(sg)) AS kept,
      arrayMap(i -> (if(i = 1, tupleElement(sg[j], 1), tupleElement(sg[i], 1)), i > 1, tupleElement(sg[i], 4)), kept) AS offers
    FROM ${table} WHERE ${K} GROUP BY ${e.key} HAVING j > 0 AND ${cond})
    ARRAY JOIN offers AS o`;
  const hiddenAt = `arrayFirstIndex(i -> ${hiddenUpTo('i')}, arrayEnumerate(sg))`;
  const reusedAt = 'arrayFirstIndex(i -> has(arraySlice(bits, 1, i - 1), bits[i]), arrayEnumerate(sg))';
  for (const [c, q] of [[KEY_CLASS.hidden, offered(hiddenAt, '1', true)], [KEY_CLASS.reused, offered(reusedAt, `NOT ${hiddenUpTo('length(sg)')}`, false)]] as const) {
    const f = (await fleet.rows(`SELECT r FROM (${q}) ORDER BY at, later LIMIT ${res.perClass}`)).map((r) => tupleRow(r[0]));
    if (f.length === 0) continue;
    offer(c, f, (await fleet.rows(`SELECT r FROM (${q}) ORDER BY at DESC, later DESC LIMIT 1`)).map((r) => tupleRow(r[0])));
  }
}

/** A tuple of evidence columns as TabSeparated writes it: `(1,499,1,60000,0,12,'10.0.0.1',60000,1520…,(…))`. */
function tupleRow(v: string | undefined): Row {
  const out: Row = [];
  const s = String(v).slice(1, -1);
  let i = 0;
  while (i < s.length) {
    if (s[i] === "'") {
      let j = i + 1;
      let text = '';
      for (; j < s.length && s[j] !== "'"; j++) text += s[j] === '\\' ? s[++j] : s[j];
      out.push(text);
      i = j + 2;
    } else if (s[i] === '(') {
      const j = s.indexOf(')', i);
      out.push(s.slice(i, j + 1));
      i = j + 2;
    } else {
      const j = s.indexOf(',', i);
      out.push(s.slice(i, j < 0 ? s.length : j));
      i = j < 0 ? s.length : j + 1;
    }
  }
  return out;
}
