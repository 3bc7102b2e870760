/** Bucket bounds grow by this factor: every recorded value is reported within 1.5%. */
const GROWTH = 1.015;
const LOG_GROWTH = Math.log(GROWTH);
/** Values are kept in microseconds; below 1 µs they count as 1 µs. */
const MIN_US = 1;
/** 1 µs to ~1000 s. */
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 1;

export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * A latency histogram in milliseconds with log-spaced buckets (1.5% apart, 1 µs to 1000 s): a
 * fixed array, so recording never allocates. Percentiles are the upper bound of the bucket the
 * rank falls in, capped at the largest value recorded (so `max` is exact).
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;

  get count(): number {
    return this.#count;
  }

  record(ms: number, times = 1): void {
    const us = Math.max(MIN_US, ms * 1000);
    const i = Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH));
    this.#counts[i]! += times;
    this.#count += times;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds `other`'s values to this one. */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#max = Math.max(this.#max, other.#max);
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#max = 0;
  }

  /** The value at percentile `p` (0-100), undefined when nothing was recorded. */
  percentile(p: number): number | undefined {
    if (this.#count === 0) return undefined;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, GROWTH ** i / 1000);
    }
    return this.#max;
  }

  /** p50, p99, p99.9 and max, or null when nothing was recorded. */
  summary(): Percentiles | null {
    if (this.#count === 0) return null;
    const at = (p: number) => round3(this.percentile(p) ?? 0);
    return { p50: at(50), p99: at(99), p999: at(99.9), max: round3(this.#max) };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
