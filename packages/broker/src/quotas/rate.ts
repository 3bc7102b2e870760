/** How a byte rate is measured: `samples` consecutive windows of `sampleMs` (Kafka: 11 × 1 s). */
export interface RateWindowOptions {
  samples: number;
  sampleMs: number;
}

export const DEFAULT_RATE_WINDOW: RateWindowOptions = { samples: 5, sampleMs: 1000 };

interface Sample {
  start: number;
  bytes: number;
}

/**
 * Bytes per second over the last few sample windows, as Kafka measures quotas: the bytes of the
 * samples still in the window divided by the time they span (at least one sample window, so a
 * first request is not measured over a few milliseconds). Pure: the caller passes the time.
 */
export class RateWindow {
  readonly #samples: Sample[] = [];

  constructor(private readonly options: RateWindowOptions = DEFAULT_RATE_WINDOW) {}

  record(bytes: number, now: number): void {
    this.#expire(now);
    const last = this.#samples.at(-1);
    if (last && now < last.start + this.options.sampleMs) last.bytes += bytes;
    else this.#samples.push({ start: now, bytes });
  }

  /**
   * Takes back `bytes` recorded earlier (a read charged before it was answered, which carried
   * fewer): from the newest samples still in the window, never below 0.
   */
  refund(bytes: number, now: number): void {
    this.#expire(now);
    let left = bytes;
    for (let i = this.#samples.length - 1; i >= 0 && left > 0; i--) {
      const s = this.#samples[i]!;
      const taken = Math.min(s.bytes, left);
      s.bytes -= taken;
      left -= taken;
    }
  }

  /** Bytes per second measured at `now`. */
  rate(now: number): number {
    this.#expire(now);
    return (this.#bytes() * 1000) / this.#spanMs(now);
  }

  /**
   * How long (ms) nothing more may be recorded for the rate to come back to `quota` bytes per
   * second: `bytes / quota − span`, Kafka's `(rate − quota) / quota × span`. 0 when under the
   * quota; never more than the whole window.
   */
  throttleMs(quota: number, now: number): number {
    this.#expire(now);
    const ms = (this.#bytes() * 1000) / quota - this.#spanMs(now);
    if (ms <= 0) return 0;
    return Math.min(Math.ceil(ms), this.options.samples * this.options.sampleMs);
  }

  /** True when no sample is left in the window (the rate is 0 and the entry can be dropped). */
  idle(now: number): boolean {
    this.#expire(now);
    return this.#samples.length === 0;
  }

  #bytes(): number {
    let total = 0;
    for (const s of this.#samples) total += s.bytes;
    return total;
  }

  #spanMs(now: number): number {
    const oldest = this.#samples[0];
    return Math.max(oldest ? now - oldest.start : 0, this.options.sampleMs);
  }

  #expire(now: number): void {
    const { samples, sampleMs } = this.options;
    while (this.#samples.length > 0 && this.#samples[0]!.start + samples * sampleMs <= now)
      this.#samples.shift();
  }
}
