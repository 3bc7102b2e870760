import type { ClusterCoordination } from './cluster.js';
import type { BatchPointer } from './pointer.js';

/**
 * The queue of batch pointers (Kafka in production, SQLite on one machine).
 *
 * Offsets are per read partition, start at 0 and increase by one per pointer. A committed
 * offset follows Kafka's convention: it is the position of the next pointer to read, and
 * `metadata` may carry how far into that pointer's batch the group got (see `CommitPosition`).
 */
export interface PointerQueue {
  /** Adapter name, e.g. `embedded`, `kafka`. */
  readonly adapter: string;
  /** Where the queue lives, for operators: the database file, or the Kafka bootstrap brokers. */
  readonly location: string;

  /**
   * Create the pointer topic with `readPartitions` partitions, or check an existing one.
   * Throws `ConfigError` when it exists with a different partition count.
   */
  ensureTopic(topic: string, readPartitions: number): Promise<void>;

  /** Number of read partitions. Throws `NotFoundError` for an unknown topic. */
  partitions(topic: string): Promise<number>;

  /**
   * Append pointers. Pointers with the same `(topic, writePartition)` go to the same read
   * partition (`readPartitionFor`) in the order given. Resolves once every pointer is durable.
   * Rejects with a `TransientError` when the queue is unreachable (the caller retries).
   */
  publish(topic: string, pointers: readonly BatchPointer[]): Promise<PublishedPointer[]>;

  /** First offset whose pointer was appended at or after `timestamp`; the end offset if none. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number>;

  /** [low, high): the first retained offset and the offset the next pointer will get. */
  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }>;

  /** Join `group` on `topic`; partitions are split between the group's members. */
  subscribe(options: SubscribeOptions): Promise<PointerConsumer>;

  /**
   * The consumer groups the queue knows: every group with members now or committed positions,
   * only those on `topic` when it is given, sorted by name.
   */
  listGroups(topic?: string): Promise<GroupListing[]>;

  /**
   * One group: its members with their assignments (the embedded queue coordinates every member
   * in its process; Kafka's group coordinator knows every member, wherever it runs) and its
   * committed positions on every topic. Throws `NotFoundError` when the group has neither
   * members nor committed positions.
   */
  describeGroup(group: string): Promise<GroupDescription>;

  /**
   * Overwrites the committed positions of `group` on `topic` for the partitions given (the
   * others keep theirs) and clears their message index, so each restarts at the first message
   * of the pointer at `offset`. Only for a group without members (Kafka's rule: a member would
   * overwrite the reset with its next commit): throws `GroupNotEmptyError` otherwise,
   * `NotFoundError` for an unknown topic or partition, `InvalidInputError` for an offset below
   * 0 or above the high watermark. Creates the group's positions when it has none yet.
   */
  resetOffsets(group: string, topic: string, positions: readonly PartitionOffset[]): Promise<void>;

  /**
   * Stores positions of `group` on `topic` for a coordinator outside the queue (the broker's
   * Kafka listener, whose group coordinator did the membership and generation checks): each
   * position with its `messageIndex` and an opaque client `metadata` string. Overwrites only the
   * partitions given (the others keep theirs), as durably as a member's `commit`, all or none;
   * members of the group that join afterwards start there, and `describeGroup` and
   * `storedPositions` show them. Creates the group's positions when it has none yet.
   *
   * Checked before anything is written (`checkStoredPositions`): `NotFoundError` for an unknown
   * topic or a partition it does not have; `InvalidInputError` for an offset below 0 or above
   * the high watermark, a `messageIndex` below 0 (or above 0 at the high watermark, where no
   * pointer is yet), a partition given twice, or `metadata` longer than
   * `MAX_POSITION_METADATA_BYTES` in UTF-8. Throws `GroupNotEmptyError` while the group has
   * members in this queue (Barge consumers: Kafka accepts such commits only from members), as
   * `resetOffsets` does. `[]` writes nothing (the topic is still checked). Idempotent.
   */
  storePositions(group: string, topic: string, positions: readonly StoredPosition[]): Promise<void>;

  /**
   * Every committed position of `group` (stored by `storePositions`, committed by members or
   * reset by `resetOffsets`), on `topic` or on every topic, sorted by topic then partition, with
   * the `metadata` `storePositions` stored (`null` when the position came from elsewhere or had
   * none). `messageIndex` is present only when above 0. `[]` when the group has none; throws
   * `NotFoundError` when `topic` is given and does not exist.
   */
  storedPositions(group: string, topic?: string): Promise<TopicStoredPosition[]>;

  close(): Promise<void>;

  /** Present on queues that can coordinate a cluster of brokers (Kafka): membership and fenced publication. */
  readonly cluster?: ClusterCoordination;

  /**
   * Optional (queues that can read a partition without a consumer group, e.g. the embedded
   * queue, Kafka): up to `maxRecords` pointers of one partition from `from` (at least the low
   * watermark), in offset order. `[]` only when no pointer at or after `from` exists now: the
   * retention sweeper reads every live pointer with it before deleting objects (a missed
   * pointer could lose its object); without it, it relies on the low watermark alone
   * (docs/operations.md).
   */
  readPartition?(
    topic: string,
    partition: number,
    from: number,
    maxRecords: number,
  ): Promise<PointerRecord[]>;

  /**
   * Optional (queues whose retention the broker applies itself, e.g. the embedded queue):
   * deletes the pointers of one partition below `offset` (capped at the high watermark) and
   * moves the low watermark there; returns how many were deleted.
   */
  deleteBefore?(topic: string, partition: number, offset: number): Promise<number>;

  /**
   * Optional (queues with a retention of their own, e.g. Kafka's `retention.ms`): how long the
   * pointer topic keeps pointers, in ms; `undefined` when it keeps them forever.
   */
  pointerRetentionMs?(topic: string): Promise<number | undefined>;
}

