import {
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  createCreateTopicsResponseCreatableTopicResult,
  createDescribeConfigsResponseDescribeConfigsResult,
  createFetchResponse,
  createFetchResponseFetchableTopicResponse,
  createFetchResponsePartitionData,
  createListOffsetsResponseListOffsetsPartitionResponse,
  createListOffsetsResponseListOffsetsTopicResponse,
  createMetadataResponseTopic,
  createProduceResponse,
  createProduceResponsePartitionProduceResponse,
  createProduceResponseTopicProduceResponse,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  type FetchRequest,
  type FetchResponse,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type MetadataRequest,
  type MetadataResponse,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '@barge/kafka-protocol';
import { type AclRule, aclRule, CLUSTER, partition, topicResource } from './kafka-acl.js';
import { GROUP_ACL_RULES } from './kafka-acl-group-rules.js';
import { KafkaError } from './kafka-api.js';

const NO_OPERATIONS = -2147483648;
const TOPIC_RESOURCE = 2;
const none = aclRule<unknown, unknown>((req) => ({ req }));

/**
 * What each Kafka API needs, as Kafka's own authorizer decides it (docs/kafka.md, "Security"),
 * in the Barge ACL model (topics, groups, the cluster; an allow of read, write, alter or delete
 * also allows describe). Refused topics and groups get Kafka's TOPIC_AUTHORIZATION_FAILED (29),
 * GROUP_AUTHORIZATION_FAILED (30) or CLUSTER_AUTHORIZATION_FAILED (31) in their place of the
 * answer, before any existence check; the rest of the request is served.
 */
export const KAFKA_ACL_RULES: ReadonlyMap<number, AclRule<unknown, unknown>> = new Map([
  [18, none], // ApiVersions
  [17, none], // SaslHandshake
  [36, none], // SaslAuthenticate
  [60, none], // DescribeCluster: who the brokers are, as Kafka serves it to anyone authenticated
  [
    0, // Produce: write on the topic
    aclRule<ProduceRequest, ProduceResponse>((req, check) => {
      const [ok, refused] = partition(req.topicData, (t) => check.may('write', topicResource(t.name)));
      if (refused.length === 0) return { req };
      if (req.acks === 0) return { close: check.refusal('write', topicResource(refused[0]!.name)) };
      const answers = refused.map((t) =>
        createProduceResponseTopicProduceResponse({
          name: t.name,
          topicId: t.topicId,
          partitionResponses: t.partitionData.map((p) =>
            createProduceResponsePartitionProduceResponse({
              index: p.index,
              errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
              baseOffset: -1n,
              logAppendTimeMs: -1n,
              logStartOffset: -1n,
              errorMessage: check.refusal('write', topicResource(t.name)),
            }),
          ),
        }),
      );
      if (ok.length === 0) return { answer: createProduceResponse({ responses: answers }) };
      return {
        req: { ...req, topicData: ok },
        merge: (res) => ({ ...res, responses: [...res.responses, ...answers] }),
      };
    }),
  ],
  [
    1, // Fetch: read on the topic (by name: Fetch v13+ names topics by id and would be refused here)
    aclRule<FetchRequest, FetchResponse>((req, check) => {
      const [ok, refused] = partition(req.topics, (t) => check.may('read', topicResource(t.topic)));
      if (refused.length === 0) return { req };
      const answers = refused.map((t) =>
        createFetchResponseFetchableTopicResponse({
          topic: t.topic,
          topicId: t.topicId,
          partitions: t.partitions.map((p) =>
            createFetchResponsePartitionData({
              partitionIndex: p.partition,
              errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
              highWatermark: -1n,
              lastStableOffset: -1n,
              logStartOffset: -1n,
            }),
          ),
        }),
      );
      if (ok.length === 0) return { answer: createFetchResponse({ responses: answers }) };
      return {
        req: { ...req, topics: ok },
        merge: (res) => ({ ...res, responses: [...res.responses, ...answers] }),
      };
    }),
  ],
  [
    2, // ListOffsets: describe on the topic (Kafka's rule; read and write imply it)
    aclRule<ListOffsetsRequest, ListOffsetsResponse>((req, check) => {
      const [ok, refused] = partition(req.topics, (t) => check.may('describe', topicResource(t.name)));
      if (refused.length === 0) return { req };
      const answers = refused.map((t) =>
        createListOffsetsResponseListOffsetsTopicResponse({
          name: t.name,
          partitions: t.partitions.map((p) =>
            createListOffsetsResponseListOffsetsPartitionResponse({
              partitionIndex: p.partitionIndex,
              errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
              timestamp: -1n,
              offset: -1n,
              leaderEpoch: -1,
            }),
          ),
        }),
      );
      return {
        req: { ...req, topics: ok },
        merge: (res) => ({ ...res, topics: [...res.topics, ...answers] }),
      };
    }),
  ],
  [
    23, // OffsetForLeaderEpoch: describe on the topic
    aclRule<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>((req, check) => {
      const [ok, refused] = partition(req.topics, (t) => check.may('describe', topicResource(t.topic)));
      if (refused.length === 0) return { req };
      const answers = refused.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({
          errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
          partition: p.partition,
          leaderEpoch: -1,
          endOffset: -1n,
        })),
      }));
      return {
        req: { ...req, topics: ok },
        merge: (res) => ({ ...res, topics: [...res.topics, ...answers] }),
      };
    }),
  ],
  [
    3, // Metadata: every topic = those the principal may describe; a named one it may not: 29
    aclRule<MetadataRequest, MetadataResponse>((req, check) => {
      // An empty list asks for every topic in Metadata v0: filtered the same way whatever the handler does.
      if (req.topics === null || req.topics.length === 0) {
        const sees = (name: string | null) => name !== null && check.sees('describe', topicResource(name));
        return { req, merge: (res) => ({ ...res, topics: res.topics.filter((t) => sees(t.name)) }) };
      }
      const [ok, refused] = partition(
        req.topics,
        (t) => t.name === null || check.may('describe', topicResource(t.name)),
      );
      if (refused.length === 0) return { req };
      const answers = refused.map((t) =>
        createMetadataResponseTopic({
          errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
          name: t.name,
          topicAuthorizedOperations: NO_OPERATIONS,
        }),
      );
      return {
        req: { ...req, topics: ok },
        merge: (res) => ({ ...res, topics: [...res.topics, ...answers] }),
      };
    }),
  ],
  [
    19, // CreateTopics: create on the topic (or on the cluster: AclSet grants both)
    aclRule<CreateTopicsRequest, CreateTopicsResponse>((req, check) => {
      const [ok, refused] = partition(req.topics, (t) => check.may('create', topicResource(t.name)));
      if (refused.length === 0) return { req };
      const answers = refused.map((t) =>
        createCreateTopicsResponseCreatableTopicResult({
          name: t.name,
          errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
          errorMessage: check.refusal('create', topicResource(t.name)),
          numPartitions: -1,
          replicationFactor: -1,
        }),
      );
      return {
        req: { ...req, topics: ok },
        merge: (res) => ({ ...res, topics: [...res.topics, ...answers] }),
      };
    }),
  ],
  [
    22, // InitProducerId (idempotent producers): write on some topic, or on the cluster
    aclRule<InitProducerIdRequest, InitProducerIdResponse>((req, check) => {
      // Transactional ids are refused by the API itself.
      if (req.transactionalId !== null) return { req };
      if (check.sees('write', CLUSTER) || check.maySome('write', 'topic')) return { req };
      check.denied('write', CLUSTER);
      return {
        answer: {
          throttleTimeMs: 0,
          errorCode: KafkaError.CLUSTER_AUTHORIZATION_FAILED,
          producerId: -1n,
          producerEpoch: -1,
          ongoingTxnProducerId: -1n,
          ongoingTxnProducerEpoch: -1,
        },
      };
    }),
  ],
  [
    32, // DescribeConfigs: describe on the topic; broker resources: describe on the cluster
    aclRule<DescribeConfigsRequest, DescribeConfigsResponse>((req, check) => {
      const resourceOf = (r: DescribeConfigsRequest['resources'][number]) =>
        r.resourceType === TOPIC_RESOURCE ? topicResource(r.resourceName) : CLUSTER;
      const [ok, refused] = partition(req.resources, (r) => check.may('describe', resourceOf(r)));
      if (refused.length === 0) return { req };
      const answers = refused.map((r) =>
        createDescribeConfigsResponseDescribeConfigsResult({
          errorCode:
            r.resourceType === TOPIC_RESOURCE
              ? KafkaError.TOPIC_AUTHORIZATION_FAILED
              : KafkaError.CLUSTER_AUTHORIZATION_FAILED,
          errorMessage: check.refusal('describe', resourceOf(r)),
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        }),
      );
      return {
        req: { ...req, resources: ok },
        merge: (res) => ({ ...res, results: [...res.results, ...answers] }),
      };
    }),
  ],
  ...GROUP_ACL_RULES,
]);
