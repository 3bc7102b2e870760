import {
  type BatchPointer,
  type FencedPublisher,
  NotOwnerError,
  type PublishedPointer,
  TransientError,
} from '@barge/core';
import type { Kafka, Producer } from 'kafkajs';
import { chunkBySize } from '../chunks.js';
import { settleBy } from '../deadline.js';
import { kafkaErrorTypes, mapKafkaError } from '../errors.js';
import type { KafkaPointersConfig } from '../options.js';
import { MAX_SEND_BYTES, pointerMessages, publishedPositions } from '../pointer-messages.js';

/** Kafka's answers to a producer whose epoch a newer producer with the same transactional id bumped. */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_NOT_FOUND']);

/** How long a transaction may stay open before Kafka aborts it (and fences its producer). */
const TRANSACTION_TIMEOUT_MS = 10_000;

export interface FencedPublisherOptions {
  kafka: Kafka;
  config: KafkaPointersConfig;
  transactionalId: string;
  topic: string;
  writePartition: number;
  /** The Kafka topic of `topic`. */
  kafkaTopic: string;
  readPartitions(): Promise<number>;
}

/**
 * Publishes one write partition's pointers in Kafka transactions under the write partition's
 * transactional id. Opening it (`open`) runs InitProducerId, which bumps the id's epoch: every
 * earlier producer with that id (a paused or partitioned former owner) is fenced, and its open
 * transaction is aborted, so its pointers never become visible to read_committed consumers and
 * its commit fails. The broker acknowledges a batch only after `publish` resolved, i.e. after
 * the commit succeeded, so a fenced broker can never acknowledge.
 *
 * After any failure the publisher is spent (`publish` rejects): whether the transaction
 * committed is unknown, and only a new InitProducerId settles it. A fence is reported as
 * `NotOwnerError`, any other failure as the mapped Kafka error.
 */
export class KafkaFencedPublisher implements FencedPublisher {
  #failed: Error | undefined;
  #closed = false;

  private constructor(
    private readonly options: FencedPublisherOptions,
    private readonly producer: Producer,
  ) {}

  /** Connects a transactional producer and fences every earlier one with the same id. */
  static async open(options: FencedPublisherOptions): Promise<KafkaFencedPublisher> {
    const { kafka, config, transactionalId } = options;
    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: TRANSACTION_TIMEOUT_MS,
      allowAutoTopicCreation: false,
      // EndTxn markers take a moment; kafkajs answers the next AddPartitionsToTxn with
      // CONCURRENT_TRANSACTIONS until then, so retry soon rather than after the default 300 ms.
      retry: { retries: config.retries, initialRetryTime: 20, maxRetryTime: config.maxRetryTimeMs },
    });
    const what = `open the fenced publisher of ${options.topic}/${options.writePartition} (transactional id "${transactionalId}")`;
    const deadline = Date.now() + config.publishTimeoutMs;
    try {
      await settleBy(producer.connect(), deadline, () => new TransientError(`${what}: no answer from Kafka`));
      // InitProducerId happens at the first transaction: run an empty one now, so the fence is
      // in place before this broker accepts anything for the write partition.
      const txn = await settleBy(
        producer.transaction(),
        deadline,
        () => new TransientError(`${what}: no answer from Kafka`),
      );
      await txn.abort();
    } catch (e) {
      producer.disconnect().catch(() => {});
      throw mapKafkaError(e, what, config);
    }
    return new KafkaFencedPublisher(options, producer);
  }

  async publish(pointers: readonly BatchPointer[]): Promise<PublishedPointer[]> {
    const { topic, writePartition, kafkaTopic, config } = this.options;
    if (this.#closed)
      throw new TransientError(`the fenced publisher of ${topic}/${writePartition} is closed`);
    if (this.#failed) throw this.#failed;
    if (pointers.length === 0) return [];
    const what = `publish ${pointers.length} pointer(s) of ${topic}/${writePartition} to "${kafkaTopic}" in a transaction`;
    const deadline = Date.now() + config.publishTimeoutMs;
    const timeout = () =>
      new TransientError(
        `${what}: no answer from Kafka within publishTimeoutMs (${config.publishTimeoutMs} ms)`,
      );
    try {
      const messages = pointerMessages(topic, pointers, await this.options.readPartitions());
      const txn = await settleBy(this.producer.transaction(), deadline, timeout);
      const out: PublishedPointer[] = [];
      try {
        for (const chunk of chunkBySize(messages, MAX_SEND_BYTES)) {
          const res = await settleBy(
            txn.send({ topic: kafkaTopic, acks: -1, timeout: config.requestTimeoutMs, messages: chunk }),
            deadline,
            timeout,
          );
          out.push(...publishedPositions(kafkaTopic, chunk, res, what));
        }
      } catch (e) {
        // Never commit after a failed send: kafkajs would commit the records that did get in.
        txn.abort().catch(() => {});
        throw e;
      }
      await settleBy(txn.commit(), deadline, timeout);
      return out;
    } catch (e) {
      this.#failed = this.#fenceOr(e, what);
      this.producer.disconnect().catch(() => {});
      throw this.#failed;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.producer.disconnect().catch(() => {});
  }

  #fenceOr(e: unknown, what: string): Error {
    if (kafkaErrorTypes(e).some((t) => FENCED_TYPES.has(t))) {
      const { topic, writePartition } = this.options;
      return new NotOwnerError(
        `${topic}/${writePartition}: a newer owner fenced this broker's pointer publication (${what}); nothing of it was published`,
        -1,
        { cause: e },
      );
    }
    return mapKafkaError(e, what, this.options.config);
  }
}
