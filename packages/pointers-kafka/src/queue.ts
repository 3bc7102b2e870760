import {
  type BatchPointer,
  type ClusterCoordination,
  ConfigError,
  type GroupDescription,
  type GroupListing,
  InvalidInputError,
  NotFoundError,
  type PartitionOffset,
  PermanentError,
  type PointerConsumer,
  type PointerQueue,
  type PublishedPointer,
  type StoredPosition,
  type SubscribeOptions,
  type TopicStoredPosition,
  TransientError,
} from '@barge/core';
import { type Admin, type Kafka, type Message, Partitioners } from 'kafkajs';
import { chunkBySize } from './chunks.js';
import type { AdminSlot, ProducerSlot } from './client-slots.js';
import { KafkaClusterCoordination } from './cluster/coordination.js';
import { KafkaPointerConsumer } from './consumer.js';
import { settleBy } from './deadline.js';
import { isUnknownTopicError, mapKafkaError } from './errors.js';
import { KafkaGroupAdmin } from './group-admin.js';
import { KafkaGroupPositions } from './group-positions.js';
import { createKafka, pointerTopicName, toSafeNumber } from './kafka.js';
import {
  type AdapterLog,
  defaultLog,
  type KafkaPointerQueueOptions,
  type KafkaPointersConfig,
  parseKafkaPointersConfig,
} from './options.js';
import { workedOf } from './ownership.js';
import { KafkaPartitionReader, type PointerPage } from './partition-reader.js';
import { MAX_SEND_BYTES, pointerMessages, publishedPositions } from './pointer-messages.js';
import { fetchRetentionMs } from './topic-retention.js';

/**
 * `PointerQueue` on Apache Kafka (kafkajs). One pointer topic per Barge topic
 * (`topicPrefix + topic`) with one Kafka partition per read partition; one consumer group per
 * Barge group (`groupPrefix + group`).
 *
 * Publishing uses the idempotent producer with `acks: -1`. Retries inside kafkajs are bounded
 * (`retries`, `publishTimeoutMs`): an unreachable cluster makes `publish` reject with a
 * `TransientError` and the caller retries. After any failed send the producer is replaced, so a
 * retried publication gets a new producer id and can never be mistaken by Kafka for a duplicate
 * of a batch whose outcome was unknown; such a retry may duplicate pointers (at least once).
 */
export class KafkaPointerQueue implements PointerQueue {
  readonly adapter = 'kafka';
  readonly config: KafkaPointersConfig;
  /** The bootstrap brokers, comma-separated. */
  readonly location: string;
  private readonly log: AdapterLog;
  private readonly kafka: Kafka;
  private producerSlot: ProducerSlot | undefined;
  private adminSlot: AdminSlot | undefined;
  private readonly partitionCounts = new Map<string, number>();
  private readonly consumers = new Set<KafkaPointerConsumer>();
  private readonly groupAdmin: KafkaGroupAdmin;
  private readonly groupPositions: KafkaGroupPositions;
  private readonly reader = new KafkaPartitionReader(() => ({ kafka: this.kafka, config: this.config }));
  private closed = false;
  /** Membership of a cluster of brokers and fenced publication (`cluster` config section of the broker). */
  readonly cluster: ClusterCoordination;

  constructor(options: KafkaPointerQueueOptions) {
    const { log, ...section } = options;
    this.config = parseKafkaPointersConfig(section);
    this.location = this.config.brokers.join(',');
    this.log = log ?? defaultLog;
    this.kafka = createKafka(this.config, this.log);
    this.groupAdmin = new KafkaGroupAdmin({
      config: this.config,
      withAdmin: (what, fn) => this.withAdmin(what, fn),
      partitions: (topic) => this.partitions(topic),
    });
    this.groupPositions = new KafkaGroupPositions({
      config: this.config,
      kafka: this.kafka,
      withAdmin: (what, fn) => this.withAdmin(what, fn),
      partitions: (topic) => this.partitions(topic),
    });
    this.cluster = new KafkaClusterCoordination({
      kafka: this.kafka,
      config: this.config,
      pointerTopic: (topic) => this.pointerTopic(topic),
      ensureTopic: (topic, readPartitions) => this.ensureTopic(topic, readPartitions),
      partitions: (topic) => this.cachedPartitionCount(topic),
    });
  }

  /** The Kafka topic that holds the pointers of Barge topic `topic`. */
  pointerTopic(topic: string): string {
    return pointerTopicName(this.config, topic);
  }

