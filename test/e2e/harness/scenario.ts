/*
 * runScenario(): app + nginx (+ second tier) + LB nodes, a list of client actions run concurrently, the
 * ground truth of what nginx should log for each action, and a guaranteed teardown. Owns the expectation
 * model (which status/duration each path through LB → nginx → app produces); the wire is driver.ts.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type AppOptions, type AppRequestRecord, type PlainWsBehaviour } from './app.js';
import {
  buildRequest,
  exchange,
  newKey,
  toBytes,
  wsHeaders,
  DEFAULT_UA,
  type ExchangeOptions,
  type ExchangeResult,
  type Header,
  type HeaderValue,
  type Target,
} from './driver.js';
import { startLb, type LbEvent, type LbNode, type NodeMode, type NodeSpec } from './lb.js';
import { waitForLines, type ByteString, type JsonRecord } from './logs.js';
import { nginxVersion, startNginx, type Nginx, type NginxOptions, type ProxyLocation } from './nginx.js';

export type ActionKind = 'ws-session' | 'ws-idle' | 'ws-no-upgrade' | 'ws-dead' | 'plain';

interface ActionCommon {
  /** Index into spec.nodes, or 'direct' (straight to nginx; default). */
  via?: number | 'direct';
  /** Start this long after the scenario starts. */
  delayMs?: number;
  label?: string;
  /** Source address for 'direct' (default 127.0.0.1); nginx logs it as $remote_addr. */
  localAddress?: string;
  userAgent?: HeaderValue;
  /** Extra request headers (raw bytes allowed). */
  headers?: Header[];
  /** Version the client sends (default '1.1'). */
  httpVersion?: '1.0' | '1.1';
  /** Client closes if no response head arrives within this time (a user giving up). */
  responseTimeoutMs?: number;
  /** WebSocket kinds: send this Sec-WebSocket-Key instead of a fresh one (a client that reuses keys). */
  key?: string;
}

/** Handshake, then hold the session for holdMs with `messages` echoes, then a client close. */
export interface WsSessionAction extends ActionCommon {
  kind: 'ws-session';
  /** Request target incl. query (default '/ws/'); the app reads ?beat=, ?hold=, ?plain=, ?stall, ?reject=. */
  path?: HeaderValue;
  holdMs?: number;
  messages?: number;
}
/** Handshake, then silence until the server side ends it (nginx proxy_read_timeout, LB, ?hold=). */
export interface WsIdleAction extends ActionCommon {
  kind: 'ws-idle';
  path?: HeaderValue;
}
/** A handshake request without Upgrade/Connection: Upgrade (key and version present). */
export interface WsNoUpgradeAction extends ActionCommon {
  kind: 'ws-no-upgrade';
  path?: HeaderValue;
}
/** A handshake to /dead/… (nginx's upstream port is closed → 502). */
export interface WsDeadAction extends ActionCommon {
  kind: 'ws-dead';
  path?: HeaderValue;
}
/** A plain request; target bytes are sent verbatim. */
export interface PlainAction extends ActionCommon {
  kind: 'plain';
  path: HeaderValue;
  method?: string;
}
export type Action = WsSessionAction | WsIdleAction | WsNoUpgradeAction | WsDeadAction | PlainAction;

/** The nginx part (as NginxOptions has it; `formats` are raw `log_format …;` texts here) and the traffic. */
export interface ScenarioSpec
  extends Pick<NginxOptions, 'formats' | 'tiers' | 'proxyReadTimeout' | 'proxySendTimeout' | 'locations' | 'formatsInclude' | 'httpConfig' | 'serverConfig'> {
  app?: AppOptions;
  nodes?: NodeSpec[];
  actions: Action[];
  /** How long to wait for the last log lines after the traffic ended (default 5000 ms). */
  lineWaitMs?: number;
}

