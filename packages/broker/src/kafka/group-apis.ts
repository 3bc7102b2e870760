import type { PointerQueue } from '@barge/core';
import {
  createDescribeGroupsResponseDescribedGroup,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  decodeDescribeGroupsRequest,
  decodeHeartbeatRequest,
  decodeJoinGroupRequest,
  decodeLeaveGroupRequest,
  decodeListGroupsRequest,
  decodeSyncGroupRequest,
  encodeDescribeGroupsResponse,
  encodeHeartbeatResponse,
  encodeJoinGroupResponse,
  encodeLeaveGroupResponse,
  encodeListGroupsResponse,
  encodeSyncGroupResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type ListGroupsRequest,
  type ListGroupsResponse,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from '@barge/kafka-protocol';
import type { GroupCoordinator } from './group-coordinator.js';
import { type KafkaApi, KafkaError, kafkaApi } from './kafka-api.js';

const NO_OPERATIONS = -2147483648;

/**
 * JoinGroup 0-9, SyncGroup 0-5, Heartbeat 0-4, LeaveGroup 0-5, DescribeGroups 0-6 and
 * ListGroups 0-5 over the broker's classic group coordinator. Assignments are opaque: the
 * group's leader computes them, as in Kafka.
 */
export function groupApis(groups: GroupCoordinator, pointers?: Pick<PointerQueue, 'listGroups'>): KafkaApi[] {
  return [
    kafkaApi<JoinGroupRequest, JoinGroupResponse>({
      apiKey: 11,
      name: 'JoinGroup',
      versions: [0, 9],
      decode: decodeJoinGroupRequest,
      encode: encodeJoinGroupResponse,
      handle: async (req, ctx) => {
        const r = await groups.joinGroup({
          groupId: req.groupId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
          protocolType: req.protocolType,
          protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
          sessionTimeoutMs: req.sessionTimeoutMs,
          rebalanceTimeoutMs: ctx.apiVersion === 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
          clientId: ctx.clientId ?? '',
          clientHost: `/${ctx.conn.socket.remoteAddress ?? ''}`,
          requireKnownMemberId: ctx.apiVersion >= 4,
        });
        const nullable = ctx.apiVersion >= 7;
        return {
          throttleTimeMs: 0,
          errorCode: r.errorCode,
          generationId: r.generationId,
          protocolType: r.protocolType,
          protocolName: nullable ? r.protocolName : (r.protocolName ?? ''),
          leader: r.leader,
          skipAssignment: r.skipAssignment,
          memberId: r.memberId,
          members: r.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.metadata,
          })),
        };
      },
    }),
    kafkaApi<SyncGroupRequest, SyncGroupResponse>({
      apiKey: 14,
      name: 'SyncGroup',
      versions: [0, 5],
      decode: decodeSyncGroupRequest,
      encode: encodeSyncGroupResponse,
      handle: async (req) => {
        const r = await groups.syncGroup({
          groupId: req.groupId,
          generationId: req.generationId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
          protocolType: req.protocolType,
          protocolName: req.protocolName,
          assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
        });
        return {
          throttleTimeMs: 0,
          errorCode: r.errorCode,
          protocolType: r.protocolType,
          protocolName: r.protocolName,
          assignment: r.assignment,
        };
      },
    }),
    kafkaApi<HeartbeatRequest, HeartbeatResponse>({
      apiKey: 12,
      name: 'Heartbeat',
      versions: [0, 4],
      decode: decodeHeartbeatRequest,
      encode: encodeHeartbeatResponse,
      handle: (req) => ({
        throttleTimeMs: 0,
        errorCode: groups.heartbeat({
          groupId: req.groupId,
          generationId: req.generationId,
          memberId: req.memberId,
          groupInstanceId: req.groupInstanceId,
        }),
      }),
    }),
    kafkaApi<LeaveGroupRequest, LeaveGroupResponse>({
      apiKey: 13,
      name: 'LeaveGroup',
      versions: [0, 5],
      decode: decodeLeaveGroupRequest,
      encode: encodeLeaveGroupResponse,
      handle: (req, ctx) => {
        const members =
          ctx.apiVersion < 3
            ? [{ memberId: req.memberId, groupInstanceId: null }]
            : req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }));
        const r = groups.leaveGroup({ groupId: req.groupId, members });
        const single = ctx.apiVersion < 3 ? r.members[0]?.errorCode : undefined;
        return { throttleTimeMs: 0, errorCode: single ?? r.errorCode, members: [...r.members] };
      },
    }),
    kafkaApi<DescribeGroupsRequest, DescribeGroupsResponse>({
      apiKey: 15,
      name: 'DescribeGroups',
      versions: [0, 6],
      decode: decodeDescribeGroupsRequest,
      encode: encodeDescribeGroupsResponse,
      handle: (req, ctx) => ({
        throttleTimeMs: 0,
        groups: req.groups.map((id) => {
          const g = groups.describeGroup(id);
          const missing = !g.exists && ctx.apiVersion >= 6;
          return createDescribeGroupsResponseDescribedGroup({
            errorCode: missing ? KafkaError.GROUP_ID_NOT_FOUND : g.errorCode,
            errorMessage: missing ? `group ${id} does not exist` : null,
            groupId: id,
            groupState: g.state,
            protocolType: g.protocolType ?? '',
            protocolData: g.protocolName ?? '',
            members: g.members.map((m) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              memberMetadata: m.metadata,
              memberAssignment: m.assignment,
            })),
            authorizedOperations: NO_OPERATIONS,
          });
        }),
      }),
    }),
    kafkaApi<ListGroupsRequest, ListGroupsResponse>({
      apiKey: 16,
      name: 'ListGroups',
      versions: [0, 5],
      decode: decodeListGroupsRequest,
      encode: encodeListGroupsResponse,
      handle: async (req) => {
        const r = groups.listGroups(req.statesFilter.length > 0 ? req.statesFilter : undefined);
        const classicOnly =
          req.typesFilter.length === 0 || req.typesFilter.some((t) => t.toLowerCase() === 'classic');
        const listed = r.groups.map((g) => ({
          groupId: g.groupId,
          protocolType: g.protocolType ?? '',
          groupState: g.state,
          groupType: 'classic',
        }));
        // Groups known only by their committed positions (or by Barge members) are listed too, as Kafka lists groups with offsets.
        const known = new Set(listed.map((g) => g.groupId));
        const wantsEmpty = req.statesFilter.length === 0 || req.statesFilter.includes('Empty');
        if (wantsEmpty && pointers) {
          for (const g of await pointers.listGroups().catch(() => [])) {
            if (known.has(g.group) || g.members > 0) continue;
            listed.push({
              groupId: g.group,
              protocolType: 'consumer',
              groupState: 'Empty',
              groupType: 'classic',
            });
          }
        }
        return { throttleTimeMs: 0, errorCode: r.errorCode, groups: classicOnly ? listed : [] };
      },
    }),
  ];
}