  async ensureTopic(topic: string, readPartitions: number): Promise<void> {
    this.checkOpen();
    const kt = this.pointerTopic(topic);
    if (!Number.isInteger(readPartitions) || readPartitions < 1 || readPartitions > 100_000) {
      throw new ConfigError(
        `topic "${topic}": readPartitions must be an integer in [1, 100000], got ${readPartitions}`,
        'readPartitions',
      );
    }
    let existing = await this.fetchPartitionCount(kt);
    if (existing === undefined) {
      const what = `create pointer topic "${kt}" with ${readPartitions} partitions`;
      await this.withAdmin(what, (admin) =>
        admin.createTopics({
          waitForLeaders: true,
          timeout: this.config.requestTimeoutMs,
          topics: [
            {
              topic: kt,
              numPartitions: readPartitions,
              replicationFactor: this.config.replicationFactor,
              configEntries: Object.entries(this.config.topicConfig).map(([name, value]) => ({
                name,
                value,
              })),
            },
          ],
        }),
      );
      // Created here or concurrently by someone else (createTopics resolves false then): check.
      // The broker answering metadata may learn of the new topic a moment after the controller.
      const until = Date.now() + this.config.requestTimeoutMs;
      existing = await this.fetchPartitionCount(kt);
      while (existing === undefined && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        existing = await this.fetchPartitionCount(kt);
      }
      if (existing === undefined) {
        throw new TransientError(`pointer topic "${kt}" was created but is not in the metadata yet`);
      }
    }
    if (existing !== readPartitions) {
      throw new ConfigError(
        `topic "${topic}": pointer topic "${kt}" exists with ${existing} partitions, but readPartitions is ${readPartitions}; ` +
          'the read partition count of an existing topic cannot change (create a new topic, or set readPartitions to match)',
        'readPartitions',
      );
    }
  }

  async partitions(topic: string): Promise<number> {
    this.checkOpen();
    const kt = this.pointerTopic(topic);
    const n = await this.fetchPartitionCount(kt);
    if (n === undefined) throw new NotFoundError(`topic "${topic}": pointer topic "${kt}" does not exist`);
    return n;
  }

  async publish(topic: string, pointers: readonly BatchPointer[]): Promise<PublishedPointer[]> {
    this.checkOpen();
    const kt = this.pointerTopic(topic);
    if (pointers.length === 0) return [];
    const deadline = Date.now() + this.config.publishTimeoutMs;
    const what = `publish ${pointers.length} pointer(s) to "${kt}"`;
    const readPartitions = await this.withDeadline(this.cachedPartitionCount(topic), deadline, what);
    const messages = pointerMessages(topic, pointers, readPartitions);
    const out: PublishedPointer[] = [];
    for (const chunk of chunkBySize(messages, MAX_SEND_BYTES)) {
      out.push(...(await this.send(kt, chunk, deadline, what)));
    }
    return out;
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    this.checkOpen();
    if (!Number.isSafeInteger(timestamp)) {
      throw new InvalidInputError(`timestamp must be an integer (ms since the epoch), got ${timestamp}`);
    }
    const kt = await this.checkPartition(topic, partition);
    // Kafka answers -1 for timestamps before the epoch; earliest is the right answer there.
    const ts = Math.max(timestamp, 0);
    const offsets = await this.withAdmin(`find the offset for timestamp ${ts} in "${kt}"`, (admin) =>
      admin.fetchTopicOffsetsByTimestamp(kt, ts),
    );
    const entry = offsets.find((o) => o.partition === partition);
    if (!entry) throw new NotFoundError(`pointer topic "${kt}" has no partition ${partition}`);
    return toSafeNumber(entry.offset, `offset of "${kt}" partition ${partition}`);
  }

  async pointerRetentionMs(topic: string): Promise<number | undefined> {
    const kt = this.pointerTopic(topic);
    return this.withAdmin(`read retention.ms of "${kt}"`, (admin) => fetchRetentionMs(admin, kt));
  }

  readPartition(topic: string, partition: number, from: number, max: number): PointerPage {
    return this.checkPartition(topic, partition).then((kt) => this.reader.read(kt, partition, from, max));
  }

