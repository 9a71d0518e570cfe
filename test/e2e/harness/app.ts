/*
 * The tiny backend app of the e2e harness: a `ws` WebSocket endpoint under /ws/ (echo, ?beat=, ?hold=, ?stall, ?reject=),
 * plain endpoints (/api/ JSON, /static/ text, everything else 404) on 127.0.0.1:<port 0>.
 * Owns only app behaviour and a record of what reached it; knows nothing about nginx or the LB.
 */
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** What the app does with a plain GET (no Upgrade) on a WebSocket path. */
export type PlainWsBehaviour = 'hang' | '426' | '200' | 'poll';

export interface AppOptions {
  /**
   * Default for a plain GET on /ws/…; a request can override it with `?plain=hang|426|200|poll`:
   * 200 answers at once (a health check), poll answers 200 after ?hold= ms (a long-poll). Default 'hang'.
   */
  plainWs?: PlainWsBehaviour;
  /** Listen address, default 127.0.0.1. */
  host?: string;
}

export interface AppRequestRecord {
  at: number;
  method: string;
  url: string;
  httpVersion: string;
  headers: http.IncomingHttpHeaders;
  /** true when the request arrived as an HTTP upgrade (reached the `upgrade` event). */
  upgrade: boolean;
}

export interface App {
  host: string;
  port: number;
  /** Every request that reached the app, in arrival order. */
  requests: AppRequestRecord[];
  close(): Promise<void>;
}

function isWsPath(pathname: string): boolean {
  return pathname === '/ws' || pathname.startsWith('/ws/');
}

function parseUrl(raw: string | undefined): URL {
  try {
    return new URL(raw ?? '/', 'http://app.invalid');
  } catch {
    return new URL('http://app.invalid/');
  }
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

function percentEncodeHigh(line: Buffer): Buffer {
  if (!line.some((b) => b >= 0x7f)) return line;
  const parts: Buffer[] = [];
  for (const b of line) parts.push(b >= 0x7f ? Buffer.from('%' + b.toString(16).toUpperCase().padStart(2, '0')) : Buffer.from([b]));
  return Buffer.concat(parts);
}

/**
 * WebSocket query parameters understood by the app:
 * `beat=N` server heartbeat every N ms; `beatKind=ping|text` (default ping);
 * `hold=N` server closes (1000) after N ms; `plain=hang|426|200|poll` plain-GET behaviour (poll: 200 after hold);
 * `stall` never answer the handshake; `reject=4xx` refuse the handshake with that status.
 */
export async function startApp(opts: AppOptions = {}): Promise<App> {
  const host = opts.host ?? '127.0.0.1';
  const plainDefault: PlainWsBehaviour = opts.plainWs ?? 'hang';
  const requests: AppRequestRecord[] = [];
  const upgradedSockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  // insecureHTTPParser: nginx forwards hostile bytes (\x01 in User-Agent, raw 0xFF in the query)
  // verbatim; a lenient app keeps those requests answerable so nginx logs the app's status.
  const record = (req: http.IncomingMessage, upgrade: boolean): void => {
    requests.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', httpVersion: req.httpVersion, headers: req.headers, upgrade });
  };
  const server = http.createServer({ insecureHTTPParser: true }, (req, res) => {
    record(req, false);
    const url = parseUrl(req.url);
    const send = (status: number, type: string, body: string): void => {
      const buf = Buffer.from(body);
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': buf.length });
      res.end(buf);
    };
    if (isWsPath(url.pathname)) {
      const plain = url.searchParams.get('plain') ?? plainDefault;
      if (plain === '426') {
        res.setHeader('Upgrade', 'websocket');
        res.setHeader('Sec-WebSocket-Version', '13');
        send(426, 'text/plain', 'Upgrade Required\n');
      }
      if (plain === '200') send(200, 'text/plain', 'ok\n');
      if (plain === 'poll') {
        const t = setTimeout(() => send(200, 'application/json', '[]\n'), intParam(url, 'hold') ?? 1000);
        res.on('close', () => clearTimeout(t));
      }
      // 'hang': never answer; the connection stays open until a proxy gives up or close() runs.
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      send(200, 'application/json', JSON.stringify({ ok: true, path: url.pathname }) + '\n');
      return;
    }
    if (url.pathname.startsWith('/static/')) {
      send(200, 'text/plain', 'static content for ' + url.pathname + '\n');
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    record(req, true);
    socket.on('error', () => socket.destroy());
    const url = parseUrl(req.url);
    if (!isWsPath(url.pathname)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    upgradedSockets.add(socket);
    socket.on('close', () => upgradedSockets.delete(socket));
    // ?stall: a busy app that never answers the handshake (the client, a proxy or close() ends it).
    if (url.searchParams.has('stall')) return;
    // ?reject=4xx: the app refuses the handshake (origin check, auth, bad version), as ws's verifyClient can.
    const reject = intParam(url, 'reject');
    if (reject !== undefined && reject >= 400 && reject < 500) {
      socket.end(`HTTP/1.1 ${reject} ${http.STATUS_CODES[reject] ?? 'Rejected'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    // ws itself answers 400 for a bad key/version, as a real `ws` app would.
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const beat = intParam(url, 'beat');
      const hold = intParam(url, 'hold');
      const beatKind = url.searchParams.get('beatKind') === 'text' ? 'text' : 'ping';
      const timers: NodeJS.Timeout[] = [];
      if (beat !== undefined && beat > 0) {
        timers.push(
          setInterval(() => {
            if (ws.readyState !== ws.OPEN) return;
            if (beatKind === 'text') ws.send('beat');
            else ws.ping();
          }, beat),
        );
      }
      if (hold !== undefined) {
        timers.push(setTimeout(() => ws.close(1000, 'hold'), hold));
      }
      ws.on('message', (data, isBinary) => {
        if (ws.readyState === ws.OPEN) ws.send(data, { binary: isBinary });
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        for (const t of timers) clearTimeout(t);
      });
    });
  });

  // Node's HTTP parser (llhttp) rejects bytes >= 0x80 and 0x7F in the request target even with
  // insecureHTTPParser, while nginx forwards them verbatim. A raw TCP front percent-encodes those bytes
  // in the first request line of each connection before handing the socket to the HTTP server, so
  // hostile-URI requests get the app's normal answer. nginx's logs are unaffected (they hold what nginx
  // received). nginx opens one upstream connection per request here (Connection: close/upgrade).
  const front = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf('\r\n');
      if (nl < 0 && buf.length < 65536) return;
      sock.off('data', onData);
      sock.pause();
      const lineEnd = nl < 0 ? buf.length : nl;
      sock.unshift(Buffer.concat([percentEncodeHigh(buf.subarray(0, lineEnd)), buf.subarray(lineEnd)]));
      server.emit('connection', sock);
      sock.resume();
    };
    sock.on('data', onData);
    sock.on('error', () => sock.destroy());
    rawSockets.add(sock);
    sock.on('close', () => rawSockets.delete(sock));
  });
  const rawSockets = new Set<Socket>();

  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, host, () => {
      front.off('error', reject);
      resolve();
    });
  });
  const port = (front.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    requests,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        for (const s of upgradedSockets) s.destroy();
        wss.close();
        server.closeAllConnections();
        for (const s of rawSockets) s.destroy();
        front.close(() => resolve());
      });
      return closed;
    },
  };
}
