/*!
 * nginx.conf tokenizer and directive grouping (src/format/conf-tokens.ts): token values and positions,
 * escapes, `${var}`, comments, nginx's errors; and, when Debian nginx is installed, agreement with
 * `nginx -t` on which snippets are valid.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { parseDirectives, tokenizeConf, type ConfToken, type Directive } from '../src/format/conf-tokens.js';
import { isAnalyzerError } from '../src/errors.js';
import { findProgram, requireProgram } from './helpers/requirements.js';

/** `value@line:column`; quoted words shown in single quotes, structure tokens as themselves. */
function brief(tokens: readonly ConfToken[]): string[] {
  return tokens.map((t) => `${t.kind !== 'word' ? t.kind : t.quoted ? `'${t.value}'` : t.value}@${t.line}:${t.column}`);
}

const tokenCases: { name: string; src: string; want: string[] }[] = [
  {
    name: 'bare words and structure tokens',
    src: 'worker_processes auto;\nevents {\n}\n',
    want: ['worker_processes@1:1', 'auto@1:18', ';@1:22', 'events@2:1', '{@2:8', '}@3:1'],
  },
  {
    name: 'quoted pieces stay separate words, positioned at their opening quote',
    src: "log_format a 'x '\n  \"y\";",
    want: ['log_format@1:1', 'a@1:12', "'x '@1:14", "'y'@2:3", ';@2:6'],
  },
  {
    name: 'a quoted word may span lines; the next token is positioned after it',
    src: "a 'x\ny' b;",
    want: ['a@1:1', "'x\ny'@1:3", 'b@2:4', ';@2:5'],
  },
  {
    name: 'CRLF line endings',
    src: "a;\r\nb 'c';\r\n",
    want: ['a@1:1', ';@1:2', 'b@2:1', "'c'@2:3", ';@2:6'],
  },
  {
    name: 'a TAB is one column',
    src: '\tlog_format\tx;',
    want: ['log_format@1:2', 'x@1:13', ';@1:14'],
  },
  {
    name: '${var} in a bare word does not open a block',
    src: 'set $x ${host}_${uri};',
    want: ['set@1:1', '$x@1:5', '${host}_${uri}@1:8', ';@1:22'],
  },
  {
    name: '{ after anything but $ ends a bare word',
    src: 'location /a{}',
    want: ['location@1:1', '/a@1:10', '{@1:12', '}@1:13'],
  },
  {
    name: 'an escaped $ does not protect the following {',
    src: 'a \\${',
    want: ['a@1:1', '\\$@1:3', '{@1:5'],
  },
  {
    name: '# starts a comment only where a word could start',
    src: "a # c ;\nb#c 'x' #d\n;",
    want: ['a@1:1', 'b#c@2:1', "'x'@2:5", ';@3:1'],
  },
  {
    name: '} and quotes inside a bare word are ordinary characters',
    src: "return 200 x}a'b;",
    want: ['return@1:1', '200@1:8', "x}a'b@1:12", ';@1:17'],
  },
  {
    name: ') may follow a closing quote and starts the next word (if conditions)',
    src: 'if ($a = "x") {',
    want: ['if@1:1', '($a@1:4', '=@1:8', "'x'@1:10", ')@1:13', '{@1:15'],
  },
  {
    name: 'a quote followed by ; or { ends the directive',
    src: "a 'x';b \"y\"{",
    want: ['a@1:1', "'x'@1:3", ';@1:6', 'b@1:7', "'y'@1:9", '{@1:12'],
  },
  {
    name: 'empty quoted word',
    src: "a '';",
    want: ['a@1:1', "''@1:3", ';@1:5'],
  },
  {
    name: 'Lua block body is skipped, braces in its strings and comments included',
    src: 'content_by_lua_block {\n  local s = "}" .. [[ } ]] -- }\n  if x then t = {1} end\n}\nb;',
    want: ['content_by_lua_block@1:1', '{@1:22', '}@4:1', 'b@5:1', ';@5:2'],
  },
  {
    name: 'Lua block after an argument (set_by_lua_block $x { … })',
    src: "set_by_lua_block $x { return '}' }",
    want: ['set_by_lua_block@1:1', '$x@1:18', '{@1:21', '}@1:34'],
  },
];

for (const c of tokenCases) {
  test(`tokens: ${c.name}`, () => {
    assert.deepEqual(brief(tokenizeConf(c.src)), c.want);
  });
}