/** Why nginx ends the request the way the truth says. */
export type Reason =
  | 'client-closed' // client closed the tunnel (close handshake)
  | 'server-closed' // app closed the tunnel (?hold=)
  | 'idle-timeout' // nginx proxy_read_timeout cut a silent tunnel
  | 'lb-timeout' // the LB node gave up (504 to the client) and closed both sides
  | 'client-abort' // the client gave up waiting for a response
  | 'nginx-read-timeout' // nginx's proxy_read_timeout fired before any response header
  | 'upstream-refused' // /dead/: connect() refused
  | 'app-answered' // ordinary response from the app
  | 'bad-request' // nginx rejected the request line itself
  | 'nginx-redirect'; // nginx's 301 from `/ws` to `/ws/` (only `location /ws/` exists)

export interface BackTruth {
  protocol: 'HTTP/1.1';
  clientAddr: string;
  expectedStatus: number;
  /** Statuses that a measured race can also produce (e.g. both tiers' read timers firing together). */
  alsoPossible: number[];
  approxDurationMs: number;
}

export interface Truth {
  index: number;
  /** Value of the X-Test-Id request header (cross-check log field http_x_test_id). */
  id: string;
  label: string | undefined;
  kind: ActionKind;
  /** Sec-WebSocket-Key sent (fresh per attempt unless the action names one), for WS kinds. */
  key: string | undefined;
  /** Wall clock (ms since the epoch) when the driver started sending, after delayMs. */
  sentAt: number;
  /** LB node address and mode, or undefined for direct. */
  node: string | undefined;
  nodeMode: NodeMode | undefined;
  /** What the first tier should log as $remote_addr. */
  clientAddr: string;
  protocolAtNginx: 'HTTP/1.0' | 'HTTP/1.1';
  /** `$request` as the first tier should log it (byte string). */
  requestAtNginx: ByteString;
  userAgent: ByteString;
  /** Whether an Upgrade header reached the first tier. */
  upgradeAtNginx: boolean;
  expectedStatus: number;
  approxDurationMs: number;
  reason: Reason;
  /** Two tiers: what the back tier should log (null: the request never reaches it). Undefined with one tier. */
  back: BackTruth | null | undefined;
  /** What the client saw. */
  observed: ExchangeResult;
}

export interface ScenarioResult {
  dir: string;
  nginxVersion: string;
  /** First (or only) tier: format name → log path. */
  logs: Record<string, string>;
  jsonLog: string;
  back: { logs: Record<string, string>; jsonLog: string } | undefined;
  errorLog: string;
  /** The nginx.conf nginx ran with (removed by cleanup()). */
  confPath: string;
  truth: Truth[];
  nodes: LbNode[];
  lbEvents: LbEvent[];
  appRequests: AppRequestRecord[];
  /** Removes dir. */
  cleanup(): void;
}

const latin1 = (b: Buffer): ByteString => b.toString('latin1');

function splitTarget(target: Buffer): { pathname: string; query: URLSearchParams } {
  const s = latin1(target);
  const q = s.indexOf('?');
  const pathname = q < 0 ? s : s.slice(0, q);
  let query = new URLSearchParams();
  try {
    query = new URLSearchParams(q < 0 ? '' : s.slice(q + 1));
  } catch {
    /* hostile query: no app parameters */
  }
  return { pathname, query };
}

/** nginx ≥ 1.21.1 answers 400 to control characters (and DEL, space) in the request target. */
function nginxRejectsTarget(target: Buffer): boolean {
  return target.some((b) => b < 0x21 || b === 0x7f);
}

function isWsPath(p: string): boolean {
  return p === '/ws' || p.startsWith('/ws/');
}

interface Prediction {
  status: number;
  durationMs: number;
  reason: Reason;
  upgradeAtNginx: boolean;
}

interface PredictContext {
  mode: NodeMode | 'direct';
  nodeTimeoutMs: number;
  readTimeoutMs(pathname: string): number;
  plainWs: PlainWsBehaviour;
}

