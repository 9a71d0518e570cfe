/*!
 * Reading log_format/access_log from nginx configurations (src/format/nginx-conf.ts): the fixtures in
 * fixtures/nginx-conf/, include globs and cycles, directive errors, format picking; and, when Debian
 * nginx is installed, proof that the main fixture is a config nginx accepts and that nginx writes the
 * format text we read.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { isAnalyzerError, type ErrorCode } from '../src/errors.js';
import { freePort } from './helpers/ports.js';
import { findProgram, requireProgram } from './helpers/requirements.js';
import {
  BUILTIN_COMBINED,
  COMBINED_FORMAT,
  expandGlob,
  pickLogFormat,
  readNginxConf,
  type NginxConf,
} from '../src/format/nginx-conf.js';

const FIXTURES = 'fixtures/nginx-conf';
const MAIN = `${FIXTURES}/main/nginx.conf`;
// Debian's nginx, found by test/helpers/requirements.ts (NGINX_BIN points elsewhere).
const skipWithoutNginx = requireProgram('nginx');
const NGINX = findProgram('nginx') ?? 'nginx';

// The incident's format, verbatim from DESIGN.md ("The incident it is built from").
const INCIDENT_FORMAT =
  '[$time_local] $remote_addr - $remote_user - $server_addr to: $upstream_addr: $request upstream_response_time $upstream_response_time msec $msec request_time $request_time status $status client - $http_user_agent $http_sec_websocket_key';

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wsdiag-conf-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text);
  }
}

function expectError(code: ErrorCode, message: string | RegExp, where?: { file?: string; line?: number; column?: number }) {
  return (err: unknown): boolean => {
    assert.ok(isAnalyzerError(err), `not an AnalyzerError: ${String(err)}`);
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    for (const [k, v] of Object.entries(where ?? {})) assert.equal(err.where?.[k as keyof typeof err.where], v, k);
    return true;
  };
}

test('main fixture: formats, multi-piece and escape=json, in configuration order', async () => {
  const conf = await readNginxConf(MAIN);
  assert.deepEqual(conf.formats, [
    { name: 'incident', escape: 'default', format: INCIDENT_FORMAT, file: MAIN, line: 20 },
    {
      name: 'json_ws',
      escape: 'json',
      format:
        '{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,' +
        '"request_time":$request_time,"upstream_status":"$upstream_status","upgrade":"$http_upgrade",' +
        '"ws_key":"$http_sec_websocket_key"}',
      file: MAIN,
      line: 27,
    },
    {
      name: 'wsfmt',
      escape: 'default',
      format:
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" ' +
        '"$http_user_agent" rt=$request_time uht="$upstream_header_time" us="$upstream_status" ' +
        'wskey="$http_sec_websocket_key" up="$http_upgrade"',
      file: `${FIXTURES}/main/conf.d/ws.conf`,
      line: 2,
    },
  ]);
});

test('main fixture: access logs from http, server blocks and includes; off skipped, extra parameters ignored', async () => {
  const conf = await readNginxConf(MAIN);
  assert.deepEqual(conf.accessLogs, [
    { path: '/var/log/nginx/access.log', formatName: 'incident', file: MAIN, line: 44 },
    { path: '/var/log/nginx/ws.log', formatName: 'wsfmt', file: `${FIXTURES}/main/conf.d/ws.conf`, line: 14 },
    { path: '/var/log/nginx/json.log', formatName: 'json_ws', file: `${FIXTURES}/main/sites-enabled/default`, line: 7 },
  ]);
});

test('main fixture: files read, globs sorted, dot files and an empty glob skipped', async () => {
  const conf = await readNginxConf(MAIN);
  assert.deepEqual(conf.files, [
    MAIN,
    `${FIXTURES}/main/mime.types`,
    `${FIXTURES}/main/conf.d/ws.conf`,
    `${FIXTURES}/main/sites-enabled/default`,
  ]);
});

test('the incident format written as one log_format directive round-trips exactly', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'nginx.conf');
    await writeFile(path, `http {\n    log_format incident '${INCIDENT_FORMAT}';\n}\n`);
    const conf = await readNginxConf(path);
    assert.deepEqual(conf.formats, [{ name: 'incident', escape: 'default', format: INCIDENT_FORMAT, file: path, line: 2 }]);
    assert.equal(pickLogFormat(conf, {}).format, INCIDENT_FORMAT);
  });
});

test('stream and data blocks define no HTTP formats or logs; Lua blocks are skipped; syslog targets kept', async () => {
  const path = `${FIXTURES}/contexts/nginx.conf`;
  const conf = await readNginxConf(path);
  assert.deepEqual(
    conf.formats.map((f) => f.name),
    ['main'],
  );
  assert.deepEqual(conf.accessLogs, [
    { path: '/var/log/nginx/access.log', formatName: 'combined', file: path, line: 21 },
    { path: 'syslog:server=10.0.0.5:514,tag=ws', formatName: 'main', file: path, line: 22 },
    { path: '/var/log/nginx/lua.log', formatName: 'main', file: path, line: 30 },
  ]);
});

test('include cycle (through a glob) is an error naming the loop; includes resolve against the main file directory', async () => {
  // loop/a.conf includes `loop/b.conf`: found only because relative includes resolve against the
  // directory of the main nginx.conf (nginx's conf prefix), not of the including file.
  const dir = `${FIXTURES}/cycle`;
  await assert.rejects(
    readNginxConf(`${dir}/nginx.conf`),
    expectError(
      'CONF_SYNTAX',
      `${dir}/loop/b.conf:2:1: include cycle: ${dir}/loop/a.conf -> ${dir}/loop/b.conf -> ${dir}/loop/a.conf`,
      { file: `${dir}/loop/b.conf`, line: 2, column: 1 },
    ),
  );
});

test('a missing non-glob include is CONF_NOT_FOUND naming the including file:line (a glob matching nothing is fine)', async () => {
  const path = `${FIXTURES}/missing/nginx.conf`;
  await assert.rejects(
    readNginxConf(path),
    expectError(
      'CONF_NOT_FOUND',
      `${path}:4:5: include "snippets/ws-log.conf": cannot read ${FIXTURES}/missing/snippets/ws-log.conf: no such file`,
      { file: path, line: 4, column: 5 },
    ),
  );
});

test('a missing main file is CONF_NOT_FOUND', async () => {
  await assert.rejects(
    readNginxConf(`${FIXTURES}/no-such/nginx.conf`),
    expectError('CONF_NOT_FOUND', `cannot read nginx config ${FIXTURES}/no-such/nginx.conf: no such file`),
  );
});

test('absolute includes and the same file included twice (listed once)', async () => {
  await withTmp(async (dir) => {
    await writeTree(dir, {
      'nginx.conf': `http {\n include ${join(dir, 'fmt.conf')};\n server { include srv.conf; }\n server { include srv.conf; }\n}\n`,
      'fmt.conf': "log_format f '$status';\n",
      'srv.conf': 'access_log /logs/a.log f;\n',
    });
    const conf = await readNginxConf(join(dir, 'nginx.conf'));
    assert.deepEqual(conf.files, [join(dir, 'nginx.conf'), join(dir, 'fmt.conf'), join(dir, 'srv.conf')]);
    assert.equal(conf.accessLogs.length, 2);
  });
});

const directiveErrors: { name: string; conf: string; message: (path: string) => string; line: number }[] = [
  {
    name: 'duplicate log_format name',
    conf: "http {\n log_format a 'x';\n log_format a 'y';\n}\n",
    message: (p) => `${p}:3:2: duplicate "log_format" name "a" (first defined at ${p}:2)`,
    line: 3,
  },
  {
    name: 'redefining the built-in combined',
    conf: "log_format combined '$status';\n",
    message: (p) => `${p}:1:1: duplicate "log_format" name "combined" (it is built into nginx)`,
    line: 1,
  },
  {
    name: 'unknown escape= value',
    conf: "log_format a escape=html '$status';\n",
    message: (p) => `${p}:1:1: unknown log format escaping "html" in log_format "a": expected default, json or none`,
    line: 1,
  },
  {
    name: 'log_format with a name only',
    conf: 'log_format a;\n',
    message: (p) => `${p}:1:1: invalid number of arguments in "log_format" directive: expected a name and a format`,
    line: 1,
  },
  {
    name: 'include with two paths',
    conf: '\ninclude a.conf b.conf;\n',
    message: (p) => `${p}:2:1: invalid number of arguments in "include" directive: expected one path`,
    line: 2,
  },
  {
    name: 'syntax error in the file',
    conf: "log_format a 'x''y';\n",
    message: (p) =>
      `${p}:1:17: unexpected "'" after the closing ' quote: expected a space, ";" or "{" (nginx does not join quoted pieces)`,
    line: 1,
  },
];

for (const c of directiveErrors) {
  test(`conf error: ${c.name}`, async () => {
    await withTmp(async (dir) => {
      const path = join(dir, 'nginx.conf');
      await writeFile(path, c.conf);
      await assert.rejects(readNginxConf(path), expectError('CONF_SYNTAX', c.message(path), { file: path, line: c.line }));
    });
  });
}

test('escape= is only honoured as the first format argument; escape=json alone is an empty format', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'nginx.conf');
    await writeFile(path, "log_format a 'x' escape=json;\nlog_format b escape=none;\nlog_format c \"escape=json\" '$a' ' ' \"$b\";\n");
    const conf = await readNginxConf(path);
    assert.deepEqual(
      conf.formats.map((f) => [f.name, f.escape, f.format]),
      [
        ['a', 'default', 'xescape=json'],
        ['b', 'none', ''],
        ['c', 'json', '$a $b'],
      ],
    );
  });
});

const globCases: { pattern: string; want: string[] }[] = [
  { pattern: '*.conf', want: ['a.conf', 'b.conf', 'x1.conf', 'x2.conf'] },
  { pattern: '?.conf', want: ['a.conf', 'b.conf'] },
  { pattern: 'x[12].conf', want: ['x1.conf', 'x2.conf'] },
  { pattern: 'x[!1].conf', want: ['x2.conf'] },
  { pattern: 'x[^1].conf', want: ['x2.conf'] },
  { pattern: '[a-b].conf', want: ['a.conf', 'b.conf'] },
  { pattern: '.*', want: ['.hidden.conf'] },
  { pattern: '*', want: ['a.conf', 'b.conf', 'c.txt', 'sub1', 'sub2', 'x1.conf', 'x2.conf'] },
  { pattern: 'sub*/z.conf', want: ['sub1/z.conf', 'sub2/z.conf'] },
  { pattern: 'sub?/*', want: ['sub1/z.conf', 'sub2/z.conf', 'sub2/zz.conf'] },
  { pattern: 'nope/*.conf', want: [] },
  { pattern: 'x[1.conf', want: [] },
  { pattern: 'a\\*.conf', want: [] },
];