export interface PublishedPointer {
  partition: number;
  offset: number;
}

export interface SubscribeOptions {
  group: string;
  topic: string;
  /** A member that misses heartbeats for this long is removed and its partitions reassigned. */
  sessionTimeoutMs?: number;
  /** Where to start on partitions without a committed offset. Default `earliest`. */
  fromBeginning?: boolean;
  /** A stable id for this client, for logs. */
  clientId?: string;
}

export interface PointerRecord {
  partition: number;
  offset: number;
  /** When the pointer was appended to the queue, ms since the epoch. */
  timestamp: number;
  pointer: BatchPointer;
}

/** A committed position: `offset` is the next pointer to read, `messageIndex` the next message in it. */
export interface CommitPosition {
  partition: number;
  offset: number;
  messageIndex?: number;
}

export interface PointerConsumer {
  readonly group: string;
  readonly topic: string;
  /** The read partitions this member owns right now. Changes at rebalances. */
  assignment(): readonly number[];
  /**
   * Next pointers on the assigned partitions, in offset order per partition, waiting up to
   * `timeoutMs` for at least one. Starts at the committed position, or as `fromBeginning` says.
   * After a rebalance, only partitions still assigned are returned.
   */
  poll(options?: { maxRecords?: number; timeoutMs?: number }): Promise<PointerRecord[]>;
  /** Commit positions. Throws `GroupRebalanceError` if a partition is no longer assigned to this member. */
  commit(positions: readonly CommitPosition[]): Promise<void>;
  /** Committed positions of the given partitions (undefined where nothing is committed). */
  committed(partitions: readonly number[]): Promise<(CommitPosition | undefined)[]>;
  /** Move the read position of an assigned partition; the next poll reads from `offset`. */
  seek(partition: number, offset: number): void;
  /** Called with the new assignment after every rebalance. */
  onAssignment(listener: (partitions: readonly number[]) => void): void;
  /**
   * The revoke phase of a rebalance: called with the partitions about to move to another member
   * (a member joined or left), before the new owner reads them. While the returned promise runs,
   * the partitions stay in `assignment()` and `commit` accepts them, but `poll` returns no more
   * of their records; the member commits what it processed. The new owner starts at the
   * committed positions once every listener settled, or after the revoke timeout (the member's
   * session timeout) passed. A listener that throws counts as settled.
   */
  onRevoke(listener: RevokeListener): void;
  /** Partitions in their revoke phase right now (see `onRevoke`); empty outside a rebalance. */
  revoking(): readonly number[];
  /** Leave the group. Idempotent. */
  close(): Promise<void>;
}

/** Commits what was processed of `partitions` before they move to another member. */
export type RevokeListener = (partitions: readonly number[]) => Promise<void> | void;

/** A read partition and an offset in it. */
export interface PartitionOffset {
  partition: number;
  offset: number;
}

/**
 * Where a group stands: `empty` (no members; only then can its offsets be reset), `stable`
 * (members own their partitions) or `rebalancing` (members are joining or leaving).
 */
export type GroupStatus = 'empty' | 'stable' | 'rebalancing';

export interface GroupListing {
  group: string;
  status: GroupStatus;
  /** Members now. */
  members: number;
  /** Topics the group has members or committed positions on, sorted. */
  topics: string[];
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  /** Where the member connects from, when the queue knows it; '' otherwise. */
  host: string;
  /** Read partitions assigned to this member, per topic. */
  assignment: { topic: string; partitions: number[] }[];
}

/** A committed position on one topic. */
export interface TopicCommitPosition extends CommitPosition {
  topic: string;
}

/**
 * A position `storePositions` stores: `offset` is the next pointer to read, `messageIndex` the
 * next message in it (absent or 0: its first), `metadata` an opaque string of the client's
 * (Kafka's OffsetCommit metadata; absent or `null`: none, kept apart from `''`).
 */
export interface StoredPosition extends CommitPosition {
  metadata?: string | null;
}

/** A stored position on one topic, as `storedPositions` returns it. */
export interface TopicStoredPosition extends TopicCommitPosition {
  metadata: string | null;
}

export interface GroupDescription {
  group: string;
  status: GroupStatus;
  /** Sorted by member id. */
  members: GroupMember[];
  /** Committed positions, sorted by topic then partition. */
  committed: TopicCommitPosition[];
}

/** The read partition that carries the pointers of one write partition. */
export function readPartitionFor(writePartition: number, readPartitions: number): number {
  return writePartition % readPartitions;
}
