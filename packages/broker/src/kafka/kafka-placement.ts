import { fallbackOwner, NO_OWNER } from '@barge/core';
import type { KafkaBrokerView } from './kafka-context.js';

/** A broker as Kafka clients see it: its broker id and its Kafka listener's advertised address. */
export interface KafkaNode {
  nodeId: number;
  host: string;
  port: number;
}

/**
 * The brokers Kafka clients are told about: every member of the current cluster assignment that
 * runs a Kafka listener (a broker without a cluster section: itself), by id. Undefined in a
 * cluster before the first assignment.
 */
export function kafkaNodes(view: KafkaBrokerView): KafkaNode[] | undefined {
  const members = view.ownership.members();
  if (!members) return undefined;
  return members
    .flatMap((m) => (m.kafka ? [{ nodeId: m.brokerId, host: m.kafka.host, port: m.kafka.port }] : []))
    .sort((a, b) => a.nodeId - b.nodeId);
}

/** The node with broker id `id` among `nodes`; undefined for `NO_OWNER`, -1 or a broker without a Kafka listener. */
export function nodeOf(nodes: readonly KafkaNode[] | undefined, id: number): KafkaNode | undefined {
  if (id === NO_OWNER || id < 0) return undefined;
  return nodes?.find((n) => n.nodeId === id);
}

/**
 * A partition's leader: the owner of its write partition (the broker handing it over names the
 * new owner). Undefined while it has none (no assignment yet, a rebalance, this broker not
 * confirmed by the cluster group) or when its owner runs no Kafka listener.
 */
export function partitionLeader(
  view: KafkaBrokerView,
  nodes: readonly KafkaNode[] | undefined,
  topic: string,
  partition: number,
): KafkaNode | undefined {
  const owner = view.ownership.check(topic, partition);
  return nodeOf(nodes, owner.owned ? view.brokerId : owner.ownerId);
}

/**
 * The broker that coordinates a consumer group: rendezvous hashing of the group id over the
 * brokers with a Kafka listener in the current assignment (`fallbackOwner`, the hash the cluster
 * uses for write partitions it has not assigned yet). Every broker with the same assignment
 * names the same one, and a broker joining or leaving moves only the groups it gains or had.
 * Undefined when no broker has a Kafka listener or there is no assignment yet.
 */
export function groupCoordinator(
  nodes: readonly KafkaNode[] | undefined,
  groupId: string,
): KafkaNode | undefined {
  if (!nodes || nodes.length === 0) return undefined;
  const id = fallbackOwner(
    `group:${groupId}`,
    0,
    nodes.map((n) => n.nodeId),
  );
  return nodeOf(nodes, id);
}
