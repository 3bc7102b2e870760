import type { AckLevel } from '../types.js';

/**
 * One write partition of a topic: the scope of producer sequence numbers and of request order.
 * Interned by `ProduceTargets`, so one (topic, write partition) is one object and maps key on it.
 */
export interface WritePartition {
  readonly topic: string;
  readonly writePartition: number;
}

/**
 * Where messages go and at which level they are acknowledged. Interned by `ProduceTargets`: it
 * keys the accumulator, travels on every chunk and request, and becomes the request's
 * `topic`, `writePartition` and `acks` on the wire.
 */
export interface ProduceTarget {
  readonly partition: WritePartition;
  readonly acks: AckLevel;
}

interface PartitionTargets {
  readonly partition: WritePartition;
  readonly byAcks: Map<AckLevel, ProduceTarget>;
}

/** Hands out one `ProduceTarget` object per (topic, write partition, ack level). */
export class ProduceTargets {
  private readonly byTopic = new Map<string, Map<number, PartitionTargets>>();

  get(topic: string, writePartition: number, acks: AckLevel): ProduceTarget {
    let partitions = this.byTopic.get(topic);
    if (partitions === undefined) {
      partitions = new Map();
      this.byTopic.set(topic, partitions);
    }
    let targets = partitions.get(writePartition);
    if (targets === undefined) {
      targets = { partition: { topic, writePartition }, byAcks: new Map() };
      partitions.set(writePartition, targets);
    }
    let target = targets.byAcks.get(acks);
    if (target === undefined) {
      target = { partition: targets.partition, acks };
      targets.byAcks.set(acks, target);
    }
    return target;
  }
}
