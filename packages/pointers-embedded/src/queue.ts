import { resolve } from 'node:path';
import {
  type BatchPointer,
  ConfigError,
  checkStoredPositions,
  encodePointer,
  errorMessage,
  type GroupDescription,
  type GroupListing,
  type GroupMember,
  GroupNotEmptyError,
  InvalidInputError,
  MAX_POINTER_BYTES,
  NotFoundError,
  type PartitionOffset,
  PermanentError,
  type PointerConsumer,
  type PointerQueue,
  type PointerRecord,
  type PublishedPointer,
  type StoredPosition,
  type SubscribeOptions,
  type TopicStoredPosition,
  validatePointer,
} from '@barge/core';
import { GroupCommitter } from './committer.js';
import { ConsumerGroup, type GroupHost, type GroupMemberInfo, type LogFn } from './group.js';
import { Notifier } from './notifier.js';
import { PointerStore, type PublishItem } from './store.js';
import { clientMetadataOf, storedMetadataColumn } from './stored-metadata.js';

export interface EmbeddedPointerQueueOptions {
  /** The SQLite file (created, with its directory, if missing). */
  path: string;
  /**
   * How long opening waits for another connection's lock before failing with `ConfigError`
   * (e.g. while a previous broker process is still exiting). Default 5000 ms.
   */
  busyTimeoutMs?: number;
  log?: LogFn;
}

/** Largest partition count `ensureTopic` accepts (the config schema's limit). */
export const MAX_READ_PARTITIONS = 10_000;

const TOPIC_NAME = /^[A-Za-z0-9._-]+$/;
/** Kafka's limit, so a topic name valid here is valid there. */
const MAX_TOPIC_NAME_LENGTH = 249;

/**
 * `PointerQueue` for one machine, on SQLite (better-sqlite3), in WAL mode. Publishes are group
 * committed (`GroupCommitter`): those that arrive while the log's fsync runs share the next
 * transaction and its fsync, which runs on the thread pool, off the event loop. A resolved
 * publish survives a crash, SIGKILL or power loss, and consumers see a pointer only once it is
 * durable.
 *
 * Consumer groups are coordinated in this process. The broker that hosts the queue serves
 * them to remote consumers over its protocol: one `PointerConsumer` per remote member, closed
 * by the broker when that member misses its session timeout. An in-process member therefore
 * stays in its group until `close()`; `sessionTimeoutMs` is accepted and not enforced here.
 *
 * The file is locked exclusively while the queue is open: a second queue (in this or another
 * process) on the same file fails with `ConfigError`.
 */
export class EmbeddedPointerQueue implements PointerQueue {
  readonly adapter = 'embedded';
  readonly path: string;
  /** The absolute path of the database file. */
  readonly location: string;
  readonly #store: PointerStore;
  readonly #committer: GroupCommitter;
  readonly #log: LogFn;
  readonly #partitions = new Map<string, number>();
  readonly #notifiers = new Map<string, Notifier>();
  readonly #groups = new Map<string, ConsumerGroup>();
  readonly #host: GroupHost;
  #closed = false;

