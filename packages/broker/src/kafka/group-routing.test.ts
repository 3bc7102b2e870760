import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  createDescribeGroupsResponseDescribedGroup,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
} from '@barge/kafka-protocol';
import { GroupCoordinator, GroupError } from './group-coordinator.js';
import { routeGroupApis } from './group-routing.js';
import { type KafkaApi, KafkaError, type KafkaRequestContext, kafkaApi } from './kafka-api.js';

// Pure logic: the routing around handlers, with a real group coordinator and stand-in handlers.

const keepAlive = setInterval(() => {}, 1000);
after(() => clearInterval(keepAlive));

const ctx = (apiVersion: number) => ({ apiVersion }) as KafkaRequestContext;
const unused = () => {
  throw new Error('not encoded here');
};

function apis(groups: GroupCoordinator): KafkaApi[] {
  return [
    kafkaApi<HeartbeatRequest, HeartbeatResponse>({
      apiKey: 12,
      name: 'Heartbeat',
      versions: [0, 4],
      decode: unused,
      encode: unused,
      handle: (req) => ({ throttleTimeMs: 0, errorCode: groups.heartbeat(req) }),
    }),
    kafkaApi<DescribeGroupsRequest, DescribeGroupsResponse>({
      apiKey: 15,
      name: 'DescribeGroups',
      versions: [0, 6],
      decode: unused,
      encode: unused,
      handle: (req) => ({
        throttleTimeMs: 0,
        groups: req.groups.map((groupId) =>
          createDescribeGroupsResponseDescribedGroup({ groupId, groupState: 'Empty' }),
        ),
      }),
    }),
    kafkaApi<OffsetFetchRequest, OffsetFetchResponse>({
      apiKey: 9,
      name: 'OffsetFetch',
      versions: [1, 9],
      decode: unused,
      encode: unused,
      handle: (req) => ({
        throttleTimeMs: 0,
        errorCode: 0,
        topics: [],
        groups: req.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode: 0 })),
      }),
    }),
  ];
}

const here = (groupId: string) => groupId.startsWith('here-');

function routed(groups: GroupCoordinator, apiKey: number) {
  const api = routeGroupApis(apis(groups), here, groups).find((a) => a.apiKey === apiKey)!;
  return (req: unknown, version: number) => Promise.resolve(api.handle(req, ctx(version)));
}

describe('group routing in a cluster', () => {
  it('answers NOT_COORDINATOR for a group another broker coordinates, and drops it here', async () => {
    const groups = new GroupCoordinator({ initialRebalanceDelayMs: 0 });
    after(() => groups.close());
    const join = await groups.joinGroup({
      groupId: 'moved-away',
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      requireKnownMemberId: false,
    });
    assert.equal(join.errorCode, GroupError.NONE);
    assert.deepEqual(groups.groupIds(), ['moved-away']);
    const heartbeat = routed(groups, 12);
    const req = (groupId: string): HeartbeatRequest => ({
      groupId,
      generationId: join.generationId,
      memberId: join.memberId,
      groupInstanceId: null,
    });
    assert.deepEqual(await heartbeat(req('moved-away'), 4), {
      throttleTimeMs: 0,
      errorCode: KafkaError.NOT_COORDINATOR,
    });
    assert.deepEqual(groups.groupIds(), [], 'the group moved: dropped here');
    assert.equal(
      ((await heartbeat(req('here-g'), 4)) as HeartbeatResponse).errorCode,
      KafkaError.UNKNOWN_MEMBER_ID,
      'a group coordinated here reaches the coordinator',
    );
  });

  it('DescribeGroups and OffsetFetch v8+ answer each group on its own, in request order', async () => {
    const groups = new GroupCoordinator();
    after(() => groups.close());
    const described = (await routed(groups, 15)(
      { groups: ['here-a', 'there-b', 'here-c'], includeAuthorizedOperations: false },
      5,
    )) as DescribeGroupsResponse;
    assert.deepEqual(
      described.groups.map((g) => [g.groupId, g.errorCode, g.groupState]),
      [
        ['here-a', 0, 'Empty'],
        ['there-b', KafkaError.NOT_COORDINATOR, ''],
        ['here-c', 0, 'Empty'],
      ],
    );
    const fetchGroup = (groupId: string) => ({ groupId, memberId: null, memberEpoch: -1, topics: null });
    const fetched = (await routed(groups, 9)(
      {
        groupId: '',
        topics: null,
        requireStable: false,
        groups: [fetchGroup('there-x'), fetchGroup('here-y')],
      },
      8,
    )) as OffsetFetchResponse;
    assert.deepEqual(
      fetched.groups.map((g) => [g.groupId, g.errorCode]),
      [
        ['there-x', KafkaError.NOT_COORDINATOR],
        ['here-y', 0],
      ],
    );
    const single = (await routed(groups, 9)(
      {
        groupId: 'there-z',
        topics: [{ name: 't', partitionIndexes: [0, 1] }],
        requireStable: false,
        groups: [],
      },
      5,
    )) as OffsetFetchResponse;
    assert.equal(single.errorCode, KafkaError.NOT_COORDINATOR);
    assert.deepEqual(
      single.topics[0]?.partitions.map((p) => p.errorCode),
      [KafkaError.NOT_COORDINATOR, KafkaError.NOT_COORDINATOR],
    );
  });
});
