/*!
 * The one connection to ClickHouse (@clickhouse/client over HTTP): queries whose answers are
 * counted in bytes (what crossed the wire, both ways), inserts, and the translation of failures
 * into one-line AnalyzerErrors (unreachable, authentication, missing table or column). Knows no
 * table layout (fleet/sql.ts) and builds no report (fleet/query.ts).
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { AnalyzerError, type ErrorCode } from '../errors.js';

export interface Wire {
  /** Bytes of SQL and inserted rows sent, and of answers received. */
  sent: number;
  received: number;
  queries: number;
}

/** ClickHouse's error codes → ours: 60/81 no table or database, 47/16 no column, 192/193/516 auth. */
const CODES: Record<number, ErrorCode> = { 60: 'CLICKHOUSE_NO_TABLE', 81: 'CLICKHOUSE_NO_TABLE', 47: 'CLICKHOUSE_NO_COLUMN', 16: 'CLICKHOUSE_NO_COLUMN', 192: 'CLICKHOUSE_AUTH', 193: 'CLICKHOUSE_AUTH', 516: 'CLICKHOUSE_AUTH' };

const TSV_UNESCAPE: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' };

function unescapeTsv(v: string): string {
  return v.includes('\\') ? v.replace(/\\(.)/g, (_, c: string) => TSV_UNESCAPE[c] ?? c) : v;
}

export class Fleet {
  readonly wire: Wire = { sent: 0, received: 0, queries: 0 };
  /** Loaded with the first use: @clickhouse/client and its dependencies cost every run without --clickhouse about 15 MB. */
  private readonly connection: Promise<ClickHouseClient>;
  private readonly where: string;

  /** `url`: http(s)://[user[:password]@]host:port[/database]. */
  constructor(url: string) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new AnalyzerError('OPTION_INVALID', `Invalid option --clickhouse: expected a URL such as http://user:password@host:8123, got ${JSON.stringify(url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AnalyzerError('OPTION_INVALID', `Invalid option --clickhouse: expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
    const username = decodeURIComponent(u.username) || 'default';
    const password = decodeURIComponent(u.password);
    this.where = `${u.protocol}//${u.host}`;
    u.username = '';
    u.password = '';
    const target = u.toString();
    this.connection = import('@clickhouse/client').then((ch) => ch.createClient({ url: target, username, password, log: { level: ch.ClickHouseLogLevel.OFF }, request_timeout: 3_600_000 }));
  }

  /**
   * Rows of a SELECT, each value as text (TabSeparated, unescaped: half the bytes of JSONCompact;
   * a tuple reads `(1,2,3)`).
   */
  async rows(sql: string): Promise<string[][]> {
    this.wire.sent += Buffer.byteLength(sql);
    this.wire.queries++;
    const text = await this.run(async () => (await (await this.connection).query({ query: sql, format: 'TabSeparated' })).text());
    this.wire.received += Buffer.byteLength(text);
    const out: string[][] = [];
    for (const line of text.split('\n')) if (line !== '') out.push(line.split('\t').map(unescapeTsv));
    return out;
  }

  async command(sql: string): Promise<void> {
    this.wire.sent += Buffer.byteLength(sql);
    this.wire.queries++;
    await this.run(async () => (await this.connection).command({ query: sql }));
  }

  /** Inserts rows already serialised as TabSeparated lines of `columns`. */
  async insert(table: string, columns: readonly string[], lines: string): Promise<void> {
    this.wire.sent += Buffer.byteLength(lines);
    this.wire.queries++;
    await this.run(async () => {
      const r = await (await this.connection).exec({ query: `INSERT INTO ${table} (${columns.map((c) => `\`${c}\``).join(', ')}) FORMAT TabSeparated`, values: Readable.from([Buffer.from(lines)], { objectMode: false }) });
      r.stream.resume();
    });
  }

  async close(): Promise<void> {
    await (await this.connection).close();
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.explain(err);
    }
  }

  private explain(err: unknown): Error {
    const e = err as NodeJS.ErrnoException & { code?: string };
    if (typeof e.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN)$/.test(e.code)) {
      return new AnalyzerError('CLICKHOUSE_UNREACHABLE', `cannot reach ClickHouse at ${this.where} (${e.code})`, undefined, { cause: err });
    }
    const m = /Code: (\d+), e\.displayText\(\) = DB::Exception: ([^\n]*?)(?:, e\.what\(\) = .*)?$/m.exec(e.message ?? '') ?? /Code: (\d+)\. DB::Exception: ([^\n]*)/.exec(e.message ?? '');
    if (m !== null) {
      const code = CODES[Number(m[1])] ?? 'CLICKHOUSE_QUERY';
      const what = (m[2] as string).replace(/\s*\(version [^)]*\)\s*$/, '').replace(/\.$/, '');
      return new AnalyzerError(code, `ClickHouse at ${this.where}: ${what}`, undefined, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}
