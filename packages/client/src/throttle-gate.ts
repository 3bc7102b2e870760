import type { Throttled } from '@barge/core';

/**
 * The quota throttle times a broker's responses carry (Produce and ReadObject v2): requests to
 * that broker wait until the latest one has passed, as Kafka clients do since KIP-219.
 */
export class ThrottleGate {
  #until = 0;

  /** Notes a decoded response's throttle time; returns it (0: none). */
  note(response: unknown): number {
    const ms = (response as Throttled).throttleTimeMs ?? 0;
    if (ms > 0) this.#until = Math.max(this.#until, Date.now() + ms);
    return ms;
  }

  /** Resolves once the throttle time noted last has passed. */
  async wait(): Promise<void> {
    const ms = this.#until - Date.now();
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