  constructor(options: EmbeddedPointerQueueOptions) {
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new ConfigError('pointers.path: the embedded pointer queue needs a file path', 'pointers.path');
    }
    const busy = options.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(busy) || busy < 0) {
      throw new ConfigError(`busyTimeoutMs must be an integer >= 0, got ${busy}`, 'busyTimeoutMs');
    }
    this.path = options.path;
    this.location = resolve(options.path);
    this.#log = options.log ?? (() => {});
    this.#store = new PointerStore(options.path, busy);
    this.#committer = new GroupCommitter(this.#store);
    for (const t of this.#store.topics()) this.#partitions.set(t.name, t.partitions);
    this.#host = {
      store: this.#store,
      log: this.#log,
      topicNotifier: (topic) => this.#notifier(topic),
      durable: () => this.#committer.durable(),
      assertOpen: () => this.#assertOpen(),
    };
    this.#log('info', 'embedded pointer queue opened', { path: this.path, topics: this.#partitions.size });
  }

  async ensureTopic(topic: string, readPartitions: number): Promise<void> {
    this.#assertOpen();
    checkTopicName(topic);
    if (!Number.isSafeInteger(readPartitions) || readPartitions < 1 || readPartitions > MAX_READ_PARTITIONS) {
      throw new InvalidInputError(
        `readPartitions of topic ${topic} must be an integer in [1, ${MAX_READ_PARTITIONS}], got ${readPartitions}`,
      );
    }
    const existing = this.#store.createTopic(topic, readPartitions);
    await this.#committer.durable();
    this.#partitions.set(topic, existing);
    if (existing !== readPartitions) {
      throw new ConfigError(
        `pointer topic ${topic} exists with ${existing} read partitions, not ${readPartitions}; the read partition count of a topic cannot change`,
        'readPartitions',
      );
    }
  }

  async partitions(topic: string): Promise<number> {
    this.#assertOpen();
    return this.#partitionsOf(topic);
  }

  async publish(topic: string, pointers: readonly BatchPointer[]): Promise<PublishedPointer[]> {
    this.#assertOpen();
    const n = this.#partitionsOf(topic);
    if (!Array.isArray(pointers)) throw new InvalidInputError('publish needs an array of pointers');
    if (pointers.length === 0) return [];
    const items: PublishItem[] = pointers.map((raw, i) => {
      let p: BatchPointer;
      try {
        p = validatePointer(raw);
      } catch (e) {
        throw new InvalidInputError(
          `pointer ${i} of ${pointers.length} for topic ${topic}: ${errorMessage(e)}`,
          {
            cause: e,
          },
        );
      }
      const bytes = encodePointer(p);
      if (bytes.length > MAX_POINTER_BYTES) {
        throw new InvalidInputError(
          `pointer ${i} for topic ${topic} is ${bytes.length} bytes; at most ${MAX_POINTER_BYTES} are allowed`,
        );
      }
      return { writePartition: p.writePartition, json: bytes.toString('utf8') };
    });
    // Offsets follow the order of publish calls: jobs run in the order they were queued.
    const out = await this.#committer.enqueue(() => this.#store.publish(topic, n, items));
    this.#store.markDurable(topic, out);
    this.#notifiers.get(topic)?.notify();
    return out;
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    this.#assertOpen();
    this.#checkPartition(topic, partition);
    if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) {
      throw new InvalidInputError(`offsetForTimestamp needs a timestamp in ms, got ${timestamp}`);
    }
    return this.#store.offsetForTimestamp(topic, partition, timestamp);
  }

  async watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    this.#assertOpen();
    this.#checkPartition(topic, partition);
    const { low, high } = this.#store.watermarks(topic, partition);
    return { low, high };
  }

  async readPartition(
    topic: string,
    partition: number,
    from: number,
    maxRecords: number,
  ): Promise<PointerRecord[]> {
    this.#assertOpen();
    this.#checkPartition(topic, partition);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new InvalidInputError(
        `readPartition needs integer offsets and maxRecords >= 1, got ${from}, ${maxRecords}`,
      );
    }
    return this.#store.read(topic, partition, Math.max(0, from), maxRecords);
  }

  async subscribe(options: SubscribeOptions): Promise<PointerConsumer> {
    this.#assertOpen();
    const { group, topic } = options ?? ({} as SubscribeOptions);
    if (typeof group !== 'string' || group.length === 0) {
      throw new InvalidInputError('subscribe needs a non-empty group name');
    }
    const partitions = this.#partitionsOf(topic);
    const { sessionTimeoutMs, clientId } = options;
    if (
      sessionTimeoutMs !== undefined &&
      (!Number.isSafeInteger(sessionTimeoutMs) || sessionTimeoutMs <= 0)
    ) {
      throw new InvalidInputError(`sessionTimeoutMs must be a positive integer, got ${sessionTimeoutMs}`);
    }
    if (clientId !== undefined && typeof clientId !== 'string') {
      throw new InvalidInputError('clientId must be a string');
    }
    const key = groupKey(group, topic);
    let g = this.#groups.get(key);
    if (!g) {
      g = new ConsumerGroup(group, topic, partitions, this.#host);
      this.#groups.set(key, g);
    }
    const member = g.join({
      clientId: clientId || 'consumer',
      fromBeginning: options.fromBeginning ?? true,
      sessionTimeoutMs,
    });
    // Like Kafka's JoinGroup: answered once the rebalance (revoke phase included) is done.
    await g.settled();
    return member;
  }

  /** Generation and members of a group on a topic, or undefined if it never had a member here. */
  membership(group: string, topic: string): { generation: number; members: GroupMemberInfo[] } | undefined {
    const g = this.#groups.get(groupKey(group, topic));
    return g ? { generation: g.generation, members: g.members() } : undefined;
  }

  async listGroups(topic?: string): Promise<GroupListing[]> {
    this.#assertOpen();
    const found = new Map<string, { topics: Set<string>; members: number }>();
    const entry = (group: string) => {
      const e = found.get(group) ?? { topics: new Set<string>(), members: 0 };
      found.set(group, e);
      return e;
    };
    for (const c of this.#store.committedGroups()) entry(c.group).topics.add(c.topic);
    for (const g of this.#groups.values()) {
      const members = g.members().length;
      if (members === 0) continue;
      const e = entry(g.group);
      e.topics.add(g.topic);
      e.members += members;
    }
    return [...found]
      .filter(([, e]) => topic === undefined || e.topics.has(topic))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([group, e]) => ({
        group,
        status: e.members > 0 ? 'stable' : 'empty',
        members: e.members,
        topics: [...e.topics].sort(),
      }));
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.#assertOpen();
    checkGroupName(group);
    const members = this.#membersOf(group);
    const committed = this.#store.committedOfGroup(group).map((c) => c.position);
    if (members.length === 0 && committed.length === 0) {
      throw new NotFoundError(`consumer group ${group} has no members and no committed offsets`);
    }
    return { group, status: members.length > 0 ? 'stable' : 'empty', members, committed };
  }

  async resetOffsets(group: string, topic: string, positions: readonly PartitionOffset[]): Promise<void> {
    this.#assertOpen();
    checkGroupName(group);
    if (!Array.isArray(positions)) throw new InvalidInputError('resetOffsets needs an array of positions');
    // No await from the member check to the write: no member can join in between.
    const items = positions.map(({ partition, offset }) => {
      this.#checkPartition(topic, partition);
      const { high } = this.#store.watermarks(topic, partition);
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > high) {
        throw new InvalidInputError(
          `reset offset of ${topic}/${partition} must be an integer in [0, ${high}] (the high watermark), got ${offset}`,
        );
      }
      return { partition, offset, metadata: JSON.stringify({ reset: true }) };
    });
    const members = this.#membersOf(group);
    if (members.length > 0) {
      throw new GroupNotEmptyError(
        `consumer group ${group} has ${members.length} member(s) (${members.map((m) => m.memberId).join(', ')}); offsets can only be reset while it has none: stop its consumers first`,
      );
    }
    if (items.length > 0) {
      this.#store.commit(group, topic, items);
      await this.#committer.durable();
    }
  }

  async storePositions(group: string, topic: string, positions: readonly StoredPosition[]): Promise<void> {
    this.#assertOpen();
    checkGroupName(group);
    const n = this.#partitionsOf(topic);
    // No await from the member check to the write: no member can join in between.
    const checked = checkStoredPositions(topic, positions, n, (p) => this.#store.watermarks(topic, p).high);
    const members = this.#membersOf(group);
    if (members.length > 0) {
      throw new GroupNotEmptyError(
        `consumer group ${group} has ${members.length} member(s) in the embedded pointer queue (${members.map((m) => m.memberId).join(', ')}); positions can be stored only while it has none`,
      );
    }
    if (checked.length === 0) return;
    this.#store.commit(
      group,
      topic,
      checked.map(({ metadata, ...position }) => ({ ...position, metadata: storedMetadataColumn(metadata) })),
    );
    await this.#committer.durable();
  }

  async storedPositions(group: string, topic?: string): Promise<TopicStoredPosition[]> {
    this.#assertOpen();
    checkGroupName(group);
    if (topic !== undefined) this.#partitionsOf(topic);
    return this.#store
      .committedOfGroup(group)
      .filter((c) => topic === undefined || c.position.topic === topic)
      .map(({ position: { messageIndex, ...position }, metadata }) => ({
        ...position,
        ...(messageIndex ? { messageIndex } : {}),
        metadata: clientMetadataOf(metadata),
      }));
  }

  /** Topics and their read partition counts. */
  async topics(): Promise<{ name: string; partitions: number }[]> {
    this.#assertOpen();
    return this.#store.topics();
  }

  /**
   * Retention: deletes the pointers of one partition below `offset` (capped at the high
   * watermark) and moves the low watermark there. Consumers behind it continue at the new low.
   * Returns how many pointers were deleted.
   */
  async deleteBefore(topic: string, partition: number, offset: number): Promise<number> {
    this.#assertOpen();
    this.#checkPartition(topic, partition);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidInputError(`deleteBefore offset must be an integer >= 0, got ${offset}`);
    }
    const { deleted } = this.#store.deleteBefore(topic, partition, offset);
    await this.#committer.durable();
    return deleted;
  }

  /**
   * Retention by age: deletes the pointers appended more than `olderThanMs` before `now`, on
   * every partition of `topic` (or of every topic). Returns how many pointers were deleted.
   */
  async trim(olderThanMs: number, options: { topic?: string; now?: number } = {}): Promise<number> {
    this.#assertOpen();
    if (typeof olderThanMs !== 'number' || !(olderThanMs >= 0)) {
      throw new InvalidInputError(`trim olderThanMs must be a number >= 0, got ${olderThanMs}`);
    }
    const cutoff = (options.now ?? Date.now()) - olderThanMs;
    const topics =
      options.topic === undefined
        ? this.#store.topics()
        : [{ name: options.topic, partitions: this.#partitionsOf(options.topic) }];
    let deleted = 0;
    for (const t of topics) {
      for (let p = 0; p < t.partitions; p++) {
        const offset = this.#store.offsetForTimestamp(t.name, p, cutoff);
        deleted += this.#store.deleteBefore(t.name, p, offset).deleted;
      }
    }
    await this.#committer.durable();
    return deleted;
  }

  /**
   * Closes every consumer (waiting polls return `[]`) and the database, after the publishes
   * already called are committed. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#committer.settle();
    for (const g of this.#groups.values()) g.shutdown();
    this.#groups.clear();
    for (const n of this.#notifiers.values()) n.notify();
    this.#notifiers.clear();
    this.#store.close();
    this.#log('info', 'embedded pointer queue closed', { path: this.path });
  }

  #membersOf(group: string): GroupMember[] {
    const out: GroupMember[] = [];
    for (const g of this.#groups.values()) {
      if (g.group !== group) continue;
      for (const m of g.members()) {
        out.push({
          memberId: m.memberId,
          clientId: m.clientId,
          host: '',
          assignment: [{ topic: g.topic, partitions: [...m.partitions] }],
        });
      }
    }
    return out.sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  }

  #assertOpen(): void {
    if (this.#closed) throw new PermanentError(`embedded pointer queue ${this.path} is closed`);
  }

  #notifier(topic: string): Notifier {
    let n = this.#notifiers.get(topic);
    if (!n) {
      n = new Notifier();
      this.#notifiers.set(topic, n);
    }
    return n;
  }

  #partitionsOf(topic: string): number {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new InvalidInputError('topic must be a non-empty string');
    }
    let n = this.#partitions.get(topic);
    if (n === undefined) {
      n = this.#store.partitions(topic);
      if (n === undefined)
        throw new NotFoundError(`pointer topic ${topic} does not exist (ensureTopic creates it)`);
      this.#partitions.set(topic, n);
    }
    return n;
  }

  #checkPartition(topic: string, partition: number): void {
    const n = this.#partitionsOf(topic);
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new InvalidInputError(`partition must be an integer >= 0, got ${partition}`);
    }
    if (partition >= n) {
      throw new NotFoundError(
        `pointer topic ${topic} has ${n} partitions; partition ${partition} does not exist`,
      );
    }
  }
}

function groupKey(group: string, topic: string): string {
  return `${group}\u0000${topic}`;
}

function checkGroupName(group: string): void {
  if (typeof group !== 'string' || group.length === 0) {
    throw new InvalidInputError('a consumer group name must be a non-empty string');
  }
}

function checkTopicName(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || topic.length > MAX_TOPIC_NAME_LENGTH) {
    throw new InvalidInputError(
      `pointer topic name must be 1-${MAX_TOPIC_NAME_LENGTH} characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(topic)}`,
    );
  }
}
