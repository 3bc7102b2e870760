import {
  BatchBuilder,
  type BatchPointer,
  batchHeaderLength,
  batchPointer,
  type ChunkMeta,
  ErrorCode,
  errorMessage,
  isRetryable,
  type ObjectStorage,
  type PublishedPointer,
  type ReceivedChunk,
} from '@barge/core';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.js';
import type { ByteBudget } from './budget.js';
import type { BatchCloseTiming } from './close-timing.js';
import { storageErrorCode } from './errors.js';
import type { OffsetStamper } from './kafka-offsets/offset-stamper.js';
import { batchKey } from './keys.js';
import type { BrokerMetrics } from './metrics.js';
import type { OrphanRecorder } from './orphans.js';
import { PointerPublication, type PublicationFailure } from './pointer-publication.js';
import type { SequenceAllocator } from './sequences.js';
import type { TopicRegistry } from './topics.js';
import { UploadFailedError, type UploadPipeline } from './upload.js';

/** Where a durable append ended: its batch is stored and its pointer published, or it failed. */
export type DurableOutcome =
  | {
      readonly stored: true;
      readonly sequence: number;
      readonly readPartition: number;
      readonly offset: number;
      /** Dense (Kafka) offset of the batch's first message: the request's first is this plus `firstMessageIndex`. */
      readonly baseOffset: number;
    }
  | { readonly stored: false; readonly code: ErrorCode; readonly message: string };

/** Where one request's chunks landed in the open batch. */
export interface Appended {
  readonly firstChunkIndex: number;
  readonly firstMessageIndex: number;
  /** Settles when the batch is stored and published or has failed; only for durable appends. */
  readonly durable: Promise<DurableOutcome> | undefined;
}

/** What every partition writer shares. */
export interface WriterContext {
  brokerId: number;
  storage: ObjectStorage;
  /** Publishes pointers of one write partition (fenced by ownership in a cluster). */
  publish(
    topic: string,
    writePartition: number,
    pointers: readonly BatchPointer[],
  ): Promise<PublishedPointer[]>;
  /**
   * Resolves once this broker may publish these batches of the write partition (its fenced
   * publisher is open, in a cluster); throws `NotOwnerError` for batches taken in an earlier
   * ownership period. Called before dense offsets are stamped, so refused batches take none.
   */
  fencedIn(topic: string, writePartition: number, sequences: readonly number[]): Promise<void>;
  /** Dense (Kafka) offsets per write partition, stamped into pointers at publication. */
  offsets: OffsetStamper;
  topics: TopicRegistry;
  /** When batches close on time (early by the recent time to make a batch durable). */
  closeTiming: BatchCloseTiming;
  uploads: UploadPipeline;
  sequences: SequenceAllocator;
  orphans: OrphanRecorder;
  budget: ByteBudget;
  metrics: BrokerMetrics;
  log: Logger;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Attempts to lease sequence numbers before a batch fails. */
  maxAttempts: number;
  /** How long pointer publication of a batch is retried while the queue is unavailable. */
  pointerRetryBudgetMs: number;
  /** After publication has failed this long, held durable acks are answered POINTER_QUEUE_UNAVAILABLE. */
  pointerUnavailableAfterMs: number;
  /** The time (ms since the epoch) after which pending publications are abandoned (shutdown); Infinity otherwise. */
  abandonAt(): number;
  /** Aborted when the abandon deadline changes, to wake retry sleeps. */
  wake(): AbortSignal;
}

type BatchState = 'open' | 'closing' | 'stored' | 'failed' | 'done';

/** A durable append waiting for its ack, and since when (ms since the epoch). */
interface Waiter {
  settle(outcome: DurableOutcome): void;
  since: number;
}

interface Batch {
  /** Each chunk's bytes as received (views of socket reads, never joined). */
  chunks: (readonly Buffer[])[];
  metas: ChunkMeta[];
  payload: number;
  messages: number;
  /** Durable appends waiting for this batch to be published. */
  waiters: Waiter[];
  state: BatchState;
  sequence: number;
  pointer?: BatchPointer | undefined;
  /** When it was closed (`performance.now()`). */
  closedAt?: number;
}

