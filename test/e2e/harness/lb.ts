/*
 * Load-balancer simulator for the e2e harness: nodes on their own loopback addresses (127.0.0.x, x ≥ 2)
 * that connect onward to nginx FROM that address, so nginx logs the node as $remote_addr. Modes: `pass`
 * (byte pipe), `downgrade-strip` / `downgrade-keep` (HTTP/1.0 rewrite, 504 at the node's timeout).
 */
import net, { type AddressInfo } from 'node:net';

export type NodeMode = 'pass' | 'downgrade-strip' | 'downgrade-keep';

export interface NodeSpec {
  mode: NodeMode;
  /** Loopback address to listen on and connect from; default 127.0.0.<2 + index>. */
  addr?: string;
  /** Downgrading modes: give the client a 504 if no usable response came within this time (default 3000). */
  timeoutMs?: number;
  /** Downgrading modes add `X-Forwarded-For: <client>` like an L7 LB (default true). */
  xForwardedFor?: boolean;
}

export interface LbNode {
  addr: string;
  port: number;
  mode: NodeMode;
  timeoutMs: number;
}

/** What a node did with one client connection (for debugging and assertions). */
export interface LbEvent {
  node: string;
  mode: NodeMode;
  /** Request line as forwarded to nginx (latin1), if the node parsed one. */
  requestLine?: string;
  outcome: 'piped' | 'relayed' | 'timeout-504' | 'upstream-closed-502' | 'client-closed' | 'swallowed-101';
  atMs: number;
}

export interface Lb {
  nodes: LbNode[];
  events: LbEvent[];
  close(): Promise<void>;
}

export interface LbOptions {
  /** Where nodes forward to (nginx). */
  targetPort: number;
  targetHost?: string;
  nodes: NodeSpec[];
}

// Hop-by-hop headers an HTTP/1.0 proxy must not forward (RFC 9110 §7.6.1; Keep-Alive / Proxy-Connection legacy).
const HOP_BY_HOP = new Set(['upgrade', 'connection', 'keep-alive', 'proxy-connection']);
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

function gatewayTimeout(): Buffer {
  const body = '<html><head><title>504 Gateway Time-out</title></head><body>504 Gateway Time-out</body></html>\n';
  return Buffer.from(
    `HTTP/1.1 504 Gateway Time-out\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    'latin1',
  );
}

function badGateway(): Buffer {
  const body = '502 Bad Gateway\n';
  return Buffer.from(
    `HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    'latin1',
  );
}

/** Rewrite a request head (latin1, without the final CRLFCRLF) the way a downgrading node does. */
export function downgradeHead(head: string, mode: 'downgrade-strip' | 'downgrade-keep', clientAddr?: string): string {
  const lines = head.split('\r\n');
  const first = lines[0] ?? '';
  const sp = first.lastIndexOf(' ');
  const requestLine = sp > 0 && first.slice(sp + 1).startsWith('HTTP/') ? first.slice(0, sp) + ' HTTP/1.0' : first;
  const out = [requestLine];
  for (const line of lines.slice(1)) {
    const name = line.slice(0, line.indexOf(':')).trim().toLowerCase();
    if (mode === 'downgrade-strip' && HOP_BY_HOP.has(name)) continue;
    out.push(line);
  }
  if (clientAddr !== undefined) out.push(`X-Forwarded-For: ${clientAddr}`);
  return out.join('\r\n');
}

