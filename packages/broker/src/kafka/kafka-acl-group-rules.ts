import {
  createDescribeGroupsResponseDescribedGroup,
  createJoinGroupResponse,
  createOffsetFetchResponse,
  createOffsetFetchResponseGroup,
  createSyncGroupResponse,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type ListGroupsRequest,
  type ListGroupsResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from '@barge/kafka-protocol';
import {
  type AclRule,
  aclRule,
  CLUSTER,
  groupResource as group,
  type KafkaCheck,
  partition,
  topicResource as topic,
} from './kafka-acl.js';
import { KafkaError } from './kafka-api.js';

const NO_OPERATIONS = -2147483648;
const GROUP_KEY = 0;
const GROUP_DENIED = KafkaError.GROUP_AUTHORIZATION_FAILED;
const TOPIC_DENIED = KafkaError.TOPIC_AUTHORIZATION_FAILED;

/** A committed offset entry refused with `errorCode`. */
const noOffset = (partitionIndex: number, errorCode: number) => ({
  partitionIndex,
  committedOffset: -1n,
  committedLeaderEpoch: -1,
  metadata: '',
  errorCode,
});

/**
 * The group APIs' ACL rules, as Kafka's: joining, syncing, heartbeats, leaving and committing
 * need read on the group (and committing read on each topic); FindCoordinator, DescribeGroups and
 * OffsetFetch need describe on the group (and OffsetFetch describe on each topic); ListGroups
 * lists every group to a principal that may describe the cluster, else the groups it may describe.
 */
export const GROUP_ACL_RULES: readonly (readonly [number, AclRule<unknown, unknown>])[] = [
  [
    10, // FindCoordinator: describe on the group (transactional ids are refused by the API)
    aclRule<FindCoordinatorRequest, FindCoordinatorResponse>((req, check, ctx) => {
      if (req.keyType !== GROUP_KEY) return { req };
      const keys = req.coordinatorKeys.length > 0 ? req.coordinatorKeys : [req.key];
      const refused = new Set(keys.filter((k) => !check.may('describe', group(k))));
      if (refused.size === 0) return { req };
      const denied = (key: string) => ({
        nodeId: -1,
        host: '',
        port: -1,
        errorCode: GROUP_DENIED,
        errorMessage: check.refusal('describe', group(key)),
      });
      return {
        req,
        merge: (res) =>
          ctx.apiVersion < 4
            ? { ...res, ...denied(req.key) }
            : {
                ...res,
                coordinators: res.coordinators.map((c) =>
                  refused.has(c.key) ? { ...c, ...denied(c.key) } : c,
                ),
              },
      };
    }),
  ],
  [
    11, // JoinGroup: read on the group
    aclRule<JoinGroupRequest, JoinGroupResponse>((req, check, ctx) =>
      check.may('read', group(req.groupId))
        ? { req }
        : {
            answer: createJoinGroupResponse({
              errorCode: GROUP_DENIED,
              protocolName: ctx.apiVersion >= 7 ? null : '',
            }),
          },
    ),
  ],
  [
    14, // SyncGroup: read on the group
    aclRule<SyncGroupRequest, SyncGroupResponse>((req, check) =>
      check.may('read', group(req.groupId))
        ? { req }
        : { answer: createSyncGroupResponse({ errorCode: GROUP_DENIED }) },
    ),
  ],
  [
    12, // Heartbeat: read on the group
    aclRule<HeartbeatRequest, HeartbeatResponse>((req, check) =>
      check.may('read', group(req.groupId))
        ? { req }
        : { answer: { throttleTimeMs: 0, errorCode: GROUP_DENIED } },
    ),
  ],
  [
    13, // LeaveGroup: read on the group
    aclRule<LeaveGroupRequest, LeaveGroupResponse>((req, check) =>
      check.may('read', group(req.groupId))
        ? { req }
        : { answer: { throttleTimeMs: 0, errorCode: GROUP_DENIED, members: [] } },
    ),
  ],
  [
    15, // DescribeGroups: describe on each group
    aclRule<DescribeGroupsRequest, DescribeGroupsResponse>((req, check) => {
      const [ok, refused] = partition(req.groups, (g) => check.may('describe', group(g)));
      if (refused.length === 0) return { req };
      const answers = refused.map((g) =>
        createDescribeGroupsResponseDescribedGroup({
          errorCode: GROUP_DENIED,
          errorMessage: check.refusal('describe', group(g)),
          groupId: g,
          authorizedOperations: NO_OPERATIONS,
        }),
      );
      return {
        req: { ...req, groups: ok },
        merge: (res) => ({ ...res, groups: [...res.groups, ...answers] }),
      };
    }),
  ],
  [
    16, // ListGroups: every group with describe on the cluster, else those the principal may describe
    aclRule<ListGroupsRequest, ListGroupsResponse>((req, check) =>
      check.sees('describe', CLUSTER)
        ? { req }
        : {
            req,
            merge: (res) => ({
              ...res,
              groups: res.groups.filter((g) => check.sees('describe', group(g.groupId))),
            }),
          },
    ),
  ],
  [
    8, // OffsetCommit: read on the group, read on each topic
    aclRule<OffsetCommitRequest, OffsetCommitResponse>((req, check) => {
      const refusedAll = (topics: OffsetCommitRequest['topics'], errorCode: number) =>
        topics.map((t) => ({
          name: t.name,
          topicId: t.topicId,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
        }));
      if (!check.may('read', group(req.groupId)))
        return { answer: { throttleTimeMs: 0, topics: refusedAll(req.topics, GROUP_DENIED) } };
      const [ok, refused] = partition(req.topics, (t) => check.may('read', topic(t.name)));
      if (refused.length === 0) return { req };
      const answers = refusedAll(refused, TOPIC_DENIED);
      return {
        req: { ...req, topics: ok },
        merge: (res) => ({ ...res, topics: [...res.topics, ...answers] }),
      };
    }),
  ],
  [
    9, // OffsetFetch: describe on the group, describe on each topic (all topics: those it may describe)
    aclRule<OffsetFetchRequest, OffsetFetchResponse>((req, check, ctx) =>
      ctx.apiVersion < 8 ? offsetFetchSingle(req, check) : offsetFetchGroups(req, check),
    ),
  ],
];

/** OffsetFetch before v8: one group, its topics named or null (every topic). */
function offsetFetchSingle(req: OffsetFetchRequest, check: KafkaCheck) {
  const sees = (name: string) => check.sees('describe', topic(name));
  if (!check.may('describe', group(req.groupId))) {
    const topics = (req.topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((i) => noOffset(i, GROUP_DENIED)),
    }));
    return { answer: createOffsetFetchResponse({ errorCode: GROUP_DENIED, topics }) };
  }
  if (req.topics === null)
    return {
      req,
      merge: (res: OffsetFetchResponse) => ({ ...res, topics: res.topics.filter((t) => sees(t.name)) }),
    };
  const [ok, refused] = partition(req.topics, (t) => check.may('describe', topic(t.name)));
  if (refused.length === 0) return { req };
  const answers = refused.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((i) => noOffset(i, TOPIC_DENIED)),
  }));
  return {
    req: { ...req, topics: ok },
    merge: (res: OffsetFetchResponse) => ({ ...res, topics: [...res.topics, ...answers] }),
  };
}

