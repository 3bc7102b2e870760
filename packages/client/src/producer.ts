import {
  type CodecName,
  errorMessage,
  InvalidInputError,
  type TopicInfo,
  validateTopicName,
} from '@barge/core';
import { Accumulator, type ClosedChunk } from './accumulator.js';
import { ProduceAudit } from './audit/produce-audit.js';
import { BrokerPool } from './broker-pool.js';
import { ByteBudget } from './budget.js';
import {
  Instrumentation,
  type InstrumentationEvent,
  type RemoveInstrumentationEventListener,
} from './instrumentation.js';
import type { Logger } from './logger.js';
import { networkObserver } from './network-observer.js';
import { StickyPartitioner } from './partitioner.js';
import { toAckLevel } from './producer/acks.js';
import { ChunkSender } from './producer/chunk-sender.js';
import { PRODUCER_EVENTS, type ProducerEventPayloads } from './producer/events.js';
import { prepareMessages, writePartitionOf } from './producer/messages.js';
import {
  type ProducerOptions,
  type ResolvedProducerOptions,
  resolveProducerOptions,
  type SendOptions,
} from './producer/options.js';
import { OwnerRouting } from './producer/owner-routing.js';
import { type PendingMessage, SendTracker } from './producer/send-tracker.js';
import { type ProduceTarget, ProduceTargets } from './producer/target.js';
import { TopicMetadata } from './producer/topic-metadata.js';
import type { RecordMetadata } from './types.js';

export type { BatchAckedPayload, ProducerEventPayloads } from './producer/events.js';
export type { ProducerOptions, SendOptions } from './producer/options.js';
export { ProduceError } from './producer/produce-error.js';

/**
 * Sends messages to a Barge broker. Messages are grouped per write partition into chunks (by
 * size, count and linger time), each chunk encoded and compressed once, and sent in Produce
 * requests, many in flight at a time (`ChunkSender`). A retry re-sends the same chunk bytes
 * under the same producer id and sequence numbers, so a duplicate it creates is detected by
 * consumers.
 */
export class Producer {
  readonly producerId: number;
  readonly clientId: string;
  /** The event names `on` takes: `producer.events.CONNECT` is `'producer.connect'`. */
  readonly events = PRODUCER_EVENTS;
  private readonly options: ResolvedProducerOptions;
  private readonly log: Logger;
  private readonly instrumentation: Instrumentation<ProducerEventPayloads>;
  private readonly pool: BrokerPool;
  private readonly metadata: TopicMetadata;
  private readonly routing: OwnerRouting;
  private readonly budget: ByteBudget;
  private readonly sticky = new StickyPartitioner();
  private readonly targets = new ProduceTargets();
  private readonly accumulator: Accumulator<ProduceTarget, PendingMessage>;
  private readonly sender: ChunkSender;
  private readonly audit: ProduceAudit | undefined;
  private flushing = 0;
  private readonly outstanding = new Set<Promise<unknown>>();
  private connected = false;
  private connecting: Promise<void> | undefined;
  /** Set when `disconnect` starts: no more sends. */
  private closing: Promise<void> | undefined;

  constructor(options: ProducerOptions) {
    const o = resolveProducerOptions(options);
    this.options = o;
    this.producerId = o.producerId;
    this.clientId = o.clientId;
    this.log = o.log;
    this.instrumentation = new Instrumentation(PRODUCER_EVENTS, o.log);
    this.budget = new ByteBudget(o.bufferBytes);
    this.pool = new BrokerPool(o.brokers, {
      clientId: o.clientId,
      connectTimeoutMs: o.connectionTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs + 5_000,
      observer: networkObserver(this.instrumentation, 'producer', o.log),
      tls: o.tls,
      sasl: o.sasl,
    });
    this.audit = ProduceAudit.from(options, o.clientId, o.log, (c) => new Producer(c));
    this.metadata = new TopicMetadata(this.pool, o.retry, o.metadataMaxAgeMs);
    this.routing = new OwnerRouting(this.pool, this.metadata);
    this.sender = new ChunkSender({
      routing: this.routing,
      metadata: this.metadata,
      budget: this.budget,
      producerId: o.producerId,
      inFlight: o.inFlight,
      requestTimeoutMs: o.requestTimeoutMs,
      retry: o.produceRetry,
      deliveryTimeoutMs: o.deliveryTimeoutMs,
      onAcked: (ack) => this.instrumentation.emit(PRODUCER_EVENTS.BATCH_ACKED, ack),
      onChunkAcked: (p, c) =>
        this.audit?.acked(p.topic, p.writePartition, o.producerId, c.encoded.meta.baseSequence, c.messages),
      onRetry: (target, error, retry, delayMs) =>
        this.log.warn(
          `produce to ${target.topic}/${target.writePartition} failed, retrying in ${delayMs} ms`,
          {
            retry,
            error: errorMessage(error),
          },
        ),
    });
    this.accumulator = new Accumulator({
      maxChunkBytes: o.maxChunkBytes,
      maxChunkMessages: o.maxChunkMessages,
      lingerMs: o.lingerMs,
      onClose: (c) => this.onChunkClosed(c),
    });
  }

