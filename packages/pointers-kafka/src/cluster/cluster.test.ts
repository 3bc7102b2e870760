import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  type ClusterAssignment,
  type ClusterJoinOptions,
  type ClusterMembership,
  decodePointer,
  NotOwnerError,
} from '@barge/core';
import { randomId, testPointer } from '@barge/testkit';
import { KafkaPointerQueue } from '../queue.js';
import { kafkaBrokers, rawKafka, testOptions } from '../test-support/env.js';

/** Pointers of `topic` a read_committed consumer (the kind Barge's consumers are) sees, as "wp/sequence". */
async function committedPointers(
  queue: KafkaPointerQueue,
  topic: string,
  expected: number,
): Promise<string[]> {
  const kafka = rawKafka(kafkaBrokers());
  const consumer = kafka.consumer({ groupId: randomId('check'), readUncommitted: false });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: queue.pointerTopic(topic), fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const p = decodePointer(message.value!);
          seen.push(`${p.writePartition}/${p.sequence}`);
          if (seen.length >= expected) resolve();
        },
      });
    });
    // A pointer that should not be there would show within a few seconds of the expected ones.
    await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
    await new Promise((r) => setTimeout(r, 1500));
    return seen.sort();
  } finally {
    await consumer.disconnect();
  }
}

describe('Kafka cluster coordination', () => {
  const queues: KafkaPointerQueue[] = [];
  const open = (options = testOptions(kafkaBrokers())) => {
    const q = new KafkaPointerQueue(options);
    queues.push(q);
    return q;
  };
  after(async () => {
    await Promise.allSettled(queues.map((q) => q.close()));
  });

  it('a newer fenced publisher of a write partition fences the older one: its publications fail with NotOwnerError and are never visible', async () => {
    const options = testOptions(kafkaBrokers());
    const [a, b] = [open(options), open(options)];
    const topic = randomId('fence');
    await a.ensureTopic(topic, 2);
    const cluster = randomId('c');
    const first = await a.cluster.fencedPublisher(cluster, topic, 0);
    const ok = await first.publish([testPointer(topic, 0, 1), testPointer(topic, 0, 2)]);
    assert.equal(ok.length, 2);
    assert.equal(ok[1]!.offset, ok[0]!.offset + 1, 'one transaction, consecutive offsets');
    // Another broker takes the write partition over.
    const second = await b.cluster.fencedPublisher(cluster, topic, 0);
    await assert.rejects(first.publish([testPointer(topic, 0, 3)]), (e: unknown) => {
      assert.ok(e instanceof NotOwnerError, `expected NotOwnerError, got ${String(e)}`);
      return true;
    });
    // Spent after a failure: it never publishes again.
    await assert.rejects(first.publish([testPointer(topic, 0, 4)]), NotOwnerError);
    await second.publish([testPointer(topic, 0, 5)]);
    // Other write partitions have their own fence.
    const other = await a.cluster.fencedPublisher(cluster, topic, 1);
    await other.publish([testPointer(topic, 1, 1)]);
    assert.deepEqual(await committedPointers(a, topic, 4), ['0/1', '0/2', '0/5', '1/1']);
    await Promise.all([first.close(), second.close(), other.close()]);
  });

  it('brokers joining the cluster group all get the same balanced assignment, and a leaver’s write partitions move to the others', async () => {
    const options = testOptions(kafkaBrokers());
    const clusterId = randomId('c');
    const topics = [
      { topic: 'a', writePartitions: 4 },
      { topic: 'b', writePartitions: 2 },
    ];
    const seen = new Map<number, ClusterAssignment[]>();
    const join = (brokerId: number): Promise<ClusterMembership> => {
      const joinOptions: ClusterJoinOptions = {
        clusterId,
        self: { brokerId, host: '127.0.0.1', port: 7000 + brokerId },
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
        rebalanceTimeoutMs: 6000,
        topics: async () => topics,
        // What the broker writes now: its part of the latest assignment (so the assignor keeps it here).
        owned: () =>
          Object.entries(seen.get(brokerId)?.at(-1)?.owners ?? {}).flatMap(([topic, owners]) =>
            owners.flatMap((o, writePartition) => (o === brokerId ? [{ topic, writePartition }] : [])),
          ),
        onAssignment: (a) => seen.set(brokerId, [...(seen.get(brokerId) ?? []), a]),
        onMembershipLost: () => {},
      };
      return open(options).cluster.join(joinOptions);
    };
    const members = await Promise.all([join(1), join(2), join(3)]);
    const settled = async (ids: number[]) => {
      const until = Date.now() + 30_000;
      for (;;) {
        const latest = ids.map((id) => seen.get(id)?.at(-1));
        const gens = new Set(latest.map((a) => a?.generation));
        const complete = latest.every((a) => a && a.members.length === ids.length);
        if (complete && gens.size === 1) return latest as ClusterAssignment[];
        assert.ok(Date.now() < until, `no common assignment for ${ids.join(',')}: ${JSON.stringify(latest)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const three = await settled([1, 2, 3]);
    assert.deepEqual(three[1]!.owners, three[0]!.owners);
    const counts = new Map<number, number>();
    for (const owners of Object.values(three[0]!.owners))
      for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
    assert.deepEqual(
      [...counts.values()].sort(),
      [2, 2, 2],
      `6 write partitions over 3 brokers: ${JSON.stringify(three[0]!.owners)}`,
    );
    assert.ok(
      members.every((m) => m.confirmedAt > 0),
      'every member is confirmed by the coordinator',
    );
    await members[2]!.leave();
    const two = await settled([1, 2]);
    for (const [topic, owners] of Object.entries(two[0]!.owners)) {
      owners.forEach((o, wp) => {
        assert.ok(o === 1 || o === 2, `${topic}/${wp} went to a live broker`);
        const before = three[0]!.owners[topic]![wp];
        if (before !== 3) assert.equal(o, before, `${topic}/${wp} did not move: its owner is still there`);
      });
    }
    await Promise.all(members.slice(0, 2).map((m) => m.leave()));
  });
});
