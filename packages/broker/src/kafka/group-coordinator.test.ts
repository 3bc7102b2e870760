import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import {
  GroupCoordinator,
  type GroupCoordinatorOptions,
  GroupError,
  type JoinGroupRequest,
  type JoinGroupResult,
} from './group-coordinator.js';

// Pure state-machine tests with short real timers; nothing asserts on elapsed time.

// The coordinator's timers are unref'd (the listener's socket keeps a broker alive): hold the loop open.
const keepAlive = setInterval(() => {}, 1000);
after(() => clearInterval(keepAlive));

function coordinator(t: TestContext, options: GroupCoordinatorOptions = {}): GroupCoordinator {
  const c = new GroupCoordinator({ initialRebalanceDelayMs: 20, minSessionTimeoutMs: 1, ...options });
  t.after(() => c.close());
  return c;
}

function protocols(owner: string, names = ['range']) {
  return names.map((name) => ({ name, metadata: Buffer.from(`${name}:${owner}`) }));
}

function joinRequest(groupId: string, over: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  const clientId = over.clientId ?? 'client';
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: protocols(clientId),
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientId,
    clientHost: '/127.0.0.1',
    requireKnownMemberId: true,
    ...over,
  };
}

/** The JoinGroup v4+ round trip: the first join only hands out the member id. */
async function newMemberId(c: GroupCoordinator, groupId: string, clientId: string): Promise<string> {
  const r = await c.joinGroup(joinRequest(groupId, { clientId }));
  assert.equal(r.errorCode, GroupError.MEMBER_ID_REQUIRED);
  return r.memberId;
}

interface Joined {
  readonly results: JoinGroupResult[];
  readonly ids: string[];
  readonly leader: string;
  readonly generationId: number;
}

/** Joins `n` members in the same tick (so the initial delay takes them all) and checks the generation. */
async function joinMembers(
  c: GroupCoordinator,
  groupId: string,
  n: number,
  over: (i: number) => Partial<JoinGroupRequest> = () => ({}),
): Promise<Joined> {
  const ids = [];
  // Static members skip the member id round trip.
  for (let i = 0; i < n; i++) ids.push(over(i).groupInstanceId ? '' : await newMemberId(c, groupId, `c${i}`));
  const results = await Promise.all(
    ids.map((memberId, i) => c.joinGroup(joinRequest(groupId, { clientId: `c${i}`, memberId, ...over(i) }))),
  );
  for (const r of results) assert.equal(r.errorCode, GroupError.NONE);
  const leader = results[0]!.leader;
  assert.ok(results.every((r) => r.leader === leader && r.generationId === results[0]!.generationId));
  return { results, ids: results.map((r) => r.memberId), leader, generationId: results[0]!.generationId };
}

/** Joins and syncs: the leader assigns `assignment:<memberId>` to everyone. */
async function stableGroup(
  c: GroupCoordinator,
  groupId: string,
  n: number,
  over?: (i: number) => Partial<JoinGroupRequest>,
): Promise<Joined> {
  const joined = await joinMembers(c, groupId, n, over);
  const syncs = joined.results.map((r) =>
    c.syncGroup({
      groupId,
      generationId: r.generationId,
      memberId: r.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: r.protocolName,
      assignments: r.members.map((m) => ({
        memberId: m.memberId,
        assignment: Buffer.from(`a:${m.memberId}`),
      })),
    }),
  );
  for (const [i, s] of (await Promise.all(syncs)).entries()) {
    assert.equal(s.errorCode, GroupError.NONE);
    assert.equal(s.assignment.toString(), `a:${joined.ids[i]}`);
  }
  assert.equal(c.describeGroup(groupId).state, 'Stable');
  return joined;
}