/** OffsetFetch v8+: several groups, each with its topics named or null. */
function offsetFetchGroups(req: OffsetFetchRequest, check: KafkaCheck) {
  const sees = (name: string) => check.sees('describe', topic(name));
  const [okGroups, refusedGroups] = partition(req.groups, (g) => check.may('describe', group(g.groupId)));
  const refusedTopics = new Map<string, OffsetFetchResponse['groups'][number]['topics']>();
  const groups = okGroups.map((g) => {
    if (g.topics === null) return g;
    const [ok, refused] = partition(g.topics, (t) => check.may('describe', topic(t.name)));
    refusedTopics.set(
      g.groupId,
      refused.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitionIndexes.map((i) => noOffset(i, TOPIC_DENIED)),
      })),
    );
    return { ...g, topics: ok };
  });
  const deniedGroups = refusedGroups.map((g) =>
    createOffsetFetchResponseGroup({ groupId: g.groupId, errorCode: GROUP_DENIED }),
  );
  return {
    req: { ...req, groups },
    merge: (res: OffsetFetchResponse) => ({
      ...res,
      groups: [
        ...res.groups.map((g) => {
          const refused = refusedTopics.get(g.groupId);
          return refused
            ? { ...g, topics: [...g.topics, ...refused] }
            : { ...g, topics: g.topics.filter((t) => sees(t.name)) };
        }),
        ...deniedGroups,
      ],
    }),
  };
}
