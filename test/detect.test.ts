/*!
 * Auto-detection (src/format/detect.ts), fields appended to combined/main read from their values
 * (src/format/trailing.ts) and the words for a line no format fits (explainMismatch), one row per
 * shape of real nginx output: fixtures/appended/ (nginx 1.22 via the test harness), lines from
 * other projects' logs (see the comments), and the incident fixture.
 * See: issue 14 item 12.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { detectFormats } from '../src/format/detect.js';
import { explainMismatch, matchAny, newBounds, newFailure } from '../src/format/parse-line.js';
import { PRESET_FORMATS, compilePreset, findPreset } from '../src/format/presets.js';
import { inferTrailingFields } from '../src/format/trailing.js';

const linesOf = (file: string): string[] => readFileSync(file, 'latin1').split('\n').filter((l) => l !== '');
const appended = (name: string): string[] => linesOf(`fixtures/appended/${name}.log`);
const preset = (name: string) => compilePreset(findPreset(name) ?? assert.fail(`no preset ${name}`));

// usingnamespacestc/Pychat-1 nginx_access.log (combined), verbatim.
const PYCHAT = [
  '223.72.74.152 - - [07/Jul/2020:16:07:21 +0800] "GET / HTTP/1.1" 502 584 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.116 Safari/537.36"',
  '114.243.92.77 - - [12/Jul/2020:11:17:13 +0800] "GET /ws/chat/gck1/ HTTP/1.1" 101 0 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.116 Safari/537.36"',
];
// plh97/chatroom nginx/access.log (main), verbatim.
const CHATROOM = ['172.24.0.1 - - [11/Dec/2020:13:48:33 +0000] "GET / HTTP/1.1" 502 559 "http://localhost:9001/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 11_0_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36" "-"'];
// nginxinc/nginx-amplify-doc#16: NGINX Amplify's main_ext, `key=value` fields after main.
const AMPLIFY = '10.140.0.4 - - [03/Feb/2017:11:49:25 +0000] "GET /socket.io/?EIO=3&transport=websocket HTTP/1.1" 101 2945 "-" "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/57.0.2987.21 Safari/537.36" "xxx.xxx.xxx.xxx,xxx.xxx.xxx.xxx" "xxx.com" sn="xxx.com" rt=24388.248 ua="10.115.242.54:8082" us="101" ut="24388.248" ul="0" cs=-';
// tstack/lnav test/logfile_bad_access_log.0: no `- -` after the address.
const LNAV_BAD = '192.168.202.254 [20/Jul/2009:22:59:29 +0000] "GET /vmw/vSphere/default/vmkboot.gz HTTP/1.0" 404 46210 "-" "gPXE/0.9.7"';

/** Lines of tail_ws.log that are no WebSocket handshake: their Upgrade and key columns hold only "-". */
const PLAIN_TAIL_WS = appended('tail_ws').filter((l) => / "-" "-" \d+\.\d{3}$/.test(l));

const inferCases: { name: string; lines: string[]; want: { base: string; fields: string[] } | null }[] = [
  { name: 'main + $request_time $upstream_response_time (lists and "-" on a 499)', lines: appended('tail_main'), want: { base: 'main', fields: ['$request_time', '$upstream_response_time'] } },
  {
    name: 'combined + timings, upstream status, Upgrade, key, $msec', lines: appended('tail_ws'),
    want: { base: 'combined', fields: ['$request_time', '$upstream_response_time', '$upstream_status', '"$http_upgrade"', '"$http_sec_websocket_key"', '$msec'] },
  },
  { name: 'combined + upstream address list, `502, 101`, $request_time, $pipe', lines: appended('tail_upstream'), want: { base: 'combined', fields: ['$upstream_addr', '$upstream_status', '$request_time', '$pipe'] } },
  {
    name: 'a three-digit $request_length that does not repeat $status is no $upstream_status', lines: appended('tail_conn'),
    want: { base: 'combined', fields: ['"$http_upgrade"', '"$http_connection"', '$request_time', '$request_length'] },
  },
  {
    name: 'columns "-" on every line: the first quoted one is $http_x_forwarded_for, later ones unknown', lines: PLAIN_TAIL_WS,
    want: { base: 'combined', fields: ['$request_time', '$upstream_response_time', '$upstream_status', '"$http_x_forwarded_for"', '"$unknown_5"', '$msec'] },
  },
  { name: 'key=value fields (Amplify main_ext): nothing assumed', lines: [AMPLIFY], want: null },
  { name: 'plain combined: nothing appended, nothing assumed', lines: PYCHAT, want: null },
];