  async watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    this.checkOpen();
    const kt = await this.checkPartition(topic, partition);
    const offsets = await this.withAdmin(`read the watermarks of "${kt}"`, (admin) =>
      admin.fetchTopicOffsets(kt),
    );
    const entry = offsets.find((o) => o.partition === partition);
    if (!entry) throw new NotFoundError(`pointer topic "${kt}" has no partition ${partition}`);
    const low = toSafeNumber(entry.low, `low watermark of "${kt}" partition ${partition}`);
    const high = toSafeNumber(entry.high, `high watermark of "${kt}" partition ${partition}`);
    return { low, high };
  }

  async subscribe(options: SubscribeOptions): Promise<PointerConsumer> {
    this.checkOpen();
    const kt = this.pointerTopic(options.topic);
    // A clear NotFoundError up front instead of kafkajs retrying an unknown topic.
    const partitions = await this.partitions(options.topic);
    const consumer = new KafkaPointerConsumer({
      config: this.config,
      log: this.log,
      options,
      kafkaTopic: kt,
      partitionCount: partitions,
      readCommitted: (group, ps) => this.committedPositions(group, kt, ps),
      groupMembers: (groupId) =>
        this.withAdmin(`describe group "${groupId}"`, async (admin) => {
          const { groups } = await admin.describeGroups([groupId]);
          return groups.flatMap((g) =>
            g.members.map((m) => ({ memberId: m.memberId, worked: workedOf(m.memberMetadata) })),
          );
        }),
      watermarks: (p) => this.watermarks(options.topic, p),
      onClose: (c) => this.consumers.delete(c),
    });
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (e) {
      this.consumers.delete(consumer);
      throw e;
    }
    return consumer;
  }

  async listGroups(topic?: string): Promise<GroupListing[]> {
    this.checkOpen();
    return this.groupAdmin.listGroups(topic);
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    this.checkOpen();
    return this.groupAdmin.describeGroup(group);
  }

  async resetOffsets(group: string, topic: string, positions: readonly PartitionOffset[]): Promise<void> {
    this.checkOpen();
    return this.groupAdmin.resetOffsets(group, topic, positions);
  }

  async storePositions(group: string, topic: string, positions: readonly StoredPosition[]): Promise<void> {
    this.checkOpen();
    return this.groupPositions.store(group, topic, positions);
  }

  async storedPositions(group: string, topic?: string): Promise<TopicStoredPosition[]> {
    this.checkOpen();
    return this.groupPositions.stored(group, topic);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const tasks: Promise<unknown>[] = [
      this.reader.close(),
      this.groupPositions.close(),
      ...[...this.consumers].map((c) => c.close()),
    ];
    const p = this.producerSlot;
    this.producerSlot = undefined;
    if (p) tasks.push(p.producer.disconnect());
    const a = this.adminSlot;
    this.adminSlot = undefined;
    if (a) tasks.push(a.admin.disconnect());
    await Promise.allSettled(tasks);
  }

  // ------------------------------------------------------------------ internals

  private checkOpen(): void {
    if (this.closed) throw new PermanentError('the Kafka pointer queue is closed');
  }

  /** Committed offsets of `groupId` on `kt`, for the consumer's `committed()`. */
  private committedPositions(groupId: string, kt: string, partitions: readonly number[]) {
    return this.withAdmin(`read committed offsets of group "${groupId}" on "${kt}"`, async (admin) => {
      const res = await admin.fetchOffsets({ groupId, topics: [kt] });
      const byPartition = new Map<number, { offset: string; metadata: string | null }>();
      for (const t of res) {
        if (t.topic !== kt) continue;
        for (const p of t.partitions)
          byPartition.set(p.partition, { offset: p.offset, metadata: p.metadata });
      }
      return partitions.map((p) => byPartition.get(p));
    });
  }

  /** Partition count of Kafka topic `kt`, undefined if it does not exist. */
  private async fetchPartitionCount(kt: string): Promise<number | undefined> {
    try {
      // Metadata for this topic only: an unknown topic fails fast, without kafkajs retries.
      const md = await this.withAdmin(
        `read metadata of "${kt}"`,
        (admin) => admin.fetchTopicMetadata({ topics: [kt] }),
        { retryNotFound: false },
      );
      const t = md.topics.find((x) => x.name === kt);
      if (!t) return undefined;
      this.partitionCounts.set(kt, t.partitions.length);
      return t.partitions.length;
    } catch (e) {
      if (e instanceof NotFoundError) {
        this.partitionCounts.delete(kt);
        return undefined;
      }
      throw e;
    }
  }

  private async cachedPartitionCount(topic: string): Promise<number> {
    const kt = this.pointerTopic(topic);
    return this.partitionCounts.get(kt) ?? (await this.partitions(topic));
  }

  private async checkPartition(topic: string, partition: number): Promise<string> {
    const kt = this.pointerTopic(topic);
    const n = await this.partitions(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= n) {
      throw new NotFoundError(
        `topic "${topic}" has read partitions 0..${n - 1}; there is no partition ${partition}`,
      );
    }
    return kt;
  }

  private async send(
    kt: string,
    messages: Message[],
    deadline: number,
    what: string,
  ): Promise<PublishedPointer[]> {
    const slot = await this.connectedProducer(deadline, what);
    slot.inFlight++;
    try {
      const remaining = Math.max(1, deadline - Date.now());
      const res = await this.withDeadline(
        slot.producer.send({
          topic: kt,
          acks: -1,
          timeout: Math.min(this.config.requestTimeoutMs, remaining),
          messages,
        }),
        deadline,
        what,
        () => this.retireProducer(slot, true),
      );
      return publishedPositions(kt, messages, res, what);
    } catch (e) {
      this.retireProducer(slot, false);
      if (isUnknownTopicError(e)) this.partitionCounts.delete(kt);
      throw mapKafkaError(e, what, this.config);
    } finally {
      slot.inFlight--;
      if (slot.retired && slot.inFlight === 0) this.disconnectProducer(slot);
    }
  }

  private async connectedProducer(deadline: number, what: string): Promise<ProducerSlot> {
    let slot = this.producerSlot;
    if (!slot) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: {
          retries: this.config.retries,
          initialRetryTime: this.config.initialRetryTimeMs,
          maxRetryTime: this.config.maxRetryTimeMs,
        },
      });
      slot = { producer, connected: producer.connect(), inFlight: 0, retired: false };
      // Avoid an unhandled rejection when nobody awaits this slot any more.
      slot.connected.catch(() => {});
      this.producerSlot = slot;
    }
    const s = slot;
    try {
      await this.withDeadline(s.connected, deadline, `${what} (connecting)`);
    } catch (e) {
      this.retireProducer(s, true);
      throw mapKafkaError(e, `${what} (connecting)`, this.config);
    }
    return s;
  }

  /**
   * Stops using `slot` for new sends. The producer is disconnected once its in-flight sends
   * finish, or right away with `now` (a send hung past its deadline).
   */
  private retireProducer(slot: ProducerSlot, now: boolean): void {
    if (this.producerSlot === slot) this.producerSlot = undefined;
    slot.retired = true;
    if (now || slot.inFlight === 0) this.disconnectProducer(slot);
  }

  private disconnectProducer(slot: ProducerSlot): void {
    slot.producer.disconnect().catch((e: unknown) => {
      this.log('warn', 'kafka: disconnecting a retired producer failed', { error: String(e) });
    });
  }

  /** Runs `fn` with the shared admin client; a client that failed is replaced for the next call. */
  private async withAdmin<T>(
    what: string,
    fn: (admin: Admin) => Promise<T>,
    { retryNotFound = true }: { retryNotFound?: boolean } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let slot = this.adminSlot;
      if (!slot) {
        const admin = this.kafka.admin();
        slot = { admin, connected: admin.connect() };
        slot.connected.catch(() => {});
        this.adminSlot = slot;
      }
      try {
        await slot.connected;
        return await fn(slot.admin);
      } catch (e) {
        const mapped = mapKafkaError(e, what, this.config);
        const notFound = mapped instanceof NotFoundError && retryNotFound;
        if (mapped instanceof TransientError || notFound) {
          // kafkajs keeps every topic an admin client has looked at in its metadata requests; a
          // topic deleted since then fails them all. A fresh client forgets those topics.
          if (this.adminSlot === slot) this.adminSlot = undefined;
          slot.admin.disconnect().catch(() => {});
          if (attempt === 0 && notFound && !this.closed) continue;
        }
        throw mapped;
      }
    }
  }

  /** `p`, or a `TransientError` once `deadline` passes (then `onTimeout` runs). */
  private withDeadline<T>(p: Promise<T>, deadline: number, what: string, onTimeout?: () => void): Promise<T> {
    const { publishTimeoutMs, brokers } = this.config;
    const timeout = () =>
      new TransientError(
        `${what}: no answer from Kafka within publishTimeoutMs (${publishTimeoutMs} ms); brokers ${brokers.join(',')}`,
      );
    return settleBy(p, deadline, timeout, onTimeout);
  }
}
