import type { PointerSource } from '@barge/client';
import {
  MAX_FETCH_WAIT_MS,
  type PointerConsumer,
  type PointerRecord,
  type SubscribeOptions,
} from '@barge/core';
import { ForwardingConsumer } from './forwarding-consumer.js';

/**
 * How long pointer fetches of a partition must find nothing before `consume --exit-at-end`
 * takes it to be at its end while its position is still below the high watermark: three long
 * polls of the consumer. A Kafka fetch answers at once when pointers are there, and the broker's
 * Kafka consumer waits at most its fetch wait (1 s by default) between fetches.
 */
export const TAIL_QUIET_MS = 3_000;

interface Watch {
  /** Offset after the last pointer fetched since the partition (re)started; 0 while none. */
  after: number;
  /** Start of the first of the fetches in a row that returned nothing of the partition. */
  emptySince: number | undefined;
  /** End of the last of them. */
  emptyUntil: number;
  /** Counts interruptions (seek, rebalance, failed fetch): fetches begun before one tell nothing. */
  epoch: number;
}

/**
 * `consume --exit-at-end`: watches the pointer fetches of each partition, to tell its end where
 * the high watermark is not the offset after the last pointer. On a clustered topic pointers are
 * published in Kafka transactions, so commit markers (and aborted pointers) take offsets that no
 * fetch returns: the high watermark sits above the last pointer, often by one marker, and a
 * consumer that read everything stops below it. Fetches are long polls that return as soon as a
 * pointer is there; when they keep finding nothing, the offsets left below the high watermark are
 * not pointers.
 */
export class TailWatch implements PointerSource {
  readonly #watches = new Map<number, Watch>();
  readonly #quietMs: number;
  readonly #now: () => number;

  constructor(
    private readonly inner: PointerSource,
    options: { quietMs?: number; now?: () => number } = {},
  ) {
    this.#quietMs = options.quietMs ?? TAIL_QUIET_MS;
    this.#now = options.now ?? Date.now;
  }

  async subscribe(options: SubscribeOptions): Promise<PointerConsumer> {
    return new WatchedConsumer(await this.inner.subscribe(options), this);
  }

  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.inner.offsetForTimestamp(topic, partition, timestamp);
  }

  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    return this.inner.watermarks(topic, partition);
  }

  /**
   * Where `partition`'s pointers end, when fetches have found none of it for the quiet time: the
   * offset after the last pointer fetched since the last seek (0 when none was). A consumer at or
   * past it read everything there is. Undefined while pointers may still come.
   */
  tail(partition: number): number | undefined {
    const w = this.#watches.get(partition);
    if (w?.emptySince === undefined || w.emptyUntil - w.emptySince < this.#quietMs) return undefined;
    return w.after;
  }

  /**
   * A fetch of `partitions` that waits up to `waitMs` for pointers is starting: what its answer
   * is compared with.
   */
  fetching(
    waitMs: number,
    partitions: readonly number[],
  ): { at: number; waitMs: number; epochs: ReadonlyMap<number, number> } {
    const epochs = new Map<number, number>();
    for (const p of partitions) epochs.set(p, this.#watch(p).epoch);
    return { at: this.#now(), waitMs, epochs };
  }

  /** A fetch begun at `started` returned `records` while `assigned` were this member's. */
  fetched(
    started: ReturnType<TailWatch['fetching']>,
    assigned: readonly number[],
    records: readonly PointerRecord[],
  ): void {
    const now = this.#now();
    // An empty answer before the wait was over (a rebalance, a revoke phase, a lost member) says
    // nothing about the pointers: the quiet time starts over.
    const answered = records.length > 0 || now - started.at >= started.waitMs;
    const last = new Map<number, number>();
    for (const r of records) last.set(r.partition, Math.max(r.offset, last.get(r.partition) ?? -1));
    for (const p of assigned) {
      const w = this.#watch(p);
      const offset = last.get(p);
      // Pointers fetched count even from a stale fetch: the consumer must process them or pass them.
      if (offset !== undefined) w.after = Math.max(w.after, offset + 1);
      // Not fetched for when the fetch began, or interrupted since: its silence tells nothing.
      if (started.epochs.get(p) !== w.epoch) continue;
      if (offset !== undefined || !answered) {
        w.emptySince = undefined;
      } else {
        w.emptySince ??= started.at;
        w.emptyUntil = now;
      }
    }
  }

  /** `partition` reads from `seek`'s offset now: the pointers fetched before count no more. */
  sought(partition: number): void {
    this.interrupted([partition]);
    this.#watch(partition).after = 0;
  }

  /**
   * The quiet time of `partitions` (default: all) starts over: a rebalance, a failed fetch, a
   * revoke phase. Pointers fetched before still have to be processed.
   */
  interrupted(partitions: readonly number[] = [...this.#watches.keys()]): void {
    for (const p of partitions) {
      const w = this.#watch(p);
      w.epoch++;
      w.emptySince = undefined;
    }
  }

  #watch(partition: number): Watch {
    let w = this.#watches.get(partition);
    if (!w) {
      w = { after: 0, emptySince: undefined, emptyUntil: 0, epoch: 0 };
      this.#watches.set(partition, w);
    }
    return w;
  }
}

/** A `PointerConsumer` that tells its `TailWatch` of every fetch, seek and rebalance. */
class WatchedConsumer extends ForwardingConsumer {
  constructor(
    inner: PointerConsumer,
    private readonly watch: TailWatch,
  ) {
    super(inner);
    inner.onAssignment(() => watch.interrupted());
  }

  override async poll(options?: { maxRecords?: number; timeoutMs?: number }): Promise<PointerRecord[]> {
    const wait = Math.min(options?.timeoutMs ?? 1000, MAX_FETCH_WAIT_MS);
    const started = this.watch.fetching(wait, this.inner.assignment());
    let records: PointerRecord[];
    try {
      records = await this.inner.poll(options);
    } catch (e) {
      this.watch.interrupted();
      throw e;
    }
    // A partition in its revoke phase gets no more pointers: that silence says nothing of its end.
    const revoking = this.inner.revoking();
    this.watch.interrupted(revoking);
    const reading = this.inner.assignment().filter((p) => !revoking.includes(p));
    this.watch.fetched(started, reading, records);
    return records;
  }

  override seek(partition: number, offset: number): void {
    this.inner.seek(partition, offset);
    this.watch.sought(partition);
  }
}
