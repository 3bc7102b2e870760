import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type CommitPosition, ConfigError, GroupRebalanceError, InvalidInputError } from '@barge/core';
import { BatchFetcher, StopSignal } from './batch-fetcher.js';
import { BatchReader, type ObjectSource, StorageObjectSource } from './batch-reader.js';
import { CommitSchedule } from './commit-schedule.js';
import type { ConsumerEvents, ConsumerOptions, RunOptions, TopicPartitionOffset } from './consumer-types.js';
import { DedupTracker } from './dedup.js';
import { type Delivery, DeliveryLoop, type Grain } from './delivery-loop.js';
import type { PartitionCursor, Position } from './partition-cursor.js';
import { openBrokerSources } from './remote.js';
import { type ResolvedRetry, resolveRetry, withRetry } from './retry.js';
import { grainOf, handlerOf } from './run-handlers.js';
import { type Subscription, Subscriptions } from './subscriptions.js';
import type { ConsumedMessage, PointerSource } from './types.js';

export {
  type ConsumerBatch,
  ConsumerCrashError,
  type ConsumerEvents,
  type ConsumerOptions,
  type EachBatchPayload,
  type EachMessagePayload,
  type RunOptions,
  type TopicPartitionOffset,
} from './consumer-types.js';

/**
 * Reads a topic's messages as a member of a consumer group: pointers from the pointer queue
 * (through the broker, or directly), batches from object storage (directly, or through the
 * broker's read proxy). Delivery is at-least-once: a position is committed after its message
 * was processed, as (pointer offset, message index), so a restart resumes mid-batch.
 */
export class Consumer {
  readonly groupId: string;
  readonly clientId: string;
  private readonly opts: ConsumerOptions;
  private readonly retry: ResolvedRetry;
  private readonly dedup: DedupTracker | undefined;
  private readonly subscriptions: Subscriptions;
  private readonly schedule: CommitSchedule;
  private readonly delivery: DeliveryLoop;
  private readonly events = new EventEmitter<ConsumerEvents>();
  private pointerSource: PointerSource | undefined;
  private reader: BatchReader | undefined;
  private closeSources: (() => Promise<void>) | undefined;
  private connected = false;
  private running = false;
  private stop = new StopSignal();
  private loop: Promise<void> | undefined;
  private crashError: unknown;
  private iterating = false;

