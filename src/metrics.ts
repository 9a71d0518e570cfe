/*!
 * Prometheus metrics of a live run (--metrics): a private prom-client registry fed at each tick
 * with the whole run's counts (RunTotals, live.ts) and the window's open findings (its snapshot
 * event), served as GET /metrics by node:http until close(). Computes nothing itself; no process
 * or console here.
 */
import { createServer, type Server } from 'node:http';
import type { Counter, Gauge, Registry } from 'prom-client';
import { AnalyzerError } from './errors.js';
import type { LiveEvent, RunTotals } from './live.js';
import type { ListenAddress } from './options.js';

/** What a failed listen() means to someone who typed --metrics. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another wsdiag, or an exporter, listens there); choose another port',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  EACCES: 'not allowed to listen on that port',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
};

type Prom = typeof import('prom-client');

export class LiveMetrics {
  readonly registry: Registry;
  private readonly handshakes: Counter<'protocol' | 'status' | 'client'>;
  private readonly lines: Counter;
  private readonly requests: Counter;
  private readonly unparsed: Counter;
  private readonly findingOpen: Gauge<'id' | 'severity'>;
  private readonly lastSnapshot: Gauge;
  /** Where each counter series stood at the last tick: a tick adds what is new since. */
  private readonly counted = new Map<string, number>();
  /** Every (id, severity) a finding has had, so a closed one reads 0 rather than disappearing. */
  private readonly findings = new Map<string, { id: string; severity: string }>();
  private server: Server | undefined;

  /** prom-client is loaded only by a run that serves metrics (it and its dependencies cost every other run about 10 MB). */
  static async create(): Promise<LiveMetrics> {
    return new LiveMetrics(await import('prom-client'));
  }

  private constructor(prom: Prom) {
    const { Counter, Gauge, Registry } = prom;
    this.registry = new Registry();
    const registers = [this.registry];
    this.handshakes = new Counter({ name: 'wsdiag_handshakes_total', help: 'WebSocket handshakes read since wsdiag started, by protocol, status and client address', labelNames: ['protocol', 'status', 'client'], registers });
    this.lines = new Counter({ name: 'wsdiag_lines_total', help: 'Log lines read since wsdiag started', registers });
    this.requests = new Counter({ name: 'wsdiag_requests_total', help: 'Parsed log lines analysed (inside --since/--until) since wsdiag started', registers });
    this.unparsed = new Counter({ name: 'wsdiag_unparsed_lines_total', help: 'Log lines that matched no format since wsdiag started', registers });
    this.findingOpen = new Gauge({ name: 'wsdiag_finding_open', help: '1 while a finding is open in the window (--window), 0 once it closed', labelNames: ['id', 'severity'], registers });
    this.lastSnapshot = new Gauge({ name: 'wsdiag_last_snapshot_timestamp_seconds', help: 'When the window was last analysed (Unix time)', registers });
  }

  /** The whole run's counts at a tick (WatchOptions.onTotals). */
  totals(t: RunTotals): void {
    this.advance(this.lines, {}, 'lines', t.lines);
    this.advance(this.requests, {}, 'requests', t.requests);
    this.advance(this.unparsed, {}, 'unparsed', t.unparsed);
    for (const h of t.handshakes) {
      const labels = { protocol: h.protocol, status: String(h.status), client: h.client };
      this.advance(this.handshakes, labels, `h\0${h.protocol}\0${h.status}\0${h.client}`, h.count);
    }
  }

  /** A live event: a snapshot sets which findings are open in the window and when it was taken. */
  event(e: LiveEvent): void {
    if (e.type !== 'snapshot' || e.report === undefined) return;
    const open = new Set<string>();
    for (const f of e.report.findings) {
      const k = `${f.id}\0${f.severity}`;
      open.add(k);
      if (!this.findings.has(k)) this.findings.set(k, { id: f.id, severity: f.severity });
    }
    for (const [k, labels] of this.findings) this.findingOpen.set(labels, open.has(k) ? 1 : 0);
    this.lastSnapshot.set(Date.parse(e.at) / 1000);
  }

  /**
   * Serves GET /metrics on the address; resolves with its URL once listening. A port in use (or
   * any other failure to listen) is an AnalyzerError METRICS_LISTEN.
   */
  async listen(address: ListenAddress): Promise<string> {
    const hostPort = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    const server = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: wsdiag serves /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(err)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => {
        const why = LISTEN_ERRORS[err.code ?? ''] ?? err.message;
        reject(new AnalyzerError('METRICS_LISTEN', `cannot serve --metrics on ${hostPort}: ${why}`, undefined, { cause: err }));
      };
      server.once('error', failed);
      server.listen(address.port, address.host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    this.server = server;
    return `http://${hostPort}/metrics`;
  }

  /** Stops serving: the listening socket and every open connection (a scraper's keep-alive too). */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Counters only go up: each tick adds the growth of a whole-run count since the last one. */
  private advance<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>, key: string, value: number): void {
    const before = this.counted.get(key) ?? 0;
    if (value <= before) return;
    counter.inc(labels, value - before);
    this.counted.set(key, value);
  }
}
