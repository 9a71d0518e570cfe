/*
 * Raw-TCP traffic driver of the e2e harness: builds requests byte by byte (hostile bytes included),
 * performs WebSocket handshakes and sessions (masked frames, close handshake) and plain HTTP exchanges,
 * and reports what the client observed. Owns the wire only; expectations live in scenario.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

export interface Target {
  host: string;
  port: number;
  /** Source address to connect from (e.g. 127.0.0.50 to look like another client). */
  localAddress?: string;
}

export type HeaderValue = string | Buffer;
export type Header = [name: string, value: HeaderValue];

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** A fresh Sec-WebSocket-Key: base64 of 16 random bytes (24 chars ending `==`). */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** Strings are written as UTF-8; Buffers verbatim (use them for invalid UTF-8 and control bytes). */
export function toBytes(v: HeaderValue): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** `METHOD target HTTP/x.y` + headers + CRLFCRLF, byte-exact. */
export function buildRequest(method: string, target: HeaderValue, version: string, headers: Header[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`${method} `, 'latin1'), toBytes(target), Buffer.from(` ${version}`, 'latin1'), CRLF];
  for (const [name, value] of headers) parts.push(Buffer.from(`${name}: `, 'latin1'), toBytes(value), CRLF);
  parts.push(CRLF);
  return Buffer.concat(parts);
}

/** Browser-like WebSocket handshake headers (Chrome's order). */
export function wsHeaders(key: string, opts: { upgrade?: boolean; userAgent?: HeaderValue; host?: string } = {}): Header[] {
  const h: Header[] = [['Host', opts.host ?? 'wsdiag.test']];
  if (opts.upgrade !== false) h.push(['Connection', 'Upgrade']);
  h.push(['Pragma', 'no-cache'], ['Cache-Control', 'no-cache']);
  h.push(['User-Agent', opts.userAgent ?? DEFAULT_UA]);
  if (opts.upgrade !== false) h.push(['Upgrade', 'websocket']);
  h.push(
    ['Origin', 'http://wsdiag.test'],
    ['Sec-WebSocket-Version', '13'],
    ['Accept-Encoding', 'gzip, deflate, br'],
    ['Accept-Language', 'en-US,en;q=0.9'],
    ['Sec-WebSocket-Key', key],
  );
  return h;
}

export const DEFAULT_UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.186 Safari/537.36';

/** Masked client frame (RFC 6455 §5.2). */
export function clientFrame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + 4 + len);
  out[0] = 0x80 | opcode;
  if (ext === 0) out[1] = 0x80 | len;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  mask.copy(out, 2 + ext);
  for (let i = 0; i < len; i++) out[2 + ext + 4 + i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return out;
}

interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Pull complete frames off the front of buf; returns frames and the unconsumed rest. */
function takeFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off] as number;
    const b1 = buf[off + 1] as number;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const maskAt = p;
    if (masked) p += 4;
    if (buf.length - p < len) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (buf[maskAt + (i & 3)] as number);
    frames.push({ opcode: b0 & 0x0f, payload });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export interface ExchangeResult {
  /** ms since epoch when the TCP connection was established / fully closed. */
  connectedAt: number;
  closedAt: number;
  durationMs: number;
  /** Response status line and code the client saw (undefined: none). */
  statusLine?: string;
  status?: number;
  /** Raw response head (latin1). */
  responseHead?: string;
  /** Response body bytes (non-101). */
  body: Buffer;
  /** For 101: whether Sec-WebSocket-Accept matched the key. */
  acceptOk?: boolean;
  /** WebSocket frames: text/binary data frames received, pings answered, close received. */
  dataFrames: number;
  pings: number;
  closeReceived: boolean;
  /** Who ended it: the client (hold elapsed, response read, gave up) or the server side. */
  closedBy: 'client' | 'server' | 'client-abort' | 'deadline';
  error?: string;
}

export interface ExchangeOptions {
  /** Client gives up (closes) if no response head arrived within this time. */
  responseTimeoutMs?: number;
  /** After a 101: keep the session for holdMs, then close (undefined: wait for the server to close). */
  holdMs?: number;
  /** After a 101: text messages sent, spread evenly over holdMs. */
  messages?: number;
  /** Key sent, to verify Sec-WebSocket-Accept. */
  key?: string;
  /** Hard safety deadline for the whole exchange (default 30000). */
  maxMs?: number;
}

