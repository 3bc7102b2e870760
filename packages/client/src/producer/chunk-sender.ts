import {
  ApiKey,
  BrokerResponseError,
  type CodecName,
  type EncodedChunk,
  ErrorCode,
  encodeChunk,
  errorMessage,
  type ProduceRequest,
  type ProduceResponse,
} from '@barge/core';
import type { ByteBudget } from '../budget.js';
import { ConnectionClosedError } from '../connection.js';
import { backoffMs, isRetryableFailure, type ResolvedRetry } from '../retry.js';
import type { BatchAckedPayload } from './events.js';
import { InFlightWindow, type InFlightWindowOptions } from './in-flight-window.js';
import { isNotOwner, MOVING_OWNER_MAX_BACKOFF_MS, type OwnerRouting } from './owner-routing.js';
import {
  CHUNK_OVERHEAD,
  PartitionQueue,
  type PendingRequest,
  type QueuedChunk,
  REQUEST_OVERHEAD,
  type RequestLimits,
} from './partition-queue.js';
import { ProduceError } from './produce-error.js';
import type { PendingMessage } from './send-tracker.js';
import type { ProduceTarget, WritePartition } from './target.js';
import type { TopicMetadata } from './topic-metadata.js';

export interface ChunkSenderOptions {
  /** Which broker each request goes to. */
  routing: OwnerRouting;
  metadata: TopicMetadata;
  /** Released as chunks settle. */
  budget: ByteBudget;
  producerId: number;
  /** How many requests, and bytes of them, may be in flight. */
  inFlight: InFlightWindowOptions;
  requestTimeoutMs: number;
  /** Backoff, and `retries` (may be infinite) bounding the retries of a chunk. */
  retry: ResolvedRetry;
  /** A chunk is not retried once this long has passed since it was queued. */
  deliveryTimeoutMs: number;
  /** Told of every acknowledged request (the producer's `batch_acked` event). */
  onAcked?: (ack: BatchAckedPayload) => void;
  /** Told of every acknowledged chunk, with its messages (the loss audit). */
  onChunkAcked?: (partition: WritePartition, chunk: QueuedChunk) => void;
  /** Told of every retry of a failed request. */
  onRetry?: (partition: WritePartition, error: unknown, retry: number, delayMs: number) => void;
}

/**
 * Sends closed chunks in Produce requests, as many in flight at a time as the `InFlightWindow`
 * allows, in round robin over the write partitions and in sequence order within each. A retry
 * re-sends the same chunk bytes under the same producer id and sequence numbers, so a duplicate
 * it creates is detected by consumers. A settled chunk (acknowledged or failed for good) answers its messages' `send`
 * calls and releases their budget bytes.
 */
