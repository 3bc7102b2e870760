/**
 * The group administration part of the `PointerQueue` contract (`listGroups`, `describeGroup`,
 * `resetOffsets`), declared by `describePointerQueue` for every adapter.
 */
import assert from 'node:assert/strict';
import type { GroupDescription, TopicCommitPosition } from '@barge/core';
import {
  assertRejectsWithCode,
  type PointerQueueHarness,
  type ResolvedPointerQueueSuiteOptions,
  randomName,
  type TestMember,
  testPointer,
} from './pointer-queue-suite.js';

type Test = (title: string, fn: (h: PointerQueueHarness) => Promise<void>) => void;

/** Publishes `perPartition` pointers to each read partition (write partition p → read partition p). */
async function fill(h: PointerQueueHarness, topic: string, partitions: number, perPartition: number) {
  for (let s = 0; s < perPartition; s++) {
    await h.publish(
      topic,
      Array.from({ length: partitions }, (_, wp) => testPointer(topic, wp, s)),
    );
  }
}

/** Committed positions with `messageIndex` 0 written as absent, for comparisons. */
function normalized(committed: readonly TopicCommitPosition[]): TopicCommitPosition[] {
  return committed.map(({ messageIndex, ...rest }) => (messageIndex ? { ...rest, messageIndex } : rest));
}

/** Describes `group` until `done` holds (Kafka's coordinator learns of joins and leaves in a moment). */
async function describeUntil(
  h: PointerQueueHarness,
  group: string,
  done: (d: GroupDescription) => boolean,
  what: string,
  members: readonly TestMember[] = [],
): Promise<GroupDescription> {
  const deadline = Date.now() + h.options.waitTimeoutMs;
  for (;;) {
    const d = await h.queue.describeGroup(group);
    if (done(d)) return d;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(d)}`);
    await Promise.all(members.map((m) => m.poll(h.options.pollTimeoutMs)));
    if (members.length === 0) await new Promise((r) => setTimeout(r, h.options.pollTimeoutMs));
  }
}

export function groupAdminTests(test: Test, o: ResolvedPointerQueueSuiteOptions): void {
  const N = o.readPartitions;

  test('describeGroup of a group nobody used throws NotFoundError; listGroups leaves it out', async (h) => {
    const topic = await h.topic(N);
    const group = h.group();
    await assertRejectsWithCode(h.queue.describeGroup(group), 'NOT_FOUND', 'describeGroup(unknown)');
    assert.ok(!(await h.queue.listGroups()).some((g) => g.group === group));
    assert.deepEqual(await h.queue.listGroups(topic), [], 'no group on a new topic');
  });

  test('listGroups and describeGroup show members, their assignment and committed positions', async (h) => {
    const topic = await h.topic(N);
    const other = await h.topic(N);
    await fill(h, topic, N, 3);
    const group = h.group();
    const clientId = randomName('admin-client');
    const m = await h.member('m', { group, topic, clientId });
    await h.pollUntil([m], () => m.consumer.assignment().length === N, 'the whole assignment');
    await m.consumer.commit([
      { partition: 0, offset: 2, messageIndex: 3 },
      { partition: 1, offset: 1 },
    ]);
    const d = await describeUntil(h, group, (x) => x.status === 'stable', 'a stable group', [m]);
    assert.equal(d.group, group);
    assert.equal(d.members.length, 1, 'one member');
    const [member] = d.members;
    assert.equal(member?.clientId, clientId);
    assert.ok(member && member.memberId.length > 0, 'a member id');
    assert.deepEqual(member?.assignment, [{ topic, partitions: Array.from({ length: N }, (_, p) => p) }]);
    assert.deepEqual(normalized(d.committed), [
      { topic, partition: 0, offset: 2, messageIndex: 3 },
      { topic, partition: 1, offset: 1 },
    ]);
    const listed = (await h.queue.listGroups(topic)).find((g) => g.group === group);
    assert.deepEqual(listed, { group, status: 'stable', members: 1, topics: [topic] });
    assert.ok(
      (await h.queue.listGroups()).some((g) => g.group === group),
      'listed without a topic',
    );
    assert.ok(!(await h.queue.listGroups(other)).some((g) => g.group === group), 'not on another topic');

    await m.consumer.close();
    const empty = await describeUntil(h, group, (x) => x.members.length === 0, 'the member to leave');
    assert.equal(empty.status, 'empty');
    assert.deepEqual(normalized(empty.committed), normalized(d.committed), 'commits outlive the members');
    const after = (await h.queue.listGroups(topic)).find((g) => g.group === group);
    assert.deepEqual(after, { group, status: 'empty', members: 0, topics: [topic] });
  });

  test('resetOffsets refuses a group with members, then moves an empty group; members start there', async (h) => {
    const topic = await h.topic(N);
    await fill(h, topic, N, 4);
    const group = h.group();
    const first = await h.member('first', { group, topic });
    await h.pollUntil([first], () => first.consumer.assignment().length === N, 'the whole assignment');
    await first.consumer.commit([
      { partition: 0, offset: 3, messageIndex: 2 },
      { partition: 1, offset: 4 },
    ]);
    await assertRejectsWithCode(
      h.queue.resetOffsets(group, topic, [{ partition: 0, offset: 0 }]),
      'GROUP_NOT_EMPTY',
      'resetOffsets with a member in the group',
    );
    await first.consumer.close();
    await describeUntil(h, group, (x) => x.members.length === 0, 'the member to leave');

    await assertRejectsWithCode(
      h.queue.resetOffsets(group, topic, [{ partition: 0, offset: 5 }]),
      'INVALID_INPUT',
      'an offset past the high watermark',
    );
    await assertRejectsWithCode(
      h.queue.resetOffsets(group, topic, [{ partition: N, offset: 0 }]),
      'NOT_FOUND',
      'a partition the topic does not have',
    );
    await h.queue.resetOffsets(group, topic, [
      { partition: 0, offset: 1 },
      { partition: 2, offset: 4 },
    ]);
    const d = await h.queue.describeGroup(group);
    assert.deepEqual(
      normalized(d.committed),
      [
        { topic, partition: 0, offset: 1 },
        { topic, partition: 1, offset: 4 },
        { topic, partition: 2, offset: 4 },
      ],
      'partition 0 moved back (message index cleared), 1 kept, 2 created at the end',
    );

    const second = await h.member('second', { group, topic });
    const p0 = () => second.records.filter((r) => r.partition === 0);
    await h.pollUntil([second], () => p0().length >= 3, 'partition 0 from the reset offset');
    assert.deepEqual(
      p0().map((r) => r.offset),
      [1, 2, 3],
      'partition 0 is read again from offset 1',
    );
    assert.deepEqual(await second.poll(o.emptyPollTimeoutMs), [], 'partitions 1 and 2 are at the end');
    assert.ok(
      second.records.every((r) => r.partition === 0 || (N > 3 && r.partition >= 3)),
      'nothing from partitions 1 and 2',
    );
  });

  test('resetOffsets gives a group that never committed its first positions', async (h) => {
    const topic = await h.topic(N);
    await fill(h, topic, N, 2);
    const group = h.group();
    await h.queue.resetOffsets(group, topic, [{ partition: 1, offset: 2 }]);
    const d = await h.queue.describeGroup(group);
    assert.deepEqual(d.members, []);
    assert.equal(d.status, 'empty');
    assert.deepEqual(normalized(d.committed), [{ topic, partition: 1, offset: 2 }]);
    const listed = (await h.queue.listGroups(topic)).find((g) => g.group === group);
    assert.deepEqual(listed?.topics, [topic]);
  });
}
