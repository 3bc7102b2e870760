import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin, Consumer, Producer } from '@barge/client';
import { type BrokerProcess, startBroker, tempDir, waitFor } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';

// The revoke phase end to end: a second consumer joins a group while the first is working
// through a backlog. The first commits what it processed before its partitions move, so with
// auto-commit far in the future nothing is delivered twice (without the revoke phase, every
// message the first processed on a moved partition would be read again by the second).

const TOTAL = 2000;
/** Sent in this many requests, so the backlog is many batches (a member fetches a few at a time). */
const SENDS = 50;
const PARTITIONS = 6;

function revokeScenario(broker: () => BrokerProcess, name: string): void {
  it('a member joining mid-backlog gets its partitions only after the first committed them: no duplicates', async () => {
    const topic = `revoke-${name}-${runId()}`;
    const admin = new Admin({ brokers: [broker().address] });
    await admin.connect();
    await admin.createTopic({
      name: topic,
      writePartitions: PARTITIONS,
      readPartitions: PARTITIONS,
      batch: { maxDelayMs: 20 },
    });
    await admin.disconnect();
    const producer = new Producer({ brokers: [broker().address] });
    await producer.connect();
    const per = TOTAL / SENDS;
    for (let s = 0; s < SENDS; s++) {
      await producer.send({
        topic,
        messages: Array.from({ length: per }, (_, j) => ({ key: `k${j % 60}`, value: String(s * per + j) })),
      });
    }
    await producer.disconnect();

    const seen = new Map<number, string[]>();
    const touchedByA = new Set<number>();
    const consumer = (id: string) => {
      const c = new Consumer({
        brokers: [broker().address],
        groupId: `g-${topic}`,
        clientId: id,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
        // Only the revoke phase commits while both run.
        autoCommitIntervalMs: 600_000,
        autoCommitThreshold: 1_000_000,
        maxPollRecords: 4,
      });
      c.subscribe({ topic, fromBeginning: true });
      return c;
    };
    const work =
      (id: string) =>
      async ({ partition, message }: { partition: number; message: { value: Buffer | null } }) => {
        if (id === 'a') touchedByA.add(partition);
        const n = Number(message.value?.toString());
        seen.set(n, [...(seen.get(n) ?? []), id]);
        await new Promise((r) => setTimeout(r, 4));
      };
    const a = consumer('a');
    const b = consumer('b');
    try {
      await a.connect();
      await a.run({ eachMessage: work('a') });
      // Whichever partitions b gets, a has processed (uncommitted) messages of them by now.
      await waitFor(
        'a to process messages of every partition',
        () => touchedByA.size === PARTITIONS,
        60_000,
        10,
      );
      await b.connect();
      await b.run({ eachMessage: work('b') });
      await waitFor('every message', () => seen.size === TOTAL, 120_000, 50);
      await new Promise((r) => setTimeout(r, 1_000)); // anything delivered twice arrives by now
      const byB = [...seen.values()].filter((ids) => ids.includes('b')).length;
      assert.ok(byB > 0, 'b got partitions and processed messages of them');
      const twice = [...seen].filter(([, ids]) => ids.length > 1);
      assert.deepEqual(
        twice.slice(0, 10).map(([n, ids]) => `${n}: ${ids.join(',')}`),
        [],
        `${twice.length} messages delivered more than once`,
      );
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()]);
    }
  });
}

describe('revoke phase through a broker process on the embedded pointer queue', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  before(async () => {
    dir = await tempDir();
    broker = await startBroker(['--data', join(dir.path, 'data')]);
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });
  revokeScenario(() => broker, 'embedded');
});

describe('revoke phase through a broker process on Kafka pointers', () => {
  const RUN = runId();
  const brokers = kafkaBrokers();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  before(async () => {
    dir = await tempDir('barge-e2e-revoke-kafka-');
    const config = join(dir.path, 'barge.yaml');
    const data = join(dir.path, 'data');
    await writeFile(
      config,
      [
        `broker: { id: 41, dataDir: ${JSON.stringify(data)} }`,
        'storage:',
        '  adapter: local',
        `  root: ${JSON.stringify(join(data, 'objects'))}`,
        ...kafkaYaml(brokers, RUN),
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
  });
  after(async () => {
    await broker?.stop();
    await deletePointerTopics(brokers, kafkaQueueOptions(brokers, RUN).topicPrefix);
    await dir?.remove();
  });
  revokeScenario(() => broker, 'kafka');
});