function predict(a: Action, target: Buffer, ctx: PredictContext): Prediction {
  const downgraded = ctx.mode === 'downgrade-strip' || ctx.mode === 'downgrade-keep';
  const sendsUpgrade = a.kind === 'ws-session' || a.kind === 'ws-idle' || a.kind === 'ws-dead';
  const upgradeAtNginx = sendsUpgrade && ctx.mode !== 'downgrade-strip';
  if (nginxRejectsTarget(target)) return { status: 400, durationMs: 0, reason: 'bad-request', upgradeAtNginx };
  const { pathname, query } = splitTarget(target);
  if (pathname.startsWith('/dead/')) return { status: 502, durationMs: 0, reason: 'upstream-refused', upgradeAtNginx };
  // nginx answers a URI equal to a proxied prefix location minus its trailing slash with a 301.
  if (pathname === '/ws') return { status: 301, durationMs: 0, reason: 'nginx-redirect', upgradeAtNginx };
  const appPath = pathname.startsWith('/retry/') ? pathname.slice('/retry'.length) : pathname;
  if (!isWsPath(appPath)) {
    const status = appPath.startsWith('/api/') || appPath.startsWith('/static/') ? 200 : 404;
    return { status, durationMs: 0, reason: 'app-answered', upgradeAtNginx };
  }
  const readT = ctx.readTimeoutMs(pathname);
  const nodeT = downgraded ? ctx.nodeTimeoutMs : Infinity;
  const clientT = a.responseTimeoutMs ?? Infinity;
  const num = (k: string): number | undefined => (/^\d+$/.test(query.get(k) ?? '') ? Number(query.get(k)) : undefined);
  type C = [number, Reason];
  const first = (cands: C[]): C => cands.reduce((m, c) => (c[0] < m[0] ? c : m), [Infinity, 'client-closed'] as C);
  // The app refuses the handshake itself (origin, auth, version), or never answers it (busy app).
  const reject = num('reject');
  if (upgradeAtNginx && reject !== undefined && reject >= 400 && reject < 500) return { status: reject, durationMs: 0, reason: 'app-answered', upgradeAtNginx };
  const stalled = upgradeAtNginx && query.has('stall');

  if (upgradeAtNginx && !stalled) {
    // nginx tunnels (also for HTTP/1.0) and logs 101 when the tunnel closes, however it closes.
    const beat = num('beat');
    const hold = num('hold');
    const keep = ctx.mode === 'downgrade-keep';
    const cands: C[] = [];
    // A downgrade-keep node never gives the client its 101, so only the node or an impatient client end it.
    if (keep) cands.push([nodeT, 'lb-timeout'], [clientT, 'client-abort']);
    if (a.kind === 'ws-session' && !keep) cands.push([a.holdMs ?? 500, 'client-closed']);
    if (hold !== undefined) cands.push([hold, 'server-closed']);
    const clientKeepsBusy = a.kind === 'ws-session' && !keep && (a.holdMs ?? 500) / ((a.messages ?? 0) + 1) < readT;
    const serverKeepsBusy = beat !== undefined && beat > 0 && beat < readT;
    if (!clientKeepsBusy && !serverKeepsBusy) cands.push([readT, 'idle-timeout']);
    const [ms, reason] = first(cands);
    if (!Number.isFinite(ms)) throw new Error(`action ${a.kind} ${latin1(target)} would never end`);
    return { status: 101, durationMs: ms, reason, upgradeAtNginx };
  }
  // No Upgrade reached nginx: the app sees a plain GET on its WebSocket path. Or the app stalls.
  const plain = query.get('plain') ?? ctx.plainWs;
  if (!stalled && plain === '426') return { status: 426, durationMs: 0, reason: 'app-answered', upgradeAtNginx };
  if (!stalled && plain === '200') return { status: 200, durationMs: 0, reason: 'app-answered', upgradeAtNginx };
  const poll: C[] = !stalled && plain === 'poll' ? [[num('hold') ?? 1000, 'app-answered']] : [];
  const [ms, reason] = first([
    ...poll,
    [nodeT, 'lb-timeout'],
    [clientT, 'client-abort'],
    [readT, 'nginx-read-timeout'],
  ]);
  return { status: reason === 'nginx-read-timeout' ? 504 : reason === 'app-answered' ? 200 : 499, durationMs: ms, reason, upgradeAtNginx };
}

function backTruth(p: Prediction): BackTruth | null {
  if (p.reason === 'bad-request') return null;
  // Both tiers run the same read timeout; the back's timer starts ~1 ms later, yet both can fire in the
  // same event-loop turn (measured: both tiers logged 504), or the front's close reaches the back first (499).
  const alsoPossible = p.reason === 'nginx-read-timeout' ? [499] : [];
  return { protocol: 'HTTP/1.1', clientAddr: '127.0.0.1', expectedStatus: p.status, alsoPossible, approxDurationMs: p.durationMs };
}

