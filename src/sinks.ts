/*!
 * The command line's side outputs besides the report: the --bad-lines file (every unparsed line
 * with its file:line), the progress and live status lines on a terminal's stderr, and a report file
 * rewritten in place (live --out). Writes are synchronous and batched, so memory stays flat.
 */
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { AnalyzerError } from './errors.js';

const FLUSH_AT = 1 << 16;

/** `file:line<TAB>text` per unparsed line, the text exactly as read. */
export class BadLinesFile {
  private readonly fd: number;
  private pending: string[] = [];
  private size = 0;
  count = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new AnalyzerError('OPTION_INVALID', `Invalid option --bad-lines: cannot write ${path} (${(err as Error).message})`, undefined, { cause: err });
    }
  }

  add(file: string, line: number, text: string): void {
    const entry = `${file}:${line}\t${text}\n`;
    this.pending.push(entry);
    this.size += entry.length;
    this.count++;
    if (this.size >= FLUSH_AT) this.flush();
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.size = 0;
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0)} MB`;
}

function count(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n);
}

/** One progress line: `wsdiag: 412 MB read, 1.3M lines, 410k lines/s`. */
export function progressText(bytes: number, lines: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (lines * 1000) / elapsedMs : 0;
  return `wsdiag: ${megabytes(bytes)} read, ${count(lines)} lines, ${count(Math.round(rate))} lines/s`;
}

/** Redraws the progress line at most every `everyMs`, and clears it at the end. */
/** One status line redrawn in place on a terminal (stderr), cleared before other output. */
export class StatusLine {
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  show(text: string): void {
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r${text.length > width ? `${text.slice(0, width - 1)}…` : text}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

/** Rewrites `file` whole, atomically (a temporary file beside it, then a rename): readers never see half a report. */
export function replaceFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export class ProgressLine {
  private readonly started = Date.now();
  private last: number;
  private shown = false;

  /** Nothing is drawn during the first `afterMs`: short runs stay silent. */
  constructor(private readonly stream: NodeJS.WriteStream, private readonly everyMs = 250, afterMs = 1000) {
    this.last = this.started + afterMs - everyMs;
  }

  update(bytes: number, lines: number): void {
    const now = Date.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    this.shown = true;
    this.stream.write(`\r${progressText(bytes, lines, now - this.started)}\x1b[K`);
  }

  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
