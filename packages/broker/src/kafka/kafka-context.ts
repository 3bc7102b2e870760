import { createHash } from 'node:crypto';
import type { TopicConfig } from '@barge/core';
import type { WriteOwnership } from '../cluster/write-ownership.js';
import type { HostPort } from '../server/listen.js';
import type { TopicRegistry } from '../topics.js';

/** What the Kafka APIs share about this broker. */
export interface KafkaBrokerView {
  readonly brokerId: number;
  /** The address Kafka clients are told to use for this broker (`kafka.advertise` or the bound listener). */
  advertised(): HostPort;
  readonly clusterId: string;
  readonly topics: TopicRegistry;
  readonly ownership: WriteOwnership;
}

/**
 * Whether Kafka clients see `topic`: Kafka partition = write partition, and a Kafka reader
 * reads partition p from read partition p, so the counts must match.
 */
export function kafkaVisible(topic: TopicConfig): boolean {
  return topic.readPartitions === topic.writePartitions;
}

/**
 * A stable topic id for Kafka clients: the same for a topic name on every broker and across
 * restarts (a UUID v8 from SHA-256 of the name; a topic re-created under the same name keeps it).
 */
export function topicId(name: string): Buffer {
  const id = createHash('sha256').update(`barge-topic:${name}`).digest().subarray(0, 16);
  id[6] = (id[6]! & 0x0f) | 0x80;
  id[8] = (id[8]! & 0x3f) | 0x80;
  return Buffer.from(id);
}

/** `topic` when Kafka clients may use it; undefined when unknown or not Kafka-visible. */
export async function kafkaTopic(topics: TopicRegistry, name: string): Promise<TopicConfig | undefined> {
  let t = topics.get(name);
  if (!t) {
    try {
      t = await topics.refresh(name);
    } catch {
      return undefined;
    }
  }
  return t && kafkaVisible(t) ? t : undefined;
}
