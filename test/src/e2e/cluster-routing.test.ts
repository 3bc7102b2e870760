import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  Admin,
  type BatchAckedPayload,
  Consumer,
  Producer,
  partitionForKey,
  type RecordMetadata,
} from '@barge/client';
import { ApiKey } from '@barge/core';
import { type ClusterTopic, ownedBy, TestCluster } from '../cluster/cluster-harness.js';
import { waitFor } from '../harness.js';

// Client routing in a cluster of two `barge broker` processes (S3 test server + test Kafka):
// each Produce request goes to the owner of its write partition, a client bootstrapped with one
// broker learns the others from Metadata v2, and producers, consumers and admin clients
// bootstrapped with a broker that dies carry on through the other one, with default settings.

const TOPIC: ClusterTopic = { name: 'routed', writePartitions: 4, readPartitions: 2, maxDelayMs: 20 };
/** Kafka's smallest session timeout: the failover after a SIGKILL takes about this long. */
const SESSION_MS = 6000;

/** `n` keyed messages for each write partition of TOPIC (keys hashed as the producer does). */
function keyedMessages(round: string, n: number): { key: string; value: string }[] {
  const messages: { key: string; value: string }[] = [];
  const perPartition = new Array<number>(TOPIC.writePartitions).fill(0);
  for (let i = 0; perPartition.some((c) => c < n); i++) {
    const key = `key-${i}`;
    const wp = partitionForKey(key, TOPIC.writePartitions);
    if (perPartition[wp]! >= n) continue;
    perPartition[wp]!++;
    messages.push({ key, value: `${round}-${i}` });
  }
  return messages;
}

/** Produce requests sent, by the broker address they went to, and every acked request. */
function record(producer: Producer) {
  const producesTo = new Map<string, number>();
  const acked: BatchAckedPayload[] = [];
  producer.on(producer.events.REQUEST, ({ payload }) => {
    if (payload.apiKey === ApiKey.Produce)
      producesTo.set(payload.broker, (producesTo.get(payload.broker) ?? 0) + 1);
  });
  producer.on(producer.events.BATCH_ACKED, ({ payload }) => acked.push(payload));
  return { producesTo, acked };
}

function assertDurable(metas: readonly RecordMetadata[], count: number): void {
  assert.equal(metas.length, count);
  for (const m of metas) {
    assert.equal(m.acks, 'durable');
    assert.ok(m.batchSequence >= 0 && m.offset >= 0, `stored and published: ${JSON.stringify(m)}`);
  }
  assert.deepEqual(
    [...new Set(metas.map((m) => m.writePartition))].sort(),
    [...Array(TOPIC.writePartitions).keys()],
    'every write partition',
  );
}

