/**
 * When to close a batch on time. `batch.maxDelayMs` is what a producer waiting for a durable ack
 * is promised: its message is acknowledged about that long after it arrived. A batch therefore
 * closes early by the time the broker has recently needed to make a closed batch durable
 * (upload, fsync, pointer commit): the 95th percentile of the last `window` batches, so that slow
 * storage shows up at once and a single slow write is forgotten soon. It never closes earlier
 * than half of `maxDelayMs`, so slow storage costs latency rather than making batches tiny.
 */
export class BatchCloseTiming {
  readonly #recent: number[] = [];
  #next = 0;
  #estimate = 0;
  #stale = false;

  constructor(private readonly window = 200) {}

  /** A closed batch became durable (acknowledged) `ms` after it was closed. */
  recordDurable(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.#recent.length < this.window) this.#recent.push(ms);
    else this.#recent[this.#next] = ms;
    this.#next = (this.#next + 1) % this.window;
    this.#stale = true;
  }

  /** Recent time from close to durable (95th percentile), 0 before any batch was durable. */
  get expectedDurableMs(): number {
    if (this.#stale) {
      const sorted = [...this.#recent].sort((a, b) => a - b);
      this.#estimate = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0;
      this.#stale = false;
    }
    return this.#estimate;
  }

  /** How long after its first chunk a batch closes on time, for a topic's `maxDelayMs`. */
  closeAfterMs(maxDelayMs: number): number {
    return Math.max(Math.ceil(maxDelayMs / 2), Math.round(maxDelayMs - this.expectedDurableMs));
  }
}
