import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiKey, type DescribeGroupResponse, ErrorCode, type ResetOffsetsRequest } from '@barge/core';
import { type Harness, ok, produceRequest, startHarness, type TestClient } from './test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

const TOPIC = { name: 'lagged', writePartitions: 4, readPartitions: 4, batch: { maxDelayMs: 5 } };

async function harness(): Promise<Harness> {
  const h = await startHarness({ topics: [TOPIC] });
  harnesses.push(h);
  return h;
}

/** `rounds` batches on every write partition, so every read partition ends at offset `rounds`. */
async function produce(c: TestClient, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let wp = 0; wp < 4; wp++) {
      ok(
        await c.request(
          ApiKey.Produce,
          produceRequest('lagged', [`r${round}`], { writePartition: wp }, round),
        ),
      );
    }
  }
}

async function fetchAll(c: TestClient, memberId: string) {
  const out = [];
  for (;;) {
    const r = ok(await c.request(ApiKey.FetchPointers, { memberId, maxRecords: 100, maxWaitMs: 0 }));
    if (r.records.length === 0) return out;
    out.push(...r.records);
  }
}

/** `partition: committed offset/lag` per read partition, `-` where nothing is committed. */
function lagTable(d: DescribeGroupResponse): string[] {
  return d.partitions.map(
    (p) =>
      `${p.partition}: ${p.low}..${p.high} ${p.committed ? `${p.committed.offset}+${p.committed.messageIndex} lag ${p.committed.lag}` : '-'}`,
  );
}

