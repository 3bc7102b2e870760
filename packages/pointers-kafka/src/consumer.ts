import {
  type BargeError,
  type CommitPosition,
  errorMessage,
  GroupRebalanceError,
  InvalidInputError,
  PermanentError,
  type PointerConsumer,
  type PointerRecord,
  type RevokeListener,
  type SubscribeOptions,
} from '@barge/core';
import { type Consumer, type EachBatchPayload, PartitionAssigners } from 'kafkajs';
import { commitMetadata, parseMessageIndex } from './commit-metadata.js';
import { mapKafkaError } from './errors.js';
import { FetchedPointers } from './fetched-pointers.js';
import { consumerGroupId, createKafka, toSafeNumber } from './kafka.js';
import type { AdapterLog, KafkaPointersConfig } from './options.js';
import {
  type MemberWork,
  type OwnershipDeps,
  ownershipAssigner,
  release,
  type StoredOffset,
  takeOver,
} from './ownership.js';

export interface KafkaPointerConsumerDeps {
  config: KafkaPointersConfig;
  log: AdapterLog;
  options: SubscribeOptions;
  /** The Kafka topic (`topicPrefix + topic`). */
  kafkaTopic: string;
  partitionCount: number;
  /** Reads committed offsets through the queue's admin client. */
  readCommitted(groupId: string, partitions: readonly number[]): Promise<(StoredOffset | undefined)[]>;
  /** The Kafka group's members now, with the partitions each joined with. */
  groupMembers(groupId: string): Promise<MemberWork[]>;
  watermarks(partition: number): Promise<{ low: number; high: number }>;
  onClose(consumer: KafkaPointerConsumer): void;
}

const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_TIMEOUT_MS = 1000;

/**
 * One member of a Kafka consumer group on one pointer topic.
 *
 * kafkajs fetches in the background (`eachBatch`) into a bounded buffer that `poll` drains; when
 * the buffer is full the partition is paused, so memory stays bounded and the fetch loop, which
 * is also what sends kafkajs's heartbeats, never blocks. Offsets are committed only by `commit`
 * (autoCommit is off); `metadata` carries `{"messageIndex":n}`.
 *
 * At a rebalance the buffer is dropped. Partitions this member keeps continue from the position
 * `poll` reached (or the last `seek`); partitions it lost go through the revoke phase (see
 * `ownership.ts`); partitions it gains start at the group's committed offset (or per
 * `fromBeginning` when nothing is committed) once their previous owner released them.
 */
export class KafkaPointerConsumer implements PointerConsumer {
  readonly group: string;
  readonly topic: string;
  /** The Kafka consumer group id (`groupPrefix + group`). */
  readonly groupId: string;
  private readonly deps: KafkaPointerConsumerDeps;
  private readonly kt: string;
  private readonly fetched: FetchedPointers;
  private consumer: Consumer | undefined;
  private assigned: readonly number[] = [];
  private assignedSet = new Set<number>();
  /** Next offset `poll` hands out, per partition: after the last record returned, or a seek target. */
  private readonly positions = new Map<number, number>();
  private readonly listeners: ((partitions: readonly number[]) => void)[] = [];
  private readonly revokeListeners: RevokeListener[] = [];
  /** Lost at the last rebalance, still assigned until their revoke phase ends. */
  private revokingNow: readonly number[] = [];
  /** This member's id in the Kafka group (from the last join). */
  private memberId = '';
  /** Counts joins: work started for an older one is stale. */
  private epoch = 0;
  /** What kafkajs assigned at the last join. */
  private joinedWith = new Set<number>();
  /** Partitions work was handed out from since this member got them: the first offset handed out. */
  private readonly worked = new Map<number, number>();
  /** The first join's handover: `start` resolves after it. */
  private firstHandOver: Promise<void> | undefined;
  /** Gained at the last join, not handed over yet, and until when fetched batches of them wait for it. */
  private pendingHandOver: { partitions: Set<number>; done: Promise<void>; waitUntil: number } | undefined;
  private readonly waiters = new Set<() => void>();
  private joins = 0;
  private lastCrash: unknown;
  private fatal: BargeError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Longest a fetched batch waits for its partition's handover (see `onJoin`). */
  private handOverWaitMs = 0;