function defaultPath(a: Action): HeaderValue {
  if (a.kind === 'plain') return a.path;
  if (a.path !== undefined) return a.path;
  return a.kind === 'ws-dead' ? '/dead/ws/' : '/ws/';
}

/** The bytes and client behaviour of one action, before it is sent. */
export interface PreparedAction {
  /** X-Test-Id header value. */
  id: string;
  key: string | undefined;
  targetBytes: Buffer;
  version: 'HTTP/1.0' | 'HTTP/1.1';
  ua: HeaderValue;
  request: Buffer;
  exchangeOptions: ExchangeOptions;
}

/** Builds the exact request of an action: browser-like handshake headers (fresh key) or a plain GET. */
export function prepareAction(a: Action, id: string = randomBytes(6).toString('hex')): PreparedAction {
  const targetBytes = toBytes(defaultPath(a));
  const version = a.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  const ua = a.userAgent ?? DEFAULT_UA;
  let key: string | undefined;
  let headers: Header[];
  if (a.kind === 'plain') {
    headers = [['Host', 'wsdiag.test'], ['User-Agent', ua], ['Accept', '*/*']];
  } else {
    key = a.key ?? newKey();
    headers = wsHeaders(key, { upgrade: a.kind !== 'ws-no-upgrade', userAgent: ua });
  }
  headers.push(['X-Test-Id', id], ...(a.headers ?? []));
  const request = buildRequest(a.kind === 'plain' ? (a.method ?? 'GET') : 'GET', targetBytes, version, headers);
  return {
    id,
    key,
    targetBytes,
    version,
    ua,
    request,
    exchangeOptions: {
      key,
      holdMs: a.kind === 'ws-session' ? (a.holdMs ?? 500) : undefined,
      messages: a.kind === 'ws-session' ? (a.messages ?? 0) : undefined,
      responseTimeoutMs: a.responseTimeoutMs,
    },
  };
}

/**
 * Sends one action to any target (an LB node, nginx, or anything else) without the scenario's
 * bookkeeping; `via`/`delayMs` are ignored. Returns the request's id/key and what the client saw.
 */
export async function performAction(
  target: Target,
  a: Action,
  id?: string,
): Promise<{ id: string; key: string | undefined; observed: ExchangeResult }> {
  const p = prepareAction(a, id);
  return { id: p.id, key: p.key, observed: await exchange(target, p.request, p.exchangeOptions) };
}