/**
 * Send one raw request and play the client: read the response head; after a 101 run a WebSocket
 * session (echo messages, answer pings, close at holdMs or wait for the server); otherwise read the
 * body (Content-Length, chunked or until close) and close.
 */
export function exchange(target: Target, request: Buffer, opts: ExchangeOptions = {}): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port, localAddress: target.localAddress });
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void): void => {
      timers.push(setTimeout(fn, ms));
    };
    const r: ExchangeResult = {
      connectedAt: 0,
      closedAt: 0,
      durationMs: 0,
      body: Buffer.alloc(0),
      dataFrames: 0,
      pings: 0,
      closeReceived: false,
      closedBy: 'server',
    };
    let buf: Buffer = Buffer.alloc(0);
    let phase: 'head' | 'body' | 'ws' | 'closing' = 'head';
    let bodyNeed: number | 'chunked' | 'eof' = 'eof';
    let sentClose = false;
    let closedBy: ExchangeResult['closedBy'] | undefined;

    const clientClose = (why: ExchangeResult['closedBy']): void => {
      closedBy ??= why;
      socket.destroy();
    };
    const sendClose = (): void => {
      if (sentClose || socket.destroyed) return;
      sentClose = true;
      const p = Buffer.alloc(2);
      p.writeUInt16BE(1000);
      socket.write(clientFrame(0x8, p));
      phase = 'closing';
      closedBy ??= 'client';
      later(2000, () => socket.destroy()); // server never finished the close handshake
    };
    const onWsData = (): void => {
      const { frames, rest } = takeFrames(buf);
      buf = rest;
      for (const f of frames) {
        if (f.opcode === 0x9) {
          r.pings++;
          if (!sentClose) socket.write(clientFrame(0xa, f.payload));
        } else if (f.opcode === 0x8) {
          r.closeReceived = true;
          if (!sentClose) {
            sentClose = true;
            socket.write(clientFrame(0x8, f.payload.subarray(0, 2)));
          }
          socket.end();
        } else if (f.opcode === 0x1 || f.opcode === 0x2) r.dataFrames++;
      }
    };
    const bodyDone = (): boolean => {
      if (bodyNeed === 'eof') return false;
      if (bodyNeed === 'chunked') return buf.includes(Buffer.from('0\r\n\r\n'));
      return buf.length >= bodyNeed;
    };

    socket.on('connect', () => {
      r.connectedAt = Date.now();
      socket.write(request);
      if (opts.responseTimeoutMs !== undefined) {
        later(opts.responseTimeoutMs, () => {
          if (phase === 'head') clientClose('client-abort');
        });
      }
      later(opts.maxMs ?? 30000, () => clientClose('deadline'));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (phase === 'head') {
        const end = buf.indexOf(HEAD_END);
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        r.responseHead = head;
        r.statusLine = head.split('\r\n')[0];
        const m = /^HTTP\/\d\.\d (\d{3})/.exec(r.statusLine ?? '');
        r.status = m?.[1] ? Number(m[1]) : undefined;
        if (r.status === 101) {
          phase = 'ws';
          if (opts.key !== undefined) {
            const acc = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
            r.acceptOk = acc === acceptFor(opts.key);
          }
          if (opts.holdMs !== undefined) {
            const n = opts.messages ?? 0;
            for (let i = 1; i <= n; i++) {
              later((opts.holdMs * i) / (n + 1), () => {
                if (phase === 'ws' && !socket.destroyed) socket.write(clientFrame(0x1, Buffer.from(`msg ${i}`)));
              });
            }
            later(opts.holdMs, sendClose);
          }
          onWsData();
          return;
        }
        phase = 'body';
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
        if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) bodyNeed = 'chunked';
        else if (cl !== undefined) bodyNeed = Number(cl);
        else if (/^HTTP\/\d\.\d (1\d\d|204|304)/.test(head)) bodyNeed = 0;
      }
      if (phase === 'body') {
        if (bodyDone()) {
          r.body = Buffer.from(buf);
          clientClose('client');
        }
        return;
      }
      onWsData();
    });
    socket.on('error', (e: Error) => {
      r.error ??= e.message;
    });
    socket.on('close', () => {
      for (const t of timers) clearTimeout(t);
      r.closedAt = Date.now();
      if (r.connectedAt === 0) r.connectedAt = r.closedAt;
      r.durationMs = r.closedAt - r.connectedAt;
      if (phase === 'body' && r.body.length === 0) r.body = Buffer.from(buf);
      r.closedBy = closedBy ?? 'server';
      resolve(r);
    });
  });
}
