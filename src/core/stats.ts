/*!
 * Streaming statistics that stay the same size however long the log: a millisecond-resolution
 * duration histogram (exact quantiles and clusters below 10 minutes), a log-spaced quantile
 * sketch, and BadLineLog (count per reason, the first samples with file:line). The histogram and
 * the sketch merge by addition.
 */
import type { DurationSummary } from '../report/model.js';

/** 1 ms bins up to FINE_MS, then 1 s bins up to COARSE_S, then one overflow bin. */
const FINE_MS = 600_000;
const COARSE_S = 86_400;

export class DurationHistogram {
  readonly fine = new Uint32Array(FINE_MS);
  readonly coarse = new Uint32Array(COARSE_S);
  overflow = 0;
  count = 0;
  maxMs = -1;

  add(ms: number): void {
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
    if (ms < FINE_MS) this.fine[ms] = (this.fine[ms] as number) + 1;
    else if (ms < COARSE_S * 1000) {
      const s = Math.floor(ms / 1000);
      this.coarse[s] = (this.coarse[s] as number) + 1;
    } else this.overflow++;
  }

  merge(other: DurationHistogram): void {
    for (let i = 0; i < FINE_MS; i++) if (other.fine[i]) this.fine[i] = (this.fine[i] as number) + (other.fine[i] as number);
    for (let i = 0; i < COARSE_S; i++) if (other.coarse[i]) this.coarse[i] = (this.coarse[i] as number) + (other.coarse[i] as number);
    this.overflow += other.overflow;
    this.count += other.count;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** Count of values in [loMs, hiMs] (fine range exact; coarse range by whole seconds). */
  countBetween(loMs: number, hiMs: number): number {
    let n = 0;
    for (let i = Math.max(0, loMs); i <= Math.min(hiMs, FINE_MS - 1); i++) n += this.fine[i] as number;
    if (hiMs >= FINE_MS) {
      for (let s = Math.max(FINE_MS / 1000, Math.floor(loMs / 1000)); s <= Math.min(COARSE_S - 1, Math.floor(hiMs / 1000)); s++) n += this.coarse[s] as number;
    }
    return n;
  }

  /** The q-quantile in milliseconds (nearest rank), or -1 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return -1;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < FINE_MS; i++) {
      seen += this.fine[i] as number;
      if (seen >= rank) return i;
    }
    for (let s = 0; s < COARSE_S; s++) {
      seen += this.coarse[s] as number;
      if (seen >= rank) return s * 1000;
    }
    return this.maxMs;
  }
}

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

/** Log-spaced buckets (1 % wide) for quantiles of any duration in a few KB; merges by addition. */
export class QuantileSketch {
  private static readonly GROWTH = Math.log(1.01);
  private static readonly SIZE = 2200; // 1.01^2200 ms ≈ 9e9 ms: beyond any request_time
  readonly buckets = new Uint32Array(QuantileSketch.SIZE);
  count = 0;
  maxMs = -1;

  add(ms: number): void {
    const b = ms <= 0 ? 0 : Math.min(QuantileSketch.SIZE - 1, Math.ceil(Math.log(ms + 1) / QuantileSketch.GROWTH));
    this.buckets[b] = (this.buckets[b] as number) + 1;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(o: QuantileSketch): void {
    for (let i = 0; i < QuantileSketch.SIZE; i++) this.buckets[i] = (this.buckets[i] as number) + (o.buckets[i] as number);
    this.count += o.count;
    if (o.maxMs > this.maxMs) this.maxMs = o.maxMs;
  }

  /** The q-quantile in ms, within 1 %; -1 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return -1;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < QuantileSketch.SIZE; i++) {
      seen += this.buckets[i] as number;
      if (seen >= rank) return Math.min(this.maxMs, Math.round(Math.exp(i * QuantileSketch.GROWTH) - 1));
    }
    return this.maxMs;
  }

  summary(): DurationSummary {
    const s = (ms: number): number | null => (ms < 0 ? null : Math.round(ms) / 1000);
    return { p50: s(this.quantile(0.5)), p90: s(this.quantile(0.9)), p99: s(this.quantile(0.99)), max: s(this.maxMs) };
  }
}