for (const c of inferCases) {
  test(`inferTrailingFields: ${c.name}`, () => {
    const got = inferTrailingFields(c.lines);
    if (c.want === null) {
      assert.equal(got, null);
      return;
    }
    assert.ok(got, 'a format is inferred');
    assert.deepEqual({ base: got.base, fields: got.fields }, c.want);
    assert.equal(got.lines, c.lines.length, 'it fits every line');
    assert.equal(got.format.text, `${findPreset(c.want.base)?.text} ${c.want.fields.join(' ')}`);
  });
}

test('inferTrailingFields: a field taken as $request_time also reads "-" (it may be $upstream_response_time after all)', () => {
  const got = inferTrailingFields(appended('tail_ws'));
  assert.ok(got);
  const line = (appended('tail_ws')[3] as string).replace(' 0.044 0.044 200 ', ' - 0.044 200 ');
  assert.notEqual(line, appended('tail_ws')[3]);
  assert.ok(matchAny(got.format, line, newBounds(got.format), newFailure()));
  assert.equal(got.format.allowDash[got.format.index.get('status') as number], 0, 'the fields of combined stay as nginx writes them');
});

const candidates = PRESET_FORMATS.map(compilePreset);
const names = (order: number[], extra: string[] = []): string[] => order.map((i) => candidates[i]?.name ?? extra[i - candidates.length] ?? '?');

const detectCases: { name: string; lines: string[]; first: string[]; inferred?: boolean }[] = [
  { name: 'combined: combined first, before the formats that extend it', lines: PYCHAT, first: ['combined'] },
  { name: 'main', lines: CHATROOM, first: ['main'] },
  { name: 'the incident format without the key: the keyed format it may change to goes first', lines: linesOf('fixtures/incident/front.log').slice(0, 20), first: ['upstream-ws', 'upstream'] },
  { name: 'combined + appended fields: the inferred format first', lines: appended('tail_ws'), first: ['inferred'], inferred: true },
  { name: 'combined lines, then lines with fields appended: both, the larger share first', lines: [...PYCHAT, ...appended('tail_main')], first: ['inferred', 'combined'], inferred: true },
];

for (const c of detectCases) {
  test(`detectFormats: ${c.name}`, () => {
    const d = detectFormats(candidates, c.lines);
    assert.equal(d.inferred !== null, c.inferred === true);
    assert.deepEqual(names(d.order, ['inferred']).slice(0, c.first.length), c.first);
    assert.equal(new Set(d.order).size, candidates.length + (d.inferred ? 1 : 0), 'every format stays in the list');
  });
}

const mismatchCases: { name: string; format: string; line: string; says: string }[] = [
  {
    name: 'combined + fields it does not know: the characters after its last field, not a bad user agent', format: 'combined', line: appended('tail_ws')[3] as string,
    says: 'extra characters after the last field ($http_user_agent): " 0.044 0.044 200 \\"-\\" \\"-\\" 1796544247.948"',
  },
  { name: 'main_ext against main', format: 'main', line: AMPLIFY, says: '96 extra characters after the last field ($http_x_forwarded_for): " \\"xxx.com\\" sn=' },
  { name: 'a field missing in the middle', format: 'combined', line: LNAV_BAD, says: 'no value for $remote_addr followed by " - " fits at column 1' },
];

for (const c of mismatchCases) {
  test(`explainMismatch: ${c.name}`, () => {
    const m = explainMismatch(preset(c.format), c.line);
    assert.ok(m.reason.includes(c.says), m.reason);
  });
}

test('explainMismatch: the whole format fitting the line\'s beginning reaches further than any field failure', () => {
  const line = appended('tail_ws')[3] as string;
  const extra = explainMismatch(preset('combined'), line);
  for (const other of ['upstreaminfo', 'combined-ws', 'main', 'upstream-ws']) assert.ok(extra.reach > explainMismatch(preset(other), line).reach, other);
  assert.equal(extra.reason.startsWith(`${line.length - line.indexOf('" 0.044') - 1} extra characters`), true, extra.reason);
});
