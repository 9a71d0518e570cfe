// The package as users get it: `npm pack` holds the built library and command, the report schema,
// README and package.json, and nothing else (no tests; no fixtures: the demo is given the sample
// log's path). Installed from the tarball into an empty prefix, `wsdiag` runs. See: issue 12.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, ENV, FIXTURE } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-pack-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** npm with this test run's environment (its cache and registry), minus node:test's marker. */
function npm(args: string[]): SpawnSyncReturns<string> {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: ROOT, env, encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stderr}${r.error ?? ''}`);
  return r;
}

/** src/**.ts without the extension: each one becomes dist/<name>.js and dist/<name>.d.ts. */
function srcModules(dir = 'src'): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? srcModules(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`.slice('src/'.length, -'.ts'.length)] : [],
  );
}

test('npm pack holds one .js and one .d.ts per source module, the command\'s worker bundle, the report schema, README and package.json: no tests, no fixtures', () => {
  const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts']).stdout) as { files: { path: string }[] }[];
  const files = (pack?.files ?? []).map((f) => f.path).sort();
  const want = ['README.md', 'package.json', 'src/report/report.schema.json', 'dist/worker.js', 'dist/stream-worker.js', ...srcModules().flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`])].sort();
  assert.deepEqual(files, want);
});

test('the tarball installed into an empty prefix: `wsdiag --version` and the demo run from there, as from the clone', () => {
  const pack = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp]).stdout) as { filename: string }[];
  const tarball = join(tmp, pack[0]?.filename ?? '');
  const prefix = join(tmp, 'prefix');
  npm(['install', '--global', '--prefix', prefix, '--prefer-offline', tarball]);
  const bin = join(prefix, 'bin', 'wsdiag');
  // Only node on PATH and another working directory: nothing of the clone but the sample log.
  const env = { ...ENV, PATH: dirname(process.execPath) };
  const wsdiag = (args: string[]): SpawnSyncReturns<string> => spawnSync(bin, args, { cwd: tmp, env, encoding: 'utf8', timeout: 30_000 });
  const version = wsdiag(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout, `${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  const sample = join(ROOT, FIXTURE);
  const demo = wsdiag([sample]);
  assert.equal(demo.status, 0, demo.stderr);
  assert.match(demo.stdout, /^CRITICAL {2}17 WebSocket handshakes arrived as HTTP\/1\.0/);
  const fromClone = spawnSync(process.execPath, [CLI, sample], { cwd: tmp, env, encoding: 'utf8' });
  assert.equal(demo.stdout, fromClone.stdout);
});

test("the README's Use section says how to get the command: npm install -g . or npm link from the clone, npx once published", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const use = readme.slice(readme.indexOf('\n## Use\n'), readme.indexOf('\n## ', readme.indexOf('\n## Use\n') + 1));
  for (const how of ['`npm install -g .`', '`npm link`', '`npx wsdiag`']) assert.ok(use.includes(how), how);
});
