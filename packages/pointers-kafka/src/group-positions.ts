import {
  checkStoredPositions,
  GroupNotEmptyError,
  InvalidInputError,
  PermanentError,
  type StoredPosition,
  type TopicStoredPosition,
} from '@barge/core';
import type { Admin, Kafka } from 'kafkajs';
import { encodeCommitMetadata, parseCommitMetadata } from './commit-metadata.js';
import { kafkaErrorTypes, mapKafkaError } from './errors.js';
import { connectInternalCluster, type InternalBroker, type InternalCluster } from './internal-cluster.js';
import { bargeTopicName, consumerGroupId, pointerTopicName, toSafeNumber } from './kafka.js';
import type { KafkaPointersConfig } from './options.js';

export interface KafkaGroupPositionsDeps {
  config: KafkaPointersConfig;
  kafka: Kafka;
  /** Runs `fn` with the queue's shared admin client, mapping failures to core errors. */
  withAdmin<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T>;
  /** Read partitions of a Barge topic; `NotFoundError` when its pointer topic is missing. */
  partitions(topic: string): Promise<number>;
}

/**
 * Kafka's answers to a commit outside any generation while the group has members (or is
 * rebalancing): it takes commits from the current generation's members only.
 */
const GROUP_BUSY = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);
/** The coordinator moved or is loading the group (after a Kafka restart): ask again. */
const COORDINATOR_BUSY = new Set([
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
]);
const MAX_ATTEMPTS = 5;

/**
 * `storePositions` and `storedPositions` of the Kafka queue. Positions are committed offsets of
 * the Kafka consumer group `groupPrefix + group` on the pointer topic, with `messageIndex` and
 * the client's string in the commit metadata (`commit-metadata.ts`), so Barge members of the
 * group, `describeGroup` and Kafka's own tools see them. They are written with Kafka's "simple"
 * commit (generation -1, no member id), which its coordinator accepts only while the group has
 * no members: `GroupNotEmptyError` otherwise. kafkajs has no such call in its public API
 * (`admin.setOffsets` joins the group for seconds and drops metadata), so the commit goes
 * through its internal cluster client, connected at the first store.
 */
export class KafkaGroupPositions {
  #cluster: Promise<InternalCluster> | undefined;
  #closed = false;

  constructor(private readonly d: KafkaGroupPositionsDeps) {}

  async store(group: string, topic: string, positions: readonly StoredPosition[]): Promise<void> {
    const { config } = this.d;
    const groupId = consumerGroupId(config, group);
    const kt = pointerTopicName(config, topic);
    const n = await this.d.partitions(topic);
    const highs = new Map<number, number>();
    if (Array.isArray(positions) && positions.length > 0) {
      const offsets = await this.d.withAdmin(`read the watermarks of "${kt}"`, (admin) =>
        admin.fetchTopicOffsets(kt),
      );
      for (const o of offsets) {
        highs.set(o.partition, toSafeNumber(o.high, `high watermark of "${kt}" partition ${o.partition}`));
      }
    }
    const checked = checkStoredPositions(topic, positions, n, (p) => highs.get(p) ?? 0);
    if (checked.length === 0) return;
    const partitions = checked.map(({ partition, offset, messageIndex, metadata }) => ({
      partition,
      offset: String(offset),
      metadata: encodeCommitMetadata({
        ...(messageIndex === undefined ? {} : { messageIndex }),
        clientMetadata: metadata,
      }),
    }));
    await this.#commit(group, {
      groupId,
      groupGenerationId: -1,
      memberId: '',
      topics: [{ topic: kt, partitions }],
    });
  }

  async stored(group: string, topic?: string): Promise<TopicStoredPosition[]> {
    const { config } = this.d;
    const groupId = consumerGroupId(config, group);
    let kt: string | undefined;
    if (topic !== undefined) {
      kt = pointerTopicName(config, topic);
      await this.d.partitions(topic);
    }
    const topics = await this.d.withAdmin(`read the committed offsets of group "${groupId}"`, (admin) =>
      admin.fetchOffsets(kt === undefined ? { groupId } : { groupId, topics: [kt] }),
    );
    const out: TopicStoredPosition[] = [];
    for (const t of topics) {
      const bargeTopic = bargeTopicName(config, t.topic);
      if (bargeTopic === undefined || (kt !== undefined && t.topic !== kt)) continue;
      for (const p of t.partitions) {
        const offset = toSafeNumber(p.offset, `committed offset of "${t.topic}" partition ${p.partition}`);
        if (offset < 0) continue; // nothing committed
        const { messageIndex, clientMetadata } = parseCommitMetadata(p.metadata);
        out.push({
          topic: bargeTopic,
          partition: p.partition,
          offset,
          ...(messageIndex ? { messageIndex } : {}),
          metadata: clientMetadata ?? null,
        });
      }
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#drop();
  }

  async #commit(group: string, request: Parameters<InternalBroker['offsetCommit']>[0]): Promise<void> {
    const what = `store positions of group "${request.groupId}" on "${request.topics[0]?.topic}"`;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new PermanentError('the Kafka pointer queue is closed');
      this.#cluster ??= connectInternalCluster(this.d.kafka);
      const connecting = this.#cluster;
      try {
        const coordinator = await (await connecting).findGroupCoordinator({ groupId: request.groupId });
        await coordinator.offsetCommit(request);
        return;
      } catch (e) {
        const types = kafkaErrorTypes(e);
        if (types.some((t) => GROUP_BUSY.has(t))) {
          throw new GroupNotEmptyError(
            `consumer group ${group} has members in Kafka (group "${request.groupId}": Barge consumers of the Kafka pointer queue); positions can be stored only while it has none`,
            { cause: e },
          );
        }
        if (types.includes('OFFSET_METADATA_TOO_LARGE')) {
          throw new InvalidInputError(
            `${what}: Kafka refused the commit metadata as too large; Barge needs offset.metadata.max.bytes of at least 4096 (Kafka's default)`,
            { cause: e },
          );
        }
        if (types.some((t) => COORDINATOR_BUSY.has(t)) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, this.d.config.initialRetryTimeMs * attempt));
          continue;
        }
        // A connection that failed is replaced at the next store; Kafka's answers keep it.
        if (types.length === 0 && this.#cluster === connecting) await this.#drop();
        throw mapKafkaError(e, what, this.d.config);
      }
    }
  }

  async #drop(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    await cluster?.then((c) => c.disconnect()).catch(() => {});
  }
}
