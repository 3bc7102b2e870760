import {
  type CommitPosition,
  errorMessage,
  GroupRebalanceError,
  type MessageFactory,
  type PointerConsumer,
  type PointerRecord,
} from '@barge/core';
import type { BatchReader, FetchedObject } from './batch-reader.js';
import type { ConsumerOptions } from './consumer-types.js';
import {
  DamagedDataHandler,
  type DamageSink,
  damagedDataPolicy,
  describeDamage,
  unreadableBatch,
} from './damaged-data.js';
import type { Logger } from './logger.js';
import type { Claim, PartitionCursor } from './partition-cursor.js';
import { backoffMs, isRetryableFailure, type ResolvedRetry, sleep, withRetry } from './retry.js';
import type { Subscription, Subscriptions } from './subscriptions.js';
import type { ConsumedMessage, PointerSource } from './types.js';

/** Set by `disconnect`; a new one for every run or iteration. */
export class StopSignal {
  #requested = false;
  #resolve!: () => void;
  readonly #abort = new AbortController();
  /** Aborted at the request: retries and backoffs still running for the stopped work end at once. */
  readonly signal: AbortSignal = this.#abort.signal;
  readonly stopped = new Promise<void>((resolve) => {
    this.#resolve = resolve;
  });

  get requested(): boolean {
    return this.#requested;
  }

  request(): void {
    this.#requested = true;
    this.#resolve();
    this.#abort.abort();
  }
}

/** A batch to deliver: the messages past the resume index and the seek-by-time filter. */
export class FetchedBatch {
  constructor(
    readonly sub: Subscription,
    readonly cursor: PartitionCursor,
    readonly record: PointerRecord,
    readonly claim: Claim,
    readonly messages: readonly ConsumedMessage[],
    private readonly stop: StopSignal,
  ) {}

  /** False once the consumer stops or the partition was sought, rewound or revoked since the fetch. */
  isCurrent(): boolean {
    return !this.stop.requested && this.cursor.isCurrent(this.claim.generation);
  }

  /** Heartbeats the group now (broker-served groups heartbeat on a timer anyway). */
  async heartbeat(): Promise<void> {
    const pc = this.sub.pc as (PointerConsumer & { heartbeat?: () => Promise<void> }) | undefined;
    await pc?.heartbeat?.();
  }

  /** e.g. "topic/3 offset 17". */
  get where(): string {
    return `${this.sub.topic}/${this.record.partition} offset ${this.record.offset}`;
  }
}

export type FetchOptions = Pick<
  ConsumerOptions,
  | 'maxPollRecords'
  | 'pollTimeoutMs'
  | 'prefetchBatches'
  | 'prefetchBytes'
  | 'fromTime'
  | 'onCorruptBatch'
  | 'onDamagedData'
>;

export interface FetcherDeps {
  readonly subscriptions: Subscriptions;
  readonly source: PointerSource;
  readonly reader: BatchReader;
  readonly retry: ResolvedRetry;
  readonly options: FetchOptions;
  readonly stop: StopSignal;
  readonly log: Logger;
  /** Told of every skip of damaged or missing data (log, count, event); without it skips are only logged. */
  readonly report?: DamageSink;
}

interface ClaimedRecord {
  readonly sub: Subscription;
  readonly cursor: PartitionCursor;
  readonly record: PointerRecord;
  readonly claim: Claim;
}

type PollResult =
  | { stop: true }
  | { sub: Subscription; records: PointerRecord[] }
  | { sub: Subscription; error: unknown };

/**
 * Polls every subscription's pointer consumer, claims the records through the partitions'
 * cursors (looking up where newly owned partitions start) and loads their batches ahead.
 */
export class BatchFetcher {
  readonly #deps: FetcherDeps;
  readonly #damaged: DamagedDataHandler;

  constructor(deps: FetcherDeps) {
    this.#deps = deps;
    const sink = deps.report ?? { skipped: (d) => deps.log.warn(`skipped ${describeDamage(d)}`) };
    this.#damaged = new DamagedDataHandler(damagedDataPolicy(deps.options), sink);
  }

