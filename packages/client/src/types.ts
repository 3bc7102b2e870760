import type { AckLevel, BatchPointer, Bytes, PointerConsumer, SubscribeOptions } from '@barge/core';

export type { AckLevel };

/** A header as a producer hands it over: ordered, names may repeat. */
export interface HeaderInput {
  name: string;
  value: Bytes;
}

/** A message to send. `key` null or absent: no key (the message goes to a sticky, round-robin partition). */
export interface ProducerMessage {
  key?: Bytes | null;
  value: Bytes;
  /** An ordered list, or a kafkajs-style object (`{ name: value | value[] }`). */
  headers?: readonly HeaderInput[] | Record<string, Bytes | readonly Bytes[] | undefined>;
  /** ms since the epoch (a number, or a string of digits as kafkajs users pass it); default: when the message is added to `send`. */
  timestamp?: number | string;
  /** Pin the write partition (overrides the key hash). */
  writePartition?: number;
}

/** What `send` resolves with, one per message, in the order given. */
export interface RecordMetadata {
  topic: string;
  writePartition: number;
  producerId: number;
  /** Producer sequence number of the message within (topic, writePartition). */
  sequence: number;
  acks: AckLevel;
  /** Batch sequence within the write partition (-1 unless the broker closed the batch: acks=durable). */
  batchSequence: number;
  /** Index of the message within its batch (-1 for acks=none). */
  messageIndex: number;
  /** Read partition and pointer offset of the batch (-1 unless acks=durable). */
  partition: number;
  offset: number;
}

/** A header as read back: value bytes. */
export interface MessageHeader {
  readonly name: string;
  readonly value: Buffer;
}

/** A message as a consumer delivers it. */
export interface ConsumedMessage {
  readonly topic: string;
  /** Read partition (pointer partition). */
  readonly partition: number;
  /** Pointer offset of the batch holding the message. */
  readonly offset: number;
  /** Position of the message within its batch. */
  readonly messageIndex: number;
  readonly writePartition: number;
  /** Batch sequence within the write partition. */
  readonly batchSequence: number;
  readonly producerId: number;
  readonly sequence: number;
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers: readonly MessageHeader[];
  /** ms since the epoch, as the producer set it. */
  readonly timestamp: number;
}

/**
 * Where pointers come from: a `PointerQueue` (e.g. Kafka, direct) or the broker's consumer
 * groups (`RemotePointerSource`). `PointerQueue` satisfies this interface as is.
 */
export interface PointerSource {
  subscribe(options: SubscribeOptions): Promise<PointerConsumer>;
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number>;
  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }>;
}

export type { BatchPointer };