  constructor(deps: KafkaPointerConsumerDeps) {
    this.deps = deps;
    this.group = deps.options.group;
    this.topic = deps.options.topic;
    this.groupId = consumerGroupId(deps.config, deps.options.group);
    this.kt = deps.kafkaTopic;
    this.fetched = new FetchedPointers(this.kt, deps.config.maxBufferedRecords, {
      pause: (partitions) => this.consumer?.pause([{ topic: this.kt, partitions: [...partitions] }]),
      resume: (partitions) =>
        this.consumer?.resume([
          partitions ? { topic: this.kt, partitions: [...partitions] } : { topic: this.kt },
        ]),
    });
  }

  /** Connects, joins the group and waits for the first assignment. */
  async start(): Promise<void> {
    const { config, options, log } = this.deps;
    const sessionTimeout = options.sessionTimeoutMs ?? config.sessionTimeoutMs;
    if (!Number.isInteger(sessionTimeout) || sessionTimeout < 1) {
      throw new InvalidInputError(`sessionTimeoutMs must be a positive integer, got ${sessionTimeout}`);
    }
    const heartbeatInterval = Math.max(
      1,
      Math.min(config.heartbeatIntervalMs, Math.floor(sessionTimeout / 3)),
    );
    // Heartbeats go out from the fetch loop: a held batch must not hold them past their interval.
    this.handOverWaitMs = Math.min(config.maxWaitTimeMs, heartbeatInterval);
    const kafka = createKafka(config, log, options.clientId ?? config.clientId);
    const consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout,
      heartbeatInterval,
      rebalanceTimeout: config.rebalanceTimeoutMs,
      maxWaitTimeInMs: config.maxWaitTimeMs,
      maxBytesPerPartition: config.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      partitionAssigners: [
        ownershipAssigner(() => [...this.worked.keys()].filter((p) => this.assignedSet.has(p))),
        PartitionAssigners.roundRobin,
      ],
      retry: {
        retries: config.retries,
        initialRetryTime: config.initialRetryTimeMs,
        maxRetryTime: config.maxRetryTimeMs,
      },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) =>
      this.onJoin(e.payload.memberAssignment[this.kt] ?? [], e.payload.memberId),
    );
    consumer.on(consumer.events.CRASH, (e) => this.onCrash(e.payload.error, e.payload.restart));
    const what = `join consumer group "${this.groupId}" on "${this.kt}"`;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.kt], fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => this.onBatch(payload),
      });
    } catch (e) {
      await this.abandon();
      throw mapKafkaError(e, what, config);
    }
    // kafkajs reports a failed first join through CRASH (and schedules a restart), not by throwing.
    if (this.joins === 0) {
      const crash = this.lastCrash;
      await this.abandon();
      throw mapKafkaError(crash ?? new Error('the consumer stopped before joining'), what, config);
    }
    await this.firstHandOver;
  }

  /** Pointers fetched and not yet returned by `poll` (at most `maxBufferedRecords`). */
  get bufferedRecords(): number {
    return this.fetched.size;
  }

  assignment(): readonly number[] {
    return [...this.assigned];
  }

  onAssignment(listener: (partitions: readonly number[]) => void): void {
    this.listeners.push(listener);
  }

  onRevoke(listener: RevokeListener): void {
    this.revokeListeners.push(listener);
  }

  revoking(): readonly number[] {
    return this.revokingNow;
  }

  async poll(options: { maxRecords?: number; timeoutMs?: number } = {}): Promise<PointerRecord[]> {
    const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw new InvalidInputError(`maxRecords must be a positive integer, got ${maxRecords}`);
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new InvalidInputError(`timeoutMs must be a non-negative number, got ${timeoutMs}`);
    }
    if (this.closed)
      throw new PermanentError(`consumer of group "${this.group}" on "${this.topic}" is closed`);
    const deadline = Date.now() + timeoutMs;
    const revokingAtStart = this.revokingNow;
    for (;;) {
      if (this.fatal) throw this.fatal;
      const out = this.take(maxRecords);
      // A revoke phase that starts ends the wait, so the member hears of it at once.
      if (out.length > 0 || this.closed || this.revokingNow !== revokingAtStart) return out;
      const left = deadline - Date.now();
      if (left <= 0) return out;
      await this.waitForRecords(left);
    }
  }

  async commit(positions: readonly CommitPosition[]): Promise<void> {
    for (const [i, p] of positions.entries()) {
      if (!Number.isSafeInteger(p.offset) || p.offset < 0) {
        throw new InvalidInputError(`positions[${i}].offset must be a non-negative integer, got ${p.offset}`);
      }
      if (p.messageIndex !== undefined && (!Number.isSafeInteger(p.messageIndex) || p.messageIndex < 0)) {
        throw new InvalidInputError(
          `positions[${i}].messageIndex must be a non-negative integer, got ${p.messageIndex}`,
        );
      }
      this.checkAssigned(p.partition, 'commit');
    }
    if (positions.length === 0) return;
    const consumer = this.consumer;
    if (!consumer) throw this.notAssigned(positions[0]?.partition ?? 0, 'commit');
    try {
      await consumer.commitOffsets(
        positions.map((p) => ({
          topic: this.kt,
          partition: p.partition,
          offset: String(p.offset),
          metadata: commitMetadata(p.messageIndex, this.memberId),
        })),
      );
    } catch (e) {
      const parts = positions.map((p) => p.partition).join(',');
      throw mapKafkaError(e, `commit partitions ${parts} of "${this.kt}" for group "${this.groupId}"`);
    }
  }

  async committed(partitions: readonly number[]): Promise<(CommitPosition | undefined)[]> {
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0)
        throw new InvalidInputError(`partition must be a non-negative integer, got ${p}`);
    }
    if (partitions.length === 0) return [];
    const stored = await this.deps.readCommitted(this.groupId, partitions);
    return partitions.map((partition, i) => {
      const s = stored[i];
      if (!s) return undefined;
      const offset = toSafeNumber(s.offset, `committed offset of "${this.kt}" partition ${partition}`);
      if (offset < 0) return undefined; // -1: nothing committed
      const pos: CommitPosition = { partition, offset };
      const messageIndex = parseMessageIndex(s.metadata);
      if (messageIndex !== undefined) pos.messageIndex = messageIndex;
      return pos;
    });
  }

  seek(partition: number, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidInputError(`seek offset must be a non-negative integer, got ${offset}`);
    }
    this.checkAssigned(partition, 'seek');
    const consumer = this.consumer;
    if (!consumer) throw this.notAssigned(partition, 'seek');
    this.fetched.drop(partition);
    this.positions.set(partition, offset);
    try {
      consumer.seek({ topic: this.kt, partition, offset: String(offset) });
    } catch (e) {
      throw mapKafkaError(e, `seek partition ${partition} of "${this.kt}" to ${offset}`);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.setAssignment([], false);
      this.wake();
      try {
        // Leaving the group is the release: the next owners see this member is gone.
        await this.consumer?.disconnect();
      } catch (e) {
        this.deps.log('warn', `kafka: leaving group "${this.groupId}" failed: ${errorMessage(e)}`);
      } finally {
        this.deps.onClose(this);
      }
    })();
    return this.closing;
  }

  // ------------------------------------------------------------------ kafkajs callbacks

  private onJoin(partitions: readonly number[], memberId: string): void {
    if (this.closed) return;
    const consumer = this.consumer;
    this.joins++;
    this.epoch++;
    this.memberId = memberId;
    this.lastCrash = undefined;
    const next = [...partitions].sort((a, b) => a - b);
    const keep = new Set(next);
    this.joinedWith = keep;
    const lost = this.assigned.filter((p) => !keep.has(p));
    const gained = next.filter((p) => !this.assignedSet.has(p));
    // kafkajs refetches every partition after a join: drop what we buffered and unpause.
    this.fetched.clear(true);
    for (const p of [...this.positions.keys()]) if (!keep.has(p)) this.positions.delete(p);
    // Partitions we keep continue where poll got to, not at the (older) committed offset.
    for (const [partition, offset] of this.positions) {
      consumer?.seek({ topic: this.kt, partition, offset: String(offset) });
    }
    // Gained partitions wait (unassigned) for their previous owner's release. They are not paused
    // here: with every partition paused, kafkajs's next fetch sleeps maxWaitTimeMs and resuming
    // does not wake it, which would delay every start by that long. Their batches wait in
    // `onBatch` instead, up to maxWaitTimeMs, and pause the partition only past that.
    this.pendingHandOver = undefined;
    this.revokingNow = lost;
    const now = [...next.filter((p) => !gained.includes(p)), ...lost].sort((a, b) => a - b);
    this.setAssignment(now, gained.length === 0);
    if (lost.length > 0) void this.revokePhase(lost);
    if (gained.length > 0) {
      const handing = this.handOver(gained, this.epoch);
      this.pendingHandOver = {
        partitions: new Set(gained),
        done: handing,
        waitUntil: Date.now() + this.handOverWaitMs,
      };
      this.firstHandOver ??= handing;
    }
  }

  private get revokeTimeoutMs(): number {
    return this.deps.options.sessionTimeoutMs ?? this.deps.config.sessionTimeoutMs;
  }

  /** The listeners commit what was processed of `lost`; then the partitions are marked released. */
  private async revokePhase(lost: readonly number[]): Promise<void> {
    this.wake();
    if (this.revokeListeners.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.revokeTimeoutMs);
      });
      const listeners = Promise.allSettled(this.revokeListeners.map(async (l) => l(lost)));
      await Promise.race([listeners, timeout]);
      clearTimeout(timer);
    }
    if (this.closed) return;
    await release(this.ownership(), new Map([...this.worked].filter(([p]) => lost.includes(p))));
    for (const p of lost) if (!this.joinedWith.has(p)) this.worked.delete(p);
    if (this.closed) return;
    this.revokingNow = this.revokingNow.filter((p) => !lost.includes(p));
    this.setAssignment(
      this.assigned.filter((p) => !lost.includes(p) || this.joinedWith.has(p)),
      true,
    );
  }

  /** Starts reading gained partitions once their previous owner let go of them. */
  private async handOver(gained: readonly number[], epoch: number): Promise<void> {
    const deps = this.ownership(epoch);
    let starts: Map<number, number> | undefined;
    try {
      starts = await takeOver(deps, gained, Date.now() + this.revokeTimeoutMs + 2_000);
    } catch (e) {
      this.deps.log('warn', `kafka: taking over partitions of "${this.kt}" failed: ${errorMessage(e)}`);
      starts = new Map();
    }
    if (!starts || !deps.current()) return;
    const consumer = this.consumer;
    for (const [partition, offset] of starts) {
      this.positions.set(partition, offset);
      consumer?.seek({ topic: this.kt, partition, offset: String(offset) });
    }
    consumer?.resume([{ topic: this.kt, partitions: [...gained] }]);
    for (const p of gained) this.pendingHandOver?.partitions.delete(p);
    this.setAssignment(
      [...new Set([...this.assigned, ...gained])].sort((a, b) => a - b),
      true,
    );
  }

  private ownership(epoch = this.epoch): OwnershipDeps {
    const { deps } = this;
    return {
      self: this.memberId,
      readCommitted: (ps) => deps.readCommitted(this.groupId, ps),
      members: () => deps.groupMembers(this.groupId),
      start: async (p) => {
        const w = await deps.watermarks(p);
        return (deps.options.fromBeginning ?? true) ? w.low : w.high;
      },
      commit: async (entries) => {
        await this.consumer?.commitOffsets(
          entries.map((e) => ({
            topic: this.kt,
            partition: e.partition,
            offset: String(e.offset),
            metadata: e.metadata,
          })),
        );
      },
      current: () => !this.closed && this.epoch === epoch,
      log: (level, msg, fields) => deps.log(level, msg, { group: this.groupId, topic: this.kt, ...fields }),
    };
  }

  private onCrash(error: unknown, restart: boolean): void {
    this.lastCrash = error;
    this.deps.log(restart ? 'warn' : 'error', `kafka: consumer of group "${this.groupId}" crashed`, {
      error: errorMessage(error),
      restart,
    });
    // kafkajs left the group; on restart it joins again and GROUP_JOIN gives the new assignment.
    this.fetched.clear(false);
    this.positions.clear();
    this.worked.clear();
    this.pendingHandOver = undefined;
    if (!restart && this.joins > 0) {
      this.fatal = mapKafkaError(error, `consumer of group "${this.groupId}" on "${this.kt}" stopped`);
    }
    if (!this.closed) this.setAssignment([], true);
    this.wake();
  }

  private async onBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const partition = batch.partition;
    if (this.pendingHandOver?.partitions.has(partition) && !(await this.waitForHandOver(partition))) return;
    // After a handover the partition was sought: the batch is stale and kafkajs fetches again.
    if (this.closed || !isRunning() || isStale() || !this.assignedSet.has(partition)) return;
    const last = this.fetched.add(partition, batch.messages);
    // The next fetch of this partition starts after the last record we kept.
    if (last === undefined) return;
    resolveOffset(last);
    this.wake();
  }

  /**
   * Holds a batch of a partition being handed over until the handover ends or its wait is over
   * (blocking the fetch loop no longer than an idle fetch would); past that the partition is
   * paused until `handOver` resumes it. False when the batch is to be dropped.
   */
  private async waitForHandOver(partition: number): Promise<boolean> {
    const pending = this.pendingHandOver;
    if (!pending) return true;
    const left = pending.waitUntil - Date.now();
    if (left > 0) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
      });
      await Promise.race([pending.done, waited]);
      clearTimeout(timer);
    }
    if (this.pendingHandOver !== pending || !pending.partitions.has(partition)) return true;
    this.consumer?.pause([{ topic: this.kt, partitions: [partition] }]);
    return false;
  }

  // ------------------------------------------------------------------ internals

  /** Up to `max` fetched pointers of the partitions assigned and not being revoked; `poll` got this far. */
  private take(max: number): PointerRecord[] {
    const eligible = this.assigned.filter((p) => !this.revokingNow.includes(p));
    const out = this.fetched.take(eligible, max);
    for (const r of out) {
      if (!this.worked.has(r.partition)) this.worked.set(r.partition, r.offset);
      this.positions.set(r.partition, r.offset + 1);
    }
    return out;
  }

  private setAssignment(partitions: readonly number[], notify: boolean): void {
    this.assigned = partitions;
    this.assignedSet = new Set(partitions);
    this.fetched.retain(this.assignedSet);
    if (!notify) return;
    for (const listener of this.listeners) {
      try {
        listener(this.assignment());
      } catch (e) {
        this.deps.log('error', `kafka: onAssignment listener threw: ${errorMessage(e)}`);
      }
    }
  }

  private checkAssigned(partition: number, action: string): void {
    if (!Number.isInteger(partition) || partition < 0) {
      throw new InvalidInputError(`partition must be a non-negative integer, got ${partition}`);
    }
    if (this.closed || !this.assignedSet.has(partition)) throw this.notAssigned(partition, action);
  }

  private notAssigned(partition: number, action: string): GroupRebalanceError {
    const state = this.closed ? 'the consumer is closed' : `assigned: [${this.assigned.join(', ')}]`;
    return new GroupRebalanceError(
      `cannot ${action} partition ${partition} of topic "${this.topic}": it is not assigned to this member of group "${this.group}" (${state})`,
    );
  }

  private waitForRecords(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Disconnects after a failed start (also cancels a restart kafkajs may have scheduled). */
  private async abandon(): Promise<void> {
    this.closed = true;
    try {
      await this.consumer?.disconnect();
    } catch {
      // already failing; the original error is what matters
    }
    this.deps.onClose(this);
  }
}
