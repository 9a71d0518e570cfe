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

/**
 * Unparsed lines are data: a count and the first MAX_SAMPLES with file:line, first by input, then
 * by line (as a fleet run's ORDER BY gives them): the same however the inputs' parts interleaved.
 */
export class BadLineLog {
  static readonly MAX_SAMPLES = 20;
  count = 0;
  readonly samples: BadLineSample[] = [];
  /** The input of each sample. */
  private readonly inputs: number[] = [];

  /** `describe` runs only for kept samples, so building the reason costs nothing per line. */
  add(input: number, file: string, line: number, text: string, describe: () => string): void {
    this.count++;
    const s = this.samples;
    let i = s.length;
    while (i > 0 && ((this.inputs[i - 1] as number) > input || (this.inputs[i - 1] === input && (s[i - 1] as BadLineSample).line > line))) i--;
    if (i >= BadLineLog.MAX_SAMPLES) return;
    s.splice(i, 0, { file, line, reason: describe(), text: text.length > 300 ? `${text.slice(0, 299)}…` : text });
    this.inputs.splice(i, 0, input);
    if (s.length > BadLineLog.MAX_SAMPLES) {
      s.pop();
      this.inputs.pop();
    }
  }
}
