import { TransientError } from '@barge/core';
import { OFFSET_BLOCK, type OffsetCeiling } from './offset-ceiling.js';
import { type TailQueue, tailOffset } from './tail.js';

/** One ownership period of a write partition: the next dense offset and the durable ceiling, once recovered. */
interface Period {
  next: number | undefined;
  recovering: Promise<void> | undefined;
  /** Offsets below this may be stamped: the stored ceiling (Infinity without one). */
  ceiling: number;
  raising: Promise<void> | undefined;
}

/**
 * The dense (Kafka) offsets of the write partitions this broker writes: `reserve` hands out
 * `baseOffset`s in the order it is called (the writer calls it once per batch, in publication
 * order, just before the batch's first publish attempt; a retried publish keeps its stamps), and
 * never hands out one twice within an ownership period.
 *
 * The first `reserve` of an ownership period learns the next offset from the read partition's
 * tail (`tailOffset`), after `fencedIn` resolved: in a cluster that is once this broker's fenced
 * publisher is open, so no earlier owner can publish any more and every pointer it published is
 * committed or aborted, visible in the tail. One tail read (and one read of the ceiling) per
 * ownership period, none per batch. When the tail holds no pointer of the write partition
 * (never written, or all removed by retention) it starts at the durable ceiling
 * (`OffsetCeiling`), which is raised before offsets at or above it are handed out: in the
 * background when half of the room is used, waited for only when it is all used. `forget` ends
 * the period (a write partition handed over or taken over): the next `reserve` recovers again,
 * and a recovery of the old period still running is discarded.
 */
export class OffsetStamper {
  readonly #periods = new Map<string, Period>();

  constructor(
    private readonly queue: TailQueue,
    /** Resolves once this broker may publish the write partition (fenced in); throws when it may not. */
    private readonly fencedIn: (topic: string, writePartition: number) => Promise<void>,
    /** Without one (tests), a write partition whose pointers are all gone starts again at 0. */
    private readonly ceilings?: OffsetCeiling,
  ) {}

  /**
   * Starts the recovery of a write partition when its period has none yet, without waiting
   * (the writer calls it when a batch opens, so the reads overlap the batch delay and the
   * upload). Failures are left to `reserve`, which tries again.
   */
  prepare(topic: string, writePartition: number): void {
    const period = this.#period(topic, writePartition);
    if (period.next === undefined) this.#recover(topic, writePartition, period).catch(() => {});
  }

  /**
   * The base offsets of batches of `counts` messages each, in order: consecutive, starting at
   * the write partition's next offset, which moves past them. Throws (retryably) while the next
   * offset cannot be recovered or the ceiling raised, or when the period ended meanwhile.
   */
  async reserve(topic: string, writePartition: number, counts: readonly number[]): Promise<number[]> {
    const period = this.#period(topic, writePartition);
    if (period.next === undefined) await this.#recover(topic, writePartition, period);
    const end = period.next! + counts.reduce((a, b) => a + b, 0);
    while (end > period.ceiling) await this.#raise(topic, writePartition, period, end + OFFSET_BLOCK);
    if (this.#periods.get(key(topic, writePartition)) !== period) {
      throw new TransientError(
        `${topic}/${writePartition}: the write partition changed hands while its next offset was being recovered`,
      );
    }
    const out: number[] = [];
    let next = period.next!;
    for (const n of counts) {
      out.push(next);
      next += n;
    }
    period.next = next;
    if (period.ceiling - next < OFFSET_BLOCK / 2) {
      this.#raise(topic, writePartition, period, next + OFFSET_BLOCK).catch(() => {});
    }
    return out;
  }

  /** The next offset of the write partition, when its current period knows it (tests, metrics). */
  peek(topic: string, writePartition: number): number | undefined {
    return this.#periods.get(key(topic, writePartition))?.next;
  }

  /** Ends the write partition's ownership period: the next `reserve` reads the tail again. */
  forget(topic: string, writePartition: number): void {
    this.#periods.delete(key(topic, writePartition));
  }

  #period(topic: string, writePartition: number): Period {
    const k = key(topic, writePartition);
    let p = this.#periods.get(k);
    if (!p) {
      p = { next: undefined, recovering: undefined, ceiling: Number.POSITIVE_INFINITY, raising: undefined };
      this.#periods.set(k, p);
    }
    return p;
  }

  #recover(topic: string, writePartition: number, period: Period): Promise<void> {
    period.recovering ??= (async () => {
      try {
        await this.fencedIn(topic, writePartition);
        const [tail, ceiling] = await Promise.all([
          tailOffset(this.queue, topic, writePartition),
          this.ceilings?.read(topic, writePartition),
        ]);
        if (period.next !== undefined) return;
        period.ceiling = ceiling ?? Number.POSITIVE_INFINITY;
        period.next = tail ?? ceiling ?? 0;
      } finally {
        period.recovering = undefined;
      }
    })();
    return period.recovering;
  }

  /** Raises the stored ceiling to `target` (one raise at a time per period). */
  #raise(topic: string, writePartition: number, period: Period, target: number): Promise<void> {
    const ceilings = this.ceilings;
    if (!ceilings) return Promise.resolve();
    period.raising ??= ceilings
      .raise(topic, writePartition, target)
      .then((c) => {
        period.ceiling = Math.max(period.ceiling, c);
      })
      .finally(() => {
        period.raising = undefined;
      });
    return period.raising;
  }
}

const key = (topic: string, writePartition: number) => `${topic}\u0000${writePartition}`;
