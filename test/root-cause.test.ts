// Root cause first, across tiers: with a front and a back log joined by Sec-WebSocket-Key, the
// verdict leads with the downgrade and the load-balancer nodes, then what became of those
// handshakes; counts are handshakes (attempts), log lines beside them; one client table per tier,
// each saying what its clients are. See: issue 18 ("Two tiers: the headline becomes `Handshakes
// abandoned at a 59.999 s timeout: 16, from 100.97.88.252, 100.97.89.10, 10.0.21.11, 10.0.20.11`").
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RENDERERS, analyze, renderedText, type Report } from '../src/index.js';
import { FIXTURE } from './helpers/cli.js';
import { writeTwoTier } from './helpers/two-tier.js';

const tmp = mkdtempSync(join(tmpdir(), 'wsdiag-root-cause-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const { front, back } = writeTwoTier(tmp);

/** The LB nodes that sent HTTP/1.0 in the demo, most first. */
const DOWNGRADING_NODES = ['100.97.88.252', '100.97.89.10', '100.97.88.254'];

/** The verdict as a reader sees it in each text output: its first lines, unwrapped and without markup. */
async function verdictText(report: Report, output: 'table' | 'markdown' | 'html'): Promise<string> {
  const text = await renderedText(RENDERERS[output](report, { color: false, width: 80 }));
  if (output === 'table') return text.split('\nFIX')[0]?.replace(/\s+/g, ' ') ?? '';
  if (output === 'markdown') return text.split('\n').find((l) => l.startsWith('> ')) ?? '';
  return /<div class="verdict[^>]*>([^]*?)<\/div>/.exec(text)?.[1]?.replace(/<[^>]*>/g, ' ') ?? '';
}

for (const [name, inputs, order] of [['front, back', [front, back], [0, 1]], ['back, front (given in the other order)', [back, front], [1, 0]]] as const) {
  describe(`two tiers (${name})`, () => {
    let report: Report;
    const frontName = inputs[order[0]];
    const backName = inputs[order[1]];
    before(async () => {
      report = await analyze({ inputs: [...inputs], workers: 1 });
    });

    test('the tiers: the input that logged HTTP/1.0 for keys the other logged HTTP/1.1 is in front', () => {
      assert.equal(report.correlation.tierBasis, 'hidden-downgrade');
      assert.deepEqual(report.handshakes.byTier.map((t) => [t.input, t.tier, t.behind]), [[frontName, 1, null], [backName, 2, frontName]]);
    });

    test('the verdict leads with the downgrade and the LB nodes, then its consequences; no tier address among the nodes', () => {
      const h = report.verdict.headline;
      assert.match(h, new RegExp(`^17 WebSocket handshakes arrived as HTTP/1\\.0 at ${frontName} \\(RFC 6455 requires HTTP/1\\.1\\) through load-balancer nodes ${DOWNGRADING_NODES.join(', ')}: `));
      // Then what became of them (16 abandoned at the LB's T), then the tier that hid the downgrade.
      assert.match(h, /: 499 at ≈59\.999 s ×16, 499 \(not at a timeout\) ×1\. 4 of them reached .* as HTTP\/1\.1 \(a hidden downgrade/);
      assert.ok(h.includes(`reached ${backName} as HTTP/1.1`));
      assert.doesNotMatch(h, /10\.0\.2[01]\.11/, 'no nginx address in the headline');
      assert.doesNotMatch(h, /^Handshakes abandoned/);
      assert.deepEqual(report.findings.slice(0, 2).map((f) => f.id), ['downgraded-handshake', 'hidden-downgrade']);
      assert.equal(report.verdict.fix, report.findings[0]?.fix);
    });

    test('counts are handshakes (attempts), the log lines beside them in the details', () => {
      const abandoned = report.findings.find((f) => f.id === 'abandoned-at-timeout');
      assert.ok(abandoned && abandoned.handshakes !== undefined && abandoned.handshakes < abandoned.count);
      assert.ok(report.verdict.details.includes(`critical: ${abandoned.title}: ${abandoned.handshakes} handshakes, ${abandoned.count} log lines`), report.verdict.details.join('\n'));
      assert.ok(report.verdict.details.includes('critical: WebSocket handshakes arrived as HTTP/1.0: 17 handshakes'));
      assert.ok(report.verdict.details.some((d) => d.endsWith(': 4 keys')));
    });

    test('one client table per tier: the LB nodes at the first, the front nginx behind it, with its failures', () => {
      const [t1, t2] = report.handshakes.byTier;
      assert.ok(t1 && t2);
      assert.deepEqual(t1.byClient.slice(0, 3).map((c) => [c.client, c.assessment]), DOWNGRADING_NODES.map((n) => [n, 'downgrading']));
      assert.ok(t1.byClient.every((c) => c.client.startsWith('100.97.')), 'only LB nodes at the first tier');
      assert.deepEqual(t2.byClient.map((c) => c.client), ['10.0.21.11']);
      const nginx = t2.byClient[0];
      assert.ok(nginx && nginx.failed > 0);
      assert.equal(nginx.assessment, 'partly-failing', 'not healthy: it carries failures');
      // Each tier's table counts that input's lines only; together they are the whole.
      const sum = (rows: Report['handshakes']['byClient']): number => rows.reduce((n, c) => n + c.handshakes, 0);
      assert.equal(sum(t1.byClient) + sum(t2.byClient), report.handshakes.total);
    });

    for (const output of ['table', 'markdown', 'html'] as const) {
      test(`${output}: the verdict leads with the cause; a client table per tier, labelled`, async () => {
        const v = await verdictText(report, output);
        assert.match(v, /^\W*(CRITICAL\W+)?17 WebSocket handshakes arrived as HTTP\/1\.0/);
        assert.ok(v.indexOf('load-balancer nodes 100.97.88.252') < v.indexOf('499 at'));
        const text = await renderedText(RENDERERS[output](report, { color: false, width: 120 }));
        const t1 = text.indexOf(`Client addresses in ${frontName} (first tier: load-balancer nodes)`);
        const t2 = text.indexOf(`Client addresses in ${backName} (tier 2: addresses of the tier in front, e.g. front nginx)`);
        assert.ok(t1 >= 0 && t2 > t1, `${t1} ${t2}`);
        assert.ok(!text.includes('Client addresses (at the first tier'), 'no merged table');
      });
    }
  });
}

test('the demo (one input): the downgrade leads, through its client addresses; one client table', async () => {
  const report = await analyze({ inputs: [FIXTURE], workers: 1 });
  assert.equal(report.verdict.headline, `17 WebSocket handshakes arrived as HTTP/1.0 (RFC 6455 requires HTTP/1.1) through client addresses ${DOWNGRADING_NODES.join(', ')}: 499 at ≈60.000 s ×16, 499 (not at a timeout) ×1.`);
  assert.deepEqual([report.handshakes.byTier, report.correlation.tierBasis], [[], 'single-input']);
  const text = await renderedText(RENDERERS.table(report, { color: false }));
  assert.equal(text.split('\n').filter((l) => l.startsWith('Client addresses')).length, 1);
});

test('two logs that share no key (two nginx nodes side by side) are both first tier, clients load-balancer nodes', async () => {
  const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);
  const a = join(tmp, 'node-a.log');
  const b = join(tmp, 'node-b.log');
  writeFileSync(a, `${lines.filter((l) => l.includes(' - 10.0.21.11 to: ')).join('\n')}\n`);
  writeFileSync(b, `${lines.filter((l) => !l.includes(' - 10.0.21.11 to: ')).join('\n')}\n`);
  const report = await analyze({ inputs: [a, b], workers: 1 });
  assert.equal(report.correlation.multiTier, 0);
  // Side by side, every line is an attempt of its own (not one tier's view of another's).
  assert.deepEqual([report.findings[0]?.id, report.findings[0]?.handshakes], ['downgraded-handshake', 17]);
  assert.equal(report.correlation.tierBasis, 'no-shared-keys');
  assert.deepEqual(report.handshakes.byTier.map((t) => [t.input, t.tier, t.behind]), [[a, 1, null], [b, 1, null]]);
  const text = await renderedText(RENDERERS.markdown(report, { color: false }));
  for (const f of [a, b]) assert.ok(text.includes(`Client addresses in ${f} (first tier: load-balancer nodes)`), f);
  assert.match(report.verdict.headline, new RegExp(`^17 WebSocket handshakes arrived as HTTP/1\\.0 at ${a}, ${b} \\(RFC 6455 requires HTTP/1\\.1\\) through load-balancer nodes `));
});