function heartbeat(c: GroupCoordinator, groupId: string, memberId: string, generationId: number) {
  return c.heartbeat({ groupId, generationId, memberId, groupInstanceId: null });
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('classic group coordinator', () => {
  it('two members join: one leader gets both members and their metadata', async (t) => {
    const c = coordinator(t);
    const { results, leader, generationId } = await joinMembers(c, 'g', 2);
    assert.equal(generationId, 1);
    const [lead, follower] = results[0]!.memberId === leader ? results : [...results].reverse();
    assert.equal(lead!.protocolName, 'range');
    assert.equal(lead!.protocolType, 'consumer');
    assert.deepEqual(
      lead!.members.map((m) => [m.memberId, m.metadata.toString()]).sort(),
      results.map((r, i) => [r.memberId, `range:c${i}`]).sort(),
    );
    assert.deepEqual(follower!.members, []);
    assert.equal(c.describeGroup('g').state, 'CompletingRebalance');
  });

  it('sync delivers each member its assignment; followers wait for the leader', async (t) => {
    const c = coordinator(t);
    const { ids } = await stableGroup(c, 'g', 2);
    const d = c.describeGroup('g');
    assert.equal(d.protocolName, 'range');
    assert.deepEqual(
      d.members.map((m) => [m.memberId, m.assignment.toString(), m.clientId]).sort(),
      ids.map((id, i) => [id, `a:${id}`, `c${i}`]).sort(),
    );
    assert.deepEqual(c.listGroups().groups, [{ groupId: 'g', protocolType: 'consumer', state: 'Stable' }]);
    assert.deepEqual(c.listGroups(['empty']).groups, []);
  });

  it('protocol chosen by votes among those every member supports', async (t) => {
    const c = coordinator(t);
    const lists = [
      ['range', 'roundrobin', 'sticky'],
      ['roundrobin', 'range'],
      ['roundrobin', 'range'],
    ];
    const { results, leader } = await joinMembers(c, 'g', 3, (i) => ({
      protocols: protocols(`c${i}`, lists[i]),
    }));
    assert.ok(results.every((r) => r.protocolName === 'roundrobin'));
    const lead = results.find((r) => r.memberId === leader)!;
    assert.ok(lead.members.every((m) => m.metadata.toString().startsWith('roundrobin:')));
    const other = await c.joinGroup(
      joinRequest('g', { clientId: 'x', protocols: protocols('x', ['sticky']) }),
    );
    assert.equal(other.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
    const wrongType = await c.joinGroup(joinRequest('g', { protocolType: 'connect' }));
    assert.equal(wrongType.errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
  });

  it('a third member triggers a rebalance: the others rejoin into generation + 1', async (t) => {
    const c = coordinator(t);
    const { ids, generationId } = await stableGroup(c, 'g', 2);
    const thirdId = await newMemberId(c, 'g', 'c2');
    const third = c.joinGroup(joinRequest('g', { clientId: 'c2', memberId: thirdId }));
    for (const id of ids) assert.equal(heartbeat(c, 'g', id, generationId), GroupError.REBALANCE_IN_PROGRESS);
    const rejoined = ids.map((memberId, i) => c.joinGroup(joinRequest('g', { clientId: `c${i}`, memberId })));
    const all = await Promise.all([third, ...rejoined]);
    assert.ok(all.every((r) => r.errorCode === GroupError.NONE && r.generationId === generationId + 1));
    const lead = all.find((r) => r.memberId === r.leader)!;
    assert.equal(lead.members.length, 3);
    const stale = await c.syncGroup({
      groupId: 'g',
      generationId,
      memberId: ids[0]!,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    assert.equal(stale.errorCode, GroupError.ILLEGAL_GENERATION);
  });

  it('a member that misses its session timeout is removed and the group rebalances', async (t) => {
    const c = coordinator(t);
    const { ids, generationId } = await stableGroup(c, 'g', 2, (i) => ({
      sessionTimeoutMs: i === 0 ? 10_000 : 100,
    }));
    const [alive, silent] = ids as [string, string];
    await waitFor(
      () => heartbeat(c, 'g', alive, generationId) === GroupError.REBALANCE_IN_PROGRESS,
      'rebalance',
    );
    const r = await c.joinGroup(joinRequest('g', { clientId: 'c0', memberId: alive }));
    assert.equal(r.generationId, generationId + 1);
    assert.deepEqual(
      r.members.map((m) => m.memberId),
      [alive],
    );
    assert.equal(heartbeat(c, 'g', silent, generationId), GroupError.UNKNOWN_MEMBER_ID);
  });

  it('members that do not rejoin within the rebalance timeout are dropped', async (t) => {
    const c = coordinator(t);
    const { ids, generationId } = await stableGroup(c, 'g', 2, () => ({ rebalanceTimeoutMs: 100 }));
    const [first, second] = ids as [string, string];
    const rejoin = await Promise.all([
      c.joinGroup(joinRequest('g', { clientId: 'c0', memberId: first, rebalanceTimeoutMs: 100 })),
      c.joinGroup(joinRequest('g', { clientId: 'c9', memberId: await newMemberId(c, 'g', 'c9') })),
    ]);
    assert.ok(rejoin.every((r) => r.errorCode === GroupError.NONE && r.generationId === generationId + 1));
    assert.equal(c.describeGroup('g').members.length, 2);
    assert.equal(heartbeat(c, 'g', second, generationId + 1), GroupError.UNKNOWN_MEMBER_ID);
  });

  it('member id round trip; joins without requireKnownMemberId get an id at once', async (t) => {
    const c = coordinator(t);
    const first = await c.joinGroup(joinRequest('g', { clientId: 'app' }));
    assert.equal(first.errorCode, GroupError.MEMBER_ID_REQUIRED);
    assert.match(first.memberId, /^app-[0-9a-f-]{36}$/);
    assert.equal(first.generationId, -1);
    assert.equal(c.describeGroup('g').state, 'Empty');
    const made = await c.joinGroup(joinRequest('g', { clientId: 'app', memberId: 'app-made-up' }));
    assert.equal(made.errorCode, GroupError.UNKNOWN_MEMBER_ID);
    const [joined, old] = await Promise.all([
      c.joinGroup(joinRequest('g', { clientId: 'app', memberId: first.memberId })),
      c.joinGroup(joinRequest('g', { clientId: 'v3', requireKnownMemberId: false })),
    ]);
    assert.equal(joined.errorCode, GroupError.NONE);
    assert.equal(joined.memberId, first.memberId);
    assert.match(old.memberId, /^v3-/);
    assert.equal(old.generationId, joined.generationId);
  });

  it('a static member rejoining with a new id keeps the generation; its old id is fenced', async (t) => {
    const c = coordinator(t);
    const instance = (i: number) => ({ groupInstanceId: `instance-${i}` });
    const joined = await joinMembers(c, 'g', 2, instance);
    const syncs = joined.results.map((r) =>
      c.syncGroup({
        groupId: 'g',
        generationId: r.generationId,
        memberId: r.memberId,
        groupInstanceId: `instance-${joined.ids.indexOf(r.memberId)}`,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: r.members.map((m) => ({
          memberId: m.memberId,
          assignment: Buffer.from(`a:${m.memberId}`),
        })),
      }),
    );
    for (const s of await Promise.all(syncs)) assert.equal(s.errorCode, GroupError.NONE);
    const [oldId, otherId] = [joined.leader, joined.ids.find((id) => id !== joined.leader)!];
    const i = joined.ids.indexOf(oldId);
    const back = await c.joinGroup(joinRequest('g', { clientId: `c${i}`, ...instance(i) }));
    assert.equal(back.errorCode, GroupError.NONE);
    assert.notEqual(back.memberId, oldId);
    assert.equal(back.generationId, joined.generationId);
    // The old leader id is returned, so the restarted leader does not reassign a stable group.
    assert.equal(back.leader, oldId);
    assert.deepEqual(back.members, []);
    assert.equal(c.describeGroup('g').state, 'Stable');
    const hb = (memberId: string, instanceOf: string) =>
      c.heartbeat({ groupId: 'g', generationId: joined.generationId, memberId, groupInstanceId: instanceOf });
    assert.equal(hb(otherId, `instance-${1 - i}`), GroupError.NONE);
    assert.equal(hb(oldId, `instance-${i}`), GroupError.FENCED_INSTANCE_ID);
    const stale = await c.joinGroup(joinRequest('g', { memberId: oldId, ...instance(i) }));
    assert.equal(stale.errorCode, GroupError.FENCED_INSTANCE_ID);
    const s = await c.syncGroup({
      groupId: 'g',
      generationId: back.generationId,
      memberId: back.memberId,
      groupInstanceId: `instance-${i}`,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [],
    });
    assert.equal(s.assignment.toString(), `a:${oldId}`);
  });

  it('leaving triggers a rebalance; unknown leavers are reported per member', async (t) => {
    const c = coordinator(t);
    const { ids, generationId } = await stableGroup(c, 'g', 2);
    const [stay, go] = ids as [string, string];
    const left = c.leaveGroup({
      groupId: 'g',
      members: [
        { memberId: go, groupInstanceId: null },
        { memberId: 'nobody', groupInstanceId: null },
      ],
    });
    assert.deepEqual(
      left.members.map((m) => m.errorCode),
      [GroupError.NONE, GroupError.UNKNOWN_MEMBER_ID],
    );
    assert.equal(heartbeat(c, 'g', stay, generationId), GroupError.REBALANCE_IN_PROGRESS);
    const r = await c.joinGroup(joinRequest('g', { clientId: 'c0', memberId: stay }));
    assert.equal(r.generationId, generationId + 1);
    assert.equal(r.members.length, 1);
    const none = c.leaveGroup({ groupId: 'other', members: [{ memberId: stay, groupInstanceId: null }] });
    assert.deepEqual(none, {
      errorCode: GroupError.NONE,
      members: [{ memberId: stay, groupInstanceId: null, errorCode: GroupError.UNKNOWN_MEMBER_ID }],
    });
  });

  it('answers illegal generations, unknown members and bad requests with their errors', async (t) => {
    const c = coordinator(t, { minSessionTimeoutMs: 6000 });
    const tooShort = await c.joinGroup(joinRequest('g', { sessionTimeoutMs: 100 }));
    assert.equal(tooShort.errorCode, GroupError.INVALID_SESSION_TIMEOUT);
    assert.equal((await c.joinGroup(joinRequest(''))).errorCode, GroupError.INVALID_GROUP_ID);
    const unknownGroup = await c.joinGroup(joinRequest('nope', { memberId: 'm' }));
    assert.equal(unknownGroup.errorCode, GroupError.UNKNOWN_MEMBER_ID);
    const { ids, generationId } = await stableGroup(c, 'g', 2);
    assert.equal(heartbeat(c, 'g', ids[0]!, generationId + 1), GroupError.ILLEGAL_GENERATION);
    assert.equal(heartbeat(c, 'g', 'ghost', generationId), GroupError.UNKNOWN_MEMBER_ID);
    assert.equal(heartbeat(c, 'nope', ids[0]!, generationId), GroupError.UNKNOWN_MEMBER_ID);
    assert.equal(heartbeat(c, 'g', ids[1]!, generationId), GroupError.NONE);
    const sync = (memberId: string, gen: number, protocolName: string | null) =>
      c.syncGroup({
        groupId: 'g',
        generationId: gen,
        memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName,
        assignments: [],
      });
    assert.equal((await sync(ids[0]!, generationId - 1, null)).errorCode, GroupError.ILLEGAL_GENERATION);
    assert.equal((await sync('ghost', generationId, null)).errorCode, GroupError.UNKNOWN_MEMBER_ID);
    assert.equal(
      (await sync(ids[0]!, generationId, 'other')).errorCode,
      GroupError.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  it('validates offset commits as Kafka does', async (t) => {
    const c = coordinator(t);
    assert.equal(c.validateCommit('simple', -1, '', null), GroupError.NONE);
    assert.equal(c.validateCommit('simple', 3, 'm', null), GroupError.ILLEGAL_GENERATION);
    const { ids, generationId } = await joinMembers(c, 'g', 2);
    const [a, b] = ids as [string, string];
    assert.equal(c.validateCommit('g', generationId, a, null), GroupError.REBALANCE_IN_PROGRESS);
    const assignments = ids.map((memberId) => ({ memberId, assignment: Buffer.from('x') }));
    const syncs = ids.map((memberId) =>
      c.syncGroup({
        groupId: 'g',
        generationId,
        memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments,
      }),
    );
    for (const s of await Promise.all(syncs)) assert.equal(s.errorCode, GroupError.NONE);
    assert.equal(c.validateCommit('g', generationId, a, null), GroupError.NONE);
    assert.equal(c.validateCommit('g', generationId + 1, a, null), GroupError.ILLEGAL_GENERATION);
    assert.equal(c.validateCommit('g', generationId, 'ghost', null), GroupError.UNKNOWN_MEMBER_ID);
    assert.equal(c.validateCommit('g', -1, '', null), GroupError.UNKNOWN_MEMBER_ID);
    c.leaveGroup({
      groupId: 'g',
      members: ids.map((memberId) => ({ memberId, groupInstanceId: null })),
    });
    assert.equal(c.describeGroup('g').state, 'Empty');
    assert.equal(c.validateCommit('g', -1, '', null), GroupError.NONE);
    assert.equal(c.validateCommit('g', generationId, b, null), GroupError.UNKNOWN_MEMBER_ID);
  });

  it('bounds the group size and the number of groups', async (t) => {
    const c = coordinator(t, { maxGroupSize: 2, maxGroups: 2 });
    await stableGroup(c, 'g', 2);
    const third = await c.joinGroup(joinRequest('g', { clientId: 'c2' }));
    assert.equal(third.errorCode, GroupError.GROUP_MAX_SIZE_REACHED);
    await stableGroup(c, 'h', 1);
    const full = await c.joinGroup(joinRequest('i'));
    assert.equal(full.errorCode, GroupError.COORDINATOR_NOT_AVAILABLE);
    const h = c.describeGroup('h').members[0]!;
    c.leaveGroup({ groupId: 'h', members: [{ memberId: h.memberId, groupInstanceId: null }] });
    // The Empty group makes room for a new one.
    assert.equal((await c.joinGroup(joinRequest('i'))).errorCode, GroupError.MEMBER_ID_REQUIRED);
    assert.equal(c.describeGroup('h').exists, false);
  });

  it('close answers waiting joins and syncs, and refuses later calls', async (t) => {
    const c = coordinator(t, { initialRebalanceDelayMs: 60_000 });
    const waiting = c.joinGroup(joinRequest('g', { requireKnownMemberId: false }));
    const other = coordinator(t);
    const { results } = await joinMembers(other, 'h', 2);
    const follower = results.find((r) => r.memberId !== r.leader)!;
    const sync = other.syncGroup({
      groupId: 'h',
      generationId: follower.generationId,
      memberId: follower.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    await Promise.all([c.close(), other.close()]);
    assert.equal((await waiting).errorCode, GroupError.NOT_COORDINATOR);
    assert.equal((await sync).errorCode, GroupError.NOT_COORDINATOR);
    assert.equal(heartbeat(other, 'h', follower.memberId, 1), GroupError.COORDINATOR_NOT_AVAILABLE);
    assert.equal((await c.joinGroup(joinRequest('g'))).errorCode, GroupError.COORDINATOR_NOT_AVAILABLE);
  });
});
