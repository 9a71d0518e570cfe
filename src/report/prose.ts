/*!
 * The words a person reads about each finding and timeout, keyed by finding id: title, why, the
 * fix to try and the nginx.conf lines that go with it. Data in (core/diagnose.ts FindingData),
 * text out; the only place findings are put into prose.
 */
import type { FindingData, TimeoutData } from '../core/diagnose.js';
import { int } from './text.js';

/** The WebSocket proxy configuration every nginx hop needs, as it goes into nginx.conf. */
const UPGRADE_CONFIG = `map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}

location /ws/ {
    proxy_pass http://app;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
}`;

/** For sessions cut by nginx's idle timer: give quiet sessions longer than the cluster's T. */
const SESSION_TIMEOUT_CONFIG = `location /ws/ {
    # longer than the quietest stretch of a healthy session (or ping more often than T)
    proxy_read_timeout 3600s;
    proxy_send_timeout 3600s;
}`;

/** For nginx's 301 from `/ws` to `/ws/`: the exact path proxied too, so no redirect is sent. */
const REDIRECT_CONFIG = `location = /ws {
    proxy_pass http://app;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
}`;

/** The fix prose names the settings; the directives themselves are the finding's nginxConfig, printed once per report. */
const NGINX_SNIPPET = 'the WebSocket proxy settings (proxy_http_version 1.1, Upgrade and Connection passed on: the nginx.conf snippet)';

/** Known defaults that a timeout of that length usually is (research/nginx-facts.md §4). */
const KNOWN_TIMEOUTS: readonly { seconds: number; what: string }[] = [
  { seconds: 15, what: 'Alibaba CLB idle timeout default (15 s)' },
  { seconds: 30, what: 'GCP load balancer backend timeout default (30 s, a hard cap for WebSockets)' },
  { seconds: 60, what: "nginx's proxy_read_timeout default, AWS ALB/CLB idle timeout, Alibaba CLB request timeout (all 60 s)" },
  { seconds: 75, what: "nginx's keepalive_timeout default (75 s)" },
  { seconds: 100, what: 'Cloudflare proxy read timeout (100 s)' },
  { seconds: 120, what: 'Cloudflare proxy read timeout on current plans (120 s)' },
  { seconds: 300, what: 'Azure Front Door WebSocket idle timeout (5 min)' },
  { seconds: 900, what: 'Alibaba CLB TCP established timeout / Cloudflare idle (900 s)' },
  { seconds: 3600, what: 'a typical HAProxy `timeout tunnel 1h`' },
];

export function likelyCause(t: TimeoutData): string {
  const s = t.cluster.centerMs / 1000;
  const known = KNOWN_TIMEOUTS.find((k) => Math.abs(k.seconds - s) <= Math.max(0.5, k.seconds * 0.01));
  let what: string;
  if (t.series === 'sessions') {
    what = 'upgraded sessions all ended after the same time: an idle timeout (nginx proxy_read_timeout when nothing is sent for T) or a hard lifetime cap of a load balancer';
  } else if ((t.statuses['504'] ?? 0) > (t.statuses['499'] ?? 0)) {
    what = 'nginx gave up waiting for the upstream (504): proxy_read_timeout or proxy_connect_timeout';
  } else if ((t.statuses['499'] ?? 0) > 0) {
    what = 'something in front of nginx (load balancer or client) gave up waiting and closed (499)';
  } else {
    what = 'requests that did not upgrade all ended after the same time';
  }
  return known ? `${what}; ${s.toFixed(0)} s matches ${known.what}` : what;
}