const valueCases: { name: string; src: string; want: string[] }[] = [
  { name: '\\" inside "…"', src: '"a\\"b"', want: ['a"b'] },
  { name: "\\' inside '…'", src: "'c\\'d'", want: ["c'd"] },
  { name: '\\\\ becomes one backslash', src: '"e\\\\f"', want: ['e\\f'] },
  { name: '\\" in single quotes (common in log_format)', src: "'\\\"$request\\\"'", want: ['"$request"'] },
  { name: '\\t \\r \\n become TAB CR LF', src: '"t\\tr\\rn\\n"', want: ['t\tr\rn\n'] },
  { name: 'any other \\c stays backslash + c', src: '"\\x41\\$\\a"', want: ['\\x41\\$\\a'] },
  { name: 'escapes in a bare word', src: 'a\\"b c\\td', want: ['a"b', 'c\td'] },
  { name: 'an escaped space or ; does not end a bare word', src: 'a\\ b c\\;d', want: ['a\\ b', 'c\\;d'] },
  { name: 'the other quote character is plain inside quotes', src: `'it"s' "it's"`, want: ['it"s', "it's"] },
  { name: 'a backslash at the very end is kept', src: 'a\\', want: ['a\\'] },
];

for (const c of valueCases) {
  test(`values: ${c.name}`, () => {
    assert.deepEqual(
      tokenizeConf(c.src).map((t) => t.value),
      c.want,
    );
  });
}

const errorCases: { name: string; src: string; line: number; column: number; message: string }[] = [
  {
    name: "two quoted pieces with no space ('x''y')",
    src: "log_format a 'x''y';",
    line: 1,
    column: 17,
    message: `t.conf:1:17: unexpected "'" after the closing ' quote: expected a space, ";" or "{" (nginx does not join quoted pieces)`,
  },
  {
    name: 'a bare character right after a closing quote',
    src: "http {\n  a 'x'y;\n}",
    line: 2,
    column: 8,
    message: `t.conf:2:8: unexpected "y" after the closing ' quote: expected a space, ";" or "{" (nginx does not join quoted pieces)`,
  },
  {
    name: '# right after a closing quote',
    src: 'a "x"#c',
    line: 1,
    column: 6,
    message: `t.conf:1:6: unexpected "#" after the closing " quote: expected a space, ";" or "{" (nginx does not join quoted pieces)`,
  },
  {
    name: '} right after a closing quote',
    src: "a 'x'};",
    line: 1,
    column: 6,
    message: `t.conf:1:6: unexpected "}" after the closing ' quote: expected a space, ";" or "{" (nginx does not join quoted pieces)`,
  },
  {
    name: 'unclosed quote, reported at the opening quote',
    src: "http {\n  log_format a 'x;\n}\n",
    line: 2,
    column: 16,
    message: `t.conf:2:16: unclosed ' quote: expected a closing ' before the end of the file`,
  },
  {
    name: 'a quote escaped at the end does not close',
    src: 'a "x\\"',
    line: 1,
    column: 3,
    message: `t.conf:1:3: unclosed " quote: expected a closing " before the end of the file`,
  },
  {
    name: 'unclosed Lua block',
    src: 'content_by_lua_block { if x then',
    line: 1,
    column: 22,
    message: `t.conf:1:22: unclosed Lua block: expected "}" before the end of the file`,
  },
];

for (const c of errorCases) {
  test(`tokenizer error: ${c.name}`, () => {
    assert.throws(
      () => tokenizeConf(c.src, 't.conf'),
      (err: unknown) => {
        assert.ok(isAnalyzerError(err));
        assert.equal(err.code, 'CONF_SYNTAX');
        assert.equal(err.message, c.message);
        assert.equal(err.where?.file, 't.conf');
        assert.equal(err.where?.line, c.line);
        assert.equal(err.where?.column, c.column);
        return true;
      },
    );
  });
}

test('tokenizer error without a file names line:column and the offending line', () => {
  assert.throws(
    () => tokenizeConf("a;\nlog_format x 'a''b';\r\n"),
    (err: unknown) => {
      assert.ok(isAnalyzerError(err));
      assert.match(err.message, /^2:17: unexpected "'"/);
      assert.deepEqual(err.where, { line: 2, column: 17, text: "log_format x 'a''b';" });
      return true;
    },
  );
});

interface Shape {
  name: string;
  args: string[];
  at: string;
  block?: Shape[];
}

function shape(ds: readonly Directive[]): Shape[] {
  return ds.map((d) => ({
    name: d.name,
    args: d.args.map((a) => a.value),
    at: `${d.file ?? ''}:${d.line}:${d.column}`,
    ...(d.block === undefined ? {} : { block: shape(d.block) }),
  }));
}

test('directives: nested blocks, empty blocks, arguments and positions', () => {
  const src = "events {}\nhttp {\n  server { listen 80; }\n  log_format a 'x' \"y\";\n}\n";
  assert.deepEqual(shape(parseDirectives(tokenizeConf(src), 'n.conf')), [
    { name: 'events', args: [], at: 'n.conf:1:1', block: [] },
    {
      name: 'http',
      args: [],
      at: 'n.conf:2:1',
      block: [
        { name: 'server', args: [], at: 'n.conf:3:3', block: [{ name: 'listen', args: ['80'], at: 'n.conf:3:12' }] },
        { name: 'log_format', args: ['a', 'x', 'y'], at: 'n.conf:4:3' },
      ],
    },
  ]);
});

