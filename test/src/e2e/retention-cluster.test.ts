import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Producer } from '@barge/client';
import { listAll, type ObjectStorage } from '@barge/core';
import { Kafka, logLevel } from 'kafkajs';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir, waitFor } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';
import { openStorage, prepareStorage } from '../storage-backends.js';

/**
 * In a cluster one broker sweeps a topic: the owner of its write partition 0. Two `barge broker`
 * processes share local storage and Kafka; the expired batches of both write partitions are
 * deleted, and only the owner of write partition 0 counts deletions.
 */

const RUN = runId();
const TOPIC = 'rcl';

async function keysOf(storage: ObjectStorage): Promise<string[]> {
  const out: string[] = [];
  for await (const o of listAll(storage, `topics/${TOPIC}/`)) out.push(o.key);
  return out;
}

describe('retention in a cluster of two brokers (Kafka, shared local storage)', () => {
  const brokers = kafkaBrokers();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let storage: ObjectStorage;
  const members: { id: number; admin: string; process: BrokerProcess }[] = [];

  before(async () => {
    dir = await tempDir('barge-e2e-retention-cluster-');
    const section = await prepareStorage('local', dir.path);
    for (const id of [1, 2]) {
      const config = join(dir.path, `broker-${id}.yaml`);
      await writeFile(
        config,
        [
          `broker: { id: ${id}, dataDir: ${JSON.stringify(join(dir.path, `data-${id}`))} }`,
          `storage: ${JSON.stringify(section)}`,
          ...kafkaYaml(brokers, RUN),
          `cluster: { id: "retention-${RUN}", sessionTimeoutMs: 6000 }`,
          'upload: { pointerRetryBudgetMs: 500 }',
          'retention: { intervalMs: 300, orphanGraceMs: 1000, clockSkewMs: 0 }',
          'topics:',
          `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 10 }, retention: { ms: 1500 } }`,
          '',
        ].join('\n'),
      );
      const admin = `127.0.0.1:${await freePort()}`;
      members.push({ id, admin, process: await startBroker(['--config', config, '--admin', admin]) });
    }
    storage = await openStorage(section, dir.path);
  });
  after(async () => {
    await storage?.close();
    await Promise.all(members.map((m) => m.process.stop()));
    await deletePointerTopics(brokers, kafkaQueueOptions(brokers, RUN).topicPrefix);
    await dir?.remove();
  });

  it('the owner of write partition 0 sweeps the topic; the other broker deletes nothing', async () => {
    const owners = await waitFor('both write partitions owned', async () => {
      const r = await runCli(['cluster', 'describe', '--json', '--broker', members[0]!.process.address]);
      if (r.code !== 0) return undefined;
      const view = JSON.parse(r.stdout.toString()) as {
        topics: { name: string; owners: (number | null)[] }[];
      };
      const o = view.topics.find((t) => t.name === TOPIC)?.owners;
      return o?.every((x) => x === 1 || x === 2) ? (o as number[]) : undefined;
    });
    const producer = new Producer({ brokers: members.map((m) => m.process.address), acks: 'durable' });
    await producer.connect();
    try {
      for (const writePartition of [0, 1]) {
        await producer.send({ topic: TOPIC, messages: [{ value: `wp${writePartition}`, writePartition }] });
      }
    } finally {
      await producer.disconnect();
    }
    assert.equal((await keysOf(storage)).length, 2);
    // Kafka keeps the pointers (retention.ms of the pointer topic is days): drop them as its retention would.
    const admin = new Kafka({ brokers, clientId: `barge-e2e-${RUN}`, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topic = `${kafkaQueueOptions(brokers, RUN).topicPrefix}${TOPIC}`;
      await admin.fetchTopicMetadata({ topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.deleteTopicRecords({
        topic,
        partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })),
      });
    } finally {
      await admin.disconnect();
    }
    await waitFor('both expired batches deleted', async () => (await keysOf(storage)).length === 0, 30_000);
    const deleted = await Promise.all(
      members.map(async (m) => {
        const text = await (await fetch(`http://${m.admin}/metrics`)).text();
        return Number(
          new RegExp(`barge_retention_deleted_objects_total\\{topic="${TOPIC}"\\} (\\d+)`).exec(text)?.[1] ??
            0,
        );
      }),
    );
    const sweeper = owners[0]!;
    assert.deepEqual(
      deleted,
      members.map((m) => (m.id === sweeper ? 2 : 0)),
      `broker ${sweeper} (owner of write partition 0) deleted both; the other none`,
    );
  });
});
