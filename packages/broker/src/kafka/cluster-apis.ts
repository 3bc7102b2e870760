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

const NO_OPERATIONS = -2147483648;

/** ApiVersions, Metadata, DescribeCluster and FindCoordinator: who serves what. */
export function clusterApis(view: KafkaBrokerView, served: () => readonly KafkaApi[]): KafkaApi[] {
  const self = () => {
    const { host, port } = view.advertised();
    return { nodeId: view.brokerId, host, port };
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
        const topics = await Promise.all(names.map((n) => topicMetadata(view, n)));
        return {
          throttleTimeMs: 0,
          brokers: [{ ...self(), rack: null }],
          clusterId: view.clusterId,
          controllerId: view.brokerId,
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
        const { nodeId, host, port } = self();
        return {
          throttleTimeMs: 0,
          errorCode: KafkaError.NONE,
          errorMessage: null,
          endpointType: 1,
          clusterId: view.clusterId,
          controllerId: view.brokerId,
          brokers: [{ brokerId: nodeId, host, port, rack: null, isFenced: false }],
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
      handle: (req) => {
        // One broker coordinates every group (and would every transaction, which are refused).
        const { nodeId, host, port } = self();
        const keys = req.coordinatorKeys.length > 0 ? req.coordinatorKeys : [req.key];
        const transactional = req.keyType === 1;
        const errorCode = transactional ? KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : KafkaError.NONE;
        const errorMessage = transactional ? 'Barge does not support Kafka transactions' : null;
        return {
          throttleTimeMs: 0,
          errorCode,
          errorMessage,
          nodeId,
          host,
          port,
          coordinators: keys.map((key) => ({ key, nodeId, host, port, errorCode, errorMessage })),
        };
      },
    }),
  ];
}

async function topicMetadata(
  view: KafkaBrokerView,
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
  const partitions = Array.from({ length: t.writePartitions }, (_, p) => {
    const owner = view.ownership.check(t.name, p);
    const leaderId = owner.owned ? view.brokerId : owner.ownerId;
    const leaderOk = leaderId >= 0;
    return {
      errorCode: leaderOk ? KafkaError.NONE : KafkaError.LEADER_NOT_AVAILABLE,
      partitionIndex: p,
      leaderId,
      leaderEpoch: 0,
      replicaNodes: leaderOk ? [leaderId] : [],
      isrNodes: leaderOk ? [leaderId] : [],
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