test('glob expansion (glob(3) rules: sorted, no implicit leading dot, any component)', async () => {
  await withTmp(async (dir) => {
    await writeTree(dir, {
      'a.conf': '',
      'b.conf': '',
      'c.txt': '',
      'x1.conf': '',
      'x2.conf': '',
      '.hidden.conf': '',
      'sub1/z.conf': '',
      'sub2/z.conf': '',
      'sub2/zz.conf': '',
    });
    for (const c of globCases) {
      assert.deepEqual(
        await expandGlob(join(dir, c.pattern)),
        c.want.map((f) => join(dir, f)),
        c.pattern,
      );
    }
  });
});

const fixtureConf: NginxConf = {
  formats: [
    { name: 'incident', escape: 'default', format: INCIDENT_FORMAT, file: 'nginx.conf', line: 20 },
    { name: 'wsfmt', escape: 'default', format: '$remote_addr $request', file: 'conf.d/ws.conf', line: 2 },
  ],
  accessLogs: [
    { path: '/var/log/nginx/access.log', formatName: 'incident', file: 'nginx.conf', line: 44 },
    { path: '/var/log/nginx/ws.log', formatName: 'wsfmt', file: 'conf.d/ws.conf', line: 14 },
    { path: '/var/log/nginx/plain.log', formatName: 'combined', file: 'nginx.conf', line: 50 },
    { path: '/var/log/nginx/broken.log', formatName: 'gone', file: 'nginx.conf', line: 51 },
  ],
  files: ['nginx.conf', 'conf.d/ws.conf'],
};

