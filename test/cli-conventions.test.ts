// What users expect of a command line, spawning dist/cli.js: -h and --version, yargs' usage errors
// as readable lines (no literal \x0A), shell completion, and a --help that agrees with the README's
// flag table on flags and defaults. See: issue 12.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_WS_PATHS } from '../src/index.js';
import { CLI, ENV, FIXTURE, run } from './helpers/cli.js';

const README = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

test('-h is --help; --version prints the package version', () => {
  const help = run(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^wsdiag \[inputs\.\.\]\n/);
  assert.deepEqual(run(['-h']), help);
  assert.deepEqual(run(['--version']), { code: 0, stdout: `${VERSION}\n`, stderr: '' });
});

test('string-width loads only when a width is asked: a report makes no Intl.Segmenter, --help makes one and reads as ever', () => {
  // Counts the segmenters the process makes, said on stderr as it exits.
  const counting = "data:text/javascript,let n=0;const S=Intl.Segmenter;Intl.Segmenter=new Proxy(S,{construct:(t,a)=>(n++,Reflect.construct(t,a))});process.on('exit',()=>process.stderr.write('segmenters '+n+'\\n'))";
  const counted = (args: string[]): { stdout: string; made: number } => {
    const r = spawnSync(process.execPath, ['--import', counting, CLI, ...args], { env: ENV, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return { stdout: r.stdout, made: Number(/segmenters (\d+)\n$/.exec(r.stderr)?.[1]) };
  };
  assert.equal(counted([FIXTURE]).made, 0);
  assert.equal(counted(['--version']).made, 0);
  const help = counted(['--help']);
  assert.ok(help.made >= 1, 'help text is measured by string-width');
  assert.equal(help.stdout, run(['--help']).stdout);
});

test('a usage error from yargs is printed as lines, not with \\x0A; control characters in it stay escaped', () => {
  const r = run(['--output', 'foo', FIXTURE]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, [
    'wsdiag: Invalid values:',
    '  Argument: output, Given: "foo", Choices: "table", "markdown", "json", "csv", "html", "jsonl"',
    'hint: run wsdiag --help for usage',
    '',
  ].join('\n'));
  // C1's CSI starts a terminal sequence as ESC [ does; JSON.stringify in yargs' message leaves it raw.
  const esc = run(['--output', '\u009b2Jboom', FIXTURE]);
  assert.equal(esc.code, 2);
  assert.ok(!esc.stderr.includes('\u009b'), 'no control sequence reaches the terminal');
  assert.match(esc.stderr, /Given: "\\x9B2Jboom"/);
});

test('`wsdiag completion` prints a shell completion script; completions list flags and the choices of --output', () => {
  const script = run(['completion']);
  assert.equal(script.code, 0, script.stderr);
  assert.match(script.stdout, /^complete -o bashdefault -o default -F _wsdiag_yargs_completions wsdiag$/m);
  assert.match(script.stdout, /wsdiag --get-yargs-completions/);
  const values = run(['--get-yargs-completions', 'wsdiag', '--output', '']);
  assert.deepEqual(values.stdout.trimEnd().split('\n'), ['table', 'markdown', 'json', 'csv', 'html', 'jsonl']);
  const flags = run(['--get-yargs-completions', 'wsdiag', '--']).stdout.split('\n');
  for (const f of ['--log-format', '--nginx-conf', '--format-name', '--ws-path', '--fail-on', '--help', '--version']) assert.ok(flags.includes(f), f);
});

interface HelpOption {
  text: string;
  defaultValue: string | undefined;
}

/** --help's options: long flag → its description (wrapped lines joined) and yargs' [default: …]. */
function helpOptions(help: string): Map<string, HelpOption> {
  const out = new Map<string, HelpOption>();
  let current: string[] | undefined;
  const flush = (flag: string | undefined): void => {
    if (flag === undefined || current === undefined) return;
    const all = current.join(' ').replace(/\s+/g, ' ');
    const defaultValue = /\[default: "?([^"\]]*)"?\]/.exec(all)?.[1];
    out.set(flag, { text: all.replace(/\[(string|boolean|choices|default)[^\]]*\]/g, '').trim(), defaultValue });
  };
  let flag: string | undefined;
  for (const line of help.slice(help.indexOf('\nOptions:\n')).split('\n').slice(2)) {
    const m = /^ {2}(?:-\w, )? *--([a-z-]+) {2,}(.*)$/.exec(line);
    if (m) {
      flush(flag);
      flag = `--${m[1]}`;
      current = [m[2] ?? ''];
    } else if (/^ {10,}\S/.test(line) && current) current.push(line);
    else break;
  }
  flush(flag);
  return out;
}

/** The README's flag table: each flag (`--x` in a row's first cell) → the row, backticks removed. */
function readmeRows(): Map<string, string> {
  const out = new Map<string, string>();
  for (const row of README.split('\n').filter((l) => /^\| `(-|wsdiag )/.test(l))) {
    const first = row.split(/(?<!\\)\|/)[1] ?? '';
    const text = row.replace(/`/g, '').replace(/\\\|/g, '|');
    for (const m of first.matchAll(/--[a-z-]+/g)) out.set(m[0], text);
  }
  return out;
}

test('--help and the README flag table name the same flags and the same defaults', () => {
  const help = helpOptions(run(['--help']).stdout);
  const readme = readmeRows();
  assert.ok(help.size > 15, `${help.size} options parsed from --help`);
  assert.deepEqual([...help.keys()].sort(), [...readme.keys()].sort());
  for (const [flag, opt] of help) {
    const row = readme.get(flag) ?? '';
    const stated = /\(default: ([^()]*(?:\([^()]*\)[^()]*)*)\)/.exec(opt.text)?.[1];
    if (stated !== undefined) assert.ok(row.includes(stated.replace(/`/g, '')), `${flag}: README says "${row}", --help says "(default: ${stated})"`);
    if (opt.defaultValue !== undefined && opt.defaultValue !== 'false') assert.ok(row.includes(opt.defaultValue), `${flag}: README's row lacks the default ${opt.defaultValue}`);
  }
  const besides = `besides ${DEFAULT_WS_PATHS.join(', ')}`;
  assert.ok(help.get('--ws-path')?.text.includes(besides), `--help: ${help.get('--ws-path')?.text}`);
  assert.ok(readme.get('--ws-path')?.includes(besides), `README: ${readme.get('--ws-path')}`);
});
