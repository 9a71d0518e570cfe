/*!
 * Where an nginx log entry starts after a syslog header: as nginx sends it to a syslog server
 * (`<PRI>Mmm dd hh:mm:ss host tag: `, ngx_syslog.c; no host with `nohostname`), or as rsyslog
 * stores it in a file (RSYSLOG_TraditionalFileFormat `Mmm dd hh:mm:ss host tag: `, or Debian 12's
 * default RSYSLOG_FileFormat `2024-05-01T12:34:56.123456+02:00 host tag: `). Which format the
 * entry has is not decided here: the pipeline retries a line that matched no format from there.
 */

const enum C { SPACE = 32, DASH = 45, COLON = 58, LT = 60, GT = 62, D0 = 48, D9 = 57, T = 84 }

function isDigit(c: number): boolean {
  return c >= C.D0 && c <= C.D9;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** `Mmm dd hh:mm:ss ` (day space-padded) at i → index after it, or -1. */
function bsdTimestampEnd(s: string, i: number): number {
  const ok = isLetter(s.charCodeAt(i)) && isLetter(s.charCodeAt(i + 1)) && isLetter(s.charCodeAt(i + 2))
    && s.charCodeAt(i + 3) === C.SPACE && (isDigit(s.charCodeAt(i + 4)) || s.charCodeAt(i + 4) === C.SPACE)
    && isDigit(s.charCodeAt(i + 5)) && s.charCodeAt(i + 6) === C.SPACE
    && isDigit(s.charCodeAt(i + 7)) && isDigit(s.charCodeAt(i + 8)) && s.charCodeAt(i + 9) === C.COLON
    && isDigit(s.charCodeAt(i + 10)) && isDigit(s.charCodeAt(i + 11)) && s.charCodeAt(i + 12) === C.COLON
    && isDigit(s.charCodeAt(i + 13)) && isDigit(s.charCodeAt(i + 14)) && s.charCodeAt(i + 15) === C.SPACE;
  return ok ? i + 16 : -1;
}

/** `yyyy-mm-ddThh:mm:ss[.frac](Z|±hh:mm) ` at i → index after it, or -1. */
function rfc3339TimestampEnd(s: string, i: number): number {
  const ok = isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 3)) && s.charCodeAt(i + 4) === C.DASH
    && s.charCodeAt(i + 7) === C.DASH && s.charCodeAt(i + 10) === C.T && s.charCodeAt(i + 13) === C.COLON;
  if (!ok) return -1;
  const sp = s.indexOf(' ', i + 19);
  return sp < 0 || sp > i + 40 ? -1 : sp + 1;
}

/** Longest `host tag` part accepted (a host name is at most 255 bytes, nginx's tag 32). */
const MAX_HEADER = 300;

/** Index where the entry starts after a syslog header, or -1 when the line has none. */
export function syslogBodyStart(text: string): number {
  let i = 0;
  if (text.charCodeAt(0) === C.LT) {
    const close = text.indexOf('>');
    if (close < 2 || close > 4) return -1;
    for (let k = 1; k < close; k++) if (!isDigit(text.charCodeAt(k))) return -1;
    i = close + 1;
  }
  let after = bsdTimestampEnd(text, i);
  if (after < 0) after = rfc3339TimestampEnd(text, i);
  if (after < 0) return -1;
  // `host tag: ` or, without a host, `tag: `: at most one space before the colon.
  const colon = text.indexOf(': ', after);
  if (colon <= after || colon - after > MAX_HEADER) return -1;
  const sp = text.indexOf(' ', after);
  if (sp < colon && text.indexOf(' ', sp + 1) < colon) return -1;
  return colon + 2;
}