  /** Batches ready for delivery, in offset order per partition, until the stop signal. */
  async *batches(): AsyncGenerator<FetchedBatch, void, undefined> {
    const { subscriptions, retry, stop, log } = this.#deps;
    const polls = new Map<Subscription, Promise<PollResult>>();
    const stopped = stop.stopped.then((): PollResult => ({ stop: true }));
    let failures = 0;
    try {
      while (!stop.requested) {
        for (const sub of subscriptions.list) if (!polls.has(sub)) polls.set(sub, this.#poll(sub));
        const r = await Promise.race([stopped, ...polls.values()]);
        if ('stop' in r) return;
        polls.delete(r.sub);
        if ('error' in r) {
          if (r.error instanceof GroupRebalanceError) continue; // the assignment was refreshed
          if (!isRetryableFailure(r.error) || failures >= retry.retries) throw r.error;
          const delayMs = backoffMs(failures++, retry);
          log.warn(`polling ${r.sub.topic} failed, retrying in ${delayMs} ms`, {
            retry: failures,
            error: errorMessage(r.error),
          });
          await sleep(delayMs, stop.signal).catch(() => {}); // ends early at the stop
          continue;
        }
        failures = 0;
        yield* this.#loadAhead(await this.#claim(r.sub, r.records));
      }
    } finally {
      for (const p of polls.values()) p.catch(() => {});
    }
  }

  async #poll(sub: Subscription): Promise<PollResult> {
    const o = this.#deps.options;
    try {
      const records = await sub.pc!.poll({
        maxRecords: o.maxPollRecords ?? 16,
        timeoutMs: o.pollTimeoutMs ?? 1_000,
      });
      return { sub, records };
    } catch (error) {
      return { sub, error };
    }
  }

  /** Starts newly owned partitions, then claims the records their cursors still want. */
  async #claim(sub: Subscription, records: PointerRecord[]): Promise<ClaimedRecord[]> {
    const owned = new Set(sub.pc!.assignment());
    await this.#start(sub, owned, records);
    const out: ClaimedRecord[] = [];
    for (const record of records) {
      if (!owned.has(record.partition)) continue;
      const cursor = this.#deps.subscriptions.cursor(sub.topic, record.partition);
      const claim = cursor.fetched(record);
      if (claim) out.push({ sub, cursor, record, claim });
    }
    return out;
  }

  /** Looks up where the owned partitions of `records` whose cursors have not started yet start. */
  async #start(sub: Subscription, owned: ReadonlySet<number>, records: PointerRecord[]): Promise<void> {
    const { subscriptions, retry, options } = this.#deps;
    const pc = sub.pc!;
    // An owned partition without a cursor was given back after its revoke phase: a fresh start.
    const fresh = [...new Set(records.map((r) => r.partition))].filter(
      (p) => owned.has(p) && !subscriptions.cursor(sub.topic, p).started,
    );
    if (fresh.length === 0) return;
    const generations = fresh.map((p) => subscriptions.cursor(sub.topic, p).generation);
    let committed: (CommitPosition | undefined)[];
    try {
      committed = await withRetry(() => pc.committed(fresh), retry);
    } catch (e) {
      if (!(e instanceof GroupRebalanceError) && !isRetryableFailure(e)) throw e;
      // Not started: read these partitions' records again next time.
      for (const p of fresh) {
        const first = Math.min(...records.filter((r) => r.partition === p).map((r) => r.offset));
        if (owned.has(p)) pc.seek(p, first);
      }
      return;
    }
    for (const [i, c] of committed.entries()) {
      const cursor = subscriptions.cursor(sub.topic, fresh[i]!);
      if (cursor.generation !== generations[i] || cursor.started) continue;
      cursor.resumed(c && { offset: c.offset, messageIndex: c.messageIndex ?? 0 });
      if (c === undefined && options.fromTime !== undefined) {
        const offset = await this.#deps.source.offsetForTimestamp(
          sub.topic,
          cursor.partition,
          options.fromTime,
        );
        subscriptions.startAt(sub, cursor, { offset, messageIndex: 0 }, options.fromTime);
      }
    }
  }

  /**
   * Loads batches ahead, as many as `prefetchBatches` and `prefetchBytes` allow, and yields them
   * in order while they stay current.
   */
  async *#loadAhead(claimed: ClaimedRecord[]): AsyncGenerator<FetchedBatch, void, undefined> {
    const budget = prefetchBudget(this.#deps.options);
    const queue: { batch: Promise<LoadedRecord>; bytes: number }[] = [];
    let next = 0;
    let queuedBytes = 0;
    const fill = () => {
      while (next < claimed.length) {
        const bytes = claimed[next]!.record.pointer.objectSize;
        if (queue.length > 0 && !budget.admits(queue.length, queuedBytes, bytes)) return;
        const batch = this.#load(claimed[next++]!);
        batch.catch(() => {});
        queue.push({ batch, bytes });
        queuedBytes += bytes;
      }
    };
    while (next < claimed.length || queue.length > 0) {
      fill();
      const head = queue.shift()!;
      // At the stop, loads still running are left behind; they no longer retry (`stop.signal`).
      const loaded = await Promise.race([head.batch, this.#deps.stop.stopped]);
      if (loaded === undefined) return;
      fill();
      const { claim, cursor } = loaded.c;
      const current = !this.#deps.stop.requested && cursor.isCurrent(claim.generation);
      if (current && !cursor.isDraining) yield this.#decode(loaded);
      // Counted until the application is done with it: it stays in memory meanwhile.
      queuedBytes -= head.bytes;
    }
  }

  /** Fetches the claimed record's batch object (not decoded yet: see `#decode`). */
  async #load(c: ClaimedRecord): Promise<LoadedRecord> {
    const { claim, record } = c;
    const p = record.pointer;
    if (claim.fromIndex >= p.messageCount) return { c };
    if (claim.minTimestamp !== undefined && p.lastTimestamp < claim.minTimestamp) return { c };
    try {
      // Prefetches outlive the loop that asked for them (a `break`): they stop retrying at the stop.
      return { c, fetched: await this.#deps.reader.fetch(p, claim.fromIndex, this.#deps.stop.signal) };
    } catch (e) {
      if (unreadableBatch(e) === undefined) throw e;
      return { c, error: e };
    }
  }

  /**
   * Decodes a loaded batch when its turn to be delivered comes (so batches loaded ahead hold
   * bytes, not one object per message) and reports its damage, which under `fail` throws.
   */
  #decode({ c, fetched, error }: LoadedRecord): FetchedBatch {
    const { claim, record } = c;
    const p = record.pointer;
    const batch = (messages: ConsumedMessage[]) =>
      new FetchedBatch(c.sub, c.cursor, record, claim, messages, this.#deps.stop);
    const place = {
      topic: c.sub.topic,
      partition: record.partition,
      offset: record.offset,
      key: p.storage.key,
    };
    if (error !== undefined) {
      const reason = unreadableBatch(error)!;
      const [fromMessageIndex, toMessageIndex] = [claim.fromIndex, p.messageCount];
      this.#damaged.found(
        { ...place, reason, fromMessageIndex, toMessageIndex, error: errorMessage(error) },
        error,
      );
      return batch([]);
    }
    if (fetched === undefined) return batch([]);
    const { topic } = c.sub;
    const { partition, offset } = record;
    const { writePartition, sequence: batchSequence } = p;
    // One object per message, built as it is decoded (not a DecodedMessage copied).
    const make: MessageFactory<ConsumedMessage> = (
      key,
      value,
      headers,
      timestamp,
      producerId,
      sequence,
      messageIndex,
    ) => ({
      topic,
      partition,
      offset,
      messageIndex,
      writePartition,
      batchSequence,
      producerId,
      sequence,
      key,
      value,
      headers,
      timestamp,
    });
    const loaded = this.#deps.reader.decodeFetched(fetched, make);
    for (const { chunk, error } of loaded.damaged) {
      const fromMessageIndex = Math.max(chunk.firstMessageIndex, claim.fromIndex);
      const toMessageIndex = chunk.firstMessageIndex + chunk.messageCount;
      const at = { ...place, fromMessageIndex, toMessageIndex, error: error.message };
      this.#damaged.found({ ...at, reason: 'corrupt-chunk', chunk: chunk.index }, error);
    }
    const minTimestamp = claim.minTimestamp;
    const messages =
      minTimestamp === undefined
        ? loaded.messages
        : loaded.messages.filter((m) => m.timestamp >= minTimestamp);
    return batch(messages);
  }
}

