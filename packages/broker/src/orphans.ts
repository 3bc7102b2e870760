import { errorMessage, type ObjectStorage } from '@barge/core';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.js';
import { orphanMetaKey } from './keys.js';
import type { BrokerMetrics } from './metrics.js';

/**
 * Objects that no pointer references (abandoned batches, losing hedged attempts) are deleted when
 * that is safe, and otherwise recorded as `_meta/orphans/<key>` markers (JSON: key, reason, time)
 * for the retention sweeper. Best effort: when even the marker cannot be written (storage down),
 * the key is logged at error level.
 */
export class OrphanRecorder {
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly storage: ObjectStorage,
    private readonly log: Logger,
    private readonly metrics: BrokerMetrics,
  ) {}

  /** Resolves when every record/discard started so far has finished (before closing storage). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #track(p: Promise<void>): Promise<void> {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
    return p;
  }

  /** Records `key` for the sweeper without deleting it (its pointer may have been published). */
  record(key: string, reason: string): Promise<void> {
    return this.#track(this.#record(key, reason));
  }

  async #record(key: string, reason: string): Promise<void> {
    this.metrics.orphans.inc();
    const body = Buffer.from(JSON.stringify({ key, reason, at: new Date().toISOString() }));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.storage.put(orphanMetaKey(key), body, { contentType: 'application/json' });
        this.log.warn({ key, reason }, 'object recorded as orphan for the retention sweeper');
        return;
      } catch (e) {
        if (attempt >= 2) {
          this.log.error(
            { key, reason, err: errorMessage(e) },
            'cannot record orphan object; delete it by hand',
          );
          return;
        }
        await sleep(backoffDelay(attempt, 100, 1000));
      }
    }
  }

  /** Deletes objects no pointer can reference; records them as orphans when the delete fails. */
  discard(keys: readonly string[], reason: string): Promise<void> {
    return this.#track(this.#discard(keys, reason));
  }

  async #discard(keys: readonly string[], reason: string): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.storage.delete(keys);
    } catch (e) {
      this.log.warn({ keys, err: errorMessage(e) }, 'cannot delete unreferenced objects');
      await Promise.all(keys.map((k) => this.#record(k, reason)));
    }
  }
}
