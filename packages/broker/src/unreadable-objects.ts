import type { Logger } from 'pino';
import type { BrokerMetrics } from './metrics.js';

/** Why the read proxy could not serve a batch object as its pointer describes it. */
export type UnreadableReason = 'not_found' | 'truncated';

/** Keys remembered as already logged; beyond this the oldest are forgotten (and may be logged again). */
const MAX_LOGGED_KEYS = 10_000;

/**
 * Batch objects the read proxy could not serve (missing, or shorter than their size): every such
 * read is counted (`barge_read_unreadable_total`), and each key is logged once, so a consumer
 * group stuck on (or skipping) a damaged object shows in the broker's log and metrics.
 */
export class UnreadableObjects {
  readonly #logged = new Set<string>();

  constructor(
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {}

  found(key: string, reason: UnreadableReason, detail: string): void {
    this.metrics.unreadableReads.inc({ reason });
    const id = `${reason} ${key}`;
    if (this.#logged.has(id)) return;
    if (this.#logged.size >= MAX_LOGGED_KEYS) this.#logged.delete(this.#logged.values().next().value!);
    this.#logged.add(id);
    this.log.warn(
      { key, reason },
      `read proxy: batch object ${key} ${detail}; its consumers stop there or skip it (onDamagedData)`,
    );
  }
}