export async function startLb(opts: LbOptions): Promise<Lb> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  const events: LbEvent[] = [];
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const nodes: LbNode[] = [];
  const t0 = Date.now();
  const track = (s: net.Socket): net.Socket => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    return s;
  };

  const handlePass = (node: LbNode, client: net.Socket): void => {
    const up = track(net.connect({ host: targetHost, port: opts.targetPort, localAddress: node.addr }));
    events.push({ node: node.addr, mode: node.mode, outcome: 'piped', atMs: Date.now() - t0 });
    client.pipe(up);
    up.pipe(client);
    const closeBoth = (): void => {
      client.destroy();
      up.destroy();
    };
    // Half-closes propagate through pipe(); a full close or error on either side ends both.
    client.on('close', closeBoth);
    up.on('close', closeBoth);
  };

  const handleDowngrade = (node: LbNode, client: net.Socket, xff: boolean): void => {
    const mode = node.mode as 'downgrade-strip' | 'downgrade-keep';
    let reqBuf = Buffer.alloc(0);
    let up: net.Socket | undefined;
    let timer: NodeJS.Timeout | undefined;
    let respBuf = Buffer.alloc(0);
    let state: 'head' | 'waiting' | 'relaying' | 'swallowing' | 'done' = 'head';
    let requestLine: string | undefined;
    const finish = (outcome: LbEvent['outcome'], reply?: Buffer): void => {
      if (state === 'done') return;
      state = 'done';
      if (timer) clearTimeout(timer);
      events.push({ node: node.addr, mode, requestLine, outcome, atMs: Date.now() - t0 });
      up?.destroy();
      if (reply && client.writable) client.end(reply);
      else client.destroy();
      // Give the reply a moment to flush, then make sure the client side is gone too.
      setTimeout(() => client.destroy(), 200).unref();
    };

    const onClientData = (chunk: Buffer): void => {
      if (state === 'head') {
        reqBuf = Buffer.concat([reqBuf, chunk]);
        const end = reqBuf.indexOf(HEAD_END);
        if (end < 0) {
          if (reqBuf.length > MAX_HEAD) finish('client-closed');
          return;
        }
        const head = downgradeHead(reqBuf.subarray(0, end).toString('latin1'), mode, xff ? client.remoteAddress : undefined);
        const nl = head.indexOf('\r\n');
        requestLine = nl < 0 ? head : head.slice(0, nl);
        const rest = reqBuf.subarray(end + HEAD_END.length);
        state = 'waiting';
        up = track(net.connect({ host: targetHost, port: opts.targetPort, localAddress: node.addr }));
        up.write(Buffer.concat([Buffer.from(head + '\r\n\r\n', 'latin1'), rest]));
        up.on('data', onUpData);
        up.on('end', () => {
          if (state === 'relaying') {
            state = 'done';
            if (timer) clearTimeout(timer);
            events.push({ node: node.addr, mode, requestLine, outcome: 'relayed', atMs: Date.now() - t0 });
            client.end();
          } else finish('upstream-closed-502', badGateway());
        });
        up.on('close', () => {
          if (state === 'waiting' || state === 'swallowing') finish('upstream-closed-502', badGateway());
        });
        // The node's request timeout: no usable response within timeoutMs → 504 to the client,
        // and both connections closed (nginx then sees its client go away). It runs from the moment
        // the request can reach nginx, as nginx's $request_time does: timed from connect() instead,
        // a busy loopback's accept latency (measured up to ~10 ms) made the logged T jitter.
        up.once('connect', () => {
          if (state !== 'done') timer = setTimeout(() => finish('timeout-504', gatewayTimeout()), node.timeoutMs);
        });
        return;
      }
      if (state === 'waiting' || state === 'relaying') up?.write(chunk);
      // 'swallowing': this node cannot carry a tunnel; client bytes go nowhere.
    };

    const onUpData = (chunk: Buffer): void => {
      if (state === 'relaying') {
        client.write(chunk);
        return;
      }
      if (state !== 'waiting') return; // swallowing or done: discard
      respBuf = Buffer.concat([respBuf, chunk]);
      const end = respBuf.indexOf(HEAD_END);
      if (end < 0) return;
      const statusLine = respBuf.subarray(0, respBuf.indexOf('\r\n')).toString('latin1');
      if (/^HTTP\/\d\.\d 101/.test(statusLine)) {
        // downgrade-keep: nginx tunnels, but this hop speaks HTTP/1.0 and cannot; it keeps waiting for a
        // "real" response, drops everything nginx sends, and gives up at its timeout.
        state = 'swallowing';
        events.push({ node: node.addr, mode, requestLine, outcome: 'swallowed-101', atMs: Date.now() - t0 });
        return;
      }
      state = 'relaying';
      if (timer) clearTimeout(timer);
      client.write(respBuf);
    };

    client.on('data', onClientData);
    client.on('close', () => {
      if (state !== 'done') finish('client-closed');
    });
  };

  for (const [i, spec] of opts.nodes.entries()) {
    const addr = spec.addr ?? `127.0.0.${2 + i}`;
    const node: LbNode = { addr, port: 0, mode: spec.mode, timeoutMs: spec.timeoutMs ?? 3000 };
    const xff = spec.xForwardedFor ?? true;
    const server = net.createServer((client) => {
      track(client);
      if (node.mode === 'pass') handlePass(node, client);
      else handleDowngrade(node, client, xff);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, addr, () => {
        server.off('error', reject);
        resolve();
      });
    });
    node.port = (server.address() as AddressInfo).port;
    servers.push(server);
    nodes.push(node);
  }

  let closing: Promise<void> | undefined;
  return {
    nodes,
    events,
    close(): Promise<void> {
      closing ??= (async () => {
        for (const s of sockets) s.destroy();
        await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      })();
      return closing;
    },
  };
}