test('directives: without a file, no file property', () => {
  const [d] = parseDirectives(tokenizeConf('a b;'));
  assert.deepEqual(d, {
    name: 'a',
    args: [{ kind: 'word', value: 'b', quoted: false, line: 1, column: 3 }],
    line: 1,
    column: 1,
  });
});

const structureErrors: { name: string; src: string; line: number; column: number; message: string }[] = [
  {
    name: '; with no directive',
    src: 'a;\n;',
    line: 2,
    column: 1,
    message: 'n.conf:2:1: unexpected ";": expected a directive name before it',
  },
  {
    name: '{ with no directive',
    src: '{ }',
    line: 1,
    column: 1,
    message: 'n.conf:1:1: unexpected "{": expected a directive name before it',
  },
  {
    name: '} while a directive lacks its ;',
    src: 'http {\n  listen 80\n}',
    line: 3,
    column: 1,
    message: 'n.conf:3:1: unexpected "}": directive "listen" at 2:3 is not terminated by ";"',
  },
  {
    name: '} with no open block',
    src: 'a;\n}',
    line: 2,
    column: 1,
    message: 'n.conf:2:1: unexpected "}": no block is open here',
  },
  {
    name: 'end of file inside a directive',
    src: 'a;\nb c',
    line: 2,
    column: 1,
    message: 'n.conf:2:1: directive "b" is not terminated by ";" (unexpected end of file)',
  },
  {
    name: 'end of file inside a block',
    src: 'http {\n server {\n }\n',
    line: 1,
    column: 6,
    message: 'n.conf:1:6: block "http" opened here is not closed: expected "}" before the end of the file',
  },
];

for (const c of structureErrors) {
  test(`directive error: ${c.name}`, () => {
    assert.throws(
      () => parseDirectives(tokenizeConf(c.src, 'n.conf'), 'n.conf'),
      (err: unknown) => {
        assert.ok(isAnalyzerError(err));
        assert.equal(err.code, 'CONF_SYNTAX');
        assert.equal(err.message, c.message);
        assert.equal(err.where?.line, c.line);
        assert.equal(err.where?.column, c.column);
        return true;
      },
    );
  });
}

// Differential check against the real thing: each snippet goes inside `http { … }`.
// Debian's nginx, found by test/helpers/requirements.ts (NGINX_BIN points elsewhere).
const skipWithoutNginx = requireProgram('nginx');
const NGINX = findProgram('nginx') ?? 'nginx';
const verdicts: { snippet: string; ok: boolean }[] = [
  { snippet: 'log_format a ${remote_addr}x;', ok: true },
  { snippet: "log_format a 'x' \"y\" z;", ok: true },
  { snippet: "log_format a 'x');", ok: true },
  { snippet: 'log_format a x#y x};', ok: true },
  { snippet: "log_format a 'x' # comment\n;", ok: true },
  { snippet: "log_format a \"a\\\"b\" 'c\\'d' e\\ f;", ok: true },
  { snippet: 'server { location / { if ($request_method = "OPTIONS") { return 204; } } }', ok: true },
  { snippet: "log_format a 'x''y';", ok: false },
  { snippet: "log_format a 'x'y;", ok: false },
  { snippet: "log_format a 'x'#c\n;", ok: false },
  { snippet: "log_format a 'x'};", ok: false },
  { snippet: "log_format a 'x;", ok: false },
  { snippet: "log_format a 'x'", ok: false },
  { snippet: 'server { } }', ok: false },
  { snippet: ';', ok: false },
];

test('agrees with nginx -t on which snippets are valid', { skip: skipWithoutNginx }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wsdiag-tokens-'));
  try {
    for (const { snippet, ok } of verdicts) {
      const text = `events {}\nhttp {\n${snippet}\n}\n`;
      const conf = join(dir, 'nginx.conf');
      await writeFile(conf, text);
      const run = spawnSync(NGINX, ['-t', '-q', '-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', `pid ${join(dir, 'nginx.pid')};`], {
        encoding: 'utf8',
      });
      assert.equal(run.status === 0, ok, `nginx -t on ${JSON.stringify(snippet)}: ${run.stderr}`);
      let ours = true;
      try {
        parseDirectives(tokenizeConf(text, 'nginx.conf'), 'nginx.conf');
      } catch (err) {
        if (!isAnalyzerError(err)) throw err;
        ours = false;
      }
      assert.equal(ours, ok, `wsdiag on ${JSON.stringify(snippet)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