  /** Bytes of messages buffered: accumulating, in flight or awaiting their ack. */
  get bufferedBytes(): number {
    return this.budget.used;
  }

  /**
   * Adds an instrumentation listener (kafkajs style) for one of `producer.events`; returns a
   * function that removes it. Unknown event names throw.
   */
  on<E extends keyof ProducerEventPayloads>(
    event: E,
    listener: (event: InstrumentationEvent<ProducerEventPayloads[E]>) => void,
  ): RemoveInstrumentationEventListener {
    return this.instrumentation.on(event, listener);
  }

  /**
   * Connects to a broker and loads topic metadata. Unreachable brokers are retried (`retry`)
   * until `connectionTimeout`; then it throws `BrokerUnreachableError` naming the addresses.
   */
  async connect(): Promise<void> {
    if (this.closing) throw new InvalidInputError('the producer was disconnected; create a new Producer');
    if (this.connected) return;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const o = this.options;
    const conn = await this.pool.connect({
      timeoutMs: o.connectionTimeoutMs,
      retry: o.retry,
      onRetry: (e, retry, delayMs) =>
        this.log.warn(`cannot connect yet, retrying in ${delayMs} ms`, {
          retry: retry + 1,
          error: errorMessage(e),
        }),
    });
    await this.metadata.loadAll();
    this.connected = true;
    this.log.info(`connected to broker ${conn.address}`, { producerId: this.producerId });
    this.instrumentation.emit(PRODUCER_EVENTS.CONNECT, { brokers: this.pool.brokers, broker: conn.address });
  }

  /**
   * Sends messages; resolves when every one is acknowledged at the requested level (one
   * `RecordMetadata` per message, in order), rejects with `ProduceError` if any could not be.
   * Waits first when the producer's buffer budget is used up (back-pressure).
   */
  send(options: SendOptions): Promise<RecordMetadata[]> {
    const p = this.doSend(options);
    this.outstanding.add(p);
    const forget = () => this.outstanding.delete(p);
    p.then(forget, forget);
    return p;
  }

  private async doSend(options: SendOptions): Promise<RecordMetadata[]> {
    if (this.closing)
      throw new InvalidInputError(
        'send after disconnect(): the producer was disconnected; create a new Producer',
      );
    const { topic, messages } = options ?? ({} as SendOptions);
    if (typeof topic !== 'string')
      throw new InvalidInputError(`send needs a topic name (a string), got ${JSON.stringify(topic)}`);
    validateTopicName(topic);
    if (!Array.isArray(messages)) throw new InvalidInputError('send needs messages: an array');
    const acks = toAckLevel(options.acks ?? this.options.acks, (why) => new InvalidInputError(`send ${why}`));
    // Wrong types fail here, before any request.
    const { prepared, totalBytes } = prepareMessages(messages, Date.now());
    if (messages.length === 0) return [];
    if (!this.connected) await this.connect();
    const info = await this.metadata.get(topic);
    const partitions = prepared.map((p, i) => writePartitionOf(topic, p, i, info.writePartitions));
    await this.budget.acquire(totalBytes);
    const tracker = new SendTracker(prepared.length);
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      const writePartition = partitions[i] ?? this.sticky.partition(topic, info.writePartitions);
      const target = this.targets.get(topic, writePartition, acks);
      this.accumulator.append(target, { message: p.message, size: p.size, tracker, index: i }, p.size);
      if (this.flushing > 0) this.accumulator.flush(target);
    }
    return tracker.promise;
  }

  /** Sends everything accumulated so far and waits until it is acknowledged (or failed). */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      const sends = [...this.outstanding];
      this.accumulator.flush();
      await Promise.allSettled(sends);
      this.accumulator.flush();
      await this.sender.waitSettled();
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then closes the connection. */
  disconnect(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  private async close(): Promise<void> {
    if (this.connecting) await this.connecting.catch(() => {});
    await this.flush();
    await this.audit?.close();
    this.metadata.close();
    this.sender.close();
    this.budget.rejectAll(new InvalidInputError('the producer was disconnected'));
    await this.routing.close();
    await this.pool.close();
    this.log.info('disconnected', { producerId: this.producerId });
    this.instrumentation.emit(PRODUCER_EVENTS.DISCONNECT, {});
  }

  /** Topic metadata, from the cache or the broker. */
  topicInfo(topic: string): Promise<TopicInfo> {
    return this.metadata.get(topic);
  }

  private onChunkClosed({ key: target, messages, bytes }: ClosedChunk<ProduceTarget, PendingMessage>): void {
    const { topic, writePartition } = target.partition;
    const info = this.metadata.cached(topic);
    this.sticky.chunkClosed(topic, writePartition, info?.writePartitions ?? 1);
    const codec = this.options.compression ?? (info?.compression as CodecName | undefined) ?? 'none';
    this.sender.enqueue(target, messages, bytes, codec);
  }
}