export type CloseReason = 'bytes' | 'messages' | 'delay' | 'shutdown';

/**
 * The topic processor of one write partition. Appends chunks by reference to the open batch,
 * closes it on `batch.maxBytes`, `batch.maxMessages` or `batch.maxDelayMs` (whichever comes
 * first), hands closed batches to the upload pipeline, and publishes their pointers strictly in
 * batch order (a reorder buffer: batches are queued at close and published from the head once
 * stored, even when uploads complete out of order).
 */
export class PartitionWriter {
  #open: Batch | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Closed batches in close (= sequence) order, until published or failed. */
  readonly #queue: Batch[] = [];
  #sequenceChain: Promise<void> = Promise.resolve();
  #draining = false;
  /** Batches taken off `#queue` by `#drain()` whose pointers are being published. */
  #publishing: Batch[] = [];
  readonly #publication: PointerPublication;
  #busy = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #topicBytes: number;

  constructor(
    readonly topic: string,
    readonly writePartition: number,
    private readonly ctx: WriterContext,
  ) {
    this.#topicBytes = Buffer.byteLength(topic, 'utf8');
    this.#publication = new PointerPublication(topic, writePartition, ctx, (failure) =>
      this.#answerOverdue(failure),
    );
  }

  /**
   * Batches closed and not yet acknowledged or failed (including those whose pointers are being
   * published), plus the open one.
   */
  get pendingBatches(): number {
    return this.#queue.length + this.#publishing.length + (this.#open ? 1 : 0);
  }

  /**
   * Appends one request's chunks (validated by the caller) to the open batch; all of them land
   * in the same batch. With `durable`, the result carries a promise that settles (never rejects)
   * when the batch is stored and its pointer published, or has failed.
   */
  append(chunks: readonly ReceivedChunk[], messages: number, bytes: number, durable: boolean): Appended {
    const settings = this.ctx.topics.get(this.topic)?.batch;
    const maxBytes = settings?.maxBytes ?? 8 * 1024 * 1024;
    const maxMessages = settings?.maxMessages ?? 100_000;
    const maxDelayMs = settings?.maxDelayMs ?? 250;
    let b = this.#open;
    if (b && b.chunks.length > 0) {
      const size = batchHeaderLength(this.#topicBytes, b.chunks.length + chunks.length) + b.payload + bytes;
      if (size > maxBytes) this.#close('bytes');
      else if (b.messages + messages > maxMessages) this.#close('messages');
    }
    b = this.#open;
    if (!b) {
      b = { chunks: [], metas: [], payload: 0, messages: 0, waiters: [], state: 'open', sequence: -1 };
      this.#open = b;
      this.#timer = setTimeout(() => this.#close('delay'), this.ctx.closeTiming.closeAfterMs(maxDelayMs));
      void this.ctx.sequences.prepare(this.topic, this.writePartition);
      this.ctx.offsets.prepare(this.topic, this.writePartition);
    }
    const firstChunkIndex = b.chunks.length;
    const firstMessageIndex = b.messages;
    for (const c of chunks) {
      b.chunks.push(c.parts);
      b.metas.push(c.meta);
    }
    b.payload += bytes;
    b.messages += messages;
    this.ctx.budget.acquire(bytes);
    this.ctx.metrics.inFlightBytes.set(this.ctx.budget.used);
    const open = b;
    const outcome = durable
      ? new Promise<DurableOutcome>((settle) => open.waiters.push({ settle, since: Date.now() }))
      : undefined;
    if (batchHeaderLength(this.#topicBytes, b.chunks.length) + b.payload >= maxBytes) this.#close('bytes');
    else if (b.messages >= maxMessages) this.#close('messages');
    return { firstChunkIndex, firstMessageIndex, durable: outcome };
  }

  /** Closes the open batch now (shutdown, or tests). */
  flush(): void {
    this.#close('shutdown');
  }

  /**
   * Resolves when no batch is open or in flight: closed, uploading, waiting in the reorder
   * buffer, or having its pointer published (retries included).
   */
  whenIdle(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #idle(): boolean {
    return !this.#open && this.#busy === 0 && this.#queue.length === 0 && !this.#draining;
  }

  #checkIdle(): void {
    if (!this.#idle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #close(reason: CloseReason): void {
    const b = this.#open;
    if (!b) return;
    this.#open = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (b.chunks.length === 0) {
      this.#checkIdle();
      return;
    }
    b.state = 'closing';
    b.closedAt = performance.now();
    this.#queue.push(b);
    this.#busy++;
    this.ctx.metrics.batchClosed(reason, b.payload, b.messages);
    // Sequences are taken in close order, so queue order = sequence order.
    const allocated = this.#sequenceChain.then(() => this.#allocate(b));
    this.#sequenceChain = allocated;
    void allocated
      .then(() => (b.state === 'closing' ? this.#upload(b) : undefined))
      .catch((e: unknown) => this.#fail(b, storageErrorCode(e), `batch failed: ${errorMessage(e)}`, 'upload'))
      .finally(() => {
        this.#busy--;
        void this.#drain();
      });
  }

  async #allocate(b: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        b.sequence = await this.ctx.sequences.next(this.topic, this.writePartition);
        return;
      } catch (e) {
        if (!isRetryable(e) || attempt >= this.ctx.maxAttempts) {
          this.ctx.log.error(
            { topic: this.topic, writePartition: this.writePartition, err: errorMessage(e) },
            'cannot lease batch sequence numbers',
          );
          this.#fail(
            b,
            storageErrorCode(e),
            `cannot lease batch sequence numbers: ${errorMessage(e)}`,
            'upload',
          );
          return;
        }
        const delay = backoffDelay(attempt - 1, this.ctx.backoffBaseMs, this.ctx.backoffMaxMs);
        this.ctx.log.warn(
          {
            topic: this.topic,
            writePartition: this.writePartition,
            attempt,
            maxAttempts: this.ctx.maxAttempts,
            nextDelayMs: delay,
            err: errorMessage(e),
          },
          'cannot lease batch sequence numbers; retrying',
        );
        await sleep(delay);
      }
    }
  }

  async #upload(b: Batch): Promise<void> {
    const builder = new BatchBuilder({
      topic: this.topic,
      writePartition: this.writePartition,
      sequence: b.sequence,
      brokerId: this.ctx.brokerId,
    });
    for (let i = 0; i < b.chunks.length; i++) builder.addParts(b.chunks[i]!, b.metas[i]!);
    const encoded = builder.build(Date.now());
    const key = batchKey(this.topic, this.writePartition, b.sequence, this.ctx.brokerId);
    try {
      const r = await this.ctx.uploads.upload(key, encoded.body, encoded.objectSize);
      b.pointer = batchPointer(encoded, {
        adapter: this.ctx.storage.adapter,
        location: this.ctx.storage.location,
        key: r.key,
      });
      b.state = 'stored';
      // The chunk bytes are in storage now; only the budget reservation stays until the ack.
      b.chunks = [];
    } catch (e) {
      const cause = e instanceof UploadFailedError ? e.lastError : e;
      this.#fail(b, storageErrorCode(cause), errorMessage(e), 'upload');
      if (e instanceof UploadFailedError) void this.ctx.orphans.discard(e.keys, 'failed batch upload');
    }
  }

  /** Negative-acks every request of the batch and releases its bytes. */
  #fail(b: Batch, code: ErrorCode, message: string, stage: 'upload' | 'publish'): void {
    if (b.state === 'failed' || b.state === 'done') return;
    b.state = 'failed';
    b.chunks = [];
    this.ctx.metrics.batchesFailed.inc({ stage });
    const outcome: DurableOutcome = { stored: false, code, message };
    for (const w of b.waiters) w.settle(outcome);
    this.#release(b);
  }

  #release(b: Batch): void {
    this.ctx.budget.release(b.payload);
    this.ctx.metrics.inFlightBytes.set(this.ctx.budget.used);
    b.payload = 0;
  }

  /** Publishes stored batches from the head of the queue, in order; one drain at a time. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (;;) {
        const ready: Batch[] = [];
        while (this.#queue.length > 0 && ready.length < 100) {
          const head = this.#queue[0]!;
          if (head.state === 'failed' || head.state === 'done') {
            this.#queue.shift();
            continue;
          }
          if (head.state !== 'stored') break;
          ready.push(head);
          this.#queue.shift();
        }
        if (ready.length === 0) break;
        this.#publishing = ready;
        let published: PublishedPointer[] | undefined;
        try {
          published = await this.#publish(ready);
        } finally {
          this.#publishing = [];
        }
        if (published) {
          ready.forEach((b, i) => {
            const at = published[i];
            b.state = 'done';
            const outcome: DurableOutcome = at
              ? {
                  stored: true,
                  sequence: b.sequence,
                  readPartition: at.partition,
                  offset: at.offset,
                  baseOffset: b.pointer!.baseOffset!,
                }
              : {
                  stored: false,
                  code: ErrorCode.UNKNOWN_SERVER_ERROR,
                  message: `the pointer queue returned no position for batch ${b.sequence}`,
                };
            if (at && b.closedAt !== undefined)
              this.ctx.closeTiming.recordDurable(performance.now() - b.closedAt);
            for (const w of b.waiters) w.settle(outcome);
            this.#release(b);
          });
        }
      }
    } finally {
      this.#draining = false;
      this.#checkIdle();
    }
  }

  /** Publishes the pointers of `batches`; on abandonment they get negative acks and orphan markers. */
  async #publish(batches: Batch[]): Promise<PublishedPointer[] | undefined> {
    const outcome = await this.#publication.publish(
      () => this.#stamp(batches),
      batches.map((b) => b.sequence),
      () => batches.reduce((n, b) => n + b.waiters.length, 0),
    );
    if (outcome.published) return outcome.positions;
    for (const b of batches) {
      this.#fail(b, outcome.code, outcome.message, 'publish');
      void this.ctx.orphans.record(b.pointer!.storage.key, 'pointer publication abandoned');
    }
    return undefined;
  }

  /**
   * The pointers of `batches` with their dense offsets: batches not stamped yet get the write
   * partition's next offsets now, in order (the drain publishes one group at a time, in sequence
   * order, so offsets increase in the order pointers land); stamped ones keep theirs, so a
   * retried publication never changes an offset. An abandoned publication leaves a gap rather
   * than reusing offsets its pointers may have taken.
   */
  async #stamp(batches: readonly Batch[]): Promise<BatchPointer[]> {
    const unstamped = batches.filter((b) => b.pointer!.baseOffset === undefined);
    if (unstamped.length > 0) {
      await this.ctx.fencedIn(
        this.topic,
        this.writePartition,
        unstamped.map((b) => b.sequence),
      );
      const bases = await this.ctx.offsets.reserve(
        this.topic,
        this.writePartition,
        unstamped.map((b) => b.pointer!.messageCount),
      );
      unstamped.forEach((b, i) => {
        b.pointer = { ...b.pointer!, baseOffset: bases[i]! };
      });
    }
    return batches.map((b) => b.pointer!);
  }

  /**
   * Pointer publication keeps failing: every durable ack held here (batches being published,
   * queued behind them, and the open one) that has waited `pointerUnavailableAfterMs` since the
   * failure began (or since it arrived, if later) is answered now with `POINTER_QUEUE_UNAVAILABLE`
   * naming the cause. The batches stay: they are published when the queue recovers (acks of
   * level `received` were sent for some), so a producer that resends may store its messages
   * twice (consumers drop the copy by producer id and sequence).
   */
  #answerOverdue(failure: PublicationFailure): void {
    const cutoff = Date.now() - this.ctx.pointerUnavailableAfterMs;
    if (failure.since > cutoff) return;
    const outcome: DurableOutcome = {
      stored: false,
      code: ErrorCode.POINTER_QUEUE_UNAVAILABLE,
      message: `${failure.cause}; this request's messages were taken and may still be published, so a resend may store them twice`,
    };
    for (const b of [...this.#publishing, ...this.#queue, ...(this.#open ? [this.#open] : [])]) {
      if (b.waiters.length === 0) continue;
      const overdue = b.waiters.filter((w) => w.since <= cutoff);
      if (overdue.length === 0) continue;
      b.waiters = b.waiters.filter((w) => w.since > cutoff);
      for (const w of overdue) w.settle(outcome);
    }
  }
}
