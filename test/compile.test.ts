/*!
 * log_format compiler (src/format/compile.ts): every accepted way of writing a format (bare string,
 * nginx argument syntax, a whole directive, `${var}`), the presets, and the exact error code and
 * column of each invalid format. Line matching is test/parse-line.test.ts's job.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compileFormat, compileFormatString, readFormatText, type CompileOptions, type Escape } from '../src/format/compile.js';
import { PRESET_FORMATS } from '../src/format/presets.js';
import { isAnalyzerError, type ErrorCode } from '../src/errors.js';

interface Compiled {
  name: string;
  escape: Escape;
  text: string;
  vars: string[];
  literals: string[];
}

function brief(input: string, opts?: CompileOptions): Compiled {
  const f = compileFormat(input, opts);
  return { name: f.name, escape: f.escape, text: f.text, vars: [...f.vars], literals: [...f.literals] };
}

// See: nginx-facts.md §1.4 (the nginx.org packages' nginx.conf, pkg-oss debian/debian/nginx.conf L18-22).
const MAIN_DIRECTIVE = `log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';`;

// See: nginx-facts.md §5 (a typical escape=json format, one quoted piece per key).
const JSON_COMBINED_DIRECTIVE = `log_format json_combined escape=json '{' '"time":"$time_iso8601",' '"request_id":"$request_id",' '"remote_addr":"$remote_addr",' '"request":"$request",' '"status":$status,' '"body_bytes_sent":$body_bytes_sent,' '"request_time":$request_time,' '"upstream_addr":"$upstream_addr",' '"upstream_status":"$upstream_status",' '"upstream_response_time":"$upstream_response_time"' '}';`;

const acceptCases: { name: string; input: string; opts?: CompileOptions; want: Compiled; todo?: string }[] = [
  {
    name: 'bare format string (what --log-format usually gets)',
    input: '$remote_addr - $remote_user [$time_local] "$request" $status',
    want: {
      name: 'custom', escape: 'default', text: '$remote_addr - $remote_user [$time_local] "$request" $status',
      vars: ['remote_addr', 'remote_user', 'time_local', 'request', 'status'],
      literals: ['', ' - ', ' [', '] "', '" ', ''],
    },
  },
  {
    name: 'bare format string: surrounding whitespace is trimmed',
    input: '  $status $request_time\n',
    want: { name: 'custom', escape: 'default', text: '$status $request_time', vars: ['status', 'request_time'], literals: ['', ' ', ''] },
  },
  {
    name: 'nginx argument syntax: quoted pieces are concatenated with no separator',
    input: "'$remote_addr - ' '$status'",
    want: { name: 'custom', escape: 'default', text: '$remote_addr - $status', vars: ['remote_addr', 'status'], literals: ['', ' - ', ''] },
  },
  {
    name: 'nginx argument syntax: double-quoted pieces, split mid-literal',
    input: '"$remote_addr [$time" "_local] " "$status"',
    want: { name: 'custom', escape: 'default', text: '$remote_addr [$time_local] $status', vars: ['remote_addr', 'time_local', 'status'], literals: ['', ' [', '] ', ''] },
  },
  {
    name: 'nginx argument syntax: \\" inside a quoted piece is a quote',
    input: "'\\\"$request\\\" $status'",
    want: { name: 'custom', escape: 'default', text: '"$request" $status', vars: ['request', 'status'], literals: ['"', '" ', ''] },
  },
  {
    name: 'leading escape=json before the quoted pieces',
    input: `escape=json '{"status":$status,' '"ua":"$http_user_agent"}'`,
    want: {
      name: 'custom', escape: 'json', text: '{"status":$status,"ua":"$http_user_agent"}',
      vars: ['status', 'http_user_agent'], literals: ['{"status":', ',"ua":"', '"}'],
    },
  },
  {
    name: 'leading escape=none',
    input: "escape=none '$request $status'",
    want: { name: 'custom', escape: 'none', text: '$request $status', vars: ['request', 'status'], literals: ['', ' ', ''] },
  },
  {
    name: 'whole directive: name and escape taken from it, pieces concatenated, ";" dropped',
    input: `log_format ws_json escape=json '{"time":"$time_iso8601",' '"status":$status}';`,
    want: {
      name: 'ws_json', escape: 'json', text: '{"time":"$time_iso8601","status":$status}',
      vars: ['time_iso8601', 'status'], literals: ['{"time":"', '","status":', '}'],
    },
  },
  {
    name: 'whole directive over several lines (nginx.org packages\' main)',
    input: MAIN_DIRECTIVE,
    want: {
      name: 'main', escape: 'default',
      text: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
      vars: ['remote_addr', 'remote_user', 'time_local', 'request', 'status', 'body_bytes_sent', 'http_referer', 'http_user_agent', 'http_x_forwarded_for'],
      literals: ['', ' - ', ' [', '] "', '" ', ' ', ' "', '" "', '" "', '"'],
    },
  },
  {
    name: 'whole directive with eleven escape=json pieces (json_combined)',
    input: JSON_COMBINED_DIRECTIVE,
    want: {
      name: 'json_combined', escape: 'json',
      text: '{"time":"$time_iso8601","request_id":"$request_id","remote_addr":"$remote_addr","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","upstream_response_time":"$upstream_response_time"}',
      vars: ['time_iso8601', 'request_id', 'remote_addr', 'request', 'status', 'body_bytes_sent', 'request_time', 'upstream_addr', 'upstream_status', 'upstream_response_time'],
      literals: ['{"time":"', '","request_id":"', '","remote_addr":"', '","request":"', '","status":', ',"body_bytes_sent":', ',"request_time":', ',"upstream_addr":"', '","upstream_status":"', '","upstream_response_time":"', '"}'],
    },
  },
  {
    name: 'whole directive whose only argument is bare',
    input: 'log_format short $remote_addr;',
    want: { name: 'short', escape: 'default', text: '$remote_addr', vars: ['remote_addr'], literals: ['', ''] },
  },
  {
    name: 'whole directive: a bare first argument is concatenated with the quoted ones, as nginx does',
    input: "log_format x $remote_addr ' - $status';",
    want: { name: 'x', escape: 'default', text: '$remote_addr - $status', vars: ['remote_addr', 'status'], literals: ['', ' - ', ''] },
  },
  {
    name: 'whole directive: bare arguments are concatenated without the spaces between them, as nginx does',
    input: 'log_format x $remote_addr - $status;',
    want: { name: 'x', escape: 'default', text: '$remote_addr-$status', vars: ['remote_addr', 'status'], literals: ['', '-', ''] },
  },
  {
    name: 'bare format string whose first field is quoted is not nginx argument syntax',
    input: '"$request" $server_protocol $status',
    want: {
      name: 'custom', escape: 'default', text: '"$request" $server_protocol $status',
      vars: ['request', 'server_protocol', 'status'], literals: ['"', '" ', ' ', ''],
    },
  },
  {
    name: 'bare format string starting with a quoted field, then bare text: read as bare, spaces kept',
    input: '"$http_x_forwarded_for" - $remote_addr',
    want: {
      name: 'custom', escape: 'default', text: '"$http_x_forwarded_for" - $remote_addr',
      vars: ['http_x_forwarded_for', 'remote_addr'], literals: ['"', '" - ', ''],
    },
  },
  {
    name: 'escape= before a bare format string starting with a quote',
    input: 'escape=json "$request" $status',
    want: { name: 'custom', escape: 'json', text: '"$request" $status', vars: ['request', 'status'], literals: ['"', '" ', ''] },
  },
  {
    name: 'nginx argument syntax: ";" inside quotes is text',
    input: "'$remote_addr;$status'",
    want: { name: 'custom', escape: 'default', text: '$remote_addr;$status', vars: ['remote_addr', 'status'], literals: ['', ';', ''] },
  },
  {
    name: 'whole directive with a # comment between the pieces',
    input: "log_format x '$remote_addr '  # client\n  '$status';",
    want: { name: 'x', escape: 'default', text: '$remote_addr $status', vars: ['remote_addr', 'status'], literals: ['', ' ', ''] },
  },
  {
    name: 'whole directive: escape= then bare and quoted arguments mixed',
    input: "log_format x escape=json $remote_addr ',' $status;",
    want: { name: 'x', escape: 'json', text: '$remote_addr,$status', vars: ['remote_addr', 'status'], literals: ['', ',', ''] },
  },
  {
    name: '${var} ends at "}", so name characters may follow it',
    input: '${status}x',
    want: { name: 'custom', escape: 'default', text: '${status}x', vars: ['status'], literals: ['', 'x'] },
  },
  {
    name: '${var} next to a $var, separated by one character',
    input: '${request_id}-$connection',
    want: { name: 'custom', escape: 'default', text: '${request_id}-$connection', vars: ['request_id', 'connection'], literals: ['', '-', ''] },
  },
  {
    name: 'names take digits and underscores (even leading digits) and end at the first other character',
    input: '$a_1 $B2 $3x to: $upstream_addr: $_',
    want: {
      name: 'custom', escape: 'default', text: '$a_1 $B2 $3x to: $upstream_addr: $_',
      vars: ['a_1', 'B2', '3x', 'upstream_addr', '_'], literals: ['', ' ', ' ', ' to: ', ': ', ''],
    },
  },
  {
    name: 'a format without variables is one literal',
    input: 'static',
    want: { name: 'custom', escape: 'default', text: 'static', vars: [], literals: ['static'] },
  },
  {
    name: 'options override the name and escape read from the text',
    input: "log_format a escape=json '$status'",
    opts: { name: 'b', escape: 'none' },
    want: { name: 'b', escape: 'none', text: '$status', vars: ['status'], literals: ['', ''] },
  },
];

for (const c of acceptCases) {
  test(`compileFormat: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    assert.deepEqual(brief(c.input, c.opts), c.want);
  });
}

test('compileFormat: the index maps a repeated variable to its first occurrence', () => {
  const f = compileFormat('$status [$request] $status');
  assert.deepEqual([...f.index.entries()], [['status', 0], ['request', 1]]);
});

const readCases: { name: string; input: string; want: { name?: string; escape?: Escape; text: string } }[] = [
  { name: 'bare string', input: '$status', want: { name: undefined, escape: undefined, text: '$status' } },
  { name: 'escape and pieces', input: "escape=json '$a,' '$b'", want: { name: undefined, escape: 'json', text: '$a,$b' } },
  { name: 'directive', input: "log_format n escape=default '$a' \"-$b\";", want: { name: 'n', escape: 'default', text: '$a-$b' } },
  { name: 'the tokenizer stops at ";"', input: "'$a' ; '$b'", want: { name: undefined, escape: undefined, text: '$a' } },
];

for (const c of readCases) {
  test(`readFormatText: ${c.name}`, () => {
    assert.deepEqual(readFormatText(c.input), c.want);
  });
}

test('compileFormatString takes the text as already concatenated: quotes are literals', () => {
  const f = compileFormatString("'$status'", 'json', 'n');
  assert.deepEqual([f.name, f.escape, f.text, [...f.vars], [...f.literals]], ['n', 'json', "'$status'", ['status'], ["'", "'"]]);
});

// --- presets --------------------------------------------------------------------------------------

const COMBINED_VARS = ['remote_addr', 'remote_user', 'time_local', 'request', 'status', 'body_bytes_sent', 'http_referer', 'http_user_agent'];
const COMBINED_LITERALS = ['', ' - ', ' [', '] "', '" ', ' ', ' "', '" "'];
const INCIDENT_VARS = ['time_local', 'remote_addr', 'remote_user', 'server_addr', 'upstream_addr', 'request', 'upstream_response_time', 'msec', 'request_time', 'status', 'http_user_agent'];
const INCIDENT_LITERALS = ['[', '] ', ' - ', ' - ', ' to: ', ': ', ' upstream_response_time ', ' msec ', ' request_time ', ' status ', ' client - '];

// See: DESIGN.md (project design brief) "The incident it is built from" (the log_format under the example line).
const DESIGN_INCIDENT_FORMAT = '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';

const presetCases: { name: string; text?: string; vars: string[]; literals: string[] }[] = [
  { name: 'combined', text: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"', vars: COMBINED_VARS, literals: [...COMBINED_LITERALS, '"'] },
  { name: 'main', text: compileFormat(MAIN_DIRECTIVE).text, vars: [...COMBINED_VARS, 'http_x_forwarded_for'], literals: [...COMBINED_LITERALS, '" "', '"'] },
  {
    name: 'upstreaminfo',
    text: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id',
    vars: [...COMBINED_VARS, 'request_length', 'request_time', 'proxy_upstream_name', 'proxy_alternative_upstream_name', 'upstream_addr', 'upstream_response_length', 'upstream_response_time', 'upstream_status', 'req_id'],
    literals: [...COMBINED_LITERALS, '" ', ' ', ' [', '] [', '] ', ' ', ' ', ' ', ' ', ''],
  },
  { name: 'upstream-ws', text: DESIGN_INCIDENT_FORMAT, vars: [...INCIDENT_VARS, 'http_sec_websocket_key'], literals: [...INCIDENT_LITERALS, ' ', ''] },
  { name: 'upstream', text: DESIGN_INCIDENT_FORMAT.replace(' $http_sec_websocket_key', ''), vars: INCIDENT_VARS, literals: [...INCIDENT_LITERALS, ''] },
  {
    name: 'combined-ws',
    vars: [...COMBINED_VARS, 'request_time', 'http_upgrade', 'http_sec_websocket_key', 'upstream_status'],
    literals: [...COMBINED_LITERALS, '" ', ' "', '" "', '" ', ''],
  },
];

test('presets: every log_format preset has a row below; `json` is read by key name (test/json-format.test.ts)', () => {
  assert.deepEqual(PRESET_FORMATS.filter((p) => p.kind !== 'json').map((p) => p.name).sort(), presetCases.map((c) => c.name).sort());
  assert.deepEqual(PRESET_FORMATS.filter((p) => p.kind === 'json').map((p) => [p.name, p.escape]), [['json', 'json']]);
});

for (const c of presetCases) {
  test(`preset ${c.name}: text, vars and literals`, () => {
    const p = PRESET_FORMATS.find((x) => x.name === c.name);
    assert.ok(p, `no preset named ${c.name}`);
    if (c.text !== undefined) assert.equal(p.text, c.text);
    assert.equal(p.escape, 'default');
    const f = compileFormatString(p.text, p.escape, p.name);
    assert.deepEqual([...f.vars], c.vars);
    assert.deepEqual([...f.literals], c.literals);
    // Going through compileFormat (bare-string path) gives the same result.
    assert.deepEqual([...compileFormat(p.text).literals], c.literals);
  });
}

// --- invalid formats ------------------------------------------------------------------------------

interface BadCase {
  name: string;
  input: string;
  code: ErrorCode;
  /** 1-based column in what the user wrote; undefined when the error has no position. */
  column?: number;
  line?: number;
  /** Exact message, where it is worth pinning. */
  message?: string;
  todo?: string;
}

