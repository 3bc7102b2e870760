import type { BatchPointer } from './pointer.js';
import type { PublishedPointer } from './pointer-queue.js';

/**
 * Clustering contracts: several brokers with the same `cluster.id`, storage and pointer queue
 * split the write partitions between them. A pointer queue that can coordinate brokers (Kafka)
 * offers `PointerQueue.cluster`; the embedded queue does not (a cluster needs a shared queue).
 */

/** A broker of the cluster, as clients reach it. */
export interface ClusterMember {
  brokerId: number;
  host: string;
  port: number;
  /** Where Kafka clients reach it (`kafka.advertise` or its bound `kafka.listen`); absent without a Kafka listener. */
  kafka?: { host: string; port: number };
}

/** One write partition of one topic. */
export interface WritePartitionRef {
  topic: string;
  writePartition: number;
}

/** A topic and how many write partitions it has: what the assignment splits. */
export interface TopicPartitions {
  topic: string;
  writePartitions: number;
}

/** The owner of every write partition the leader knew of at the rebalance. */
export interface ClusterAssignment {
  /** The group generation this assignment belongs to; increases with every rebalance. */
  generation: number;
  /** Every member, by broker id. */
  members: ClusterMember[];
  /** Owner broker id of each write partition, by topic (index = write partition). */
  owners: Record<string, number[]>;
}

/** What a broker brings to the cluster group. */
export interface ClusterJoinOptions {
  clusterId: string;
  self: ClusterMember;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /** Every topic and its write partitions (the leader calls it at each rebalance). */
  topics(): Promise<TopicPartitions[]>;
  /** The write partitions this broker owns now, so the assignment keeps them where they are. */
  owned(): WritePartitionRef[];
  /** Called with each new assignment, in generation order. */
  onAssignment(assignment: ClusterAssignment): void;
  /** Called when the broker left the group without asking (session lost, coordinator unreachable); it rejoins by itself. */
  onMembershipLost(reason: string): void;
  log?: (level: 'error' | 'warn' | 'info', message: string, fields?: Record<string, unknown>) => void;
}

/** This broker's membership in the cluster group. */
export interface ClusterMembership {
  /** The latest assignment, once the first rebalance completed. */
  readonly assignment: ClusterAssignment | undefined;
  /**
   * When the group coordinator last confirmed this member is in the current generation (a
   * heartbeat or a join answered), in ms since the epoch; 0 before that.
   */
  readonly confirmedAt: number;
  /** Leaves the group (the others rebalance at once). */
  leave(): Promise<void>;
}

/**
 * Publishes the pointers of one write partition so that only the newest publisher for it can:
 * opening one fences every earlier one (in this process or another). A fenced publisher's
 * `publish` rejects with `NotOwnerError` and publishes nothing; create a new one only once the
 * cluster confirmed this broker still owns the write partition.
 */
export interface FencedPublisher {
  publish(pointers: readonly BatchPointer[]): Promise<PublishedPointer[]>;
  close(): Promise<void>;
}

/** Clustering on a pointer queue: group membership and fenced publication. */
export interface ClusterCoordination {
  join(options: ClusterJoinOptions): Promise<ClusterMembership>;
  /** Opens the fenced publisher of one write partition (fencing the previous one). */
  fencedPublisher(clusterId: string, topic: string, writePartition: number): Promise<FencedPublisher>;
}
