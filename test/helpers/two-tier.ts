/*
 * A two-tier sample built from the incident fixture, without randomness: front.log as it is, and
 * back.log, what the second nginx (10.0.20.11) logs for every request the front tier (10.0.21.11)
 * proxied to it with proxy_http_version 1.1: HTTP/1.1, the same Sec-WebSocket-Key and status,
 * 2 ms less request_time. Owns no assertions.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FRONT_FIXTURE = 'fixtures/incident/front.log';
const LINE = /^\[([^\]]+)\] (\S+) - - - (\S+) to: (\S+): (\S+) (\S+) HTTP\/1\.[01] upstream_response_time (\S+) msec ([\d.]+) request_time ([\d.]+) (status .*)$/;

/** Writes front.log and back.log into `dir`; returns their paths. */
export function writeTwoTier(dir: string): { front: string; back: string } {
  const lines = readFileSync(FRONT_FIXTURE, 'utf8').split('\n').filter(Boolean);
  const back: string[] = [];
  for (const text of lines) {
    const m = LINE.exec(text);
    if (!m || m[3] !== '10.0.21.11' || m[4] !== '10.0.20.11:8011') continue;
    const [, time, , server, , method, target, urt, msec, rt, rest] = m as unknown as string[];
    const less = (s: string): string => (Math.max(0, Number(s) * 1000 - 2) / 1000).toFixed(3);
    back.push(`[${time}] ${server} - - - 10.0.20.11 to: 127.0.0.1:8011: ${method} ${target} HTTP/1.1 upstream_response_time ${urt === '-' ? '-' : less(urt as string)} msec ${less(msec as string)} request_time ${less(rt as string)} ${rest}`);
  }
  const front = join(dir, 'front.log');
  const backFile = join(dir, 'back.log');
  writeFileSync(front, `${lines.join('\n')}\n`);
  writeFileSync(backFile, `${back.join('\n')}\n`);
  return { front, back: backFile };
}
