import { CorruptDataError, errorMessage, type ObjectStorage } from '@barge/core';
import { sequenceMetaKey } from './keys.js';
import { updateStoredDocument } from './stored-document.js';

/**
 * Batch sequence numbers per write partition, increasing across broker restarts. Numbers are
 * leased in blocks: `_meta/sequences/<topic>/<wp>.json` holds `{"next": N}`; taking a lease
 * writes `next + blockSize` there first and then hands out `[next, next + blockSize)`. A
 * restart abandons the rest of the block, so sequences have gaps but never repeat. One storage
 * read (head + get) and one write per `blockSize` batches.
 *
 * On a storage with `capabilities.conditionalPut` the write is a compare-and-swap: `ifMatch`
 * the version read (or `ifNoneMatch: '*'` for the first lease), read again and retried when
 * another broker won. So brokers sharing a bucket never get overlapping blocks: of two leases
 * read from the same version only one is written, and the loser's retry starts above the
 * winner's block. A `PRECONDITION_FAILED` that in fact follows our own write (an answer lost and
 * the request retried) only wastes that block. Without the capability the write is a plain put
 * and a write partition must be served by one broker at a time.
 */
export class SequenceAllocator {
  readonly #leases = new Map<string, { next: number; end: number }>();
  readonly #pending = new Map<string, Promise<void>>();
  /** Per write partition forgotten: sequences below this were taken in an earlier ownership period. */
  readonly #staleBelow = new Map<string, number>();

  constructor(
    private readonly storage: ObjectStorage,
    readonly blockSize = 1000,
  ) {}

  /**
   * Drops the lease of a write partition this broker handed over, so that if it owns it again
   * later it leases a fresh block, above every block the owners in between took.
   */
  forget(topic: string, writePartition: number): void {
    const id = `${topic}/${writePartition}`;
    this.#leases.delete(id);
    this.#staleBelow.set(id, Number.POSITIVE_INFINITY);
  }

  /**
   * Sequences of the write partition below this were taken before the last `forget`, in an
   * earlier ownership period (everything, until a new lease is taken); 0 when never forgotten.
   */
  staleBelow(topic: string, writePartition: number): number {
    return this.#staleBelow.get(`${topic}/${writePartition}`) ?? 0;
  }

  /**
   * Starts taking a lease for `topic`/`writePartition` if it has none left, without waiting: a
   * writer calls it when a batch opens, so the storage round trip overlaps the batch delay
   * instead of delaying the batch's upload. A failure is left to `next`, which retries it: the
   * promise (which callers need not wait for) never rejects.
   */
  prepare(topic: string, writePartition: number): Promise<void> {
    const id = `${topic}/${writePartition}`;
    const lease = this.#leases.get(id);
    if (lease && lease.next < lease.end) return Promise.resolve();
    return this.#lease(id, topic, writePartition).catch(() => {});
  }

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
    const lease = await updateStoredDocument(
      this.storage,
      key,
      `sequence lease ${key}`,
      (stored) => {
        let next = stored === undefined ? 0 : parseLease(key, stored);
        // The old lease may still have numbers above `next` in memory (never, in practice): keep the max.
        const current = this.#leases.get(id);
        if (current && current.end > next) next = current.end;
        const end = next + this.blockSize;
        return {
          write: Buffer.from(JSON.stringify({ next: end, topic, writePartition })),
          result: { next, end },
        };
      },
      { contentType: 'application/json' },
    );
    this.#leases.set(id, lease);
    if (this.#staleBelow.has(id)) this.#staleBelow.set(id, lease.next);
  }
}

function parseLease(key: string, bytes: Buffer): number {
  let next: unknown;
  try {
    next = (JSON.parse(bytes.toString('utf8')) as { next?: unknown }).next;
  } catch (e) {
    // Not retryable: the same bytes would be read again.
    throw new CorruptDataError(`sequence lease ${key} is unreadable: ${errorMessage(e)}`, { cause: e });
  }
  if (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 0) {
    throw new CorruptDataError(`sequence lease ${key} is unreadable: "next" is ${JSON.stringify(next)}`);
  }
  return next;
}
