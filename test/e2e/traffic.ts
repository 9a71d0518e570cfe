/*
 * The traffic the format tests send through real nginx: one request for each way a line can come
 * out (healthy, idle-cut and downgraded handshakes, 426, 502 with a `502, 101` retry, HTTP/1.0
 * plain requests, a 400 for control bytes) and hostile bytes in path, query, User-Agent, Referer.
 */
import type { Action, ScenarioSpec } from './harness/index.js';

export const HOSTILE_QUERY = Buffer.concat([Buffer.from('/api/q?x="\\é日本&y='), Buffer.from([0xff, 0xfe])]);
export const HOSTILE_PATH = Buffer.from('/static/"a"\\b/é日本.txt');
export const HOSTILE_UA = Buffer.concat([Buffer.from('Mozilla/5.0 "quoted" back\\slash é 日本 '), Buffer.from([0x01, 0x1b, 0xff, 0xfe]), Buffer.from(' end')]);
export const CONTROL_IN_TARGET = Buffer.concat([Buffer.from('/api/ctl?a='), Buffer.from([0x01, 0x1b])]);

const actions: Action[] = [
  { kind: 'ws-session', via: 0, path: '/ws/a', holdMs: 300, messages: 2 },
  { kind: 'ws-session', via: 1, path: '/ws/long/s' },
  { kind: 'ws-session', via: 2, path: '/ws/long/k?beat=300' },
  { kind: 'ws-idle', path: '/ws/idle' },
  { kind: 'ws-no-upgrade', path: '/ws/n?plain=426' },
  { kind: 'ws-dead' },
  { kind: 'ws-session', path: '/retry/ws/r', holdMs: 200 },
  { kind: 'plain', path: '/api/ok' },
  { kind: 'plain', path: '/static/x', via: 1, httpVersion: '1.0' },
  { kind: 'plain', path: '/missing', headers: [['X-Request-Id', 'req-abc-123']] },
  { kind: 'plain', path: '/api/empty-referer', headers: [['Referer', '']] },
  { kind: 'plain', path: HOSTILE_QUERY, userAgent: HOSTILE_UA, headers: [['Referer', Buffer.from('http://x/"é"\\')]] },
  { kind: 'plain', path: HOSTILE_PATH, userAgent: HOSTILE_UA, via: 2 },
  { kind: 'plain', path: CONTROL_IN_TARGET, userAgent: HOSTILE_UA },
];

/** LB nodes 0 pass, 1 downgrade-strip, 2 downgrade-keep (both give up at 1.5 s); nginx reads for 1 s, 5 s under /ws/long/. */
export const EDGE_TRAFFIC: Pick<ScenarioSpec, 'proxyReadTimeout' | 'locations' | 'nodes' | 'actions'> = {
  proxyReadTimeout: 1,
  locations: [{ path: '/ws/long/', proxyReadTimeout: 5 }],
  nodes: [{ mode: 'pass' }, { mode: 'downgrade-strip', timeoutMs: 1500 }, { mode: 'downgrade-keep', timeoutMs: 1500 }],
  actions,
};
