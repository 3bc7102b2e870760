import { errorMessage, hasErrorCode } from '@barge/core';
import {
  createFetchResponsePartitionData,
  createListOffsetsResponseListOffsetsPartitionResponse,
  decodeFetchRequest,
  decodeListOffsetsRequest,
  encodeFetchResponse,
  encodeListOffsetsResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchResponsePartitionData,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type ListOffsetsResponseListOffsetsPartitionResponse,
} from '@barge/kafka-protocol';
import type { Logger } from 'pino';
import type { OffsetIndex } from '../kafka-offsets/index.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import { type KafkaBrokerView, kafkaTopic } from './kafka-context.js';
import { type KafkaRecordsReader, LEADER_EPOCH } from './kafka-records.js';
import type { PublishSignal } from './publish-signal.js';

export interface FetchApiDeps {
  view: KafkaBrokerView;
  offsets: OffsetIndex;
  records: KafkaRecordsReader;
  /** Wakes waiting fetches when this broker publishes. */
  published: PublishSignal;
  log: Logger;
}

/** How often a long-polling Fetch looks for pointers other brokers published (its own wake it at once). */
const POLL_MS = 250;
const EARLIEST = -2n;
const LATEST = -1n;
const MAX_TIMESTAMP = -3n;

/**
 * Fetch 4-12 (full fetches; no KIP-227 sessions: every request names its partitions) and
 * ListOffsets 1-7, over the partition offset index. A fetch returns whole record batches from
 * the one holding `fetchOffset` (clients skip the records before it), and waits up to
 * `maxWaitMs` for `minBytes`.
 */
export function fetchApis(deps: FetchApiDeps): KafkaApi[] {
  return [
    kafkaApi<FetchRequest, FetchResponse>({
      apiKey: 1,
      name: 'Fetch',
      versions: [4, 12],
      decode: decodeFetchRequest,
      encode: encodeFetchResponse,
      handle: async (req) => {
        const deadline = Date.now() + Math.max(0, req.maxWaitMs);
        const minBytes = Math.max(1, req.minBytes);
        for (;;) {
          const responses = await Promise.all(
            req.topics.map(async (t) => ({
              topic: t.topic,
              topicId: t.topicId,
              partitions: await Promise.all(t.partitions.map((p) => fetchPartition(deps, t.topic, p))),
            })),
          );
          let bytes = 0;
          let failed = false;
          for (const t of responses) {
            for (const p of t.partitions) {
              if (p.errorCode !== KafkaError.NONE) failed = true;
              for (const b of (p.records as Buffer[] | null) ?? []) bytes += b.length;
            }
          }
          if (bytes >= minBytes || failed || Date.now() >= deadline) {
            return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] };
          }
          const partitions = req.topics.flatMap((t) =>
            t.partitions.map((p) => ({ topic: t.topic, partition: p.partition })),
          );
          await deps.published.wait(partitions, Math.min(POLL_MS, deadline - Date.now()));
        }
      },
    }),
    kafkaApi<ListOffsetsRequest, ListOffsetsResponse>({
      apiKey: 2,
      name: 'ListOffsets',
      versions: [1, 7],
      decode: decodeListOffsetsRequest,
      encode: encodeListOffsetsResponse,
      handle: async (req) => ({
        throttleTimeMs: 0,
        topics: await Promise.all(
          req.topics.map(async (t) => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitions.map((p) => listOffset(deps, t.name, p.partitionIndex, p.timestamp)),
            ),
          })),
        ),
      }),
    }),
  ];
}

async function fetchPartition(
  deps: FetchApiDeps,
  topicName: string,
  p: FetchRequest['topics'][number]['partitions'][number],
): Promise<FetchResponsePartitionData> {
  const answer = (errorCode: number, init: Partial<FetchResponsePartitionData> = {}) =>
    createFetchResponsePartitionData({ partitionIndex: p.partition, errorCode, ...init });
  const topic = await kafkaTopic(deps.view.topics, topicName);
  if (!topic || p.partition < 0 || p.partition >= topic.writePartitions) {
    return answer(KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  }
  try {
    const index = await deps.offsets.partition(topic.name, p.partition);
    const marks = {
      highWatermark: BigInt(index.latest),
      lastStableOffset: BigInt(index.latest),
      logStartOffset: BigInt(index.earliest),
    };
    const located = await index.locate(Number(p.fetchOffset));
    if (located === 'at-end') return answer(KafkaError.NONE, { ...marks, records: [] });
    if (located === 'below-start' || located === 'above-end') {
      return answer(KafkaError.OFFSET_OUT_OF_RANGE, marks);
    }
    const { pointer, messageIndex } = located;
    const records = await deps.records.read(
      pointer.record.pointer,
      pointer.baseOffset,
      messageIndex,
      Math.max(1, p.partitionMaxBytes),
    );
    return answer(KafkaError.NONE, { ...marks, records });
  } catch (e) {
    // An object deleted by retention under a reader: the offset is gone.
    if (hasErrorCode(e, 'NOT_FOUND')) return answer(KafkaError.OFFSET_OUT_OF_RANGE);
    deps.log.warn({ topic: topicName, partition: p.partition, err: errorMessage(e) }, 'kafka fetch failed');
    return answer(KafkaError.KAFKA_STORAGE_ERROR);
  }
}

async function listOffset(
  deps: FetchApiDeps,
  topicName: string,
  partition: number,
  timestamp: bigint,
): Promise<ListOffsetsResponseListOffsetsPartitionResponse> {
  const answer = (errorCode: number, offset = -1n, ts = -1n) =>
    createListOffsetsResponseListOffsetsPartitionResponse({
      partitionIndex: partition,
      errorCode,
      offset,
      timestamp: ts,
      leaderEpoch: LEADER_EPOCH,
    });
  const topic = await kafkaTopic(deps.view.topics, topicName);
  if (!topic || partition < 0 || partition >= topic.writePartitions) {
    return answer(KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  }
  try {
    const index = await deps.offsets.partition(topic.name, partition);
    if (timestamp === EARLIEST) return answer(KafkaError.NONE, BigInt(index.earliest));
    if (timestamp === LATEST || timestamp === MAX_TIMESTAMP)
      return answer(KafkaError.NONE, BigInt(index.latest));
    if (timestamp < 0n) return answer(KafkaError.INVALID_REQUEST);
    const at = await index.offsetForTimestamp(Number(timestamp));
    return at === undefined ? answer(KafkaError.NONE) : answer(KafkaError.NONE, BigInt(at), timestamp);
  } catch (e) {
    deps.log.warn({ topic: topicName, partition, err: errorMessage(e) }, 'kafka list offsets failed');
    return answer(KafkaError.KAFKA_STORAGE_ERROR);
  }
}
