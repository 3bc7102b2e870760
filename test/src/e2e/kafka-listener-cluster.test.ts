import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeKafkaBatch } from '@barge/core';
import * as kp from '@barge/kafka-protocol';
import { Kafka, logLevel } from 'kafkajs';
import { type Owners, TestCluster } from '../cluster/cluster-harness.js';
import { waitFor } from '../harness.js';
import { withRawKafka } from '../kafka-raw.js';

/**
 * The Kafka listener on every broker of a cluster (three `barge broker` processes, S3 test server
 * and test Kafka): Metadata from any broker lists every broker's Kafka listener with each
 * partition's leader = its write partition's owner, kafkajs produces through one bootstrap broker
 * and a kafkajs group reads everything once with dense offsets, a Produce sent to a non-owner is
 * refused naming the owner (KIP-951), and every broker names the same coordinator for a group.
 */

const TOPIC = 'kcluster';
const PARTITIONS = 6;
const PER_PARTITION = 12;
const NOT_LEADER_OR_FOLLOWER = 6;
const NOT_COORDINATOR = 16;
const UNKNOWN_MEMBER_ID = 25;

describe('Kafka listener in a cluster of three brokers', { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let owners: Owners;
  const ids = [1, 2, 3];

  before(async () => {
    cluster = await TestCluster.start({
      size: 3,
      topics: [{ name: TOPIC, writePartitions: PARTITIONS, readPartitions: PARTITIONS, maxDelayMs: 10 }],
      sessionTimeoutMs: 6000,
      kafkaListener: true,
      logLevel: 'warn',
    });
    owners = await cluster.waitAssigned();
  });
  after(async () => {
    await cluster?.close();
  });

  const metadata = (id: number) =>
    withRawKafka(cluster.kafkaAddress(id), (c) =>
      c.request(
        3,
        12,
        kp.encodeMetadataRequest,
        kp.createMetadataRequest({ topics: [kp.createMetadataRequestTopic({ name: TOPIC })] }),
        kp.decodeMetadataResponse,
      ),
    );

  it("Metadata from every broker lists every broker's Kafka listener; leader = owner, replicas = ISR = leader", async () => {
    const expected = ids.map((id) => `${id}@${cluster.kafkaAddress(id)}`);
    for (const id of ids) {
      const m = await metadata(id);
      assert.deepEqual(
        m.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`),
        expected,
        `broker ${id}`,
      );
      assert.equal(m.controllerId, 1, 'every broker names the same controller');
      const described = await withRawKafka(cluster.kafkaAddress(id), (c) =>
        c.request(
          60,
          1,
          kp.encodeDescribeClusterRequest,
          kp.createDescribeClusterRequest(),
          kp.decodeDescribeClusterResponse,
        ),
      );
      assert.deepEqual(
        described.brokers.map((b) => `${b.brokerId}@${b.host}:${b.port}`),
        expected,
      );
      const topic = m.topics[0]!;
      assert.equal(topic.errorCode, 0);
      const byPartition = [...topic.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
      assert.deepEqual(
        byPartition.map((p) => [p.errorCode, p.leaderId, p.replicaNodes, p.isrNodes]),
        owners[TOPIC]!.map((o) => [0, o, [o], [o]]),
        `broker ${id}: leaders are the owners ${JSON.stringify(owners)}`,
      );
    }
    assert.ok(new Set(owners[TOPIC]).size === 3, `every broker leads partitions: ${owners[TOPIC]}`);
  });

  it('kafkajs through one bootstrap broker: produced on every partition, read once by a group with dense offsets', async () => {
    const kafka = new Kafka({
      brokers: [cluster.kafkaAddress(1)],
      clientId: 'e2e',
      logLevel: logLevel.NOTHING,
    });
    const group = `kgroup-${cluster.run}`;
    const consumers = [0, 1].map(() => kafka.consumer({ groupId: group, heartbeatInterval: 500 }));
    const seen: { partition: number; offset: number; value: string }[] = [];
    // Produce only once both consumers share the partitions, so that no rebalance (which may
    // redeliver what was not committed yet) happens while they read.
    const assigned = [0, 0];
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    try {
      for (const [i, consumer] of consumers.entries()) {
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          assigned[i] = payload.memberAssignment[TOPIC]?.length ?? 0;
        });
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen.push({ partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
          },
        });
      }
      await waitFor(
        'both consumers to share the partitions',
        () => assigned.every((n) => n > 0) && assigned[0]! + assigned[1]! === PARTITIONS,
        60_000,
        100,
      );

      await producer.connect();
      const baseOffsets = new Map<number, string[]>();
      for (let round = 0; round < 3; round++) {
        const records = await producer.send({
          topic: TOPIC,
          messages: Array.from({ length: PARTITIONS * (PER_PARTITION / 3) }, (_, i) => ({
            partition: i % PARTITIONS,
            value: `r${round}-${i}`,
          })),
        });
        for (const r of records)
          baseOffsets.set(r.partition, [...(baseOffsets.get(r.partition) ?? []), r.baseOffset ?? '?']);
      }
      for (let p = 0; p < PARTITIONS; p++) {
        assert.deepEqual(baseOffsets.get(p), ['0', '4', '8'], `partition ${p}: dense offsets across batches`);
      }

      const total = PARTITIONS * PER_PARTITION;
      await waitFor('the group to read every message', () => seen.length >= total, 60_000, 100);
      assert.equal(seen.length, total, 'no message read twice');
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = seen
          .filter((s) => s.partition === p)
          .map((s) => s.offset)
          .sort((a, b) => a - b);
        assert.deepEqual(
          offsets,
          Array.from({ length: PER_PARTITION }, (_, i) => i),
          `partition ${p}`,
        );
      }
      assert.equal(new Set(seen.map((s) => s.value)).size, total);
    } finally {
      await Promise.allSettled([producer.disconnect(), ...consumers.map((c) => c.disconnect())]);
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId: group, topics: [TOPIC] });
      assert.deepEqual(
        committed[0]?.partitions.map((p) => p.offset),
        new Array(PARTITIONS).fill(String(PER_PARTITION)),
        'the group committed through its coordinator',
      );
    } finally {
      await admin.disconnect();
    }
  });

  it("a Produce sent to a non-owner gets NOT_LEADER_OR_FOLLOWER with the owner's Kafka address (KIP-951)", async () => {
    const records = encodeKafkaBatch([{ value: Buffer.from('misrouted') }]);
    for (let p = 0; p < PARTITIONS; p++) {
      const owner = owners[TOPIC]![p]!;
      const other = ids.find((id) => id !== owner)!;
      const request = kp.createProduceRequest({
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          kp.createProduceRequestTopicProduceData({
            name: TOPIC,
            partitionData: [kp.createProduceRequestPartitionProduceData({ index: p, records })],
          }),
        ],
      });
      await withRawKafka(cluster.kafkaAddress(other), async (c) => {
        const v12 = await c.request(0, 12, kp.encodeProduceRequest, request, kp.decodeProduceResponse);
        const answer = v12.responses[0]!.partitionResponses[0]!;
        assert.equal(answer.errorCode, NOT_LEADER_OR_FOLLOWER, `partition ${p} sent to broker ${other}`);
        assert.equal(answer.currentLeader.leaderId, owner);
        assert.deepEqual(
          v12.nodeEndpoints.map((n) => `${n.nodeId}@${n.host}:${n.port}`),
          [`${owner}@${cluster.kafkaAddress(owner)}`],
        );
        const v9 = await c.request(0, 9, kp.encodeProduceRequest, request, kp.decodeProduceResponse);
        assert.equal(v9.responses[0]!.partitionResponses[0]!.errorCode, NOT_LEADER_OR_FOLLOWER);
      });
    }
    // Nothing was stored: every partition still ends where the kafkajs producer left it.
    const admin = new Kafka({ brokers: [cluster.kafkaAddress(2)], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(TOPIC);
      assert.deepEqual(
        ends.map((o) => o.high),
        new Array(PARTITIONS).fill(String(PER_PARTITION)),
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('every broker names the same coordinator for a group; the others answer NOT_COORDINATOR', async () => {
    const groups = Array.from({ length: 12 }, (_, i) => `coordinated-${i}`);
    const answers = await Promise.all(
      ids.map((id) =>
        withRawKafka(cluster.kafkaAddress(id), (c) =>
          c.request(
            10,
            4,
            kp.encodeFindCoordinatorRequest,
            kp.createFindCoordinatorRequest({ keyType: 0, coordinatorKeys: groups }),
            kp.decodeFindCoordinatorResponse,
          ),
        ),
      ),
    );
    const named = answers.map((a) =>
      a.coordinators.map((c) => `${c.key}=${c.nodeId}@${c.host}:${c.port}/${c.errorCode}`),
    );
    assert.deepEqual(named[1], named[0]);
    assert.deepEqual(named[2], named[0]);
    const coordinators = answers[0]!.coordinators;
    for (const c of coordinators) {
      assert.equal(c.errorCode, 0);
      assert.equal(`${c.host}:${c.port}`, cluster.kafkaAddress(c.nodeId));
    }
    assert.ok(new Set(coordinators.map((c) => c.nodeId)).size > 1, 'groups spread over the brokers');
    for (const c of coordinators.slice(0, 4)) {
      for (const id of ids) {
        const heartbeat = await withRawKafka(cluster.kafkaAddress(id), (conn) =>
          conn.request(
            12,
            4,
            kp.encodeHeartbeatRequest,
            kp.createHeartbeatRequest({ groupId: c.key, generationId: 1, memberId: 'nobody' }),
            kp.decodeHeartbeatResponse,
          ),
        );
        const expected = id === c.nodeId ? UNKNOWN_MEMBER_ID : NOT_COORDINATOR;
        assert.equal(heartbeat.errorCode, expected, `group ${c.key} on broker ${id}`);
      }
    }
  });

  it("when the group's coordinator stops, the group moves to another broker and reads on from its commits", async () => {
    const kafka = new Kafka({
      brokers: ids.map((id) => cluster.kafkaAddress(id)),
      logLevel: logLevel.NOTHING,
    });
    const group = `kmoving-${cluster.run}`;
    const coordinator = async () => {
      const [c] = (
        await withRawKafka(cluster.kafkaAddress(cluster.liveIds()[0]!), (conn) =>
          conn.request(
            10,
            4,
            kp.encodeFindCoordinatorRequest,
            kp.createFindCoordinatorRequest({ keyType: 0, coordinatorKeys: [group] }),
            kp.decodeFindCoordinatorResponse,
          ),
        )
      ).coordinators;
      return c!.nodeId;
    };
    const consumer = kafka.consumer({ groupId: group, heartbeatInterval: 300 });
    const producer = kafka.producer();
    const seen: { partition: number; offset: number; value: string }[] = [];
    try {
      await Promise.all([consumer.connect(), producer.connect()]);
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push({ partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
        },
      });
      await waitFor(
        'the consumer to join',
        () => consumer.describeGroup().then((d) => d.state === 'Stable'),
        30_000,
        100,
      );
      const send = (round: string) =>
        producer.send({
          topic: TOPIC,
          messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `${round}-${p}` })),
        });
      const values = (round: string) => Array.from({ length: PARTITIONS }, (_, p) => `${round}-${p}`);
      const readAll = (round: string) =>
        waitFor(
          `the group to read ${round}`,
          () => values(round).every((v) => seen.some((s) => s.value === v)),
          60_000,
          100,
        );
      await send('before');
      await readAll('before');
      const first = await coordinator();
      await cluster.stop(first);
      const live = cluster.liveIds();
      await cluster.waitAssigned(live);
      const second = await coordinator();
      assert.ok(
        live.includes(second) && second !== first,
        `the group moved from broker ${first} to ${second}`,
      );
      await send('after');
      await readAll('after');
      const older = seen.filter((s) => !/^(before|after)-/.test(s.value));
      assert.equal(
        older.length,
        PARTITIONS * PER_PARTITION,
        'the new coordinator had the commits: nothing older read again',
      );
      // Dense offsets across the owners: each partition's two messages are consecutive.
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = [
          ...new Set(
            seen.filter((s) => s.partition === p && /^(before|after)-/.test(s.value)).map((s) => s.offset),
          ),
        ].sort((a, b) => a - b);
        assert.deepEqual(offsets, [PER_PARTITION, PER_PARTITION + 1], `partition ${p}`);
      }
    } finally {
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    }
  });
});
