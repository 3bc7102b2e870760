import type {
  BatchPointer,
  ClusterMember,
  ClusterMetadata,
  PointerQueue,
  PublishedPointer,
  TopicConfig,
} from '@barge/core';

/** Whether this broker may take produce requests for a write partition now. */
export type OwnerCheck =
  | { readonly owned: true }
  | { readonly owned: false; readonly ownerId: number; readonly why: string };

/**
 * Who writes which write partition. A single broker writes them all (`SoloOwnership`); in a
 * cluster each has one owner at a time (`ClusterNode`).
 */
export interface WriteOwnership {
  check(topic: string, writePartition: number): OwnerCheck;
  /** The write partitions of `topic` this broker may write now, ascending. */
  ownedOf(topic: TopicConfig): number[];
  /** Brokers and owners for a Metadata v2 answer about `topics`. */
  metadata(topics: readonly TopicConfig[]): ClusterMetadata;
  /**
   * Every broker of the current assignment as it joined (with its Kafka listener, if any), this
   * one included; undefined in a cluster before the first assignment.
   */
  members(): readonly ClusterMember[] | undefined;
  /** Whether this broker runs the retention sweeper of `topic`: the owner of its write partition 0. */
  sweeps(topic: string): boolean;
  /**
   * Resolves once this broker may publish batches `sequences` of the write partition: in a
   * cluster once its fenced publisher is open (every earlier owner fenced, their pointers
   * committed or aborted); throws `NotOwnerError` when it does not own it, or for batches taken
   * in an earlier ownership period. The writer reads the tail for dense offsets only after it.
   */
  fencedIn(topic: string, writePartition: number, sequences: readonly number[]): Promise<void>;
  /** Publishes pointers of one write partition; in a cluster only its owner can (fenced). */
  publish(
    topic: string,
    writePartition: number,
    pointers: readonly BatchPointer[],
  ): Promise<PublishedPointer[]>;
}

const OWNED: OwnerCheck = { owned: true };

/** A broker without clustering: it owns every write partition and publishes through the queue directly. */
export class SoloOwnership implements WriteOwnership {
  constructor(
    private readonly brokerId: number,
    private readonly address: () => ClusterMember,
    private readonly pointers: PointerQueue,
  ) {}

  members(): readonly ClusterMember[] {
    return [this.address()];
  }

  check(): OwnerCheck {
    return OWNED;
  }

  sweeps(): boolean {
    return true;
  }

  ownedOf(topic: TopicConfig): number[] {
    return Array.from({ length: topic.writePartitions }, (_, i) => i);
  }

  metadata(topics: readonly TopicConfig[]): ClusterMetadata {
    const { host, port } = this.address();
    return {
      clusterId: '',
      brokers: [{ brokerId: this.brokerId, host, port }],
      owners: topics.map((t) => new Array<number>(t.writePartitions).fill(this.brokerId)),
    };
  }

  fencedIn(): Promise<void> {
    return Promise.resolve();
  }

  publish(
    topic: string,
    _writePartition: number,
    pointers: readonly BatchPointer[],
  ): Promise<PublishedPointer[]> {
    return this.pointers.publish(topic, pointers);
  }
}
