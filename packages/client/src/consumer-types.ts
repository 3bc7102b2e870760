import type { BatchPointer, ObjectStorage } from '@barge/core';
import type { AuditOptions } from './audit/emitter.js';
import type { CommonClientOptions } from './client-options.js';
import type { DamagedDataPolicy } from './damaged-data.js';
import type { DedupOptions } from './dedup.js';
import type { ConsumedMessage, PointerSource } from './types.js';

/**
 * See `CommonClientOptions` for `retry` (also of failed handlers, reads and polls),
 * `connectionTimeout`, `requestTimeout`, `logLevel`, `logCreator` and `logger`.
 */
export interface ConsumerOptions extends CommonClientOptions {
  /** Broker addresses (`host:port`). Needed unless both `pointers` and `storage` are given. */
  brokers?: string[];
  groupId: string;
  /** Default `barge-consumer-<random>`. */
  clientId?: string;
  /** Where to start on partitions with no committed position: earliest (true, the default) or latest. */
  fromBeginning?: boolean;
  /**
   * Start partitions with no committed position at this time (ms since the epoch): the first
   * pointer appended at or after it, skipping messages whose timestamp is earlier.
   */
  fromTime?: number;
  /** A member that misses heartbeats for this long loses its partitions. Default 30,000 ms. */
  sessionTimeoutMs?: number;
  /** Heartbeat period of broker-served groups. Default min(3,000, sessionTimeoutMs / 3). */
  heartbeatIntervalMs?: number;
  /** Commit processed positions automatically. Default true. */
  autoCommit?: boolean;
  /** Auto-commit at most this often. Default 5,000 ms. */
  autoCommitIntervalMs?: number;
  /** Also auto-commit after this many processed messages. Default: off. */
  autoCommitThreshold?: number;
  /** Read batches directly from this storage (needs credentials); otherwise through the broker's read proxy. */
  storage?: ObjectStorage;
  /** Read pointers from this queue directly (e.g. a Kafka PointerQueue) instead of the broker's groups. */
  pointers?: PointerSource;
  /** Pointers per poll. Default 16. */
  maxPollRecords?: number;
  /** Long-poll wait. Default 1,000 ms. */
  pollTimeoutMs?: number;
  /**
   * Most batches loaded ahead of the one being processed (their reads run concurrently, so the
   * network is not idle while the application works). Default 8.
   */
  prefetchBatches?: number;
  /**
   * Memory budget of the batches loaded ahead, by object size: no batch is started beyond it,
   * except one when nothing is loading. Default 64 MiB.
   */
  prefetchBytes?: number;
  /** Skip messages a producer retry delivered twice. Default true. */
  dedup?: boolean | DedupOptions;
  /**
   * What to do with data that cannot be read: a chunk or batch that fails its checks (checksum,
   * decompression, records), or a batch object missing from storage. `fail` (default) stops the
   * consumer there with a `DamagedDataError` naming topic, partition, offset, object key and
   * chunk. `skip` delivers everything else (a damaged chunk's batch-mates too) and reports each
   * skip: a warning in the log, a `consumer.skipped` event and the `skippedDamaged` counts.
   */
  onDamagedData?: DamagedDataPolicy;
  /** The earlier name of `onDamagedData` (used when that is not given). */
  onCorruptBatch?: DamagedDataPolicy;
  /** Send a record of the messages handed to the application to an audit topic, for `barge audit` (needs `brokers`). Default: off. */
  audit?: AuditOptions;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: ConsumedMessage;
  /** Heartbeats now (broker-served groups heartbeat on a timer anyway). */
  heartbeat(): Promise<void>;
}

export interface ConsumerBatch {
  topic: string;
  partition: number;
  /** Pointer offset of the batch. */
  offset: number;
  pointer: BatchPointer;
  /** The messages to process (already past the committed message index, duplicates and seek-by-time filters). */
  messages: ConsumedMessage[];
  isEmpty(): boolean;
}

export interface EachBatchPayload {
  batch: ConsumerBatch;
  /** Mark messages up to and including this one (or message index) as processed. */
  resolveOffset(message: ConsumedMessage | number): void;
  heartbeat(): Promise<void>;
  /** Commits if auto-commit is on and its interval or threshold was reached. */
  commitOffsetsIfNecessary(): Promise<void>;
  isRunning(): boolean;
  /** True when the partition was revoked or sought since the batch was handed out: stop processing it. */
  isStale(): boolean;
}

export interface RunOptions {
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  /** Mark the whole batch processed when `eachBatch` returns. Default true. */
  eachBatchAutoResolve?: boolean;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** Pointer offset of the next batch to read. */
  offset: number;
  /** Next message within that batch. Default 0. */
  messageIndex?: number;
}

export interface ConsumerEvents {
  crash: [error: unknown];
  rebalance: [topic: string, assignment: readonly number[]];
  commit: [positions: TopicPartitionOffset[]];
}

/** A consumer-side failure that stopped the run loop. */
export class ConsumerCrashError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConsumerCrashError';
  }
}