const pickCases: {
  name: string;
  conf?: Pick<NginxConf, 'formats' | 'accessLogs'>;
  opts: { formatName?: string; logFile?: string };
  want?: string;
  error?: string;
}[] = [
  { name: 'by name', opts: { formatName: 'wsfmt' }, want: 'wsfmt' },
  { name: 'by name wins over the log file', opts: { formatName: 'incident', logFile: 'ws.log' }, want: 'incident' },
  { name: 'combined by name when not defined: the built-in', opts: { formatName: 'combined' }, want: 'combined' },
  {
    name: 'unknown name lists what is available',
    opts: { formatName: 'nope' },
    error: 'log_format "nope" is not defined in nginx.conf or its includes; available: incident, wsfmt, combined (built-in)',
  },
  { name: 'log file basename matches an access_log', opts: { logFile: '/srv/copies/ws.log' }, want: 'wsfmt' },
  { name: 'rotated log file matches its access_log', opts: { logFile: 'ws.log.2.gz' }, want: 'wsfmt' },
  { name: 'dateext-rotated log file', opts: { logFile: 'ws.log-20180309' }, want: 'wsfmt' },
  { name: 'access_log without a format: combined', opts: { logFile: 'plain.log' }, want: 'combined' },
  {
    name: 'access_log naming an undefined format',
    opts: { logFile: 'broken.log' },
    error:
      'nginx.conf:51: access_log /var/log/nginx/broken.log uses log_format "gone", which is not defined; ' +
      'available: incident, wsfmt, combined (built-in)',
  },
  { name: 'unknown log file: first custom format', opts: { logFile: 'other.log' }, want: 'incident' },
  { name: 'nothing given: first custom format', opts: {}, want: 'incident' },
  {
    name: 'nothing given, one custom format: that one',
    conf: { formats: fixtureConf.formats.slice(1), accessLogs: [] },
    opts: {},
    want: 'wsfmt',
  },
  { name: 'no custom formats: the built-in combined', conf: { formats: [], accessLogs: [] }, opts: {}, want: 'combined' },
];

