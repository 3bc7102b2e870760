import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  type BatchPointer,
  type CommitPosition,
  ConfigError,
  CorruptDataError,
  errorMessage,
  GroupRebalanceError,
  InvalidInputError,
  isRetryable,
  type ObjectStorage,
  type PointerConsumer,
  type PointerRecord,
} from '@barge/core';
import { BatchReader, type ObjectSource, StorageObjectSource } from './batch-reader.js';
import { type DedupOptions, DedupTracker } from './dedup.js';
import { openBrokerSources } from './remote.js';
import { backoffMs, type ResolvedRetry, type RetryOptions, resolveRetry, sleep, withRetry } from './retry.js';
import type { ConsumedMessage, PointerSource } from './types.js';

export interface ConsumerOptions {
  /** Broker addresses (`host:port`). Needed unless both `pointers` and `storage` are given. */
  brokers?: string[];
  groupId: string;
  /** Default `barge-consumer-<random>`. */
  clientId?: string;
  /** Where to start on partitions with no committed position: earliest (true, the default) or latest. */
  fromBeginning?: boolean;
  /**
   * Start partitions with no committed position at this time (ms since the epoch): the first
   * pointer appended at or after it, skipping messages whose timestamp is earlier.
   */
  fromTime?: number;
  /** A member that misses heartbeats for this long loses its partitions. Default 30,000 ms. */
  sessionTimeoutMs?: number;
  /** Heartbeat period of broker-served groups. Default min(3,000, sessionTimeoutMs / 3). */
  heartbeatIntervalMs?: number;
  /** Commit processed positions automatically. Default true. */
  autoCommit?: boolean;
  /** Auto-commit at most this often. Default 5,000 ms. */
  autoCommitIntervalMs?: number;
  /** Also auto-commit after this many processed messages. Default: off. */
  autoCommitThreshold?: number;
  /** Read batches directly from this storage (needs credentials); otherwise through the broker's read proxy. */
  storage?: ObjectStorage;
  /** Read pointers from this queue directly (e.g. a Kafka PointerQueue) instead of the broker's groups. */
  pointers?: PointerSource;
  /** Pointers per poll. Default 16. */
  maxPollRecords?: number;
  /** Long-poll wait. Default 1,000 ms. */
  pollTimeoutMs?: number;
  /** Batches loaded ahead of the one being processed. Default 2. */
  prefetchBatches?: number;
  /** Skip messages a producer retry delivered twice. Default true. */
  dedup?: boolean | DedupOptions;
  /** Retries of failed handlers, reads and polls. */
  retry?: RetryOptions;
  /** What to do with a batch that fails its checksums: stop the consumer (default) or skip it. */
  onCorruptBatch?: 'fail' | 'skip';
  /** Connection settings (broker mode). */
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: ConsumedMessage;
  /** Heartbeats now (broker-served groups heartbeat on a timer anyway). */
  heartbeat(): Promise<void>;
}

export interface ConsumerBatch {
  topic: string;
  partition: number;
  /** Pointer offset of the batch. */
  offset: number;
  pointer: BatchPointer;
  /** The messages to process (already past the committed message index, duplicates and seek-by-time filters). */
  messages: ConsumedMessage[];
  isEmpty(): boolean;
}

export interface EachBatchPayload {
  batch: ConsumerBatch;
  /** Mark messages up to and including this one (or message index) as processed. */
  resolveOffset(message: ConsumedMessage | number): void;
  heartbeat(): Promise<void>;
  /** Commits if auto-commit is on and its interval or threshold was reached. */
  commitOffsetsIfNecessary(): Promise<void>;
  isRunning(): boolean;
  /** True when the partition was revoked or sought since the batch was handed out: stop processing it. */
  isStale(): boolean;
}

export interface RunOptions {
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  /** Mark the whole batch processed when `eachBatch` returns. Default true. */
  eachBatchAutoResolve?: boolean;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** Pointer offset of the next batch to read. */
  offset: number;
  /** Next message within that batch. Default 0. */
  messageIndex?: number;
}