  constructor(options: ConsumerOptions) {
    if (typeof options?.groupId !== 'string' || options.groupId === '') {
      throw new ConfigError('consumer groupId must be a non-empty string', 'groupId');
    }
    if (!options.pointers || !options.storage) {
      if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
        throw new ConfigError(
          'consumer brokers must list at least one "host:port" unless both pointers and storage are given',
          'brokers',
        );
      }
    }
    for (const [k, min] of [
      ['sessionTimeoutMs', 1],
      ['heartbeatIntervalMs', 1],
      ['autoCommitIntervalMs', 0],
      ['autoCommitThreshold', 1],
      ['maxPollRecords', 1],
      ['pollTimeoutMs', 0],
      ['prefetchBatches', 1],
    ] as const) {
      const v = options[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
        throw new ConfigError(`consumer ${k} must be an integer >= ${min}, got ${String(v)}`, k);
      }
    }
    this.opts = options;
    this.groupId = options.groupId;
    this.clientId = options.clientId ?? `barge-consumer-${randomUUID().slice(0, 8)}`;
    this.retry = resolveRetry(options.retry);
    if (options.dedup !== false) this.dedup = new DedupTracker(options.dedup === true ? {} : options.dedup);
    this.subscriptions = new Subscriptions(this.dedup);
    this.schedule = new CommitSchedule(options);
    this.delivery = new DeliveryLoop({
      dedup: this.dedup,
      schedule: this.schedule,
      commit: () => this.commit(),
    });
  }

  on<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this {
    this.events.on(event, listener as never);
    return this;
  }

  /** Messages skipped because a producer retry delivered them twice. */
  get skippedDuplicates(): number {
    return this.dedup?.skipped ?? 0;
  }

  /** Messages handed to the application. */
  get delivered(): number {
    return this.delivery.delivered;
  }

  /** Connects to the broker (unless pointers and storage were both given directly). */
  async connect(): Promise<void> {
    if (this.connected) return;
    const o = this.opts;
    let objects: ObjectSource | undefined = o.storage ? new StorageObjectSource(o.storage) : undefined;
    let pointers = o.pointers;
    let close: (() => Promise<void>) | undefined;
    if (!objects || !pointers) {
      const remote = await openBrokerSources({
        brokers: o.brokers ?? [],
        clientId: this.clientId,
        connectTimeoutMs: o.connectTimeoutMs,
        requestTimeoutMs: o.requestTimeoutMs,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        retry: this.retry,
      });
      objects ??= remote.objects;
      pointers ??= remote.pointers;
      close = remote.close;
    }
    if (!objects || !pointers)
      throw new ConfigError('consumer needs brokers, or both pointers and storage', 'brokers');
    this.reader = new BatchReader(objects, { retry: this.retry });
    this.pointerSource = pointers;
    this.closeSources = close;
    this.connected = true;
  }

  /** Subscribe to a topic (before `run` or iterating). */
  async subscribe(options: { topic?: string; topics?: string[]; fromBeginning?: boolean }): Promise<void> {
    const topics = options.topics ?? (options.topic !== undefined ? [options.topic] : []);
    if (topics.length === 0) throw new InvalidInputError('subscribe needs a topic');
    if (this.running) throw new InvalidInputError('subscribe before run() or iterating');
    for (const topic of topics) {
      this.subscriptions.add(topic, options.fromBeginning ?? this.opts.fromBeginning ?? true);
    }
  }

  /** Partitions this member owns right now, per topic. */
  assignment(): { topic: string; partitions: readonly number[] }[] {
    return this.subscriptions.list.map((s) => ({ topic: s.topic, partitions: s.pc?.assignment() ?? [] }));
  }

  /**
   * Starts processing in the background and returns once the group is joined (kafkajs style).
   * A handler that keeps failing after `retry.retries` retries stops the loop: the `crash`
   * event fires, the failed message is not committed and is redelivered after a restart.
   */
  async run(options: RunOptions): Promise<void> {
    if (!options.eachMessage === !options.eachBatch) {
      throw new InvalidInputError('run needs exactly one of eachMessage or eachBatch');
    }
    await this.start();
    this.loop = this.runHandlers(options).catch((e) => {
      this.crashError = e;
      this.events.emit('crash', e);
    });
  }

  /** Messages one at a time: `for await (const m of consumer)`. A message counts as processed when the loop asks for the next one. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumedMessage, void, undefined> {
    if (this.iterating) throw new InvalidInputError('the consumer is already being iterated');
    await this.start();
    this.iterating = true;
    try {
      for await (const d of this.deliveries({ each: 'message' })) yield* d.messages;
    } finally {
      this.iterating = false;
      // Unprocessed work (the message the loop broke out on, prefetched batches) is read again
      // by the next iteration or by whoever gets the partition.
      this.subscriptions.rewindUnprocessed();
      this.running = false;
    }
  }

  /** Commits processed positions of every owned partition now. */
  async commit(): Promise<void> {
    const byTopic = new Map<Subscription, CommitPosition[]>();
    const committed: [PartitionCursor, Position][] = [];
    for (const cursor of this.subscriptions.cursors()) {
      const at = cursor.uncommitted;
      if (at === undefined) continue;
      const sub = this.subscriptions.find(cursor.topic);
      if (!sub?.pc) continue;
      if (!sub.pc.assignment().includes(cursor.partition)) continue;
      const list = byTopic.get(sub) ?? [];
      list.push({ partition: cursor.partition, offset: at.offset, messageIndex: at.messageIndex });
      byTopic.set(sub, list);
      committed.push([cursor, at]);
    }
    if (committed.length === 0) return;
    const done: TopicPartitionOffset[] = [];
    for (const [sub, positions] of byTopic) {
      try {
        await withRetry(() => sub.pc!.commit(positions), this.retry);
        for (const p of positions) done.push({ topic: sub.topic, ...p });
      } catch (e) {
        // Lost partitions: their uncommitted progress is redelivered to the new owner.
        if (!(e instanceof GroupRebalanceError)) throw e;
      }
    }
    for (const [cursor, at] of committed) {
      if (done.some((d) => d.topic === cursor.topic && d.partition === cursor.partition))
        cursor.committed(at);
    }
    this.schedule.committed();
    if (done.length > 0) this.events.emit('commit', done);
  }

  /** Commits the given positions (manual commit), e.g. `{ topic, partition, offset, messageIndex }`. */
  async commitOffsets(positions: readonly TopicPartitionOffset[]): Promise<void> {
    for (const p of positions) {
      const sub = this.joined(p.topic);
      const at = { offset: p.offset, messageIndex: p.messageIndex ?? 0 };
      await withRetry(() => sub.pc!.commit([{ partition: p.partition, ...at }]), this.retry);
      this.subscriptions.cursor(p.topic, p.partition).committed(at);
    }
    if (positions.length > 0) this.events.emit('commit', [...positions]);
  }

  /** Committed positions of the given partitions (undefined where nothing is committed). */
  async committed(
    topic: string,
    partitions: readonly number[],
  ): Promise<(TopicPartitionOffset | undefined)[]> {
    const got = await this.joined(topic).pc!.committed(partitions);
    return got.map((c) =>
      c === undefined
        ? undefined
        : { topic, partition: c.partition, offset: c.offset, messageIndex: c.messageIndex ?? 0 },
    );
  }

  /** Marks a message (and everything before it in its partition) processed; for manual control with the iterator. */
  resolveOffset(message: ConsumedMessage): void {
    const cursor = this.subscriptions.existingCursor(message.topic, message.partition);
    if (cursor?.processed({ offset: message.offset, messageIndex: message.messageIndex + 1 })) {
      this.schedule.processed();
    }
  }

  /**
   * Continue reading `partition` from pointer `offset` (and `messageIndex` within it). Takes
   * effect at the next poll; work already handed out for the partition is dropped.
   */
  seek(target: TopicPartitionOffset): void {
    const sub = this.subscriptions.get(target.topic);
    if (!Number.isSafeInteger(target.offset) || target.offset < 0) {
      throw new InvalidInputError(`seek offset must be a non-negative integer, got ${target.offset}`);
    }
    if (!sub.pc)
      throw new InvalidInputError(
        `not joined to topic ${target.topic} yet; seek after run() or the first message`,
      );
    const cursor = this.subscriptions.cursor(target.topic, target.partition);
    this.subscriptions.seek(sub, cursor, { offset: target.offset, messageIndex: target.messageIndex ?? 0 });
  }

  /**
   * Every owned partition (of `topic`, or of every subscribed topic) continues at the first
   * message with a timestamp at or after `timestamp`: the pointer queue finds the first batch
   * appended at or after it, and messages older than `timestamp` are skipped.
   */
  async seekToTimestamp(timestamp: number, topic?: string): Promise<void> {
    if (!Number.isSafeInteger(timestamp))
      throw new InvalidInputError(`timestamp must be an integer, got ${timestamp}`);
    const src = this.requireSource();
    for (const sub of this.subscriptions.list) {
      if (topic !== undefined && sub.topic !== topic) continue;
      if (!sub.pc) throw new InvalidInputError(`not joined to topic ${sub.topic} yet`);
      for (const p of sub.pc.assignment()) {
        const offset = await src.offsetForTimestamp(sub.topic, p, timestamp);
        this.subscriptions.seek(
          sub,
          this.subscriptions.cursor(sub.topic, p),
          { offset, messageIndex: 0 },
          timestamp,
        );
      }
    }
  }

  /** Stops processing, commits (when auto-commit is on), leaves the group and closes connections. */
  async disconnect(): Promise<void> {
    this.stop.request();
    if (this.loop) await this.loop;
    this.loop = undefined;
    if (this.schedule.enabled && this.connected) {
      try {
        await this.commit();
      } catch {
        // Nothing more can be done at shutdown; the positions are redelivered.
      }
    }
    await this.subscriptions.close();
    await this.closeSources?.();
    this.closeSources = undefined;
    this.connected = false;
    this.running = false;
  }

  /** The error that stopped `run`, if any. */
  get crashed(): unknown {
    return this.crashError;
  }

  // ------------------------------------------------------------------------------------------

  private requireSource(): PointerSource {
    if (!this.pointerSource) throw new InvalidInputError('consumer is not connected; call connect() first');
    return this.pointerSource;
  }

  /** The subscription of `topic`, once its group was joined. */
  private joined(topic: string): Subscription {
    const sub = this.subscriptions.get(topic);
    if (!sub.pc) throw new InvalidInputError(`not joined to topic ${topic} yet`);
    return sub;
  }

  private async start(): Promise<void> {
    if (this.running) throw new InvalidInputError('the consumer is already running');
    if (!this.connected) await this.connect();
    if (this.subscriptions.list.length === 0) {
      throw new InvalidInputError('subscribe to a topic before run() or iterating');
    }
    this.running = true;
    this.stop = new StopSignal();
    const src = this.requireSource();
    for (const sub of this.subscriptions.list) {
      if (sub.pc) continue;
      const pc = await src.subscribe({
        group: this.groupId,
        topic: sub.topic,
        sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 30_000,
        fromBeginning: sub.fromBeginning,
        clientId: this.clientId,
      });
      sub.pc = pc;
      pc.onAssignment((partitions) => this.onAssignment(sub, partitions));
      this.onAssignment(sub, pc.assignment());
    }
  }

  private onAssignment(sub: Subscription, partitions: readonly number[]): void {
    this.subscriptions.assigned(sub, partitions);
    this.events.emit('rebalance', sub.topic, [...partitions]);
  }

  /** The one delivery loop, over batches fetched for this run or iteration. */
  private deliveries(grain: Grain): AsyncGenerator<Delivery, void, undefined> {
    const fetcher = new BatchFetcher({
      subscriptions: this.subscriptions,
      source: this.requireSource(),
      reader: this.reader!,
      retry: this.retry,
      options: this.opts,
      stop: this.stop,
    });
    return this.delivery.deliveries(fetcher.batches(), grain);
  }

  private async runHandlers(options: RunOptions): Promise<void> {
    const handle = handlerOf(options, { loop: this.delivery, retry: this.retry, stop: this.stop });
    try {
      for await (const d of this.deliveries(grainOf(options))) await handle(d);
    } catch (e) {
      this.subscriptions.rewindUnprocessed();
      if (this.schedule.enabled) await this.commit().catch(() => {});
      throw e;
    } finally {
      this.running = false;
    }
  }
}