/** A claimed record with its batch object fetched, or the error that made it unreadable. */
interface LoadedRecord {
  readonly c: ClaimedRecord;
  /** Undefined when nothing of the batch is to be delivered, or with `error`. */
  readonly fetched?: FetchedObject;
  readonly error?: unknown;
}

/** How far a fetcher loads ahead: at most `batches` loads, and `bytes` of objects, running. */
export interface PrefetchBudget {
  readonly batches: number;
  readonly bytes: number;
  /** Whether one more batch of `bytes` may start with `running` loads of `runningBytes` under way. */
  admits(running: number, runningBytes: number, bytes: number): boolean;
}

export const DEFAULT_PREFETCH_BATCHES = 8;
export const DEFAULT_PREFETCH_BYTES = 64 * 1024 * 1024;

export function prefetchBudget(
  o: Pick<ConsumerOptions, 'prefetchBatches' | 'prefetchBytes'>,
): PrefetchBudget {
  const batches = Math.max(1, o.prefetchBatches ?? DEFAULT_PREFETCH_BATCHES);
  const bytes = Math.max(1, o.prefetchBytes ?? DEFAULT_PREFETCH_BYTES);
  return {
    batches,
    bytes,
    admits: (running, runningBytes, next) => running < batches && runningBytes + next <= bytes,
  };
}
