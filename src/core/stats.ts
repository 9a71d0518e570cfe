/*!
 * BadLineLog: unparsed lines are data, a count and the first samples with file:line. (Duration
 * histograms live in core/grid.ts.)
 */

export interface BadLineSample {
  file: string;
  line: number;
  reason: string;
  text: string;
}

/** Unparsed lines are data: a count per reason and the first MAX_SAMPLES with file:line. */
export class BadLineLog {
  static readonly MAX_SAMPLES = 20;
  count = 0;
  readonly samples: BadLineSample[] = [];

  /** `describe` runs only for kept samples, so building the reason costs nothing per line. */
  add(file: string, line: number, text: string, describe: () => string): void {
    this.count++;
    if (this.samples.length < BadLineLog.MAX_SAMPLES) {
      this.samples.push({ file, line, reason: describe(), text: text.length > 300 ? `${text.slice(0, 299)}…` : text });
    }
  }
}
