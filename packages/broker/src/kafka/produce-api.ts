import {
  ErrorCode,
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
import type { Appended, DurableOutcome } from '../partition-writer.js';
import { raceTimeout } from '../race-timeout.js';
import type { PartitionWriters } from '../writers.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import type { KafkaConnection } from './kafka-connection.js';
import { type KafkaBrokerView, kafkaTopic, kafkaVisible } from './kafka-context.js';
import { kafkaNodes, nodeOf } from './kafka-placement.js';
import { LEADER_EPOCH } from './kafka-records.js';
import type { BatchOutcome, ProducerStates } from './producer-state.js';

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
      return { responses, throttleTimeMs: 0, nodeEndpoints: leaderEndpoints(deps.view, responses) };
    },
  });
}

/**
 * KIP-951: the Kafka address of each leader a NOT_LEADER_OR_FOLLOWER answer names (encoded from
 * Produce v10), so clients can send there without a Metadata round trip.
 */
function leaderEndpoints(
  view: KafkaBrokerView,
  responses: ProduceResponse['responses'],
): ProduceResponse['nodeEndpoints'] {
  const ids = new Set<number>();
  for (const t of responses)
    for (const p of t.partitionResponses)
      if (p.errorCode === KafkaError.NOT_LEADER_OR_FOLLOWER && p.currentLeader.leaderId >= 0)
        ids.add(p.currentLeader.leaderId);
  if (ids.size === 0) return [];
  const nodes = kafkaNodes(view);
  return [...ids].flatMap((id) => {
    const node = nodeOf(nodes, id);
    return node ? [{ ...node, rack: null }] : [];
  });
}

/** Another broker owns the write partition (or none does now): the answer names the owner as leader. */
function notLeader(
  view: KafkaBrokerView,
  partition: number,
  ownerId: number,
  why: string,
): PartitionResponse {
  const leader = nodeOf(kafkaNodes(view), ownerId);
  const message = leader ? `${why}; the leader is broker ${leader.nodeId}` : why;
  return {
    ...failed(partition, KafkaError.NOT_LEADER_OR_FOLLOWER, message),
    currentLeader: leader ? { leaderId: leader.nodeId, leaderEpoch: LEADER_EPOCH } : NO_LEADER,
  };
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
  if (!owner.owned) return notLeader(deps.view, partition, owner.ownerId, owner.why);
  if (records === null || records.length === 0)
    return failed(partition, KafkaError.CORRUPT_MESSAGE, 'no records');
  let chunk: ReceivedChunk;
  let batches: KafkaBatchHeader[];
  try {
    const made = kafkaChunkFromRecords(records);
    chunk = { parts: [made.bytes], meta: made.meta };
    batches = made.batches;
  } catch (e) {
    return failed(partition, KafkaError.CORRUPT_MESSAGE, errorMessage(e));
  }
  const first = batches[0]!;
  if (first.isTransactional) {
    return failed(
      partition,
      KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      'Barge does not support Kafka transactions',
    );
  }
  if (first.producerId < 0) return appendChecked(deps, conn, topic.name, partition, chunk, first, timeoutMs);
  // Kafka takes exactly one batch per partition from Produce v3 on; idempotence tracks one range per request.
  if (batches.length > 1) {
    return failed(
      partition,
      KafkaError.INVALID_RECORD,
      'an idempotent produce takes one record batch per partition',
    );
  }
  const rebuilding = deps.producers.ready(topic.name, partition);
  if (!rebuilding) return appendChecked(deps, conn, topic.name, partition, chunk, first, timeoutMs);
  // Waited for, never refused; the waiting batches resume in arrival order once it is done.
  return rebuilding.then(
    () =>
      stillOwner(deps, topic.name, partition) ??
      appendChecked(deps, conn, topic.name, partition, chunk, first, timeoutMs),
    (e: unknown) =>
      stillOwner(deps, topic.name, partition) ??
      failed(
        partition,
        KafkaError.KAFKA_STORAGE_ERROR,
        `the partition's idempotent producers could not be recovered yet: ${errorMessage(e)}`,
      ),
  );
}

/** After a wait: an answer when the broker is stopping or no longer owns the partition; else undefined. */
function stillOwner(deps: ProduceApiDeps, topic: string, partition: number): PartitionResponse | undefined {
  if (deps.stopping())
    return failed(partition, KafkaError.NOT_LEADER_OR_FOLLOWER, 'the broker is shutting down');
  const owner = deps.view.ownership.check(topic, partition);
  return owner.owned ? undefined : notLeader(deps.view, partition, owner.ownerId, owner.why);
}

/** Checks the batch against the partition's idempotent producers, then appends it (or answers a retry). */
function appendChecked(
  deps: ProduceApiDeps,
  conn: KafkaConnection,
  topic: string,
  partition: number,
  chunk: ReceivedChunk,
  first: KafkaBatchHeader,
  timeoutMs: number,
): PartitionResponse | Promise<PartitionResponse> {
  const { messageCount, length } = chunk.meta;
  const sequence = deps.producers.check(topic, partition, {
    producerId: first.producerId,
    producerEpoch: first.producerEpoch,
    baseSequence: first.baseSequence,
    records: messageCount,
  });
  if (sequence.kind === 'refuse') return failed(partition, sequence.code, sequence.message);
  if (sequence.kind === 'duplicate') return duplicateAnswer(partition, sequence.outcome, timeoutMs);
  deps.metrics.produceRequests.inc({ topic });
  deps.metrics.produceBytes.inc({ topic }, length);
  deps.metrics.produceMessages.inc({ topic }, messageCount);
  let appended: Appended;
  try {
    appended = deps.writers.get(topic, partition).append([chunk], messageCount, length, true);
  } catch (e) {
    sequence.settle(Promise.resolve('not-stored'));
    throw e;
  }
  if (deps.budget.over) conn.pause();
  const durable = appended.durable!;
  sequence.settle(durable.then((o) => batchOutcome(o, appended.firstMessageIndex)));
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
    currentLeader: NO_LEADER,
  };
}

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 } as const;

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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return ms > 0 ? raceTimeout(p, ms) : p;
}

/** What the idempotence state remembers of an appended batch's durable outcome. */
function batchOutcome(o: DurableOutcome, firstMessageIndex: number): BatchOutcome {
  if (o.stored) return o.baseOffset === undefined ? 'unknown' : BigInt(o.baseOffset + firstMessageIndex);
  // Held acks answered while the pointer queue is down: the batch may still be published.
  return o.code === ErrorCode.POINTER_QUEUE_UNAVAILABLE ? 'unknown' : 'not-stored';
}

/** The answer to a retry of a batch this partition already took: the original's offset once it is stored. */
function duplicateAnswer(
  partition: number,
  outcome: Promise<BatchOutcome>,
  timeoutMs: number,
): Promise<PartitionResponse> {
  return withTimeout(outcome, timeoutMs).then((o) => {
    if (typeof o === 'bigint') return partitionResponse(partition, KafkaError.NONE, o);
    if (o === 'timeout') {
      const why = `the original of this retried batch was not stored within ${timeoutMs} ms; it may still be`;
      return failed(partition, KafkaError.REQUEST_TIMED_OUT, why);
    }
    const why =
      o === 'not-stored'
        ? 'the original of this retried batch was not stored; send it again'
        : 'the original of this retried batch may still be stored (the pointer queue was unavailable); its offset is unknown';
    return failed(partition, KafkaError.KAFKA_STORAGE_ERROR, why);
  });
}