export interface ConsumerEvents {
  crash: [error: unknown];
  rebalance: [topic: string, assignment: readonly number[]];
  commit: [positions: TopicPartitionOffset[]];
}

/** A consumer-side failure that stopped the run loop. */
export class ConsumerCrashError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConsumerCrashError';
  }
}

interface Position {
  offset: number;
  messageIndex: number;
}

/** Per (topic, read partition) state. */
interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly scope: string;
  /** Bumped at every seek, revoke or rewind: work handed out under an older generation is stale. */
  gen: number;
  /** Whether the committed position was looked up since the partition was assigned or sought. */
  initialized: boolean;
  /** Next message to process (resolved position); undefined until something was processed. */
  position: Position | undefined;
  /** Last position committed by this consumer. */
  committed: Position | undefined;
  /** Skip messages before this index in the batch at this offset (resuming mid-batch). */
  skip: Position | undefined;
  /** Skip messages older than this (seek by time), until a batch starts at or after it. */
  minTimestamp: number | undefined;
  /** Highest pointer offset handed out (to know when a rewind is needed). */
  fetchedUpTo: number;
  /** Where the first batch handed out since the last (re)start began. */
  start: Position | undefined;
}

interface Subscription {
  readonly topic: string;
  readonly fromBeginning: boolean;
  pc: PointerConsumer | undefined;
}

interface AdmittedRecord {
  sub: Subscription;
  state: PartitionState;
  gen: number;
  record: PointerRecord;
  fromIndex: number;
  minTimestamp: number | undefined;
}

interface PreparedBatch {
  admitted: AdmittedRecord;
  messages: ConsumedMessage[];
}

