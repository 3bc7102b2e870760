import {
  ApiKey,
  BrokerResponseError,
  type CodecName,
  type EncodedChunk,
  ErrorCode,
  encodeChunk,
  errorMessage,
  isRetryable,
  type ProduceRequest,
  type ProduceResponse,
} from '@barge/core';
import type { ByteBudget } from '../budget.js';
import { type BrokerPool, ConnectionClosedError } from '../connection.js';
import { backoffMs, type ResolvedRetry } from '../retry.js';
import {
  CHUNK_OVERHEAD,
  PartitionQueue,
  type PendingRequest,
  type QueuedChunk,
  REQUEST_OVERHEAD,
} from './partition-queue.js';
import { ProduceError } from './produce-error.js';
import type { PendingMessage } from './send-tracker.js';
import type { ProduceTarget, WritePartition } from './target.js';
import type { TopicMetadata } from './topic-metadata.js';

export interface ChunkSenderOptions {
  pool: BrokerPool;
  metadata: TopicMetadata;
  /** Released as chunks settle. */
  budget: ByteBudget;
  producerId: number;
  maxInFlight: number;
  requestTimeoutMs: number;
  retry: ResolvedRetry;
}

/**
 * Sends closed chunks in Produce requests, many in flight at a time, in round robin over the
 * write partitions and in sequence order within each. A retry re-sends the same chunk bytes
 * under the same producer id and sequence numbers, so a duplicate it creates is detected by
 * consumers. A settled chunk (acknowledged or failed for good) answers its messages' `send`
 * calls and releases their budget bytes.
 */
