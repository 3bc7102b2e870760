/**
 * `barge consume --exit-at-end` on Kafka pointers. On a clustered topic pointers are published in
 * Kafka transactions, so commit markers sit between and after them and the high watermark is
 * above the last pointer: the consumer must still see that it read everything and exit. A single
 * broker publishes without transactions: there the end is the high watermark itself.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Producer } from '@barge/client';
import { TestCluster } from '../cluster/cluster-harness.js';
import { type BrokerProcess, runCli, startBroker, tempDir } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';

const VALUES = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'];

async function produceSix(brokers: string[]): Promise<void> {
  const producer = new Producer({ brokers, acks: 'durable' });
  await producer.connect();
  try {
    for (const [i, value] of VALUES.entries()) {
      await producer.send({ topic: 'ends', messages: [{ key: `k${i}`, value }] });
    }
  } finally {
    await producer.disconnect();
  }
}

/** The values `consume --exit-at-end` prints, sorted; it must exit by itself (0). */
async function consumeToEnd(broker: string, flags: string[]): Promise<string[]> {
  const r = await runCli(['consume', '--topic', 'ends', '--exit-at-end', '--broker', broker, ...flags], {
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

async function readsEverything(broker: string): Promise<void> {
  assert.deepEqual(await consumeToEnd(broker, ['--from-beginning']), VALUES);
  const group = ['--group', 'ends-reader', '--from-beginning'];
  assert.deepEqual(await consumeToEnd(broker, group), VALUES);
  // The group committed the offset after each partition's last pointer (below the high watermark
  // on a clustered topic): nothing is left, and consume sees it without a pointer to read.
  assert.deepEqual(await consumeToEnd(broker, group), []);
  const one = (p: number) => consumeToEnd(broker, ['--partition', String(p), '--offset', 'earliest']);
  const [p0, p1] = await Promise.all([one(0), one(1)]);
  assert.deepEqual([...p0, ...p1].sort(), VALUES);
}

describe('consume --exit-at-end on a clustered topic (Kafka transactions)', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({
      size: 1,
      topics: [{ name: 'ends', writePartitions: 2, readPartitions: 2 }],
      sessionTimeoutMs: 6000,
      logLevel: 'warn',
    });
    await cluster.waitAssigned();
  });
  after(async () => {
    await cluster?.close();
  });

  it('reads every message and exits: on its own, with a group, and again with the group at its end', async () => {
    await produceSix(cluster.addresses());
    await readsEverything(cluster.address(1));
  });
});

describe('consume --exit-at-end on a single broker with Kafka pointers (no transactions)', () => {
  const run = runId();
  const kafka = kafkaBrokers();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  before(async () => {
    dir = await tempDir('barge-e2e-kafka-end-');
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { id: 31, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        ...kafkaYaml(kafka, run),
        'topics:',
        '  - { name: ends, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 20 } }',
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
  });
  after(async () => {
    const code = await broker?.stop();
    if (code !== 0 && broker) process.stderr.write(`broker exited with ${code}:\n${broker.logs()}\n`);
    await deletePointerTopics(kafka, kafkaQueueOptions(kafka, run).topicPrefix);
    await dir?.remove();
  });

  it('reads every message and exits: on its own, with a group, and again with the group at its end', async () => {
    await produceSix([broker.address]);
    await readsEverything(broker.address);
  });
});
