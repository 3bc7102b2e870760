import { randomUUID } from 'node:crypto';
import { type CommitPosition, errorMessage, GroupRebalanceError, InvalidInputError } from '@barge/core';
import { ConsumeAudit } from './audit/consume-audit.js';
import { BatchFetcher, type FetchedBatch, StopSignal } from './batch-fetcher.js';
import { BatchReader } from './batch-reader.js';
import { type ResolvedCommonOptions, resolveCommonOptions } from './client-options.js';
import { CommitSchedule } from './commit-schedule.js';
import { CONSUMER_EVENTS, type ConsumerEventPayloads } from './consumer-events.js';
import {
  checkConsumerOptions,
  checkRunOptions,
  commitPosition,
  type SubscribeInput,
  seekTarget,
  subscribedTopics,
  type TopicPartitionOffsetInput,
} from './consumer-input.js';
import { ConsumerReporter } from './consumer-reporter.js';
import { openConsumerSources } from './consumer-sources.js';
import type { ConsumerEvents, ConsumerOptions, RunOptions, TopicPartitionOffset } from './consumer-types.js';
import type { DamagedDataCounts } from './damaged-data.js';
import { DedupTracker } from './dedup.js';
import { type Delivery, DeliveryLoop, type Grain } from './delivery-loop.js';
import type { InstrumentationEvent, RemoveInstrumentationEventListener } from './instrumentation.js';
import type { PartitionCursor, Position } from './partition-cursor.js';
import { RemotePointerConsumer } from './remote.js';
import { type ResolvedRetry, withRetry } from './retry.js';
import { givePartitionsUp } from './revoke-phase.js';
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
  /** The instrumentation event names `on` takes: `consumer.events.GROUP_JOIN` is `'consumer.group_join'`. */
  readonly events = CONSUMER_EVENTS;
  private readonly opts: ConsumerOptions;
  private readonly common: ResolvedCommonOptions;
  private readonly retry: ResolvedRetry;
  private readonly report: ConsumerReporter;
  private readonly dedup: DedupTracker | undefined;
  private readonly subscriptions: Subscriptions;
  private readonly schedule: CommitSchedule;
  private readonly delivery: DeliveryLoop;
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
    checkConsumerOptions(options);
    const common = resolveCommonOptions(options, 'consumer', 'Consumer');
    this.opts = options;
    this.groupId = options.groupId;
    this.clientId = options.clientId ?? `barge-consumer-${randomUUID().slice(0, 8)}`;
    this.common = common;
    this.retry = common.retry;
    this.report = new ConsumerReporter(options.groupId, common.log);
    if (options.dedup !== false) this.dedup = new DedupTracker(options.dedup === true ? {} : options.dedup);
    this.subscriptions = new Subscriptions(this.dedup);
    this.schedule = new CommitSchedule(options);
    this.delivery = new DeliveryLoop({
      dedup: this.dedup,
      schedule: this.schedule,
      commit: () => this.commit(),
      audit: ConsumeAudit.from(options, this.clientId, common.log),
    });
  }

  /**
   * Listens to an instrumentation event (kafkajs style, one of `consumer.events`, e.g.
   * `consumer.group_join`): the listener gets `{ id, type, timestamp, payload }`, and the
   * returned function removes it. The short names `crash`, `rebalance` and `commit` are the
   * earlier events with positional arguments; they return the consumer. Unknown names throw.
   */
  on<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this;
  on<E extends keyof ConsumerEventPayloads>(
    event: E,
    listener: (event: InstrumentationEvent<ConsumerEventPayloads[E]>) => void,
  ): RemoveInstrumentationEventListener;
  on(event: string, listener: (...args: never[]) => void): this | RemoveInstrumentationEventListener {
    return this.report.on(event, listener) ?? this;
  }

  /** Messages skipped because a producer retry delivered them twice. */
  get skippedDuplicates(): number {
    return this.dedup?.skipped ?? 0;
  }

  /** Damaged or missing data passed over under `onDamagedData: 'skip'`: whole batches, chunks, and their messages. */
  get skippedDamaged(): DamagedDataCounts {
    return this.report.skippedDamaged;
  }

  /** Messages handed to the application. */
  get delivered(): number {
    return this.delivery.delivered;
  }

  /**
   * Connects to the broker (unless pointers and storage were both given directly). Unreachable
   * brokers are retried (`retry`) until `connectionTimeout`; then it throws
   * `BrokerUnreachableError` naming the addresses.
   */
  async connect(): Promise<void> {
    if (this.connected) return;
    const sources = await openConsumerSources(this.opts, this.clientId, this.common, this.report);
    this.reader = new BatchReader(sources.objects, { retry: this.retry });
    this.pointerSource = sources.pointers;
    this.closeSources = sources.close;
    this.connected = true;
    this.report.connected(this.opts.brokers ?? [], sources.broker);
  }

  /**
   * Subscribe to topics by name (before `run` or iterating): `{ topic }` or `{ topics: [...] }`.
   * Anything else (e.g. a RegExp) throws `InvalidInputError` at once.
   */
  async subscribe(options: SubscribeInput): Promise<void> {
    const { topics, fromBeginning } = subscribedTopics(options);
    if (this.running) throw new InvalidInputError('subscribe before run() or iterating');
    for (const topic of topics) {
      this.subscriptions.add(topic, fromBeginning ?? this.opts.fromBeginning ?? true);
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
    checkRunOptions(options);
    await this.start();
    this.loop = this.runHandlers(options).catch((e) => {
      this.crashError = e;
      this.report.crashed(e);
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
    this.report.committed(done);
  }

  /**
   * Commits the given positions (manual commit), e.g. `{ topic, partition, offset, messageIndex }`;
   * offsets may be strings of digits, as kafkajs passes them.
   */
  async commitOffsets(positions: readonly TopicPartitionOffsetInput[]): Promise<void> {
    if (!Array.isArray(positions))
      throw new InvalidInputError('commitOffsets needs an array of { topic, partition, offset }');
    const checked = positions.map(commitPosition);
    for (const p of checked) {
      const sub = this.subscribed(p.topic);
      const at = { offset: p.offset, messageIndex: p.messageIndex };
      await withRetry(() => sub.pc!.commit([{ partition: p.partition, ...at }]), this.retry);
      this.subscriptions.cursor(p.topic, p.partition).committed(at);
    }
    this.report.committed(checked);
  }

  /** Committed positions of the given partitions (undefined where nothing is committed). */
  async committed(
    topic: string,
    partitions: readonly number[],
  ): Promise<(TopicPartitionOffset | undefined)[]> {
    const got = await this.subscribed(topic).pc!.committed(partitions);
    return got.map((c) =>
      c === undefined
        ? undefined
        : { topic, partition: c.partition, offset: c.offset, messageIndex: c.messageIndex ?? 0 },
    );
  }

  /**
   * Where an owned partition continues: the next message to process (what `commit()` would
   * commit). Undefined for a partition not owned, and for one where nothing was processed or
   * sought yet and no committed position was looked up (it is looked up with the first pointer).
   */
  position(topic: string, partition: number): TopicPartitionOffset | undefined {
    const at = this.subscriptions.existingCursor(topic, partition)?.position;
    return at && { topic, partition, offset: at.offset, messageIndex: at.messageIndex };
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
   * effect at the next poll; work already handed out for the partition is dropped. Offsets may
   * be strings of digits (kafkajs); -1 goes to the latest (only batches appended from now on),
   * -2 to the earliest: those look up the partition's watermarks first, which the returned
   * promise waits for (for other offsets it is resolved already). Invalid targets throw at once.
   */
  seek(target: TopicPartitionOffsetInput): Promise<void> {
    const t = seekTarget(target);
    const sub = this.subscribed(t.topic);
    const to = (offset: number, messageIndex: number) =>
      this.subscriptions.seek(sub, this.subscriptions.cursor(t.topic, t.partition), { offset, messageIndex });
    const { offset } = t;
    if (typeof offset === 'number') {
      to(offset, t.messageIndex);
      return Promise.resolve();
    }
    const done = this.requireSource()
      .watermarks(t.topic, t.partition)
      .then((w) => {
        if (sub.pc) to(offset === 'latest' ? w.high : w.low, 0);
      });
    done.catch((e) =>
      this.report.log.error(`seek to the ${offset} of ${t.topic}/${t.partition} failed`, {
        error: errorMessage(e),
      }),
    );
    return done;
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
    await this.delivery.closeAudit();
    await this.closeSources?.();
    const wasConnected = this.connected;
    this.closeSources = undefined;
    this.connected = false;
    this.running = false;
    if (!wasConnected) return;
    this.report.disconnected();
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
  private subscribed(topic: string): Subscription {
    const sub = this.subscriptions.get(topic);
    if (!sub.pc)
      throw new InvalidInputError(
        `not joined to topic ${topic} yet: call it after run() or the first message`,
      );
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
      // Broker-served groups report their joins themselves (`joined`), rejoins included.
      if (!(pc instanceof RemotePointerConsumer)) {
        this.report.joined({
          group: this.groupId,
          topic: sub.topic,
          memberId: '',
          assignment: pc.assignment(),
          durationMs: 0,
        });
      }
      pc.onAssignment((partitions) => this.onAssignment(sub, partitions));
      pc.onRevoke((partitions) =>
        givePartitionsUp(
          {
            subscriptions: this.subscriptions,
            delivery: this.delivery,
            commit: this.schedule.enabled && this.connected ? () => this.commit() : undefined,
            log: this.report.log,
          },
          sub,
          partitions,
        ),
      );
      this.onAssignment(sub, pc.assignment());
    }
  }

  private onAssignment(sub: Subscription, partitions: readonly number[]): void {
    const previous = this.subscriptions.assigned(sub, partitions);
    const memberId = sub.pc instanceof RemotePointerConsumer ? sub.pc.currentMemberId : '';
    this.report.assigned(sub.topic, [...partitions], previous, memberId);
  }

  /** The one delivery loop, over batches fetched for this run or iteration. */
  private deliveries(grain: Grain): AsyncGenerator<Delivery, void, undefined> {
    return this.delivery.deliveries(this.fetchedBatches(), grain);
  }

  /** The batches fetched for this run or iteration. */
  private fetchedBatches(): AsyncGenerator<FetchedBatch, void, undefined> {
    const fetcher = new BatchFetcher({
      subscriptions: this.subscriptions,
      source: this.requireSource(),
      reader: this.reader!,
      retry: this.retry,
      options: this.opts,
      stop: this.stop,
      log: this.report.log,
      report: this.report,
    });
    return fetcher.batches();
  }

  private async runHandlers(options: RunOptions): Promise<void> {
    const handle = handlerOf(options, {
      loop: this.delivery,
      retry: this.retry,
      stop: this.stop,
      log: this.report.log,
    });
    try {
      await this.delivery.each(this.fetchedBatches(), grainOf(options), handle);
    } catch (e) {
      this.subscriptions.rewindUnprocessed();
      if (this.schedule.enabled) await this.commit().catch(() => {});
      throw e;
    } finally {
      this.running = false;
    }
  }
}