export async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wsdiag-e2e-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const closers: Array<() => Promise<void>> = [];
  const tiers = spec.tiers ?? 1;
  const readS = spec.proxyReadTimeout ?? 2;
  let ok = false;
  try {
    const app = await startApp(spec.app);
    closers.push(() => app.close());
    const nginx: Nginx = await startNginx({
      appPort: app.port,
      formats: spec.formats,
      tiers,
      proxyReadTimeout: readS,
      proxySendTimeout: spec.proxySendTimeout,
      locations: spec.locations,
      formatsInclude: spec.formatsInclude,
      httpConfig: spec.httpConfig,
      serverConfig: spec.serverConfig,
      prefix: dir,
    });
    closers.push(() => nginx.stop());
    const lb = await startLb({ targetPort: nginx.port, nodes: spec.nodes ?? [] });
    closers.push(() => lb.close());

    const readTimeoutMs = (pathname: string): number => {
      let best: ProxyLocation | undefined;
      for (const l of spec.locations ?? []) {
        if (pathname.startsWith(l.path) && (!best || l.path.length > best.path.length)) best = l;
      }
      return (best?.proxyReadTimeout ?? readS) * 1000;
    };

    const runOne = async (a: Action, index: number): Promise<Truth> => {
      const node = a.via === undefined || a.via === 'direct' ? undefined : lb.nodes[a.via];
      if (a.via !== undefined && a.via !== 'direct' && !node) throw new Error(`action ${index}: no LB node ${a.via}`);
      const target: Target = node
        ? { host: node.addr, port: node.port }
        : { host: '127.0.0.1', port: nginx.port, localAddress: a.localAddress };
      const prepared = prepareAction(a, `t${index}-${randomBytes(4).toString('hex')}`);
      const { id, key, targetBytes, version, ua } = prepared;
      const mode = node?.mode ?? 'direct';
      const p = predict(a, targetBytes, {
        mode,
        nodeTimeoutMs: node?.timeoutMs ?? Infinity,
        readTimeoutMs,
        plainWs: spec.app?.plainWs ?? 'hang',
      });
      const protocolAtNginx = mode === 'downgrade-strip' || mode === 'downgrade-keep' ? 'HTTP/1.0' : version;
      if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
      const sentAt = Date.now();
      const observed = await exchange(target, prepared.request, {
        ...prepared.exchangeOptions,
        maxMs: Math.min(60000, Math.max(10000, p.durationMs + 5000)),
      });
      return {
        index,
        id,
        label: a.label,
        kind: a.kind,
        key,
        sentAt,
        node: node?.addr,
        nodeMode: node?.mode,
        clientAddr: node?.addr ?? a.localAddress ?? '127.0.0.1',
        protocolAtNginx,
        requestAtNginx: `${a.kind === 'plain' ? (a.method ?? 'GET') : 'GET'} ${latin1(targetBytes)} ${protocolAtNginx}`,
        userAgent: latin1(toBytes(ua)),
        upgradeAtNginx: p.upgradeAtNginx,
        expectedStatus: p.status,
        approxDurationMs: p.durationMs,
        reason: p.reason,
        back: tiers === 2 ? backTruth(p) : undefined,
        observed,
      };
    };

    const truth = await Promise.all(spec.actions.map((a, i) => runOne(a, i)));

    const names = [...nginx.formatNames, 'xcheck'];
    const wait = spec.lineWaitMs ?? 5000;
    const frontN = truth.length;
    for (const n of names) await waitForLines(n === 'xcheck' ? nginx.jsonLogPath() : nginx.logPath(n), frontN, wait);
    if (tiers === 2) {
      const backN = truth.filter((t) => t.back !== null).length;
      for (const n of names) await waitForLines(n === 'xcheck' ? nginx.jsonLogPath('back') : nginx.logPath(n, 'back'), backN, wait);
    }

    const logsOf = (tier: 'front' | 'back'): Record<string, string> =>
      Object.fromEntries(nginx.formatNames.map((n) => [n, nginx.logPath(n, tier)]));
    const result: ScenarioResult = {
      dir,
      nginxVersion: await nginxVersion(),
      logs: logsOf('front'),
      jsonLog: nginx.jsonLogPath('front'),
      back: tiers === 2 ? { logs: logsOf('back'), jsonLog: nginx.jsonLogPath('back') } : undefined,
      errorLog: nginx.errorLogPath,
      confPath: nginx.confPath,
      truth,
      nodes: lb.nodes,
      lbEvents: lb.events,
      appRequests: app.requests,
      cleanup,
    };
    ok = true;
    return result;
  } finally {
    // Reverse start order: LB (drops client sockets), nginx (SIGQUIT → SIGKILL), app.
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        /* keep closing the rest */
      }
    }
    if (!ok && !process.env['WSDIAG_E2E_KEEP']) cleanup();
  }
}

/**
 * The cross-check record of one action: joined on X-Test-Id, else on the Sec-WebSocket-Key, else (for
 * requests nginx rejected before reading headers) on the exact $request and client address.
 */
export function recordFor(records: JsonRecord[], t: Truth, tier: 'front' | 'back' = 'front'): JsonRecord | undefined {
  const byId = records.filter((r) => r['http_x_test_id'] === t.id);
  if (byId.length > 0) return byId[0];
  if (t.key !== undefined) {
    const byKey = records.find((r) => r['http_sec_websocket_key'] === t.key);
    if (byKey) return byKey;
  }
  if (tier === 'back') return undefined;
  return records.find((r) => r['request'] === t.requestAtNginx && r['remote_addr'] === t.clientAddr && !r['http_x_test_id']);
}
