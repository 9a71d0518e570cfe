/*!
 * Named log formats as data, like goaccess's settings.c table: what users mean by `--preset NAME`
 * and the candidates auto-detection tries, most specific first. Texts are exact nginx formats.
 */
import { compileFormatString, type CompiledFormat, type Escape } from './compile.js';
import { JSON_FORMAT_TEXT, compileJsonFormat } from './json-format.js';

export interface Preset {
  readonly name: string;
  readonly escape: Escape;
  readonly text: string;
  readonly description: string;
  /** `json`: read by key name (format/json-format.ts), not compiled from `text`. */
  readonly kind?: 'json';
  /** Custom formats often append fields to it: auto-detection reads those from their values (format/trailing.ts). */
  readonly extendable?: boolean;
}

const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/** The incident's format (DESIGN.md): unquoted $request and $http_user_agent, the key appended. */
const INCIDENT = '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent';

export const PRESET_FORMATS: readonly Preset[] = [
  { name: 'upstream-ws', escape: 'default', text: `${INCIDENT} $http_sec_websocket_key`, description: 'the "to: $upstream_addr" format with the Sec-WebSocket-Key appended (unquoted $request and user agent)' },
  { name: 'upstream', escape: 'default', text: INCIDENT, description: 'the "to: $upstream_addr" format without the key' },
  { name: 'upstreaminfo', escape: 'default', text: `${COMBINED} $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id`, description: 'ingress-nginx default' },
  { name: 'combined-ws', escape: 'default', text: `${COMBINED} $request_time "$http_upgrade" "$http_sec_websocket_key" $upstream_status`, description: 'combined plus request time, Upgrade header, key and upstream status' },
  { name: 'main', escape: 'default', text: `${COMBINED} "$http_x_forwarded_for"`, description: 'nginx.org packages\' default' },
  { name: 'combined', escape: 'default', text: COMBINED, description: 'nginx built-in default', extendable: true },
  { name: 'json', escape: 'json', text: JSON_FORMAT_TEXT, description: 'any one-object-per-line JSON log (escape=json formats): keys read by nginx variable name or a common alias', kind: 'json' },
];

export function findPreset(name: string): Preset | undefined {
  return PRESET_FORMATS.find((p) => p.name === name);
}

export function compilePreset(p: Preset): CompiledFormat {
  return p.kind === 'json' ? compileJsonFormat(p.name) : compileFormatString(p.text, p.escape, p.name);
}
