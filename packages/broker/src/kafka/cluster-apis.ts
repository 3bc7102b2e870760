import {
  type ApiVersionsRequest,
  type ApiVersionsResponse,
  type DescribeClusterRequest,
  type DescribeClusterResponse,
  decodeApiVersionsRequest,
  decodeDescribeClusterRequest,
  decodeFindCoordinatorRequest,
  decodeMetadataRequest,
  encodeApiVersionsResponse,
  encodeDescribeClusterResponse,
  encodeFindCoordinatorResponse,
  encodeMetadataResponse,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  type MetadataRequest,
  type MetadataResponse,
} from '@barge/kafka-protocol';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';
import { type KafkaBrokerView, kafkaTopic, kafkaVisible, topicId } from './kafka-context.js';
import { apiVersionsBody } from './kafka-listener.js';
import { groupCoordinator, type KafkaNode, kafkaNodes, partitionLeader } from './kafka-placement.js';
import { LEADER_EPOCH } from './kafka-records.js';

const NO_OPERATIONS = -2147483648;

/** ApiVersions, Metadata, DescribeCluster and FindCoordinator: who serves what. */
export function clusterApis(view: KafkaBrokerView, served: () => readonly KafkaApi[]): KafkaApi[] {
  /**
   * Every broker with a Kafka listener, by id (this one alone before the cluster's first
   * assignment). The first is named controller, the same on every broker (any serves CreateTopics).
   */
  const brokers = (): KafkaNode[] => {
    const nodes = kafkaNodes(view);
    if (nodes && nodes.length > 0) return nodes;
    const { host, port } = view.advertised();
    return [{ nodeId: view.brokerId, host, port }];
  };
  return [
    kafkaApi<ApiVersionsRequest, ApiVersionsResponse>({
      apiKey: 18,
      name: 'ApiVersions',
      versions: [0, 4],
      decode: decodeApiVersionsRequest,
      encode: encodeApiVersionsResponse,
      handle: () => ({
        ...apiVersionsBody(served()),
        supportedFeatures: [],
        finalizedFeaturesEpoch: -1n,
        finalizedFeatures: [],
        zkMigrationReady: false,
      }),
    }),
    kafkaApi<MetadataRequest, MetadataResponse>({
      apiKey: 3,
      name: 'Metadata',
      versions: [0, 12],
      decode: decodeMetadataRequest,
      encode: encodeMetadataResponse,
      handle: async (req) => {
        const names =
          req.topics === null
            ? view.topics
                .list()
                .filter(kafkaVisible)
                .map((t) => t.name)
            : req.topics.map((t) => t.name ?? '');
        const nodes = kafkaNodes(view);
        const topics = await Promise.all(names.map((n) => topicMetadata(view, nodes, n)));
        return {
          throttleTimeMs: 0,
          brokers: brokers().map((b) => ({ ...b, rack: null })),
          clusterId: view.clusterId,
          controllerId: brokers()[0]!.nodeId,
          topics,
          clusterAuthorizedOperations: NO_OPERATIONS,
          errorCode: KafkaError.NONE,
        };
      },
    }),
    kafkaApi<DescribeClusterRequest, DescribeClusterResponse>({
      apiKey: 60,
      name: 'DescribeCluster',
      versions: [0, 1],
      decode: decodeDescribeClusterRequest,
      encode: encodeDescribeClusterResponse,
      handle: () => {
        return {
          throttleTimeMs: 0,
          errorCode: KafkaError.NONE,
          errorMessage: null,
          endpointType: 1,
          clusterId: view.clusterId,
          controllerId: brokers()[0]!.nodeId,
          brokers: brokers().map(({ nodeId, host, port }) => ({
            brokerId: nodeId,
            host,
            port,
            rack: null,
            isFenced: false,
          })),
          clusterAuthorizedOperations: NO_OPERATIONS,
        };
      },
    }),
    kafkaApi<FindCoordinatorRequest, FindCoordinatorResponse>({
      apiKey: 10,
      name: 'FindCoordinator',
      versions: [0, 6],
      decode: decodeFindCoordinatorRequest,
      encode: encodeFindCoordinatorResponse,
      handle: (req, ctx) => {
        // Each group has one coordinator (kafka-placement.ts); transactions are refused.
        const nodes = kafkaNodes(view);
        const transactional = req.keyType === 1;
        const answer = (key: string) => {
          const node = transactional ? undefined : groupCoordinator(nodes, key);
          if (node) return { key, ...node, errorCode: KafkaError.NONE, errorMessage: null };
          return {
            key,
            nodeId: -1,
            host: '',
            port: -1,
            errorCode: transactional
              ? KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
              : KafkaError.COORDINATOR_NOT_AVAILABLE,
            errorMessage: transactional
              ? 'Barge does not support Kafka transactions'
              : 'no broker of the cluster coordinates groups yet (no assignment, or none has a Kafka listener)',
          };
        };
        const { errorCode, errorMessage, nodeId, host, port } = answer(req.key);
        return {
          throttleTimeMs: 0,
          errorCode,
          errorMessage,
          nodeId,
          host,
          port,
          coordinators: ctx.apiVersion >= 4 ? req.coordinatorKeys.map(answer) : [],
        };
      },
    }),
  ];
}

async function topicMetadata(
  view: KafkaBrokerView,
  nodes: readonly KafkaNode[] | undefined,
  name: string,
): Promise<MetadataResponse['topics'][number]> {
  const t = await kafkaTopic(view.topics, name);
  if (!t) {
    return {
      errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      name,
      topicId: Buffer.alloc(16),
      isInternal: false,
      partitions: [],
      topicAuthorizedOperations: NO_OPERATIONS,
    };
  }
  // Leader = the write partition's owner; replicas = ISR = the leader (storage replicates).
  const partitions = Array.from({ length: t.writePartitions }, (_, p) => {
    const leader = partitionLeader(view, nodes, t.name, p);
    const leaderId = leader?.nodeId ?? -1;
    return {
      errorCode: leader ? KafkaError.NONE : KafkaError.LEADER_NOT_AVAILABLE,
      partitionIndex: p,
      leaderId,
      leaderEpoch: LEADER_EPOCH,
      replicaNodes: leader ? [leaderId] : [],
      isrNodes: leader ? [leaderId] : [],
      offlineReplicas: [],
    };
  });
  return {
    errorCode: KafkaError.NONE,
    name: t.name,
    topicId: topicId(t.name),
    isInternal: false,
    partitions,
    topicAuthorizedOperations: NO_OPERATIONS,
  };
}
