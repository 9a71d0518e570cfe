/*!
 * Logs without $request_time: which of the variables wsdiag needs ($request_time, $http_upgrade,
 * the key, $upstream_status) they lack, and the one log_format line that adds them, said once per
 * report. Reads the
 * formats that parsed lines and whether any handshake logged a duration; owns no counts.
 */
import type { CompiledFormat } from '../format/compile.js';

/** The variables, in the order they are appended (the `combined-ws` preset's tail after combined). */
const WANTED: readonly { name: string; field: string }[] = [
  { name: 'request_time', field: '$request_time' },
  { name: 'http_upgrade', field: '"$http_upgrade"' },
  { name: 'http_sec_websocket_key', field: '"$http_sec_websocket_key"' },
  { name: 'upstream_status', field: '$upstream_status' },
];

export interface NotLogged {
  /** `$request_time`, … as they would be written in a log_format. */
  variables: string[];
  /** A log_format directive that adds them to the format in use (name `wsdiag`). */
  logFormat: string;
}

/**
 * `formats`: those that parsed lines, with their line counts. `durations`: some handshake logged a
 * $request_time (JSON logs name their fields per line, so for them only this is known).
 */
export function notLogged(formats: readonly { format: CompiledFormat; lines: number }[], handshakes: number, durations: boolean): NotLogged | null {
  if (handshakes === 0) return null;
  const used = formats.filter((f) => f.lines > 0).map((f) => f.format);
  const missing = new Set<string>();
  if (!durations) missing.add('request_time');
  const templates = used.filter((f) => f.kind === 'template');
  for (const f of templates) for (const w of WANTED) if (!f.index.has(w.name)) missing.add(w.name);
  // Said when durations are missing (the analysis is blind to timeouts), naming all four then.
  if (!missing.has('request_time')) return null;
  const add = WANTED.filter((w) => missing.has(w.name));
  const base = templates.find((f) => add.some((w) => !f.index.has(w.name)));
  let logFormat: string;
  if (base === undefined) {
    const fields = add.map((w) => `"${w.name}":"$${w.name}"`).join(',');
    logFormat = `log_format wsdiag escape=json '{…your fields…,${fields}}';`;
  } else {
    const escape = base.escape === 'default' ? '' : `escape=${base.escape} `;
    logFormat = `log_format wsdiag ${escape}'${base.text} ${add.filter((w) => !base.index.has(w.name)).map((w) => w.field).join(' ')}';`;
  }
  return { variables: add.map((w) => `$${w.name}`), logFormat };
}