const badCases: BadCase[] = [
  {
    name: 'unclosed ${x', input: '${x', code: 'FORMAT_UNCLOSED_BRACE', column: 1,
    message: 'the closing bracket in "x" variable is missing (column 1)',
  },
  { name: 'unclosed ${ after other variables', input: '$remote_addr ${status', code: 'FORMAT_UNCLOSED_BRACE', column: 14 },
  { name: 'a character that is not a name character inside ${}', input: '${a-b}', code: 'FORMAT_UNCLOSED_BRACE', column: 4 },
  { name: '$ with no name', input: 'a $ b', code: 'FORMAT_EMPTY_VARIABLE', column: 3, message: '"$" without a variable name at column 3' },
  { name: '$ at the end', input: '$status $', code: 'FORMAT_EMPTY_VARIABLE', column: 9 },
  { name: '${} (empty name in braces)', input: '${}', code: 'FORMAT_EMPTY_VARIABLE', column: 1 },
  { name: 'adjacent variables $a$b: column of the second $', input: '$a$b', code: 'FORMAT_ADJACENT_VARIABLES', column: 3 },
  { name: 'adjacent ${a}${b}', input: '${a}${b}', code: 'FORMAT_ADJACENT_VARIABLES', column: 5 },
  { name: 'adjacent variables after text', input: '[$time_local] $remote_addr$remote_user', code: 'FORMAT_ADJACENT_VARIABLES', column: 27 },
  {
    name: 'adjacent variables made by concatenating pieces (column in the concatenated format)',
    input: "'$remote_addr ' '$a' '$b'", code: 'FORMAT_ADJACENT_VARIABLES', column: 16,
  },
  {
    name: 'escape=xml', input: "escape=xml '$status'", code: 'FORMAT_BAD_ESCAPE', column: 1,
    message: 'unknown log format escaping "xml" at column 1: expected escape=default, escape=json or escape=none',
  },
  {
    name: 'escape=xml inside a directive', input: "log_format x escape=xml '$status';", code: 'FORMAT_BAD_ESCAPE', column: 14,
  },
  {
    name: 'quoted pieces only are nginx argument syntax, so "$a" "$b" joins into $a$b',
    input: '"$a" "$b"', code: 'FORMAT_ADJACENT_VARIABLES', column: 3,
  },
  { name: 'escape=xml before a bare format', input: 'escape=xml $status', code: 'FORMAT_BAD_ESCAPE', column: 1 },
  { name: 'empty format', input: '', code: 'FORMAT_EMPTY', message: 'the log format is empty' },
  { name: 'a directive with no format', input: 'log_format x;', code: 'FORMAT_EMPTY' },
  { name: 'whitespace only', input: '   \n', code: 'FORMAT_EMPTY' },
  { name: 'empty quoted pieces', input: "'' \"\"", code: 'FORMAT_EMPTY' },
  { name: 'unclosed quote', input: "'$remote_addr $status", code: 'CONF_SYNTAX', line: 1, column: 1 },
  { name: 'unclosed quote after leading spaces', input: "  '$status", code: 'CONF_SYNTAX', line: 1, column: 3 },
  { name: 'unclosed quote on the second line', input: "'$remote_addr '\n  '$status", code: 'CONF_SYNTAX', line: 2, column: 3 },
  { name: 'quoted pieces not separated by a space', input: "'$a''b'", code: 'CONF_SYNTAX', line: 1, column: 5 },
  {
    name: 'unclosed quote after escape=json (column in the user\'s text)', input: "escape=json '$a' '$b", code: 'CONF_SYNTAX', line: 1, column: 18,
    message: "unclosed ' quote: expected a closing ' before the end of the file (column 18)",
  },
  {
    name: '"{" after the pieces of a directive', input: "log_format x '$a' {", code: 'FORMAT_UNCLOSED_QUOTE', column: 19,
  },
];

function thrown(input: string): unknown {
  try {
    compileFormat(input);
  } catch (err) {
    return err;
  }
  return undefined;
}

for (const c of badCases) {
  test(`invalid format: ${c.name} → ${c.code}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    const err = thrown(c.input);
    assert.ok(isAnalyzerError(err), `expected an AnalyzerError, got ${String(err)}`);
    assert.equal(err.code, c.code);
    assert.equal(err.where?.column, c.column);
    if (c.line !== undefined) assert.equal(err.where?.line, c.line);
    if (c.message !== undefined) assert.equal(err.message, c.message);
  });
  if (c.column !== undefined) {
    test(`invalid format: ${c.name}: the message says where`, c.todo === undefined ? {} : { todo: c.todo }, () => {
      const err = thrown(c.input);
      assert.ok(isAnalyzerError(err));
      const col = String(c.column);
      const says = err.message.includes(`column ${col}`) || err.message.startsWith(`${c.line ?? 1}:${col}:`);
      assert.ok(says, `message does not mention column ${col}: ${err.message}`);
    });
  }
}