const cmp = (a: Position, b: Position): number => a.offset - b.offset || a.messageIndex - b.messageIndex;

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
  private readonly subs: Subscription[] = [];
  private readonly states = new Map<string, PartitionState>();
  private readonly dedup: DedupTracker | undefined;
  private readonly events = new EventEmitter<ConsumerEvents>();
  private pointerSource: PointerSource | undefined;
  private reader: BatchReader | undefined;
  private closeSources: (() => Promise<void>) | undefined;
  private connected = false;
  private running = false;
  private stopRequested = false;
  private stopSignal: { promise: Promise<void>; resolve: () => void } = deferred();
  private loop: Promise<void> | undefined;
  private lastCommitAt = Date.now();
  private processedSinceCommit = 0;
  private deliveredCount = 0;
  private crashError: unknown;
  private readonly iterating = { active: false };

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
    return this.deliveredCount;
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
      if (this.subs.some((s) => s.topic === topic)) continue;
      this.subs.push({
        topic,
        fromBeginning: options.fromBeginning ?? this.opts.fromBeginning ?? true,
        pc: undefined,
      });
    }
  }

  /** Partitions this member owns right now, per topic. */
  assignment(): { topic: string; partitions: readonly number[] }[] {
    return this.subs.map((s) => ({ topic: s.topic, partitions: s.pc?.assignment() ?? [] }));
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
    this.loop = this.runLoop(options).catch((e) => {
      this.crashError = e;
      this.events.emit('crash', e);
    });
  }

  /** Messages one at a time: `for await (const m of consumer)`. A message counts as processed when the loop asks for the next one. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumedMessage, void, undefined> {
    if (this.iterating.active) throw new InvalidInputError('the consumer is already being iterated');
    await this.start();
    this.iterating.active = true;
    try {
      for await (const batch of this.batches()) {
        const a = batch.admitted;
        for (const message of batch.messages) {
          if (!this.isCurrent(a)) break;
          if (this.isDuplicate(a, message)) continue;
          this.markDelivered(a, message);
          yield message;
          if (this.isCurrent(a)) {
            this.resolve(
              a.state,
              { offset: a.record.offset, messageIndex: message.messageIndex + 1 },
              a.record.pointer,
            );
          }
          await this.maybeAutoCommit();
        }
        if (this.isCurrent(a))
          this.resolve(a.state, { offset: a.record.offset + 1, messageIndex: 0 }, a.record.pointer);
        await this.maybeAutoCommit();
      }
    } finally {
      this.iterating.active = false;
      // Unprocessed work (the message the loop broke out on, prefetched batches) is read again
      // by the next iteration or by whoever gets the partition.
      this.rewindUnprocessed();
      this.running = false;
    }
  }

  /** Commits processed positions of every owned partition now. */
  async commit(): Promise<void> {
    const byTopic = new Map<Subscription, CommitPosition[]>();
    const committed: [PartitionState, Position][] = [];
    for (const s of this.states.values()) {
      if (s.position === undefined) continue;
      if (s.committed !== undefined && cmp(s.position, s.committed) === 0) continue;
      const sub = this.subs.find((x) => x.topic === s.topic);
      if (!sub?.pc) continue;
      if (!sub.pc.assignment().includes(s.partition)) continue;
      const list = byTopic.get(sub) ?? [];
      list.push({ partition: s.partition, offset: s.position.offset, messageIndex: s.position.messageIndex });
      byTopic.set(sub, list);
      committed.push([s, { ...s.position }]);
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
    for (const [s, pos] of committed) {
      if (done.some((d) => d.topic === s.topic && d.partition === s.partition)) s.committed = pos;
    }
    this.lastCommitAt = Date.now();
    this.processedSinceCommit = 0;
    if (done.length > 0) this.events.emit('commit', done);
  }

  /** Commits the given positions (manual commit), e.g. `{ topic, partition, offset, messageIndex }`. */
  async commitOffsets(positions: readonly TopicPartitionOffset[]): Promise<void> {
    for (const p of positions) {
      const sub = this.subFor(p.topic);
      if (!sub.pc) throw new InvalidInputError(`not joined to topic ${p.topic} yet`);
      const pos = { offset: p.offset, messageIndex: p.messageIndex ?? 0 };
      await withRetry(() => sub.pc!.commit([{ partition: p.partition, ...pos }]), this.retry);
      const s = this.state(p.topic, p.partition);
      s.committed = pos;
    }
    if (positions.length > 0) this.events.emit('commit', [...positions]);
  }

  /** Committed positions of the given partitions (undefined where nothing is committed). */
  async committed(
    topic: string,
    partitions: readonly number[],
  ): Promise<(TopicPartitionOffset | undefined)[]> {
    const sub = this.subFor(topic);
    if (!sub.pc) throw new InvalidInputError(`not joined to topic ${topic} yet`);
    const got = await sub.pc.committed(partitions);
    return got.map((c) =>
      c === undefined
        ? undefined
        : { topic, partition: c.partition, offset: c.offset, messageIndex: c.messageIndex ?? 0 },
    );
  }

  /** Marks a message (and everything before it in its partition) processed; for manual control with the iterator. */
  resolveOffset(message: ConsumedMessage): void {
    const s = this.states.get(scopeOf(message.topic, message.partition));
    if (s) this.advance(s, { offset: message.offset, messageIndex: message.messageIndex + 1 });
  }

  /**
   * Continue reading `partition` from pointer `offset` (and `messageIndex` within it). Takes
   * effect at the next poll; work already handed out for the partition is dropped.
   */
  seek(target: TopicPartitionOffset): void {
    const sub = this.subFor(target.topic);
    if (!Number.isSafeInteger(target.offset) || target.offset < 0) {
      throw new InvalidInputError(`seek offset must be a non-negative integer, got ${target.offset}`);
    }
    if (!sub.pc)
      throw new InvalidInputError(
        `not joined to topic ${target.topic} yet; seek after run() or the first message`,
      );
    const s = this.state(target.topic, target.partition);
    this.applySeek(sub, s, { offset: target.offset, messageIndex: target.messageIndex ?? 0 }, undefined);
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
    for (const sub of this.subs) {
      if (topic !== undefined && sub.topic !== topic) continue;
      if (!sub.pc) throw new InvalidInputError(`not joined to topic ${sub.topic} yet`);
      for (const p of sub.pc.assignment()) {
        const offset = await src.offsetForTimestamp(sub.topic, p, timestamp);
        this.applySeek(sub, this.state(sub.topic, p), { offset, messageIndex: 0 }, timestamp);
      }
    }
  }

  /** Stops processing, commits (when auto-commit is on), leaves the group and closes connections. */
  async disconnect(): Promise<void> {
    this.stopRequested = true;
    this.stopSignal.resolve();
    if (this.loop) await this.loop;
    this.loop = undefined;
    if (this.opts.autoCommit !== false && this.connected) {
      try {
        await this.commit();
      } catch {
        // Nothing more can be done at shutdown; the positions are redelivered.
      }
    }
    for (const sub of this.subs) {
      const pc = sub.pc;
      sub.pc = undefined;
      if (pc) await pc.close().catch(() => {});
    }
    this.states.clear();
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

  private subFor(topic: string): Subscription {
    const sub = this.subs.find((s) => s.topic === topic);
    if (!sub) throw new InvalidInputError(`not subscribed to topic ${topic}`);
    return sub;
  }

  private state(topic: string, partition: number): PartitionState {
    const scope = scopeOf(topic, partition);
    let s = this.states.get(scope);
    if (!s) {
      s = {
        topic,
        partition,
        scope,
        gen: 0,
        initialized: false,
        position: undefined,
        committed: undefined,
        skip: undefined,
        minTimestamp: undefined,
        fetchedUpTo: -1,
        start: undefined,
      };
      this.states.set(scope, s);
    }
    return s;
  }

  private async start(): Promise<void> {
    if (this.running) throw new InvalidInputError('the consumer is already running');
    if (!this.connected) await this.connect();
    if (this.subs.length === 0) throw new InvalidInputError('subscribe to a topic before run() or iterating');
    this.running = true;
    this.stopRequested = false;
    this.stopSignal = deferred();
    const src = this.requireSource();
    for (const sub of this.subs) {
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
    const owned = new Set(partitions);
    for (const s of [...this.states.values()]) {
      if (s.topic !== sub.topic) continue;
      if (!owned.has(s.partition)) {
        s.gen++;
        this.dedup?.forget(s.scope);
        this.states.delete(s.scope);
      }
    }
    for (const p of partitions) this.state(sub.topic, p);
    this.events.emit('rebalance', sub.topic, [...partitions]);
  }

  private isCurrent(a: AdmittedRecord): boolean {
    return !this.stopRequested && this.states.get(a.state.scope) === a.state && a.state.gen === a.gen;
  }

  private applySeek(
    sub: Subscription,
    s: PartitionState,
    to: Position,
    minTimestamp: number | undefined,
  ): void {
    sub.pc!.seek(s.partition, to.offset);
    s.gen++;
    s.initialized = true; // the seek decides where to start, not the committed position
    s.skip = to.messageIndex > 0 ? { ...to } : undefined;
    s.minTimestamp = minTimestamp;
    s.position = { ...to };
    s.fetchedUpTo = to.offset - 1;
    s.start = undefined;
    this.dedup?.forget(s.scope);
  }

  /** Seeks every partition with fetched-but-unprocessed work back to its processed position. */
  private rewindUnprocessed(): void {
    for (const sub of this.subs) {
      if (!sub.pc) continue;
      const owned = new Set(sub.pc.assignment());
      for (const s of this.states.values()) {
        if (s.topic !== sub.topic || !owned.has(s.partition)) continue;
        if (s.fetchedUpTo < 0) continue;
        const pos = s.position ?? s.start;
        if (pos !== undefined && s.fetchedUpTo >= pos.offset) {
          const processed = s.position !== undefined;
          this.applySeek(sub, s, pos, s.minTimestamp);
          if (!processed) s.position = undefined;
        }
      }
    }
  }

  private markDelivered(a: AdmittedRecord, m: ConsumedMessage): void {
    this.dedup?.delivered(a.state.scope, m, m.sequence);
    this.deliveredCount++;
  }

  private isDuplicate(a: AdmittedRecord, m: ConsumedMessage): boolean {
    return this.dedup?.isDuplicate(a.state.scope, m, m.sequence) ?? false;
  }

  /** Moves the processed position forward (never back), normalizing "past the last message". */
  private resolve(s: PartitionState, pos: Position, pointer: BatchPointer): void {
    const p = pos.messageIndex >= pointer.messageCount ? { offset: pos.offset + 1, messageIndex: 0 } : pos;
    this.advance(s, p);
  }

  private advance(s: PartitionState, p: Position): void {
    if (s.position === undefined || cmp(p, s.position) > 0) {
      s.position = p;
      this.processedSinceCommit++;
    }
  }

  private async maybeAutoCommit(force = false): Promise<void> {
    if (this.opts.autoCommit === false) return;
    const interval = this.opts.autoCommitIntervalMs ?? 5_000;
    const threshold = this.opts.autoCommitThreshold;
    if (
      force ||
      Date.now() - this.lastCommitAt >= interval ||
      (threshold !== undefined && this.processedSinceCommit >= threshold)
    ) {
      await this.commit();
    }
  }

  private async runLoop(options: RunOptions): Promise<void> {
    try {
      for await (const batch of this.batches()) {
        const a = batch.admitted;
        if (options.eachMessage) {
          for (const message of batch.messages) {
            if (!this.isCurrent(a)) break;
            if (this.isDuplicate(a, message)) continue;
            this.markDelivered(a, message);
            const payload: EachMessagePayload = {
              topic: a.sub.topic,
              partition: a.record.partition,
              message,
              heartbeat: () => this.heartbeat(a.sub),
            };
            await this.callHandler(() => options.eachMessage!(payload), a, message);
            if (this.isCurrent(a)) {
              this.resolve(
                a.state,
                { offset: a.record.offset, messageIndex: message.messageIndex + 1 },
                a.record.pointer,
              );
            }
            await this.maybeAutoCommit();
          }
          if (this.isCurrent(a))
            this.resolve(a.state, { offset: a.record.offset + 1, messageIndex: 0 }, a.record.pointer);
        } else {
          const messages = batch.messages.filter((m) => {
            if (this.isDuplicate(a, m)) return false;
            this.markDelivered(a, m);
            return true;
          });
          const consumerBatch: ConsumerBatch = {
            topic: a.sub.topic,
            partition: a.record.partition,
            offset: a.record.offset,
            pointer: a.record.pointer,
            messages,
            isEmpty: () => messages.length === 0,
          };
          const payload: EachBatchPayload = {
            batch: consumerBatch,
            resolveOffset: (m) => {
              if (!this.isCurrent(a)) return;
              const idx = typeof m === 'number' ? m : m.messageIndex;
              this.resolve(a.state, { offset: a.record.offset, messageIndex: idx + 1 }, a.record.pointer);
            },
            heartbeat: () => this.heartbeat(a.sub),
            commitOffsetsIfNecessary: () => this.maybeAutoCommit(),
            isRunning: () => !this.stopRequested,
            isStale: () => !this.isCurrent(a),
          };
          if (messages.length > 0) await this.callHandler(() => options.eachBatch!(payload), a, undefined);
          if ((options.eachBatchAutoResolve !== false || messages.length === 0) && this.isCurrent(a)) {
            this.resolve(a.state, { offset: a.record.offset + 1, messageIndex: 0 }, a.record.pointer);
          }
        }
        await this.maybeAutoCommit();
      }
    } catch (e) {
      this.rewindUnprocessed();
      if (this.opts.autoCommit !== false) await this.commit().catch(() => {});
      throw e;
    } finally {
      this.running = false;
    }
  }

  private async callHandler(
    fn: () => Promise<void>,
    a: AdmittedRecord,
    m: ConsumedMessage | undefined,
  ): Promise<void> {
    try {
      await withRetry(fn, this.retry, {
        retryable: () => !this.stopRequested && this.isCurrent(a),
        signal: undefined,
      });
    } catch (e) {
      if (!this.isCurrent(a)) return; // revoked or sought meanwhile: the new owner/position takes over
      const where =
        m === undefined
          ? `batch at ${a.sub.topic}/${a.record.partition} offset ${a.record.offset}`
          : `message ${a.sub.topic}/${a.record.partition} offset ${a.record.offset} index ${m.messageIndex}`;
      throw new ConsumerCrashError(`handler failed on ${where}: ${errorMessage(e)}`, { cause: e });
    }
  }

  private async heartbeat(sub: Subscription): Promise<void> {
    const pc = sub.pc as (PointerConsumer & { heartbeat?: () => Promise<void> }) | undefined;
    await pc?.heartbeat?.();
  }

  /** Polls every subscription and yields batches ready for processing, in offset order per partition. */
  private async *batches(): AsyncGenerator<PreparedBatch, void, undefined> {
    const polls = new Map<Subscription, Promise<PollResult>>();
    const stop = this.stopSignal.promise.then((): PollResult => ({ stop: true }));
    let failures = 0;
    try {
      while (!this.stopRequested) {
        for (const sub of this.subs) if (!polls.has(sub)) polls.set(sub, this.pollOne(sub));
        const r = await Promise.race([stop, ...polls.values()]);
        if ('stop' in r) return;
        polls.delete(r.sub);
        if ('error' in r) {
          if (r.error instanceof GroupRebalanceError) continue; // the assignment was refreshed
          if (!isRetryable(r.error) || failures >= this.retry.retries) throw r.error;
          await Promise.race([sleep(backoffMs(failures++, this.retry)), stop]);
          continue;
        }
        failures = 0;
        const admitted = await this.admit(r.sub, r.records);
        yield* this.prepareAll(admitted);
      }
    } finally {
      for (const p of polls.values()) p.catch(() => {});
    }
  }

  private async pollOne(sub: Subscription): Promise<PollResult> {
    try {
      const records = await sub.pc!.poll({
        maxRecords: this.opts.maxPollRecords ?? 16,
        timeoutMs: this.opts.pollTimeoutMs ?? 1_000,
      });
      return { sub, records };
    } catch (error) {
      return { sub, error };
    }
  }

  /** Looks up committed positions of newly seen partitions, drops stale records, computes where each batch starts. */
  private async admit(sub: Subscription, records: PointerRecord[]): Promise<AdmittedRecord[]> {
    const pc = sub.pc!;
    const owned = new Set(pc.assignment());
    const fresh = [...new Set(records.map((r) => r.partition))].filter((p) => {
      const s = this.states.get(scopeOf(sub.topic, p));
      return owned.has(p) && s !== undefined && !s.initialized;
    });
    if (fresh.length > 0) {
      const gens = fresh.map((p) => this.state(sub.topic, p).gen);
      let committed: (CommitPosition | undefined)[];
      try {
        committed = await withRetry(() => pc.committed(fresh), this.retry);
      } catch (e) {
        if (!(e instanceof GroupRebalanceError) && !isRetryable(e)) throw e;
        // Not initialized: read these partitions' records again next time.
        for (const p of fresh) {
          const first = Math.min(...records.filter((r) => r.partition === p).map((r) => r.offset));
          if (owned.has(p)) pc.seek(p, first);
        }
        committed = [];
      }
      for (let i = 0; i < committed.length; i++) {
        const s = this.state(sub.topic, fresh[i]!);
        if (s.gen !== gens[i] || s.initialized) continue;
        s.initialized = true;
        const c = committed[i];
        if (c) {
          const pos = { offset: c.offset, messageIndex: c.messageIndex ?? 0 };
          s.committed = pos;
          s.position ??= pos;
          s.skip = pos.messageIndex > 0 ? pos : undefined;
        } else if (this.opts.fromTime !== undefined) {
          const offset = await this.requireSource().offsetForTimestamp(
            sub.topic,
            s.partition,
            this.opts.fromTime,
          );
          this.applySeek(sub, s, { offset, messageIndex: 0 }, this.opts.fromTime);
          s.position = undefined;
        }
      }
    }
    const out: AdmittedRecord[] = [];
    for (const record of records) {
      const s = this.states.get(scopeOf(sub.topic, record.partition));
      if (!s || !owned.has(record.partition) || !s.initialized) continue;
      // records from before a seek (or duplicates of ones already handed out) are stale
      if (record.offset <= s.fetchedUpTo) continue;
      if (s.position !== undefined && record.offset < s.position.offset) continue;
      let fromIndex = 0;
      if (s.skip !== undefined) {
        if (record.offset === s.skip.offset) fromIndex = s.skip.messageIndex;
        if (record.offset >= s.skip.offset) s.skip = undefined;
      }
      s.fetchedUpTo = record.offset;
      s.start ??= { offset: record.offset, messageIndex: fromIndex };
      out.push({ sub, state: s, gen: s.gen, record, fromIndex, minTimestamp: s.minTimestamp });
      if (s.minTimestamp !== undefined && record.pointer.firstTimestamp >= s.minTimestamp)
        s.minTimestamp = undefined;
    }
    return out;
  }

  /** Loads up to `prefetchBatches` batches ahead and yields them in order. */
  private async *prepareAll(admitted: AdmittedRecord[]): AsyncGenerator<PreparedBatch, void, undefined> {
    const ahead = this.opts.prefetchBatches ?? 2;
    const queue: Promise<PreparedBatch | undefined>[] = [];
    let next = 0;
    const fill = () => {
      while (queue.length < ahead && next < admitted.length) {
        const p = this.prepare(admitted[next++]!);
        p.catch(() => {});
        queue.push(p);
      }
    };
    fill();
    while (queue.length > 0) {
      const b = await queue.shift()!;
      fill();
      if (b && this.isCurrent(b.admitted)) yield b;
    }
  }

  private async prepare(a: AdmittedRecord): Promise<PreparedBatch | undefined> {
    const p = a.record.pointer;
    if (a.fromIndex >= p.messageCount) return { admitted: a, messages: [] };
    if (a.minTimestamp !== undefined && p.lastTimestamp < a.minTimestamp)
      return { admitted: a, messages: [] };
    let loaded: Awaited<ReturnType<BatchReader['load']>>;
    try {
      loaded = await this.reader!.load(p, a.fromIndex);
    } catch (e) {
      if (e instanceof CorruptDataError && this.opts.onCorruptBatch === 'skip') {
        return { admitted: a, messages: [] };
      }
      throw e;
    }
    const messages: ConsumedMessage[] = [];
    for (const m of loaded.messages) {
      if (a.minTimestamp !== undefined && m.timestamp < a.minTimestamp) continue;
      messages.push({
        topic: a.sub.topic,
        partition: a.record.partition,
        offset: a.record.offset,
        messageIndex: m.index,
        writePartition: p.writePartition,
        batchSequence: p.sequence,
        producerId: m.producerId,
        sequence: m.sequence,
        key: m.key,
        value: m.value,
        headers: m.headers,
        timestamp: m.timestamp,
      });
    }
    return { admitted: a, messages };
  }
}

type PollResult =
  | { stop: true }
  | { sub: Subscription; records: PointerRecord[] }
  | { sub: Subscription; error: unknown };

function scopeOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
