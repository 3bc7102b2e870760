import {
  errorMessage,
  MAX_POSITION_METADATA_BYTES,
  type PointerQueue,
  type StoredPosition,
  type TopicStoredPosition,
} from '@barge/core';
import {
  createOffsetFetchResponse,
  decodeOffsetCommitRequest,
  decodeOffsetFetchRequest,
  encodeOffsetCommitResponse,
  encodeOffsetFetchResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
} from '@barge/kafka-protocol';
import type { Logger } from 'pino';
import type { OffsetIndex } from '../kafka-offsets/index.js';
import type { GroupCoordinator } from './group-coordinator.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import { type KafkaBrokerView, kafkaTopic } from './kafka-context.js';

export interface OffsetApiDeps {
  view: KafkaBrokerView;
  groups: GroupCoordinator;
  offsets: OffsetIndex;
  pointers: PointerQueue;
  log: Logger;
}

/** A partition's committed offset as Kafka clients see it. */
interface Committed {
  partition: number;
  offset: bigint;
  metadata: string | null;
  errorCode: number;
}

/**
 * OffsetCommit 2-9 and OffsetFetch 1-9. A committed Kafka offset is stored through the pointer
 * queue as a Barge position (pointer offset + message index) with the client's metadata string,
 * so the group keeps its place across restarts, and Barge and Kafka clients of one group share it.
 */
export function offsetApis(deps: OffsetApiDeps): KafkaApi[] {
  return [
    kafkaApi<OffsetCommitRequest, OffsetCommitResponse>({
      apiKey: 8,
      name: 'OffsetCommit',
      versions: [2, 9],
      decode: decodeOffsetCommitRequest,
      encode: encodeOffsetCommitResponse,
      handle: async (req) => {
        const denied = deps.groups.validateCommit(
          req.groupId,
          req.generationIdOrMemberEpoch,
          req.memberId,
          req.groupInstanceId,
        );
        const topics = await Promise.all(
          req.topics.map(async (t) => {
            const codes =
              denied !== KafkaError.NONE
                ? t.partitions.map(() => denied as number)
                : await commitTopic(deps, req.groupId, t.name, t.partitions);
            return {
              name: t.name,
              topicId: t.topicId,
              partitions: t.partitions.map((p, i) => ({
                partitionIndex: p.partitionIndex,
                errorCode: codes[i]!,
              })),
            };
          }),
        );
        return { throttleTimeMs: 0, topics };
      },
    }),
    kafkaApi<OffsetFetchRequest, OffsetFetchResponse>({
      apiKey: 9,
      name: 'OffsetFetch',
      versions: [1, 9],
      decode: decodeOffsetFetchRequest,
      encode: encodeOffsetFetchResponse,
      handle: async (req, ctx) => {
        if (ctx.apiVersion < 8) {
          const topics = await fetchGroup(deps, req.groupId, req.topics);
          return createOffsetFetchResponse({
            topics: topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partition,
                committedOffset: p.offset,
                committedLeaderEpoch: -1,
                metadata: p.metadata,
                errorCode: p.errorCode,
              })),
            })),
          });
        }
        const groups = await Promise.all(
          req.groups.map(async (g) => ({
            groupId: g.groupId,
            errorCode: KafkaError.NONE,
            topics: (
              await fetchGroup(
                deps,
                g.groupId,
                g.topics?.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })) ?? null,
              )
            ).map((t) => ({
              name: t.name,
              topicId: Buffer.alloc(16),
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partition,
                committedOffset: p.offset,
                committedLeaderEpoch: -1,
                metadata: p.metadata,
                errorCode: p.errorCode,
              })),
            })),
          })),
        );
        return createOffsetFetchResponse({ groups });
      },
    }),
  ];
}

/** Stores one topic's commits; the error code of each partition, in request order. */
async function commitTopic(
  deps: OffsetApiDeps,
  group: string,
  topicName: string,
  partitions: OffsetCommitRequest['topics'][number]['partitions'],
): Promise<number[]> {
  const topic = await kafkaTopic(deps.view.topics, topicName);
  if (!topic) return partitions.map(() => KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  const codes: number[] = [];
  const positions: StoredPosition[] = [];
  for (const p of partitions) {
    if (p.partitionIndex < 0 || p.partitionIndex >= topic.writePartitions) {
      codes.push(KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
      continue;
    }
    if (
      p.committedMetadata !== null &&
      Buffer.byteLength(p.committedMetadata) > MAX_POSITION_METADATA_BYTES
    ) {
      codes.push(KafkaError.OFFSET_METADATA_TOO_LARGE);
      continue;
    }
    const index = await deps.offsets.partition(topic.name, p.partitionIndex);
    // Kafka takes any offset; a position must be within what the queue holds, so clamp it.
    const offset = Math.min(Math.max(Number(p.committedOffset), index.earliest), index.latest);
    const at = await index.toPosition(offset);
    if (typeof at === 'string') {
      codes.push(KafkaError.OFFSET_OUT_OF_RANGE);
      continue;
    }
    positions.push({
      partition: p.partitionIndex,
      offset: at.offset,
      messageIndex: at.messageIndex,
      metadata: p.committedMetadata,
    });
    codes.push(KafkaError.NONE);
  }
  try {
    await deps.pointers.storePositions(group, topic.name, positions);
    return codes;
  } catch (e) {
    deps.log.warn({ group, topic: topic.name, err: errorMessage(e) }, 'kafka offset commit failed');
    return codes.map((c) => (c === KafkaError.NONE ? KafkaError.COORDINATOR_NOT_AVAILABLE : c));
  }
}

/** The committed offsets of `group`: on the topics and partitions asked, or everything stored. */
async function fetchGroup(
  deps: OffsetApiDeps,
  group: string,
  asked: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
): Promise<{ name: string; partitions: Committed[] }[]> {
  let stored: TopicStoredPosition[];
  try {
    stored = await deps.pointers.storedPositions(group);
  } catch (e) {
    deps.log.warn({ group, err: errorMessage(e) }, 'kafka offset fetch failed');
    stored = [];
  }
  const byTopic = new Map<string, TopicStoredPosition[]>();
  for (const s of stored) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s]);
  const wanted =
    asked ??
    [...byTopic.entries()].map(([name, ps]) => ({ name, partitionIndexes: ps.map((p) => p.partition) }));
  return Promise.all(
    wanted.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(
        t.partitionIndexes.map((partition) =>
          committedOffset(
            deps,
            t.name,
            partition,
            byTopic.get(t.name)?.find((s) => s.partition === partition),
          ),
        ),
      ),
    })),
  );
}

async function committedOffset(
  deps: OffsetApiDeps,
  topic: string,
  partition: number,
  stored: TopicStoredPosition | undefined,
): Promise<Committed> {
  const none: Committed = { partition, offset: -1n, metadata: '', errorCode: KafkaError.NONE };
  if (!stored) return none;
  try {
    const index = await deps.offsets.partition(topic, partition);
    const offset = await index.fromPosition({
      offset: stored.offset,
      messageIndex: stored.messageIndex ?? 0,
    });
    // A position below the retained pointers: Kafka's consumers then apply auto.offset.reset.
    if (offset === 'below-start') return none;
    return { partition, offset: BigInt(offset), metadata: stored.metadata ?? '', errorCode: KafkaError.NONE };
  } catch (e) {
    deps.log.warn({ topic, partition, err: errorMessage(e) }, 'kafka offset fetch failed');
    return { ...none, errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION };
  }
}
