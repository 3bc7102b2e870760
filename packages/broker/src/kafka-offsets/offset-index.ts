import { NotFoundError, PermanentError, readPartitionFor } from '@barge/core';
import {
  type BargePosition,
  type IndexQueue,
  type Located,
  type PartitionIndexOptions,
  PartitionOffsetIndex,
} from './partition-index.js';

export interface OffsetIndexOptions extends PartitionIndexOptions {
  /**
   * How old (ms) the view of a partition may be before a lookup refreshes it first (one
   * watermarks call, plus reads of what was appended). Default 0: every lookup refreshes.
   */
  maxAgeMs?: number;
}

/**
 * Kafka offsets of every (topic, partition) the Kafka listener serves, over the pointer queue:
 * one `PartitionOffsetIndex` per partition, made at its first use (which reads the partition
 * once from its low watermark) and refreshed incrementally before each lookup. A Kafka
 * partition is a write partition; its pointers are on read partition `readPartitionFor(wp, R)`
 * (the same number for Kafka-visible topics, whose read and write partition counts are equal).
 */
export class OffsetIndex {
  readonly #partitions = new Map<string, Promise<PartitionOffsetIndex>>();

  constructor(
    private readonly queue: IndexQueue,
    private readonly options: OffsetIndexOptions = {},
  ) {
    if (!queue.readPartition) {
      throw new PermanentError('the pointer queue cannot read a partition outside a consumer group');
    }
  }

  /** The refreshed index of one partition. Throws `NotFoundError` for an unknown topic. */
  async partition(topic: string, partition: number): Promise<PartitionOffsetIndex> {
    const k = `${topic}\u0000${partition}`;
    let p = this.#partitions.get(k);
    if (!p) {
      p = this.#make(topic, partition);
      this.#partitions.set(k, p);
      p.catch(() => this.#partitions.delete(k));
    }
    const index = await p;
    await index.refresh(this.options.maxAgeMs ?? 0);
    return index;
  }

  async #make(topic: string, partition: number): Promise<PartitionOffsetIndex> {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new NotFoundError(`topic "${topic}" has no partition ${partition}`);
    }
    const readPartitions = await this.queue.partitions(topic);
    return new PartitionOffsetIndex(
      this.queue,
      topic,
      partition,
      readPartitionFor(partition, readPartitions),
      this.options,
    );
  }

  /** Where a Kafka offset is: its pointer and message index, or below the start, at or above the end. */
  async locate(topic: string, partition: number, offset: number): Promise<Located> {
    return (await this.partition(topic, partition)).locate(offset);
  }

  /** The earliest retained offset (ListOffsets earliest; = latest when nothing is retained). */
  async earliest(topic: string, partition: number): Promise<number> {
    return (await this.partition(topic, partition)).earliest;
  }

  /** The next offset to be written (ListOffsets latest, the high watermark). */
  async latest(topic: string, partition: number): Promise<number> {
    return (await this.partition(topic, partition)).latest;
  }

  /** The first offset at or after `timestamp`, at pointer granularity; `undefined` when none. */
  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | undefined> {
    return (await this.partition(topic, partition)).offsetForTimestamp(timestamp);
  }

  /** Kafka offset → Barge position (for committed offsets stored as positions). */
  async toPosition(
    topic: string,
    partition: number,
    offset: number,
  ): Promise<BargePosition | 'below-start' | 'above-end'> {
    return (await this.partition(topic, partition)).toPosition(offset);
  }

  /** Barge position → Kafka offset. */
  async fromPosition(
    topic: string,
    partition: number,
    position: BargePosition,
  ): Promise<number | 'below-start'> {
    return (await this.partition(topic, partition)).fromPosition(position);
  }

  /** Drops the indexes of a topic (deleted, or re-created). */
  forget(topic: string): void {
    for (const k of this.#partitions.keys()) if (k.startsWith(`${topic}\u0000`)) this.#partitions.delete(k);
  }
}
