import { PermanentError } from '@barge/core';
import type { Kafka } from 'kafkajs';

/**
 * The parts of kafkajs's internal cluster and broker clients this adapter uses where kafkajs's
 * public API has no call: a fetch outside any consumer group (`partition-reader.ts`) and an
 * offset commit outside any generation (`group-positions.ts`). kafkajs 2.2 is pinned exactly.
 */
export interface FetchedMessage {
  offset: string;
  timestamp: string;
  value: Buffer | null;
}
export interface PartitionData {
  partition: number;
  messages: FetchedMessage[];
}
export interface InternalBroker {
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: PartitionData[] }[] }>;
  /** Throws kafkajs's protocol error of the first partition that failed. */
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: { topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[];
  }): Promise<unknown>;
}
export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<InternalBroker>;
  /** Asks for the group's coordinator (retried by kafkajs) and connects to it. */
  findGroupCoordinator(request: { groupId: string }): Promise<InternalBroker>;
}
type CreateCluster = (options: {
  metadataMaxAge: number;
  allowAutoTopicCreation: boolean;
  isolationLevel: number;
}) => InternalCluster;

/** kafkajs's value of READ_COMMITTED: only committed records, no transaction markers. */
export const READ_COMMITTED = 1;

/**
 * A connected cluster client made the way the kafkajs `Kafka` object makes one for its
 * producers and consumers (a private symbol), with the same brokers, TLS, SASL and retries.
 */
export async function connectInternalCluster(kafka: Kafka): Promise<InternalCluster> {
  const k = kafka as unknown as Record<symbol, CreateCluster>;
  const symbol = Object.getOwnPropertySymbols(k).find((s) => s.description === 'private:Kafka:createCluster');
  if (!symbol) throw new PermanentError('this kafkajs version has no cluster client to use outside a group');
  const cluster = k[symbol]!({
    metadataMaxAge: 300_000,
    allowAutoTopicCreation: false,
    isolationLevel: READ_COMMITTED,
  });
  await cluster.connect();
  return cluster;
}
