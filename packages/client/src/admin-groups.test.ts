import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin } from './admin.js';
import { Producer } from './producer.js';
import { startBroker, type TestBroker } from './test/broker.js';
import { randomName } from './test/helpers.js';

/**
 * Admin's group methods against the real broker. The group's member is an in-process consumer of
 * the broker's own embedded pointer queue, which the broker reports like any remote member.
 */
describe('Admin: consumer groups', () => {
  let tb: TestBroker;
  let admin: Admin;

  before(async () => {
    tb = await startBroker();
    admin = new Admin({ brokers: [tb.address] });
  });
  after(async () => {
    await admin.disconnect();
    await tb.close();
  });

  it('lists, describes (with lag) and resets a group, refusing while it has members', async () => {
    const topic = randomName('t');
    await admin.createTopic({ name: topic, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 5 } });
    const producer = new Producer({ brokers: [tb.address], lingerMs: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        await producer.send({ topic, messages: [{ value: `a${i}`, writePartition: 0 }] });
        await producer.send({ topic, messages: [{ value: `b${i}`, writePartition: 1 }] });
      }
    } finally {
      await producer.disconnect();
    }
    const group = randomName('g');
    const member = await tb.queue.subscribe({ group, topic, clientId: 'in-process' });
    await member.commit([{ partition: 0, offset: 1, messageIndex: 0 }]);

    assert.deepEqual(await admin.listGroups(topic), [
      { group, status: 'stable', members: 1, topics: [topic] },
    ]);
    const d = await admin.describeGroup(group);
    assert.deepEqual(
      d.partitions.map((p) => [p.partition, p.high, p.committed?.offset, p.committed?.lag]),
      [
        [0, 3, 1, 2],
        [1, 3, undefined, undefined],
      ],
    );
    assert.equal(d.members[0]?.clientId, 'in-process');

    const started = Date.now();
    await assert.rejects(admin.resetOffsets({ group, topic, to: { to: 'earliest' } }), (e: Error) => {
      assert.equal((e as { code?: string }).code, 'GROUP_NOT_EMPTY');
      return true;
    });
    assert.ok(Date.now() - started < 1000, 'a group with members is not retried');
    await member.close();

    const dry = await admin.resetOffsets({ group, topic, to: { to: 'latest' }, dryRun: true });
    assert.deepEqual(dry.partitions, [
      { partition: 0, previous: { offset: 1, messageIndex: 0 }, offset: 3 },
      { partition: 1, offset: 3 },
    ]);
    assert.equal((await admin.describeGroup(group, topic)).partitions[0]?.committed?.offset, 1, 'dry run');
    await admin.resetOffsets({ group, topic, to: { to: 'offset', offset: 2 }, partitions: [1] });
    const after = await admin.describeGroup(group, topic);
    assert.deepEqual(
      after.partitions.map((p) => p.committed?.offset),
      [1, 2],
    );
  });
});