export class ChunkSender {
  private readonly queues = new Map<WritePartition, PartitionQueue>();
  /** Its line holds the queues it refused: the first goes first, nothing overtakes it. */
  private readonly window: InFlightWindow<PartitionQueue>;
  private pumpTimer: NodeJS.Timeout | undefined;
  private unsettled = 0;
  private settledWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: ChunkSenderOptions) {
    this.window = new InFlightWindow(options.inFlight);
  }

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
    queue.push({ target, messages, encoded, bytes, retries: 0, queuedAt: Date.now(), notOwner: false });
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

  /**
   * Starts requests while the window allows: first for the queues waiting in the window's line,
   * in order, then one partition at a time in round robin. Every ready queue the window refuses
   * joins the line, and nothing starts past its first: a request larger than the free bytes gets
   * the room that frees up next, so smaller requests of other partitions cannot starve it, even
   * when they always have a backlog to fill the room with. (Some request is in flight then, and
   * its end pumps again.) A queue with a backlog waits for room for a share of the byte budget,
   * not just its first chunk (`InFlightWindow.wantedBytes`), so that the room acks free piecemeal
   * gathers into fewer, larger requests.
   */
  private pump(): void {
    if (this.closed) return;
    const window = this.window;
    const now = Date.now();
    for (const queue of window.waiting) if (queue.readyAt(now) !== now) window.leaveLine(queue);
    let wake = Number.POSITIVE_INFINITY;
    let progress = true;
    while (progress) {
      progress = false;
      for (const queue of window.waiting) {
        if (!window.mayStart(queue, this.wantedBytes(queue), now)) break;
        this.start(queue, now);
        progress = true;
      }
      for (const queue of this.queues.values()) {
        const readyAt = queue.readyAt(now);
        if (readyAt === undefined) continue;
        if (readyAt > now) {
          wake = Math.min(wake, readyAt);
          continue;
        }
        if (!window.mayStart(queue, this.wantedBytes(queue), now)) continue;
        this.start(queue, now);
        progress = true;
      }
    }
    // Ready requests held by the request limit: pump again when the limit may grow.
    const growthDueAt = window.growthDueAt;
    if (
      growthDueAt !== undefined &&
      growthDueAt > now &&
      window.waiting.size > 0 &&
      window.requestsInFlight >= window.maxRequests
    )
      wake = Math.min(wake, growthDueAt);
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

  /** Bytes the queue's next request waits for room for (`InFlightWindow.wantedBytes`). */
  private wantedBytes(queue: PartitionQueue): number {
    return this.window.wantedBytes(
      queue.nextRequestBytes,
      queue.wholeRequestBytes(this.requestLimits(Number.POSITIVE_INFINITY)),
    );
  }

  /** Takes the queue's next request, as large as the window's free bytes allow, and sends it. */
  private start(queue: PartitionQueue, now: number): void {
    const request = queue.take(this.requestLimits(this.window.roomBytes));
    this.window.started(request.bytes, now);
    void this.dispatch(queue, request, now);
  }

  /** The broker's limits on a request, and at most `roomBytes`. */
  private requestLimits(roomBytes: number): RequestLimits {
    const { metadata } = this.options;
    return {
      maxFrameBytes: Math.min(metadata.maxFrameBytes, roomBytes),
      maxMessagesPerRequest: metadata.maxMessagesPerRequest,
    };
  }

  private async dispatch(queue: PartitionQueue, request: PendingRequest, startedAt: number): Promise<void> {
    const { target } = request;
    const { routing, producerId, requestTimeoutMs } = this.options;
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
      const conn = await routing.connectionFor(target.partition);
      if (target.acks === 'none') await conn.send(ApiKey.Produce, body);
      else response = await conn.request(ApiKey.Produce, body, { timeoutMs: requestTimeoutMs + 5_000 });
    } catch (e) {
      error = e;
    }
    queue.requestEnded(error === undefined);
    if (error === undefined) this.window.acked(request.bytes, startedAt, Date.now());
    else this.window.failed(request.bytes, Date.now());
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
      if (r) {
        messageIndex += c.messages.length;
        this.options.onChunkAcked?.(target.partition, c);
      }
      this.settle(c);
    }
    this.options.onAcked?.({
      topic,
      writePartition: r?.writePartition ?? writePartition,
      acks: target.acks,
      messages: chunks.reduce((n, c) => n + c.messages.length, 0),
      bytes: chunks.reduce((n, c) => n + c.bytes, 0),
      firstSequence: chunks[0]!.encoded.meta.baseSequence,
      retries: chunks[0]!.retries,
      batchSequence: r?.sequence ?? -1,
      partition: r?.readPartition ?? -1,
      offset: r?.offset ?? -1,
    });
  }

  private failed(queue: PartitionQueue, { target, chunks }: PendingRequest, error: unknown): void {
    const { topic, writePartition } = target.partition;
    const { retry, deliveryTimeoutMs } = this.options;
    const first = chunks[0]!;
    const now = Date.now();
    const retryable = isRetryableFailure(error) || error instanceof ConnectionClosedError;
    const timedOut = now - first.queuedAt >= deliveryTimeoutMs;
    const exhausted = first.retries >= retry.retries || timedOut;
    if (retryable && !exhausted && !this.closed) {
      const moved = this.options.routing.failed(topic, error);
      const notOwner = isNotOwner(error);
      // Same bytes, same producer id and sequences. The first retry after NOT_OWNER goes as soon
      // as the refreshed owners are known, the others at least every second while the owner
      // moves; the last one goes at the delivery deadline.
      let backoff = backoffMs(first.retries, retry);
      if (notOwner && !first.notOwner) backoff = 0;
      else if (moved) backoff = Math.min(backoff, MOVING_OWNER_MAX_BACKOFF_MS);
      const delayMs = Math.min(backoff, first.queuedAt + deliveryTimeoutMs - now);
      for (const c of chunks) {
        c.retries++;
        c.notOwner = notOwner;
      }
      this.options.onRetry?.(target.partition, error, first.retries, delayMs);
      queue.retryLater(chunks, now + delayMs);
      if (error instanceof BrokerResponseError && error.errorCode === ErrorCode.INVALID_PARTITION) {
        this.options.metadata.forget(topic);
      }
      return;
    }
    const after =
      exhausted && retryable
        ? ` after ${first.retries} retries${timedOut ? ` in ${now - first.queuedAt} ms (deliveryTimeoutMs ${deliveryTimeoutMs})` : ''}`
        : '';
    const e = new ProduceError(
      `produce to ${topic}/${writePartition} failed${after}: ${errorMessage(error)}`,
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