export class ChunkSender {
  private readonly queues = new Map<WritePartition, PartitionQueue>();
  private inFlight = 0;
  private pumpTimer: NodeJS.Timeout | undefined;
  private unsettled = 0;
  private settledWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: ChunkSenderOptions) {}

  /** Encodes the messages of a closed chunk under the next sequence numbers of its write partition and queues it. */
  enqueue(target: ProduceTarget, messages: PendingMessage[], bytes: number, codec: CodecName): void {
    const { topic, writePartition } = target.partition;
    const queue = this.queueOf(target.partition);
    let encoded: EncodedChunk;
    try {
      encoded = encodeChunk(
        messages.map((m) => m.message),
        codec,
        { producerId: this.options.producerId, baseSequence: queue.nextSequence },
      );
    } catch (e) {
      const why = `cannot encode chunk for ${topic}/${writePartition}: ${errorMessage(e)}`;
      this.reject(messages, new ProduceError(why, false, { cause: e }), bytes);
      return;
    }
    const maxFrame = this.options.metadata.maxFrameBytes;
    if (encoded.bytes.length + REQUEST_OVERHEAD + CHUNK_OVERHEAD > maxFrame) {
      const error = new ProduceError(
        `a chunk of ${encoded.bytes.length} bytes for ${topic}/${writePartition} does not fit the broker's frame limit of ${maxFrame} bytes; send smaller messages`,
        false,
      );
      this.reject(messages, error, bytes);
      return;
    }
    queue.push({ target, messages, encoded, bytes, retries: 0 });
    this.unsettled++;
    this.pump();
  }

  /** Resolves once every queued chunk has settled. */
  waitSettled(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Starts no more requests and gives up retrying. */
  close(): void {
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
  }

  private queueOf(partition: WritePartition): PartitionQueue {
    let queue = this.queues.get(partition);
    if (!queue) {
      queue = new PartitionQueue(partition);
      this.queues.set(partition, queue);
    }
    return queue;
  }

  /** Starts requests while the in-flight limit allows, one partition at a time in round robin. */
  private pump(): void {
    if (this.closed) return;
    const { maxInFlight, metadata } = this.options;
    const now = Date.now();
    let wake = Number.POSITIVE_INFINITY;
    let progress = true;
    while (progress && this.inFlight < maxInFlight) {
      progress = false;
      for (const queue of this.queues.values()) {
        if (this.inFlight >= maxInFlight) break;
        const readyAt = queue.readyAt(now);
        if (readyAt === undefined) continue;
        if (readyAt > now) {
          wake = Math.min(wake, readyAt);
          continue;
        }
        const request = queue.take(metadata);
        this.inFlight++;
        progress = true;
        void this.dispatch(queue, request);
      }
    }
    if (wake !== Number.POSITIVE_INFINITY && !this.pumpTimer) {
      this.pumpTimer = setTimeout(
        () => {
          this.pumpTimer = undefined;
          this.pump();
        },
        Math.max(1, wake - now),
      );
    }
  }

  private async dispatch(queue: PartitionQueue, request: PendingRequest): Promise<void> {
    const { target } = request;
    const { pool, producerId, requestTimeoutMs } = this.options;
    const body: ProduceRequest = {
      topic: target.partition.topic,
      writePartition: target.partition.writePartition,
      acks: target.acks,
      producerId,
      timeoutMs: requestTimeoutMs,
      chunks: request.chunks.map((c) => c.encoded),
    };
    let response: ProduceResponse | undefined;
    let error: unknown;
    try {
      const conn = await pool.get();
      if (target.acks === 'none') await conn.send(ApiKey.Produce, body);
      else response = await conn.request(ApiKey.Produce, body, { timeoutMs: requestTimeoutMs + 5_000 });
    } catch (e) {
      error = e;
    }
    queue.requestEnded(error === undefined);
    this.inFlight--;
    if (error === undefined) this.complete(request, response);
    else this.failed(queue, request, error);
    this.pump();
  }

  /** Answers the messages of an acknowledged request; `r` is undefined for acks=none. */
  private complete({ target, chunks }: PendingRequest, r: ProduceResponse | undefined): void {
    const { topic, writePartition } = target.partition;
    let messageIndex = r?.firstMessageIndex ?? -1;
    for (const c of chunks) {
      const base = c.encoded.meta.baseSequence;
      c.messages.forEach((m, i) => {
        m.tracker.done(m.index, {
          topic,
          writePartition: r?.writePartition ?? writePartition,
          producerId: this.options.producerId,
          sequence: base + i,
          acks: target.acks,
          batchSequence: r?.sequence ?? -1,
          messageIndex: r ? messageIndex + i : -1,
          partition: r?.readPartition ?? -1,
          offset: r?.offset ?? -1,
        });
      });
      if (r) messageIndex += c.messages.length;
      this.settle(c);
    }
  }

  private failed(queue: PartitionQueue, { target, chunks }: PendingRequest, error: unknown): void {
    const { topic, writePartition } = target.partition;
    const { retry } = this.options;
    const first = chunks[0]!;
    const retryable = isRetryable(error) || error instanceof ConnectionClosedError;
    const exhausted = first.retries >= retry.retries;
    if (retryable && !exhausted && !this.closed) {
      // Same bytes, same producer id and sequences.
      for (const c of chunks) c.retries++;
      queue.retryLater(chunks, Date.now() + backoffMs(first.retries - 1, retry));
      if (error instanceof BrokerResponseError && error.errorCode === ErrorCode.INVALID_PARTITION) {
        this.options.metadata.forget(topic);
      }
      return;
    }
    const e = new ProduceError(
      `produce to ${topic}/${writePartition} failed${exhausted && retryable ? ` after ${first.retries} retries` : ''}: ${errorMessage(error)}`,
      retryable,
      { cause: error },
    );
    for (const c of chunks) {
      for (const m of c.messages) m.tracker.fail(e);
      this.settle(c);
    }
  }

  /** Fails the messages of a chunk that was never queued. */
  private reject(messages: readonly PendingMessage[], e: ProduceError, bytes: number): void {
    for (const m of messages) m.tracker.fail(e);
    this.options.budget.release(bytes);
  }

  private settle(c: QueuedChunk): void {
    this.options.budget.release(c.bytes);
    if (--this.unsettled === 0) for (const w of this.settledWaiters.splice(0)) w();
  }
}
