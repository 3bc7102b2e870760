import type { KafkaPointersConfig } from '../options.js';

/** The Kafka consumer group the brokers of cluster `clusterId` join. */
export function clusterGroupId(config: KafkaPointersConfig, clusterId: string): string {
  return `${config.groupPrefix}__cluster.${clusterId}`;
}

/** The Barge-side name of the one-partition topic the cluster group subscribes to (it carries no records). */
export function clusterTopic(clusterId: string): string {
  return `__cluster.${clusterId}`;
}

/**
 * The Kafka transactional id that fences pointer publication of one write partition: the
 * newest producer opened with it is the only one whose transactions commit.
 */
export function writePartitionTransactionalId(
  config: KafkaPointersConfig,
  clusterId: string,
  topic: string,
  writePartition: number,
): string {
  return `${config.groupPrefix}__cluster.${clusterId}.${topic}.${writePartition}`;
}
