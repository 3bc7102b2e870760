import type {
  ClusterCoordination,
  ClusterJoinOptions,
  ClusterMembership,
  FencedPublisher,
} from '@barge/core';
import type { Kafka } from 'kafkajs';
import type { KafkaPointersConfig } from '../options.js';
import { KafkaFencedPublisher } from './fenced-publisher.js';
import { KafkaClusterMembership } from './membership.js';
import { clusterGroupId, clusterTopic, writePartitionTransactionalId } from './names.js';

/** What the cluster needs of the pointer queue it runs on. */
export interface ClusterQueueAccess {
  kafka: Kafka;
  config: KafkaPointersConfig;
  pointerTopic(topic: string): string;
  ensureTopic(topic: string, readPartitions: number): Promise<void>;
  partitions(topic: string): Promise<number>;
}

/**
 * Clustering on Kafka: membership through a consumer group with the cluster assignor, and
 * pointer publication fenced by one transactional id per write partition.
 */
export class KafkaClusterCoordination implements ClusterCoordination {
  constructor(private readonly queue: ClusterQueueAccess) {}

  async join(options: ClusterJoinOptions): Promise<ClusterMembership> {
    const { config, kafka } = this.queue;
    const topic = clusterTopic(options.clusterId);
    await this.queue.ensureTopic(topic, 1);
    return KafkaClusterMembership.join(
      kafka,
      config,
      clusterGroupId(config, options.clusterId),
      this.queue.pointerTopic(topic),
      options,
    );
  }

  fencedPublisher(clusterId: string, topic: string, writePartition: number): Promise<FencedPublisher> {
    const { config, kafka } = this.queue;
    return KafkaFencedPublisher.open({
      kafka,
      config,
      transactionalId: writePartitionTransactionalId(config, clusterId, topic, writePartition),
      topic,
      writePartition,
      kafkaTopic: this.queue.pointerTopic(topic),
      readPartitions: () => this.queue.partitions(topic),
    });
  }
}