export interface Prose {
  title: string;
  explanation: string;
  fix: string;
  nginxConfig?: string;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

/** "12 handshakes", or with several inputs "6 handshakes (12 log lines: one handshake can be logged by each tier)". */
function counted(f: FindingData, noun: string): string {
  const n = f.handshakes ?? f.count;
  const what = `${int(n)} ${noun}${n === 1 ? '' : 's'}`;
  return n === f.count ? what : `${what} (${int(f.count)} log lines: one handshake can be logged by each tier)`;
}

const WORDS: Record<string, (f: FindingData) => Prose> = {
  'downgraded-handshake': (f) => {
    const nodes = f.clients.map((c) => c.client);
    return {
      title: 'WebSocket handshakes arrived as HTTP/1.0',
      explanation: `RFC 6455 requires HTTP/1.1 for the opening handshake. ${counted(f, 'handshake')} reached nginx as HTTP/1.0, so a hop in front of nginx (here: ${nodes.slice(0, 5).join(', ')}${nodes.length > 5 ? ', …' : ''}) rewrote the request. An HTTP/1.0 proxy drops Upgrade/Connection, so the app sees a plain GET and never answers (499/504 at the LB's timeout), answers 426, or — when the header is kept — nginx tunnels but the HTTP/1.0 hop cannot carry it and gives up at its timeout (101 at T). The browser sees 504.`,
      fix: `Find which load-balancer nodes/listeners these addresses are and make them forward WebSocket as HTTP/1.1 (a WebSocket-capable LB tier or listener, or a TCP listener), or take them out of rotation. At every nginx hop keep ${NGINX_SNIPPET}.`,
      nginxConfig: UPGRADE_CONFIG,
    };
  },
  'abandoned-at-timeout': (f) => {
    const T = seconds(f.timeout?.centerMs ?? 0);
    return {
      title: `Handshakes abandoned at a ${T} timeout`,
      explanation: `${counted(f, 'handshake')} ended 499/504/408 within milliseconds of ${T}: no response header came back before something gave up. A tight cluster like this is a timeout, not impatient users (those are spread out).`,
      fix: `Find the component whose timeout is ${T} (see timeouts). 499 means the client side (usually the load balancer's request timeout) gave up first, 504 that nginx's proxy_read_timeout did. The handshake itself was never answered: check the downgrade finding, that the app handles the Upgrade, and ${NGINX_SNIPPET}.`,
      nginxConfig: UPGRADE_CONFIG,
    };
  },
  'session-cut-at-timeout': (f) => {
    const T = seconds(f.timeout?.centerMs ?? 0);
    return {
      title: `Upgraded sessions cut at ${T}`,
      explanation: `${counted(f, 'WebSocket session')} (status 101) ended within milliseconds of ${T}. Healthy sessions end at scattered times; sessions killed by an idle timeout or a lifetime cap end together.`,
      fix: `If T matches nginx's proxy_read_timeout (default 60 s), send application heartbeats (ping/pong) more often than every ${T}, or raise proxy_read_timeout/proxy_send_timeout for the WebSocket location; if it matches the load balancer's idle timeout or a hard cap, raise that or reconnect before it.`,
      nginxConfig: SESSION_TIMEOUT_CONFIG,
    };
  },
  'hidden-downgrade': (f) => ({
    title: 'Hidden downgrade: the same handshake is HTTP/1.0 at one tier and HTTP/1.1 at another',
    explanation: `${int(f.count)} Sec-WebSocket-Key${f.count === 1 ? '' : 's'} appear as HTTP/1.0 in one input and HTTP/1.1 in another. The tier behind nginx re-speaks HTTP/1.1 (proxy_http_version 1.1), so its log looks healthy; only the front tier shows the downgrade.`,
    fix: 'Fix the hop in front of the tier that logged HTTP/1.0 (see downgraded-handshake for its client addresses).',
    nginxConfig: UPGRADE_CONFIG,
  }),
  'upstream-error': (f) => ({
    title: 'Handshakes failed with an upstream error (5xx)',
    explanation: `${counted(f, 'handshake')} got a 5xx: the upstream was down or refused (502), overloaded (503), or nginx timed out waiting (504, outside any timeout cluster).`,
    fix: 'Check the upstream addresses in the evidence, nginx\'s error.log around these times, and proxy_next_upstream; a dead backend in the upstream group shows as a failover list such as "502, 101".',
  }),
  'missing-upgrade-header': (f) => ({
    title: 'Handshakes without an Upgrade header',
    explanation: `${counted(f, 'request')} look like WebSocket handshakes (a Sec-WebSocket-Key or a WebSocket path) but reached nginx with no Upgrade header: a proxy in front dropped the hop-by-hop headers.`,
    fix: `Make the hop in front forward Upgrade and Connection (HTTP/1.1 WebSocket support on the LB; for an nginx in front: ${NGINX_SNIPPET}).`,
    nginxConfig: UPGRADE_CONFIG,
  }),
  'handshake-redirected': (f) => ({
    title: 'Handshakes redirected (3xx)',
    explanation: `${counted(f, 'handshake')} got a redirect instead of 101. Browsers do not follow redirects on a WebSocket handshake (RFC 6455 §4.1: any status but 101 fails the connection), so each one is a failed connection. The common case is nginx's own 301 from \`/ws\` to \`/ws/\`, sent when only \`location /ws/\` exists; an app or auth layer redirecting to a login page is the other.`,
    fix: 'Make the client open the URL the redirect points to (often the trailing slash: `/ws/` instead of `/ws`), or give the exact path a location of its own that proxies the WebSocket (the nginx.conf snippet); for an auth redirect, authenticate the handshake (cookie or token) instead.',
    nginxConfig: REDIRECT_CONFIG,
  }),
  'handshake-rejected': (f) => ({
    title: 'Handshakes rejected (4xx)',
    explanation: `${counted(f, 'handshake')} were refused with a 4xx: 400 (invalid handshake), 403 (origin/auth), 404 (wrong path), 426 (the app got a request without a usable Upgrade).`,
    fix: 'Check the status breakdown: 426 on HTTP/1.0 is the downgrade; 400/426 on HTTP/1.1 usually means Upgrade/Connection were not passed to the app; 403/404 are app routing or auth.',
    nginxConfig: UPGRADE_CONFIG,
  }),
  'reused-key': (f) => ({
    title: 'Sec-WebSocket-Key seen on several lines of one log',
    explanation: `${int(f.count)} key${f.count === 1 ? '' : 's'} repeat within one input. Browsers make a fresh key per attempt, so a repeat is a proxy retry, a duplicated request, or a client that reuses keys.`,
    fix: 'Check for proxy retries (proxy_next_upstream with non-idempotent handshakes) and for clients built with a fixed key.',
  }),
};

/** The words for a finding (every id the rules report has an entry). */
export function proseOf(f: FindingData): Prose {
  const words = WORDS[f.id];
  if (words === undefined) throw new Error(`no prose for finding ${f.id}`);
  return words(f);
}
