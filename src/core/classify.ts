/*!
 * Is a record a WebSocket handshake, and what kind of protocol did it arrive with? Evidence, in
 * order: a Sec-WebSocket-Key, an Upgrade header naming websocket, status 101, a WebSocket path
 * (unless the line was answered like a page: health checks and long-polls are not handshakes).
 * The path patterns are compiled once from the defaults plus --ws-path.
 */

/** Paths that carry WebSockets in common stacks; a path segment match, query allowed. */
export const DEFAULT_WS_PATHS: readonly string[] = ['/ws', '/websocket', '/socket.io/*transport=websocket', '/cable', '/sockjs/*/websocket'];

export const enum Protocol {
  UNKNOWN = 0,
  HTTP10 = 1,
  HTTP11 = 2,
  HTTP2 = 3,
  HTTP3 = 4,
  OTHER = 5,
}

/** Statuses that mean "nobody answered before someone gave up": client/LB closed, gateway timeout, request timeout. */
export const ABANDONED: ReadonlySet<number> = new Set([499, 504, 408]);

export const PROTOCOL_NAMES: readonly string[] = ['unknown', 'HTTP/1.0', 'HTTP/1.1', 'HTTP/2.0', 'HTTP/3.0', 'other'];

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles path patterns into one RegExp. A pattern matches a whole path segment prefix:
 * `/ws` matches `/ws`, `/ws/`, `/ws?x`, `/app/ws/1` but not `/wsx`; `*` matches anything.
 */
export function compileWsPaths(patterns: readonly string[]): RegExp {
  const parts = patterns.map((p) => escapeRe(p.startsWith('/') ? p : `/${p}`).replace(/\*/g, '.*'));
  return new RegExp(`(?:${parts.join('|')})(?:[/?#&]|$)`);
}

export class Classifier {
  constructor(private readonly wsPaths: RegExp) {}

  /** The evidence that needs no path: a key, status 101, an Upgrade header naming websocket. */
  byHeaders(hasKey: boolean, status: number, upgrade: string): boolean {
    if (hasKey || status === 101) return true;
    return upgrade !== '' && upgrade.toLowerCase().includes('websocket');
  }

  /** A WebSocket path; socket.io's long-polling transport (`transport=polling`) never is one. */
  isWsPath(path: string): boolean {
    return path !== '' && this.wsPaths.test(path) && !path.includes('transport=polling');
  }

  /**
   * Is a line whose only evidence is its WebSocket path a handshake? Not when it was answered like
   * a page (2xx, 304): a health check or a long-poll on `/ws/…` logged with no key and no Upgrade.
   * 101, 3xx, 4xx, 5xx and 499 stay handshakes, so formats that log neither the key nor
   * $http_upgrade still show handshakes given up at T, redirected, refused or failed upstream.
   */
  byPath(status: number): boolean {
    return !((status >= 200 && status < 300) || status === 304);
  }
}
