import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer, type ProducerMessage } from '@barge/client';
import { loadPlugin, type ObjectStorage } from '@barge/core';
import { type BrokerProcess, startBroker, tempDir, waitFor } from '../harness.js';
import { prepareStorage } from '../storage-backends.js';
import { DeliveryLog, makeMessage, messageSize, prng } from '../workload.js';

const TOTAL = 3000;
const TOPIC = 'cloud';

interface Backend {
  name: 's3' | 'gcs' | 'azure';
  /** Creates a fresh bucket or container and returns the `storage:` config section using it. */
  prepare(): Promise<Record<string, unknown>>;
}

const backends: Backend[] = [
  {
    name: 's3',
    // A low multipart threshold so batches above 5 MiB go through multipart upload.
    prepare: async () => ({
      ...(await prepareStorage('s3')),
      multipartThresholdBytes: '5MiB',
      partSize: '5MiB',
    }),
  },
  { name: 'gcs', prepare: () => prepareStorage('gcs') },
  { name: 'azure', prepare: () => prepareStorage('azure') },
];

for (const backend of backends) {
  describe(`end to end with ${backend.name} storage and the embedded pointer queue`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let broker: BrokerProcess;
    let storageSection: Record<string, unknown>;

    before(async () => {
      dir = await tempDir();
      storageSection = await backend.prepare();
      const config = join(dir.path, 'barge.yaml');
      await writeFile(
        config,
        [
          `broker: { id: 5, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
          `storage: ${JSON.stringify(storageSection)}`,
          'topics:',
          `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxBytes: 8MiB, maxDelayMs: 50 }, compression: gzip }`,
          '',
        ].join('\n'),
      );
      broker = await startBroker(['--config', config]);
    });
    after(async () => {
      await broker?.stop();
      await dir?.remove();
    });

    it('delivers every message with exact bytes, in order per write partition, to two groups (read proxy and direct)', async () => {
      const producer = new Producer({ brokers: [broker.address], acks: 'durable' });
      await producer.connect();
      const random = prng(4242);
      const sends: Promise<unknown>[] = [];
      let group: ProducerMessage[] = [];
      for (let id = 0; id < TOTAL; id++) {
        // A few messages of 1-3 MiB make some batches large enough for multipart / block uploads.
        const size =
          id % 500 === 7 ? 1024 * 1024 + Math.floor(random() * 2 * 1024 * 1024) : messageSize(random);
        group.push(makeMessage(id, Math.min(size, 3 * 1024 * 1024)));
        if (group.length === 100 || id === TOTAL - 1) {
          sends.push(producer.send({ topic: TOPIC, messages: group }));
          group = [];
        }
      }
      await Promise.all(sends);
      await producer.disconnect();

      // Group 1 reads batches through the broker's read proxy; group 2 straight from the storage.
      const { plugin, config } = await loadPlugin(
        'storage',
        storageSection as { adapter: string },
        (s) => import(s),
      );
      const direct: ObjectStorage = await plugin.create(config, { dataDir: dir.path, log: () => {} });
      try {
        for (const [groupId, storage] of [
          ['via-proxy', undefined],
          ['direct', direct],
        ] as const) {
          // One member per group: group splitting and rebalancing are covered by the embedded tests.
          const consumer = new Consumer({
            brokers: [broker.address],
            groupId,
            clientId: groupId,
            fromBeginning: true,
            ...(storage ? { storage } : {}),
          });
          const log = new DeliveryLog(TOTAL);
          await consumer.connect();
          await consumer.subscribe({ topic: TOPIC });
          await log.consumeWith(consumer);
          try {
            await waitFor(
              `${groupId}: all ${TOTAL} messages`,
              () => log.delivered >= TOTAL || log.failures.length > 0,
              180_000,
              100,
            );
          } finally {
            await consumer.disconnect();
          }
          assert.deepEqual(log.failures.slice(0, 5), [], groupId);
          assert.deepEqual(log.orderViolations, [], groupId);
          assert.equal(log.duplicates, 0, `${groupId}: a message was delivered twice`);
          assert.equal(log.delivered, TOTAL, groupId);
          assert.deepEqual(log.missing(), [], `${groupId}: messages missing`);
        }
      } finally {
        await direct.close();
      }
    });
  });
}
