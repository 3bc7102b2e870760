import {
  type CodecName,
  InvalidInputError,
  isAckLevel,
  type TopicInfo,
  validateTopicName,
} from '@barge/core';
import { Accumulator, type ClosedChunk } from './accumulator.js';
import { ByteBudget } from './budget.js';
import { BrokerPool } from './connection.js';
import { StickyPartitioner } from './partitioner.js';
import { ChunkSender } from './producer/chunk-sender.js';
import { prepareMessages } from './producer/messages.js';
import {
  type ProducerOptions,
  type ResolvedProducerOptions,
  resolveProducerOptions,
  type SendOptions,
} from './producer/options.js';
import { type PendingMessage, SendTracker } from './producer/send-tracker.js';
import { type ProduceTarget, ProduceTargets } from './producer/target.js';
import { TopicMetadata } from './producer/topic-metadata.js';
import type { RecordMetadata } from './types.js';

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
  private readonly options: ResolvedProducerOptions;
  private readonly pool: BrokerPool;
  private readonly metadata: TopicMetadata;
  private readonly budget: ByteBudget;
  private readonly sticky = new StickyPartitioner();
  private readonly targets = new ProduceTargets();
  private readonly accumulator: Accumulator<ProduceTarget, PendingMessage>;
  private readonly sender: ChunkSender;
  private flushing = 0;
  private readonly outstanding = new Set<Promise<unknown>>();
  private connected = false;
  private closed = false;

  constructor(options: ProducerOptions) {
    const o = resolveProducerOptions(options);
    this.options = o;
    this.producerId = o.producerId;
    this.clientId = o.clientId;
    this.budget = new ByteBudget(o.bufferBytes);
    this.pool = new BrokerPool(o.brokers, {
      clientId: o.clientId,
      connectTimeoutMs: o.connectTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs + 5_000,
    });
    this.metadata = new TopicMetadata(this.pool, o.retry, o.metadataMaxAgeMs);
    this.sender = new ChunkSender({
      pool: this.pool,
      metadata: this.metadata,
      budget: this.budget,
      producerId: o.producerId,
      maxInFlight: o.maxInFlight,
      requestTimeoutMs: o.requestTimeoutMs,
      retry: o.retry,
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

  /** Connects to a broker and loads topic metadata. Throws `BrokerUnreachableError` naming the address. */
  async connect(): Promise<void> {
    if (this.closed) throw new InvalidInputError('the producer was disconnected; create a new one');
    await this.metadata.loadAll();
    this.connected = true;
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
    if (this.closed) throw new InvalidInputError('the producer was disconnected');
    const { topic, messages } = options ?? ({} as SendOptions);
    if (typeof topic !== 'string') throw new InvalidInputError('send needs a topic');
    validateTopicName(topic);
    if (!Array.isArray(messages)) throw new InvalidInputError('send needs messages: an array');
    const acks = options.acks ?? this.options.acks;
    if (!isAckLevel(acks))
      throw new InvalidInputError(`acks must be none, received or durable, got ${JSON.stringify(acks)}`);
    if (messages.length === 0) return [];
    if (!this.connected) await this.connect();
    const info = await this.metadata.get(topic);
    const { prepared, totalBytes } = prepareMessages(topic, messages, info.writePartitions, Date.now());
    await this.budget.acquire(totalBytes);
    const tracker = new SendTracker(prepared.length);
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      const writePartition = p.writePartition ?? this.sticky.partition(topic, info.writePartitions);
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
  async disconnect(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.metadata.close();
    this.sender.close();
    this.budget.rejectAll(new InvalidInputError('the producer was disconnected'));
    await this.pool.close();
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