describe('group administration through the broker (embedded pointer queue)', () => {
  it('lists and describes a group: members, assignment, committed offsets and lag per read partition', async () => {
    const h = await harness();
    const c = await h.client();
    await produce(c, 3);
    const m = ok(
      await c.request(ApiKey.JoinGroup, {
        group: 'readers',
        topic: 'lagged',
        sessionTimeoutMs: 10_000,
        fromBeginning: true,
        clientId: 'lag-test',
      }),
    );
    assert.equal((await fetchAll(c, m.memberId)).length, 12);
    ok(
      await c.request(ApiKey.CommitOffsets, {
        memberId: m.memberId,
        positions: [
          { partition: 0, offset: 1, messageIndex: 3 },
          { partition: 1, offset: 3, messageIndex: 0 },
        ],
      }),
    );

    const listed = ok(await c.request(ApiKey.ListGroups, {}));
    assert.deepEqual(listed.groups, [{ group: 'readers', status: 'stable', members: 1, topics: ['lagged'] }]);
    assert.deepEqual(ok(await c.request(ApiKey.ListGroups, { topic: 'lagged' })).groups, listed.groups);
    const noTopic = await c.request(ApiKey.ListGroups, { topic: 'nope' });
    assert.equal(noTopic.errorCode, ErrorCode.UNKNOWN_TOPIC);

    const d = ok(await c.request(ApiKey.DescribeGroup, { group: 'readers' }));
    assert.equal(d.status, 'stable');
    assert.equal(d.members.length, 1);
    assert.equal(d.members[0]?.clientId, 'lag-test');
    assert.deepEqual(d.members[0]?.assignment, [{ topic: 'lagged', partitions: [0, 1, 2, 3] }]);
    assert.deepEqual(lagTable(d), ['0: 0..3 1+3 lag 2', '1: 0..3 3+0 lag 0', '2: 0..3 -', '3: 0..3 -']);
    assert.deepEqual(ok(await c.request(ApiKey.DescribeGroup, { group: 'readers', topic: 'lagged' })), d);

    // New pointers raise the lag of the partitions with a commit.
    await produce(c, 1);
    const later = ok(await c.request(ApiKey.DescribeGroup, { group: 'readers' }));
    assert.deepEqual(lagTable(later).slice(0, 2), ['0: 0..4 1+3 lag 3', '1: 0..4 3+0 lag 1']);

    const unknown = await c.request(ApiKey.DescribeGroup, { group: 'nobody' });
    assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_GROUP);
    assert.match(unknown.message ?? '', /nobody/);
    const invalid = await c.request(ApiKey.DescribeGroup, { group: 'bad name' });
    assert.equal(invalid.errorCode, ErrorCode.INVALID_GROUP);
  });

  it('resets offsets of an empty group (dry run by default); members then read from there', async () => {
    const h = await harness();
    const c = await h.client();
    await produce(c, 3);
    const join = () =>
      c.request(ApiKey.JoinGroup, {
        group: 'resetters',
        topic: 'lagged',
        sessionTimeoutMs: 10_000,
        fromBeginning: true,
        clientId: 'reset-test',
      });
    const m = ok(await join());
    await fetchAll(c, m.memberId);
    ok(
      await c.request(ApiKey.CommitOffsets, {
        memberId: m.memberId,
        positions: [0, 1, 2, 3].map((partition) => ({ partition, offset: 3, messageIndex: 0 })),
      }),
    );
    const reset = (over: Partial<ResetOffsetsRequest>) =>
      c.request(ApiKey.ResetOffsets, {
        group: 'resetters',
        topic: 'lagged',
        target: { to: 'earliest' },
        partitions: [],
        execute: false,
        ...over,
      });
    for (const execute of [false, true]) {
      const busy = await reset({ execute });
      assert.equal(busy.errorCode, ErrorCode.GROUP_NOT_EMPTY, `execute=${execute}`);
      assert.match(busy.message ?? '', /1 member\(s\) \(reset-test\)/);
    }
    ok(await c.request(ApiKey.LeaveGroup, { memberId: m.memberId }));

    const dry = ok(await reset({ target: { to: 'earliest' } }));
    assert.deepEqual(
      dry.partitions,
      [0, 1, 2, 3].map((partition) => ({ partition, previous: { offset: 3, messageIndex: 0 }, offset: 0 })),
    );
    const unchanged = ok(await c.request(ApiKey.DescribeGroup, { group: 'resetters' }));
    assert.ok(
      unchanged.partitions.every((p) => p.committed?.offset === 3),
      'a dry run changes nothing',
    );

    const one = ok(await reset({ target: { to: 'offset', offset: 1 }, partitions: [1], execute: true }));
    assert.deepEqual(one.partitions, [{ partition: 1, previous: { offset: 3, messageIndex: 0 }, offset: 1 }]);
    const clamped = ok(await reset({ target: { to: 'offset', offset: 99 }, partitions: [2] }));
    assert.equal(clamped.partitions[0]?.offset, 3, 'an offset past the end is clamped to the high watermark');
    const future = ok(
      await reset({ target: { to: 'timestamp', timestamp: Date.now() + 3_600_000 }, partitions: [0] }),
    );
    assert.equal(future.partitions[0]?.offset, 3, 'a time after the last pointer is the end');
    const past = ok(await reset({ target: { to: 'timestamp', timestamp: 0 }, partitions: [0] }));
    assert.equal(past.partitions[0]?.offset, 0, 'a time before the first pointer is the beginning');
    const latest = ok(await reset({ target: { to: 'latest' }, partitions: [3, 3] }));
    assert.deepEqual(latest.partitions, [
      { partition: 3, previous: { offset: 3, messageIndex: 0 }, offset: 3 },
    ]);

    const after = ok(await c.request(ApiKey.DescribeGroup, { group: 'resetters' }));
    assert.deepEqual(lagTable(after), [
      '0: 0..3 3+0 lag 0',
      '1: 0..3 1+0 lag 2',
      '2: 0..3 3+0 lag 0',
      '3: 0..3 3+0 lag 0',
    ]);
    const again = ok(await join());
    const reread = await fetchAll(c, again.memberId);
    assert.deepEqual(
      reread.map((r) => `${r.partition}/${r.offset}`),
      ['1/1', '1/2'],
      'the group reads partition 1 again from offset 1, nothing else',
    );

    assert.equal((await reset({ partitions: [4] })).errorCode, ErrorCode.INVALID_PARTITION);
    assert.equal((await reset({ topic: 'nope' })).errorCode, ErrorCode.UNKNOWN_TOPIC);
    assert.equal((await reset({ group: '' })).errorCode, ErrorCode.INVALID_GROUP);
  });
});
