import {
  type CommitPosition,
  errorMessage,
  GroupRebalanceError,
  type PointerConsumer,
  type PointerRecord,
} from '@barge/core';
import type { BatchReader } from './batch-reader.js';
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
  'maxPollRecords' | 'pollTimeoutMs' | 'prefetchBatches' | 'fromTime' | 'onCorruptBatch' | 'onDamagedData'
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

  /** Loads up to `prefetchBatches` batches ahead and yields them in order while they stay current. */
  async *#loadAhead(claimed: ClaimedRecord[]): AsyncGenerator<FetchedBatch, void, undefined> {
    const ahead = this.#deps.options.prefetchBatches ?? 2;
    const queue: Promise<FetchedBatch>[] = [];
    let next = 0;
    const fill = () => {
      while (queue.length < ahead && next < claimed.length) {
        const p = this.#load(claimed[next++]!);
        p.catch(() => {});
        queue.push(p);
      }
    };
    fill();
    while (queue.length > 0) {
      // At the stop, loads still running are left behind; they no longer retry (`stop.signal`).
      const b = await Promise.race([queue.shift()!, this.#deps.stop.stopped]);
      if (b === undefined) return;
      fill();
      if (b.isCurrent() && !b.cursor.isDraining) yield b;
    }
  }

  async #load(c: ClaimedRecord): Promise<FetchedBatch> {
    const { claim, record } = c;
    const p = record.pointer;
    const batch = (messages: ConsumedMessage[]) =>
      new FetchedBatch(c.sub, c.cursor, record, claim, messages, this.#deps.stop);
    if (claim.fromIndex >= p.messageCount) return batch([]);
    if (claim.minTimestamp !== undefined && p.lastTimestamp < claim.minTimestamp) return batch([]);
    let loaded: Awaited<ReturnType<BatchReader['load']>>;
    const place = {
      topic: c.sub.topic,
      partition: record.partition,
      offset: record.offset,
      key: p.storage.key,
    };
    try {
      // Prefetches outlive the loop that asked for them (a `break`): they stop retrying at the stop.
      loaded = await this.#deps.reader.load(p, claim.fromIndex, this.#deps.stop.signal);
    } catch (e) {
      const reason = unreadableBatch(e);
      if (reason === undefined) throw e;
      const [fromMessageIndex, toMessageIndex] = [claim.fromIndex, p.messageCount];
      this.#damaged.found({ ...place, reason, fromMessageIndex, toMessageIndex, error: errorMessage(e) }, e);
      return batch([]);
    }
    for (const { chunk, error } of loaded.damaged) {
      const fromMessageIndex = Math.max(chunk.firstMessageIndex, claim.fromIndex);
      const toMessageIndex = chunk.firstMessageIndex + chunk.messageCount;
      const at = { ...place, fromMessageIndex, toMessageIndex, error: error.message };
      this.#damaged.found({ ...at, reason: 'corrupt-chunk', chunk: chunk.index }, error);
    }
    const messages: ConsumedMessage[] = [];
    for (const m of loaded.messages) {
      if (claim.minTimestamp !== undefined && m.timestamp < claim.minTimestamp) continue;
      messages.push({
        topic: c.sub.topic,
        partition: record.partition,
        offset: record.offset,
        messageIndex: m.index,
        writePartition: p.writePartition,
        batchSequence: p.sequence,
        producerId: m.producerId,
        sequence: m.sequence,
        key: m.key,
        value: m.value,
        headers: m.headers,
        timestamp: m.timestamp,
      });
    }
    return batch(messages);
  }
}