for (const c of pickCases) {
  test(`pickLogFormat: ${c.name}`, () => {
    const conf = c.conf ?? fixtureConf;
    if (c.error !== undefined) {
      assert.throws(() => pickLogFormat(conf, c.opts), expectError('CONF_NO_FORMAT', c.error));
      return;
    }
    assert.equal(pickLogFormat(conf, c.opts).name, c.want);
  });
}

test('the built-in combined is nginx’s predefined text', () => {
  assert.equal(
    COMBINED_FORMAT,
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
  );
  assert.deepEqual(pickLogFormat({ formats: [], accessLogs: [] }, { formatName: 'combined' }), BUILTIN_COMBINED);
});

/** Copies the main fixture into `dir` with its absolute log and pid paths moved inside `dir`. */
async function copyMainFixture(dir: string): Promise<string> {
  await cp(`${FIXTURES}/main`, dir, { recursive: true });
  await mkdir(join(dir, 'logs'));
  for (const name of ['nginx.conf', 'conf.d/ws.conf', 'sites-enabled/default']) {
    const path = join(dir, name);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replaceAll('/var/log/nginx/', `${dir}/logs/`).replaceAll('/run/nginx.pid', `${dir}/nginx.pid`));
  }
  return join(dir, 'nginx.conf');
}

test('nginx -t accepts the main fixture, and we read the same formats from the copy', { skip: skipWithoutNginx }, async () => {
  await withTmp(async (dir) => {
    const conf = await copyMainFixture(dir);
    const run = spawnSync(NGINX, ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'logs/error.log')], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /test is successful/);
    const ours = await readNginxConf(conf);
    const original = await readNginxConf(MAIN);
    assert.deepEqual(
      ours.formats.map((f) => [f.name, f.escape, f.format]),
      original.formats.map((f) => [f.name, f.escape, f.format]),
    );
    assert.deepEqual(
      ours.accessLogs.map((a) => a.path),
      [`${dir}/logs/access.log`, `${dir}/logs/ws.log`, `${dir}/logs/json.log`],
    );
  });
});

function request(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('nginx writes the format text we read: quoted pieces, escapes, ${var}', { skip: skipWithoutNginx, timeout: 20_000 }, async () => {
  await withTmp(async (dir) => {
    const port = await freePort();
    const logPath = join(dir, 'probe.log');
    const path = join(dir, 'nginx.conf');
    // Only ${status} is a variable, so the logged line is the format text with 204 in its place.
    await writeFile(
      path,
      [
        'daemon off;',
        'master_process off;',
        `pid ${join(dir, 'nginx.pid')};`,
        'events {}',
        'http {',
        `  log_format probe 'A\\tB|' "C\\"D|" 'E\\'F|' "G\\\\H|" '\\x41|' q\\ r| \${status}|x} '[' # comment`,
        `                   ']' "\\\${status}";`,
        `  server { listen 127.0.0.1:${port}; access_log ${logPath} probe; location / { return 204; } }`,
        '}',
        '',
      ].join('\n'),
    );
    const conf = await readNginxConf(path);
    const format = conf.formats[0]?.format;
    assert.equal(format, 'A\tB|C"D|E\'F|G\\H|\\x41|q\\ r|${status}|x}[]\\${status}');

    const nginx = spawn(NGINX, ['-p', dir, '-c', path, '-e', join(dir, 'error.log')], { stdio: 'ignore' });
    try {
      let status = 0;
      for (let i = 0; i < 100 && status === 0; i++) {
        status = await request(port).catch(() => 0);
        if (status === 0) await sleep(50);
      }
      assert.equal(status, 204, 'nginx did not answer');
      let logged = '';
      for (let i = 0; i < 40 && logged === ''; i++) {
        logged = await readFile(logPath, 'utf8').catch(() => '');
        if (logged === '') await sleep(50);
      }
      // Literal text is written raw; `\$` stays a backslash and then the variable.
      assert.equal(logged, `${format?.replaceAll('${status}', '204')}\n`);
    } finally {
      nginx.kill('SIGTERM');
    }
  });
});
