import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { batchKey } from '@barge/broker';
import { Producer } from '@barge/client';
import { listAll, type ObjectStorage } from '@barge/core';
import { Kafka, logLevel } from 'kafkajs';
import { type BrokerProcess, startBroker, tempDir, waitFor } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';
import { openStorage, prepareStorage } from '../storage-backends.js';

/**
 * Retention with Kafka pointers: Kafka drops pointers by its own retention, so the broker warns
 * at start when the pointer topic keeps them longer than `topics[].retention.ms`, and deletes an
 * expired object only once Kafka's low watermark has passed its pointer (here moved by
 * DeleteRecords, as Kafka's retention would).
 */

const RUN = runId();
const TOPIC = 'kret';

async function keysOf(storage: ObjectStorage): Promise<string[]> {
  const out: string[] = [];
  for await (const o of listAll(storage, `topics/${TOPIC}/`)) out.push(o.key);
  return out;
}

describe('retention with Kafka pointers (barge broker, local storage)', () => {
  const brokers = kafkaBrokers();
  const prefix = kafkaQueueOptions(brokers, RUN).topicPrefix;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let storage: ObjectStorage;
  let producer: Producer;

  before(async () => {
    dir = await tempDir('barge-e2e-retention-kafka-');
    const section = await prepareStorage('local', dir.path);
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { id: 7, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `storage: ${JSON.stringify(section)}`,
        ...kafkaYaml(brokers, RUN),
        'upload: { pointerRetryBudgetMs: 500 }',
        'retention: { intervalMs: 300, orphanGraceMs: 1000, clockSkewMs: 0 }',
        'topics:',
        `  - { name: ${TOPIC}, batch: { maxDelayMs: 10 }, retention: { ms: 1500 } }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
    storage = await openStorage(section, dir.path);
    producer = new Producer({ brokers: [broker.address], acks: 'durable' });
    await producer.connect();
  });
  after(async () => {
    await producer?.disconnect();
    await storage?.close();
    await broker?.stop();
    await deletePointerTopics(brokers, prefix);
    await dir?.remove();
  });

  it('warns at start that the pointer topic keeps pointers longer than the topic retention', async () => {
    await waitFor('the pointer retention warning', () =>
      broker.logs().includes('keeps pointers longer than topics[].retention.ms'),
    );
  });

  it('keeps expired objects while Kafka holds their pointers, deletes them once Kafka dropped the pointers', async () => {
    await producer.send({ topic: TOPIC, messages: [{ value: 'first' }] });
    await producer.send({ topic: TOPIC, messages: [{ value: 'second' }] });
    const [first, second] = await keysOf(storage);
    assert.ok(first && second);
    // Both are past retention.ms and settled; their pointers are in Kafka: nothing may go.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await keysOf(storage), [first, second]);

    const admin = new Kafka({ brokers, clientId: `barge-e2e-${RUN}`, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [`${prefix}${TOPIC}`] });
      await admin.deleteTopicRecords({
        topic: `${prefix}${TOPIC}`,
        partitions: [{ partition: 0, offset: '1' }],
      });
    } finally {
      await admin.disconnect();
    }
    await waitFor('the first object deleted', async () => !(await keysOf(storage)).includes(first));
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await keysOf(storage), [second], 'the object whose pointer is live stays');
  });

  it('collects an object stored before a crash (no pointer) once settled', async () => {
    const crashed = batchKey(TOPIC, 0, 1_000_000, 7);
    await storage.put(crashed, Buffer.from('stored, never published'));
    await waitFor('the crash orphan collected', async () => !(await keysOf(storage)).includes(crashed));
    assert.equal((await keysOf(storage)).length, 1);
  });
});
