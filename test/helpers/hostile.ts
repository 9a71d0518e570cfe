/*
 * A log with attacker-controlled text, derived from the incident's own line (DESIGN.md) by
 * substituting fields: markup and a script in the user agent, table and code delimiters, an escape
 * sequence, spreadsheet formulas as the client and upstream, a key starting with '+'. Put before
 * the incident fixture's lines (lines 1–3), so the hostile lines are downgraded handshakes whose
 * text is kept as evidence.
 */
import { readFileSync } from 'node:fs';

export const INCIDENT = 'fixtures/incident/front.log';
const LINE = '[09/Mar/2018:17:07:07 +0800] 100.97.88.252 - - - 10.0.21.11 to: 10.0.20.11:8011: GET /ws/ HTTP/1.0 upstream_response_time - msec 1520586427.537 request_time 59.999 status 499 client - Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.186 Safari/537.36 8+qDYeKJGFTWKB2ov4p5TA==';

export const SCRIPT_UA = 'Mozilla/5.0 <script>document.title="pwned"</script> | `code` **bold** <img src=x onerror=alert(2)> \u001b[31mred\\x1B[0m';
export const FORMULA_CLIENT = '@SUM(1+1)';
export const FORMULA_UPSTREAM = '=HYPERLINK("http://evil.example/")';
export const PLUS_KEY = `+${'A'.repeat(21)}==`;

/** Three hostile handshake lines, 20 s apart (later than the fixture's lines). */
export function hostileLines(): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 3; i++) {
    const sec = 10 + i * 20;
    let l = LINE.replace('17:07:07', `17:10:${String(sec).padStart(2, '0')}`).replace('msec 1520586427.537', `msec ${1520586600 + sec}.${String(100 + i).padStart(3, '0')}`);
    l = l.replace('100.97.88.252', FORMULA_CLIENT).replace('10.0.20.11:8011', FORMULA_UPSTREAM).replace('GET /ws/ ', `GET /ws/?q=<b>|</b>${i} `);
    l = l.replace(/Mozilla.*Safari\/537\.36/, SCRIPT_UA).replace('8+qDYeKJGFTWKB2ov4p5TA==', i === 0 ? PLUS_KEY : `${String.fromCharCode(66 + i).repeat(22)}==`);
    lines.push(l);
  }
  return lines;
}

export function hostileLog(): string {
  return `${hostileLines().join('\n')}\n${readFileSync(INCIDENT, 'utf8')}`;
}
