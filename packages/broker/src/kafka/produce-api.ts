import {
  errorMessage,
  type KafkaBatchHeader,
  kafkaChunkFromRecords,
  type ReceivedChunk,
  type TopicConfig,
} from '@barge/core';
import {
  decodeProduceRequest,
  encodeProduceResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '@barge/kafka-protocol';
import type { ByteBudget } from '../budget.js';
import type { BrokerMetrics } from '../metrics.js';
import type { DurableOutcome } from '../partition-writer.js';
import type { PartitionWriters } from '../writers.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import type { KafkaConnection } from './kafka-connection.js';
import { type KafkaBrokerView, kafkaTopic, kafkaVisible } from './kafka-context.js';
import type { ProducerStates } from './producer-state.js';

export interface ProduceApiDeps {
  view: KafkaBrokerView;
  writers: PartitionWriters;
  budget: ByteBudget;
  /** Idempotent producers' sequences per partition. */
  producers: ProducerStates;
  metrics: BrokerMetrics;
  /** True once the broker is shutting down: produce requests are refused. */
  stopping(): boolean;
}

type PartitionResponse = ProduceResponse['responses'][number]['partitionResponses'][number];

/**
 * Produce 3-12 (advertised from 0: KAFKA-18659): each partition's record batches are stored
 * unchanged as one `kafka` chunk of the write partition's open batch, after a framing and
 * CRC-32C check (never decompressed). acks=1 and acks=-1 are answered once the object is
 * stored and its pointer committed, with the offset of the first record; acks=0 gets no answer.
 */
export function produceApi(deps: ProduceApiDeps): KafkaApi {
  return kafkaApi<ProduceRequest, ProduceResponse>({
    apiKey: 0,
    name: 'Produce',
    versions: [3, 12],
    advertised: [0, 12],
    decode: decodeProduceRequest,
    encode: encodeProduceResponse,
    handle: async (req, ctx) => {
      if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) {
        return answerAll(req, KafkaError.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${req.acks}`);
      }
      if (req.transactionalId !== null) {
        const why =
          'Barge does not support Kafka transactions; use an idempotent producer without transactional.id';
        return answerAll(req, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, why);
      }
      // Appends happen now, in request order; only the acks are awaited.
      const pending = req.topicData.map((t) => {
        const partitions = t.partitionData.map((p) =>
          producePartition(deps, ctx.conn, t.name, p.index, p.records, req.timeoutMs),
        );
        return { name: t.name, topicId: t.topicId, partitions };
      });
      if (req.acks === 0) return undefined;
      const responses = await Promise.all(
        pending.map(async ({ name, topicId, partitions }) => ({
          name,
          topicId,
          partitionResponses: await Promise.all(partitions),
        })),
      );
      return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
    },
  });
}

/** Appends one partition's records now (when the topic is known) and resolves with its answer. */
function producePartition(
  deps: ProduceApiDeps,
  conn: KafkaConnection,
  topicName: string,
  partition: number,
  records: Buffer | null,
  timeoutMs: number,
): PartitionResponse | Promise<PartitionResponse> {
  if (deps.stopping())
    return failed(partition, KafkaError.NOT_LEADER_OR_FOLLOWER, 'the broker is shutting down');
  const known = deps.view.topics.get(topicName);
  const append = (topic: TopicConfig | undefined) =>
    appendRecords(deps, conn, topic, topicName, partition, records, timeoutMs);
  return known ? append(known) : kafkaTopic(deps.view.topics, topicName).then(append);
}

function appendRecords(
  deps: ProduceApiDeps,
  conn: KafkaConnection,
  topic: TopicConfig | undefined,
  topicName: string,
  partition: number,
  records: Buffer | null,
  timeoutMs: number,
): PartitionResponse | Promise<PartitionResponse> {
  if (!topic || !kafkaVisible(topic) || partition < 0 || partition >= topic.writePartitions) {
    return failed(partition, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${topicName}/${partition}`);
  }
  const owner = deps.view.ownership.check(topic.name, partition);
  if (!owner.owned) return failed(partition, KafkaError.NOT_LEADER_OR_FOLLOWER, owner.why);
  if (records === null || records.length === 0)
    return failed(partition, KafkaError.CORRUPT_MESSAGE, 'no records');
  let chunk: ReceivedChunk;
  let first: KafkaBatchHeader;
  try {
    const { bytes, meta, batches } = kafkaChunkFromRecords(records);
    chunk = { parts: [bytes], meta };
    first = batches[0]!;
  } catch (e) {
    return failed(partition, KafkaError.CORRUPT_MESSAGE, errorMessage(e));
  }
  const { messageCount, length } = chunk.meta;
  if (first.isTransactional) {
    return failed(
      partition,
      KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      'Barge does not support Kafka transactions',
    );
  }
  const sequence = deps.producers.check(topic.name, partition, {
    producerId: first.producerId,
    producerEpoch: first.producerEpoch,
    baseSequence: first.baseSequence,
    records: messageCount,
  });
  if (sequence.kind === 'refuse') return failed(partition, sequence.code, sequence.message);
  if (sequence.kind === 'duplicate') {
    return sequence.offset.then((o) =>
      o === undefined
        ? failed(
            partition,
            KafkaError.KAFKA_STORAGE_ERROR,
            'the original of this retried batch was not stored',
          )
        : partitionResponse(partition, KafkaError.NONE, o),
    );
  }
  deps.metrics.produceRequests.inc({ topic: topic.name });
  deps.metrics.produceBytes.inc({ topic: topic.name }, length);
  deps.metrics.produceMessages.inc({ topic: topic.name }, messageCount);
  const appended = deps.writers.get(topic.name, partition).append([chunk], messageCount, length, true);
  if (deps.budget.over) conn.pause();
  const durable = appended.durable!;
  sequence.settle(
    durable.then((o) =>
      o.stored && o.baseOffset !== undefined ? BigInt(o.baseOffset + appended.firstMessageIndex) : undefined,
    ),
  );
  return withTimeout(durable, timeoutMs).then((outcome) => {
    if (outcome === 'timeout') {
      return failed(
        partition,
        KafkaError.REQUEST_TIMED_OUT,
        `not stored within ${timeoutMs} ms; it may still be`,
      );
    }
    if (!outcome.stored) return failed(partition, KafkaError.KAFKA_STORAGE_ERROR, outcome.message);
    if (outcome.baseOffset === undefined) {
      return failed(partition, KafkaError.KAFKA_STORAGE_ERROR, 'the stored batch has no Kafka offset');
    }
    const offset = BigInt(outcome.baseOffset + appended.firstMessageIndex);
    return partitionResponse(partition, KafkaError.NONE, offset);
  });
}

function failed(partition: number, errorCode: number, message: string): PartitionResponse {
  return partitionResponse(partition, errorCode, -1n, message);
}

function partitionResponse(
  index: number,
  errorCode: number,
  baseOffset: bigint,
  errorMessage: string | null = null,
): PartitionResponse {
  return {
    index,
    errorCode,
    baseOffset,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
  };
}

function answerAll(req: ProduceRequest, errorCode: number, message: string): ProduceResponse | undefined {
  if (req.acks === 0) return undefined;
  return {
    responses: req.topicData.map((t) => ({
      name: t.name,
      topicId: t.topicId,
      partitionResponses: t.partitionData.map((p) => partitionResponse(p.index, errorCode, -1n, message)),
    })),
    throttleTimeMs: 0,
    nodeEndpoints: [],
  };
}

function withTimeout(p: Promise<DurableOutcome>, ms: number): Promise<DurableOutcome | 'timeout'> {
  if (ms <= 0) return p;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
    void p.then((o) => {
      clearTimeout(timer);
      resolve(o);
    });
  });
}