describe('client routing in a cluster of two brokers', { timeout: 240_000 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 2, topics: [TOPIC], sessionTimeoutMs: SESSION_MS });
  });
  after(async () => {
    await cluster?.close();
  });

  it('a producer bootstrapped with one broker sends each write partition to its owner', async () => {
    const owners = await cluster.waitAssigned();
    const mine = [1, 2].map((id) => ownedBy(owners, TOPIC.name, id));
    assert.ok(mine[0]!.length > 0 && mine[1]!.length > 0, `both brokers own write partitions: ${mine}`);
    const producer = new Producer({ brokers: [cluster.address(1)], lingerMs: 2 });
    const { producesTo, acked } = record(producer);
    try {
      await producer.connect();
      const metas: RecordMetadata[] = [];
      for (let round = 0; round < 5; round++) {
        metas.push(...(await producer.send({ topic: TOPIC.name, messages: keyedMessages(`r${round}`, 20) })));
      }
      assertDurable(metas, 5 * 20 * TOPIC.writePartitions);
      // Straight to the owners: no request was refused with NOT_OWNER and retried.
      assert.deepEqual(
        acked.filter((a) => a.retries > 0),
        [],
      );
      for (const id of [1, 2]) {
        const sent = producesTo.get(cluster.address(id)) ?? 0;
        assert.ok(sent > 0, `broker ${id} took produce requests: ${JSON.stringify([...producesTo])}`);
      }
      assert.deepEqual([...producesTo.keys()].sort(), cluster.addresses().sort());
      for (const a of acked) {
        const owner = owners[TOPIC.name]![a.writePartition]!;
        assert.ok(mine[owner - 1]!.includes(a.writePartition));
      }
    } finally {
      await producer.disconnect();
    }
  });

  it('clients bootstrapped with a broker that is SIGKILLed carry on through the other, with default settings', async (t: TestContext) => {
    const dying = cluster.address(1);
    const producer = new Producer({ brokers: [dying] });
    const { acked } = record(producer);
    const admin = new Admin({ brokers: [dying] });
    const consumer = new Consumer({
      brokers: [dying],
      groupId: `routing-${cluster.run}`,
      pollTimeoutMs: 200,
    });
    const seen = new Set<string>();
    const crashes: unknown[] = [];
    try {
      await Promise.all([producer.connect(), admin.connect(), consumer.connect()]);
      await admin.metadata([TOPIC.name]); // learns the cluster's brokers
      consumer.on(consumer.events.CRASH, ({ payload }) => crashes.push(payload.error));
      await consumer.subscribe({ topic: TOPIC.name, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.add(message.value.toString());
        },
      });
      const before = keyedMessages('before', 10);
      assertDurable(await producer.send({ topic: TOPIC.name, messages: before }), before.length);

      // Sends in flight while broker 1 dies; they wait out the failover (retries, not failures).
      const during = keyedMessages('during', 10);
      const sending = producer.send({ topic: TOPIC.name, messages: during });
      const killedAt = Date.now();
      await cluster.kill(1);
      assertDurable(await sending, during.length);
      const failoverMs = Date.now() - killedAt;
      t.diagnostic(`sends made while broker 1 died were acked ${failoverMs} ms after the SIGKILL`);
      const owners = await cluster.waitAssigned([2]);
      assert.deepEqual(ownedBy(owners, TOPIC.name, 2), [...Array(TOPIC.writePartitions).keys()]);
      assert.ok(
        acked.some((a) => a.retries > 0),
        'the sends to broker 1 were retried',
      );

      const after = keyedMessages('after', 10);
      assertDurable(await producer.send({ topic: TOPIC.name, messages: after }), after.length);
      assert.deepEqual(
        (await admin.listTopics()).map((x) => x.name),
        [TOPIC.name],
      );
      const everything = [...before, ...during, ...after].map((m) => m.value);
      const caughtUp = Date.now();
      await waitFor(
        'the consumer to read every message through broker 2',
        () => crashes.length > 0 || everything.every((v) => seen.has(v)),
        60_000,
      );
      assert.deepEqual(crashes, []);
      t.diagnostic(`the consumer read everything ${Date.now() - caughtUp} ms after the last send`);
    } finally {
      await Promise.allSettled([producer.disconnect(), consumer.disconnect(), admin.disconnect()]);
    }
  });

  it('when write partitions move, a NOT_OWNER answer sends the chunk to the new owner at once', async () => {
    // Broker 2 owns everything now; the producer learns that, then broker 1 comes back and takes
    // some write partitions over: the producer's owners are stale until a NOT_OWNER answer.
    const retriesLogged: { message: string; error: string }[] = [];
    const producer = new Producer({
      brokers: [cluster.address(2)],
      logLevel: 'warn',
      logCreator: () => (e) => {
        if (/^produce to /.test(e.log.message))
          retriesLogged.push({ message: e.log.message, error: String(e.log.error) });
      },
    });
    const { acked } = record(producer);
    try {
      await producer.connect();
      await cluster.start(1);
      const owners = await cluster.waitAssigned([1, 2]);
      const moved = ownedBy(owners, TOPIC.name, 1);
      assert.ok(moved.length > 0, 'broker 1 took write partitions over');
      const messages = keyedMessages('moved', 10);
      assertDurable(await producer.send({ topic: TOPIC.name, messages }), messages.length);
      const bounced = [...new Set(acked.filter((a) => a.retries > 0).map((a) => a.writePartition))].sort();
      assert.deepEqual(bounced, moved, 'the moved write partitions were refused once, then sent to broker 1');
      const notOwner = retriesLogged.filter((r) => /NOT_OWNER/.test(r.error));
      assert.ok(notOwner.length > 0, JSON.stringify(retriesLogged));
      for (const r of notOwner) assert.match(r.message, /retrying in 0 ms$/);
    } finally {
      await producer.disconnect();
    }
  });
});
