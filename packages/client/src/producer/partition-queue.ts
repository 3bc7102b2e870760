import type { EncodedChunk } from '@barge/core';
import type { PendingMessage } from './send-tracker.js';
import type { ProduceTarget, WritePartition } from './target.js';

/** Bytes of a produce request besides its chunks' data (generous). */
export const REQUEST_OVERHEAD = 512;
/** Bytes of one chunk's fields besides its data (generous). */
export const CHUNK_OVERHEAD = 64;

/** A closed chunk, encoded once, waiting for or riding in a Produce request. */
export interface QueuedChunk {
  readonly target: ProduceTarget;
  readonly messages: readonly PendingMessage[];
  readonly encoded: EncodedChunk;
  /** Budget bytes of its messages. */
  readonly bytes: number;
  /** Retries so far. */
  retries: number;
  /** When it was queued (ms since the epoch): it is not retried past `deliveryTimeoutMs` after. */
  readonly queuedAt: number;
  /** Its last failure was `NOT_OWNER` (the first retry after one goes at once). */
  notOwner: boolean;
}

/** Chunks of one target that go out in one Produce request, in sequence order. */
export interface PendingRequest {
  readonly target: ProduceTarget;
  readonly chunks: readonly QueuedChunk[];
  /** Bytes of the request on the wire (generous). */
  readonly bytes: number;
}

/** The broker's limits on one Produce request. */
export interface RequestLimits {
  readonly maxFrameBytes: number;
  readonly maxMessagesPerRequest: number;
}

/**
 * The chunks of one write partition in sequence order, and what keeps them in order: the next
 * producer sequence number, the requests in flight, and the recovery after a retryable failure.
 */
export class PartitionQueue {
  private readonly chunks: QueuedChunk[] = [];
  /** Data bytes (with per-chunk overhead) and messages of the queued chunks. */
  private queuedBytes = 0;
  private queuedMessages = 0;
  private sequence = 0;
  private inFlight = 0;
  /** After a retryable failure: resend one request at a time, in order, until one succeeds. */
  private recovering = false;
  /** Backoff: no request before this time. */
  private notBefore = 0;

  constructor(readonly partition: WritePartition) {}

  /** Producer sequence number of the next chunk's first message. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** Appends a chunk encoded from `nextSequence` on; the next chunk's sequence follows its messages. */
  push(chunk: QueuedChunk): void {
    this.chunks.push(chunk);
    this.counted(chunk, 1);
    this.sequence += chunk.messages.length;
  }

  /**
   * When the next request may start: a time after `now` during a backoff, `now` if it may start
   * at once, undefined if nothing waits or a recovery waits for the request in flight.
   */
  readyAt(now: number): number | undefined {
    if (this.chunks.length === 0) return undefined;
    if (this.notBefore > now) return this.notBefore;
    if (this.recovering && this.inFlight > 0) return undefined;
    return now;
  }

  /** Bytes of the smallest next request (its first chunk alone); 0 if nothing waits. */
  get nextRequestBytes(): number {
    const first = this.chunks[0];
    return first ? requestBytesOf(first) : 0;
  }

  /**
   * Bytes of the next request if the window's free bytes did not limit it: all that is queued,
   * within `limits`. Estimated from the queue's totals, so it may differ from what `take` takes by
   * a chunk (or more, where the chunks' targets differ); 0 if nothing waits.
   */
  wholeRequestBytes(limits: RequestLimits): number {
    const first = this.nextRequestBytes;
    if (first === 0) return 0;
    let bytes = REQUEST_OVERHEAD + this.queuedBytes;
    if (this.queuedMessages > limits.maxMessagesPerRequest)
      bytes = Math.ceil((bytes * limits.maxMessagesPerRequest) / this.queuedMessages);
    return Math.max(first, Math.min(bytes, limits.maxFrameBytes));
  }

  /**
   * Takes the next request: at least the first chunk, and the chunks after it of the same target
   * while the request stays within `limits` (the broker's frame and message limits, or less).
   */
  take(limits: RequestLimits): PendingRequest {
    const first = this.chunks.shift()!;
    this.counted(first, -1);
    const chunks = [first];
    let bytes = requestBytesOf(first);
    let messages = first.messages.length;
    while (this.chunks.length > 0) {
      const next = this.chunks[0]!;
      if (next.target !== first.target) break;
      const nb = next.encoded.bytes.length + CHUNK_OVERHEAD;
      if (bytes + nb > limits.maxFrameBytes || messages + next.messages.length > limits.maxMessagesPerRequest)
        break;
      chunks.push(this.chunks.shift()!);
      this.counted(next, -1);
      bytes += nb;
      messages += next.messages.length;
    }
    this.inFlight++;
    return { target: first.target, chunks, bytes };
  }

  /** A request taken from this queue ended; a success ends the recovery once no retried chunk waits. */
  requestEnded(succeeded: boolean): void {
    this.inFlight--;
    if (succeeded && this.recovering && this.chunks.every((c) => c.retries === 0)) this.recovering = false;
  }

  /** Puts the chunks of a failed request back in front, in sequence order, to be resent after `notBefore`. */
  retryLater(chunks: readonly QueuedChunk[], notBefore: number): void {
    this.chunks.unshift(...chunks);
    for (const c of chunks) this.counted(c, 1);
    this.chunks.sort((a, b) => a.encoded.meta.baseSequence - b.encoded.meta.baseSequence);
    this.recovering = true;
    this.notBefore = notBefore;
  }

  private counted(chunk: QueuedChunk, sign: 1 | -1): void {
    this.queuedBytes += sign * (chunk.encoded.bytes.length + CHUNK_OVERHEAD);
    this.queuedMessages += sign * chunk.messages.length;
  }
}

/** Bytes of a request that carries `first` alone. */
function requestBytesOf(first: QueuedChunk): number {
  return REQUEST_OVERHEAD + first.encoded.bytes.length + CHUNK_OVERHEAD;
}
