import {
  createDescribeGroupsResponseDescribedGroup,
  createOffsetFetchResponse,
  createOffsetFetchResponseGroup,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from '@barge/kafka-protocol';
import type { GroupCoordinator } from './group-coordinator.js';
import { type KafkaApi, KafkaError, type KafkaRequestContext } from './kafka-api.js';

/** Whether this broker coordinates a group now (kafka-placement.ts `groupCoordinator`). */
export type CoordinatesGroup = (groupId: string) => boolean;

type Handler<Req, Res> = (req: Req, ctx: KafkaRequestContext) => Res | undefined | Promise<Res | undefined>;

/** Wraps one API's handler: `route` gets the request and the original handler. */
type Route = (
  inner: Handler<unknown, unknown>,
  coordinates: CoordinatesGroup,
  groups: GroupCoordinator,
) => Handler<unknown, unknown>;

const NOT_COORDINATOR = KafkaError.NOT_COORDINATOR;

/**
 * In a cluster each consumer group has one coordinating broker. The group APIs and the offset
 * APIs, sent to another broker, are answered NOT_COORDINATOR (16), so the client finds the
 * coordinator again (FindCoordinator) and goes there. A group this broker held and no longer
 * coordinates (the cluster's membership changed) is dropped at its first such request: its
 * waiting joins and syncs get NOT_COORDINATOR, and its members rejoin on the new coordinator
 * (UNKNOWN_MEMBER_ID there); committed offsets are in the pointer queue, shared by every broker.
 * ListGroups lists only the groups this broker coordinates, as each Kafka broker does.
 */
export function routeGroupApis(
  apis: readonly KafkaApi[],
  coordinates: CoordinatesGroup,
  groups: GroupCoordinator,
): KafkaApi[] {
  return apis.map((api) => {
    const route = ROUTES[api.apiKey];
    if (!route) return api;
    return { ...api, handle: route(api.handle.bind(api), coordinates, groups) };
  });
}

/** A route for an API about one group: refused with `refusal` unless this broker coordinates it. */
function oneGroup<Req, Res>(
  groupOf: (req: Req, version: number) => string,
  refusal: (req: Req, version: number) => Res,
): Route {
  return (inner, coordinates, groups) => (req, ctx) => {
    const r = req as Req;
    const groupId = groupOf(r, ctx.apiVersion);
    if (coordinates(groupId)) return inner(req, ctx);
    groups.unload(groupId);
    return refusal(r, ctx.apiVersion);
  };
}

const joinGroup = oneGroup<JoinGroupRequest, JoinGroupResponse>(
  (req) => req.groupId,
  (req, version) => ({
    throttleTimeMs: 0,
    errorCode: NOT_COORDINATOR,
    generationId: -1,
    protocolType: null,
    protocolName: version >= 7 ? null : '',
    leader: '',
    skipAssignment: false,
    memberId: req.memberId,
    members: [],
  }),
);

const syncGroup = oneGroup<SyncGroupRequest, SyncGroupResponse>(
  (req) => req.groupId,
  () => ({
    throttleTimeMs: 0,
    errorCode: NOT_COORDINATOR,
    protocolType: null,
    protocolName: null,
    assignment: Buffer.alloc(0),
  }),
);

const heartbeat = oneGroup<HeartbeatRequest, HeartbeatResponse>(
  (req) => req.groupId,
  () => ({ throttleTimeMs: 0, errorCode: NOT_COORDINATOR }),
);

const leaveGroup = oneGroup<LeaveGroupRequest, LeaveGroupResponse>(
  (req) => req.groupId,
  () => ({ throttleTimeMs: 0, errorCode: NOT_COORDINATOR, members: [] }),
);

const offsetCommit = oneGroup<OffsetCommitRequest, OffsetCommitResponse>(
  (req) => req.groupId,
  (req) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: NOT_COORDINATOR })),
    })),
  }),
);

/** OffsetFetch v1-7 names one group; v8+ several, each answered (or refused) on its own. */
const offsetFetch: Route = (inner, coordinates, groups) => {
  const single = oneGroup<OffsetFetchRequest, OffsetFetchResponse>(
    (req) => req.groupId,
    (req) =>
      createOffsetFetchResponse({
        errorCode: NOT_COORDINATOR,
        topics: (req.topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: null,
            errorCode: NOT_COORDINATOR,
          })),
        })),
      }),
  )(inner, coordinates, groups);
  return async (req, ctx) => {
    if (ctx.apiVersion < 8) return single(req, ctx);
    const r = req as OffsetFetchRequest;
    const { here, refused } = split(r.groups, (g) => g.groupId, coordinates, groups);
    const answered =
      here.length > 0
        ? ((await inner({ ...r, groups: here }, ctx)) as OffsetFetchResponse | undefined)
        : undefined;
    const byId = new Map((answered?.groups ?? []).map((g) => [g.groupId, g]));
    return createOffsetFetchResponse({
      groups: r.groups.map(
        (g) =>
          (refused.has(g.groupId) ? undefined : byId.get(g.groupId)) ??
          createOffsetFetchResponseGroup({ groupId: g.groupId, errorCode: NOT_COORDINATOR }),
      ),
    });
  };
};

const describeGroups: Route = (inner, coordinates, groups) => async (req, ctx) => {
  const r = req as DescribeGroupsRequest;
  const { here, refused } = split(r.groups, (g) => g, coordinates, groups);
  const answered =
    here.length > 0
      ? ((await inner({ ...r, groups: here }, ctx)) as DescribeGroupsResponse | undefined)
      : undefined;
  const byId = new Map((answered?.groups ?? []).map((g) => [g.groupId, g]));
  const response: DescribeGroupsResponse = {
    throttleTimeMs: 0,
    groups: r.groups.map(
      (groupId) =>
        (refused.has(groupId) ? undefined : byId.get(groupId)) ??
        createDescribeGroupsResponseDescribedGroup({
          groupId,
          errorCode: NOT_COORDINATOR,
          errorMessage: `broker does not coordinate group ${groupId}`,
        }),
    ),
  };
  return response;
};

/** Drops every group held here that another broker coordinates now, then lists the rest. */
const listGroups: Route = (inner, coordinates, groups) => (req, ctx) => {
  for (const id of groups.groupIds()) if (!coordinates(id)) groups.unload(id);
  return inner(req, ctx);
};

/** The items about groups this broker coordinates, and the ids of the others (dropped here). */
function split<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  coordinates: CoordinatesGroup,
  groups: GroupCoordinator,
): { here: T[]; refused: Set<string> } {
  const here: T[] = [];
  const refused = new Set<string>();
  for (const item of items) {
    const id = idOf(item);
    if (coordinates(id)) here.push(item);
    else {
      refused.add(id);
      groups.unload(id);
    }
  }
  return { here, refused };
}

const ROUTES: Partial<Record<number, Route>> = {
  8: offsetCommit,
  9: offsetFetch,
  11: joinGroup,
  12: heartbeat,
  13: leaveGroup,
  14: syncGroup,
  15: describeGroups,
  16: listGroups,
};
