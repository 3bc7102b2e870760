import { ErrorCode, errorMessage } from '@barge/core';
import {
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  createCreateTopicsResponseCreatableTopicResult,
  createDescribeConfigsResponseDescribeConfigsResult,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  decodeCreateTopicsRequest,
  decodeDescribeConfigsRequest,
  decodeInitProducerIdRequest,
  decodeOffsetForLeaderEpochRequest,
  encodeCreateTopicsResponse,
  encodeDescribeConfigsResponse,
  encodeInitProducerIdResponse,
  encodeOffsetForLeaderEpochResponse,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
} from '@barge/kafka-protocol';
import type { Logger } from 'pino';
import { RequestError } from '../errors.js';
import type { OffsetIndex } from '../kafka-offsets/index.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import { type KafkaBrokerView, kafkaTopic, topicId } from './kafka-context.js';
import { LEADER_EPOCH } from './kafka-records.js';
import type { ProducerIds } from './producer-ids.js';

export interface AdminApiDeps {
  view: KafkaBrokerView;
  producerIds: ProducerIds;
  offsets: OffsetIndex;
  maxTopics: number;
  log: Logger;
}

const TOPIC_RESOURCE = 2;

/** InitProducerId, CreateTopics, OffsetForLeaderEpoch and DescribeConfigs. */
export function adminApis(deps: AdminApiDeps): KafkaApi[] {
  return [
    kafkaApi<InitProducerIdRequest, InitProducerIdResponse>({
      apiKey: 22,
      name: 'InitProducerId',
      versions: [0, 5],
      decode: decodeInitProducerIdRequest,
      encode: encodeInitProducerIdResponse,
      handle: async (req) => {
        const answer = (errorCode: number, producerId = -1n, producerEpoch = -1) => ({
          throttleTimeMs: 0,
          errorCode,
          producerId,
          producerEpoch,
          ongoingTxnProducerId: -1n,
          ongoingTxnProducerEpoch: -1,
        });
        if (req.transactionalId !== null) return answer(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        try {
          return answer(KafkaError.NONE, await deps.producerIds.next(), 0);
        } catch (e) {
          deps.log.warn({ err: errorMessage(e) }, 'cannot lease Kafka producer ids');
          return answer(KafkaError.COORDINATOR_NOT_AVAILABLE);
        }
      },
    }),
    kafkaApi<CreateTopicsRequest, CreateTopicsResponse>({
      apiKey: 19,
      name: 'CreateTopics',
      versions: [2, 7],
      decode: decodeCreateTopicsRequest,
      encode: encodeCreateTopicsResponse,
      handle: async (req) => ({
        throttleTimeMs: 0,
        topics: await Promise.all(req.topics.map((t) => createTopic(deps, t, req.validateOnly))),
      }),
    }),
    kafkaApi<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>({
      apiKey: 23,
      name: 'OffsetForLeaderEpoch',
      versions: [2, 4],
      decode: decodeOffsetForLeaderEpochRequest,
      encode: encodeOffsetForLeaderEpochResponse,
      handle: async (req) => ({
        throttleTimeMs: 0,
        topics: await Promise.all(
          req.topics.map(async (t) => ({
            topic: t.topic,
            partitions: await Promise.all(
              t.partitions.map(async (p) => {
                // Every partition has had one leader epoch, 0: its end is the high watermark.
                const topic = await kafkaTopic(deps.view.topics, t.topic);
                if (!topic || p.partition < 0 || p.partition >= topic.writePartitions) {
                  return {
                    errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
                    partition: p.partition,
                    leaderEpoch: -1,
                    endOffset: -1n,
                  };
                }
                const index = await deps.offsets.partition(topic.name, p.partition);
                return {
                  errorCode: KafkaError.NONE,
                  partition: p.partition,
                  leaderEpoch: LEADER_EPOCH,
                  endOffset: BigInt(index.latest),
                };
              }),
            ),
          })),
        ),
      }),
    }),
    kafkaApi<DescribeConfigsRequest, DescribeConfigsResponse>({
      apiKey: 32,
      name: 'DescribeConfigs',
      versions: [1, 4],
      decode: decodeDescribeConfigsRequest,
      encode: encodeDescribeConfigsResponse,
      handle: async (req) => ({
        throttleTimeMs: 0,
        results: await Promise.all(
          req.resources.map(async (r) => {
            const known =
              r.resourceType !== TOPIC_RESOURCE || (await kafkaTopic(deps.view.topics, r.resourceName));
            // Barge topics have no Kafka-style configs to report: an empty list, like a topic with every default.
            return createDescribeConfigsResponseDescribeConfigsResult({
              errorCode: known ? KafkaError.NONE : KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: known ? null : `topic ${r.resourceName} does not exist`,
              resourceType: r.resourceType,
              resourceName: r.resourceName,
              configs: [],
            });
          }),
        ),
      }),
    }),
  ];
}

async function createTopic(
  deps: AdminApiDeps,
  t: CreateTopicsRequest['topics'][number],
  validateOnly: boolean,
): Promise<CreateTopicsResponse['topics'][number]> {
  const answer = (errorCode: number, errorMessage: string | null, partitions = -1) =>
    createCreateTopicsResponseCreatableTopicResult({
      name: t.name,
      topicId: errorCode === KafkaError.NONE ? topicId(t.name) : Buffer.alloc(16),
      errorCode,
      errorMessage,
      numPartitions: partitions,
      replicationFactor: errorCode === KafkaError.NONE ? 1 : -1,
    });
  const partitions = t.numPartitions === -1 ? 1 : t.numPartitions;
  if (partitions < 1 || partitions > 1024) {
    return answer(
      KafkaError.INVALID_PARTITIONS,
      `numPartitions must be 1-1024 (or -1 for 1), got ${t.numPartitions}`,
    );
  }
  if (t.assignments.length > 0) {
    return answer(
      KafkaError.INVALID_REQUEST,
      'Barge assigns partitions itself; replica assignments are not taken',
    );
  }
  if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
    // Durability comes from object storage, not replicas: any factor is accepted and reported as 1.
    deps.log.debug({ topic: t.name, replicationFactor: t.replicationFactor }, 'replication factor ignored');
  }
  const view = deps.view;
  if (view.topics.get(t.name))
    return answer(KafkaError.TOPIC_ALREADY_EXISTS, `topic ${t.name} already exists`);
  if (view.topics.list().length >= deps.maxTopics) {
    return answer(
      KafkaError.POLICY_VIOLATION,
      `the broker has ${deps.maxTopics} topics, its limit (limits.maxTopics)`,
    );
  }
  if (validateOnly) return answer(KafkaError.NONE, null, partitions);
  try {
    await view.topics.create({ name: t.name, writePartitions: partitions, readPartitions: partitions });
    return answer(KafkaError.NONE, null, partitions);
  } catch (e) {
    const code = e instanceof RequestError ? e.errorCode : undefined;
    if (code === ErrorCode.TOPIC_ALREADY_EXISTS)
      return answer(KafkaError.TOPIC_ALREADY_EXISTS, errorMessage(e));
    if (code === ErrorCode.INVALID_CONFIG || code === ErrorCode.INVALID_TOPIC) {
      return answer(KafkaError.INVALID_TOPIC_EXCEPTION, errorMessage(e));
    }
    return answer(KafkaError.UNKNOWN_SERVER_ERROR, errorMessage(e));
  }
}
