import { CorruptDataError, errorMessage, hasErrorCode, type ObjectStorage } from '@barge/core';
import { sequenceMetaKey } from './keys.js';

/**
 * Batch sequence numbers per write partition, increasing across broker restarts. Numbers are
 * leased in blocks: `_meta/sequences/<topic>/<wp>.json` holds `{"next": N}`; taking a lease
 * writes `next + blockSize` there first and then hands out `[next, next + blockSize)`. A
 * restart abandons the rest of the block, so sequences have gaps but never repeat. One storage
 * write per `blockSize` batches.
 *
 * A write partition must be served by one broker at a time (the lease object is not written
 * with a compare-and-swap).
 */
export class SequenceAllocator {
  readonly #leases = new Map<string, { next: number; end: number }>();
  readonly #pending = new Map<string, Promise<void>>();

  constructor(
    private readonly storage: ObjectStorage,
    readonly blockSize = 1000,
  ) {}

  /** The next sequence of `topic`/`writePartition`. Callers serialize calls per write partition. */
  async next(topic: string, writePartition: number): Promise<number> {
    const id = `${topic}/${writePartition}`;
    let lease = this.#leases.get(id);
    if (!lease || lease.next >= lease.end) {
      await this.#lease(id, topic, writePartition);
      lease = this.#leases.get(id)!;
    }
    return lease.next++;
  }

  async #lease(id: string, topic: string, writePartition: number): Promise<void> {
    let p = this.#pending.get(id);
    if (!p) {
      p = this.#takeLease(id, topic, writePartition).finally(() => this.#pending.delete(id));
      this.#pending.set(id, p);
    }
    await p;
  }

  async #takeLease(id: string, topic: string, writePartition: number): Promise<void> {
    const key = sequenceMetaKey(topic, writePartition);
    let next = 0;
    try {
      const raw = JSON.parse((await this.storage.get(key)).toString('utf8')) as { next?: unknown };
      if (typeof raw.next !== 'number' || !Number.isSafeInteger(raw.next) || raw.next < 0) {
        throw new Error(`"next" is ${JSON.stringify(raw.next)}`);
      }
      next = raw.next;
    } catch (e) {
      if (!hasErrorCode(e, 'NOT_FOUND')) {
        if (e instanceof SyntaxError || (e instanceof Error && e.message.startsWith('"next"'))) {
          // Not retryable: the same bytes would be read again.
          throw new CorruptDataError(`sequence lease ${key} is unreadable: ${errorMessage(e)}`, { cause: e });
        }
        throw e;
      }
    }
    // The old lease may still have numbers above `next` in memory (never, in practice): keep the max.
    const current = this.#leases.get(id);
    if (current && current.end > next) next = current.end;
    const end = next + this.blockSize;
    await this.storage.put(key, Buffer.from(JSON.stringify({ next: end, topic, writePartition })), {
      contentType: 'application/json',
    });
    this.#leases.set(id, { next, end });
  }
}
