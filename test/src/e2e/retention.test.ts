import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, S3Client } from '@aws-sdk/client-s3';
import { batchKey, orphanMetaKey } from '@barge/broker';
import { Producer } from '@barge/client';
import { listAll, type ObjectStorage } from '@barge/core';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import { openStorage, prepareStorage, STORAGE_BACKENDS } from '../storage-backends.js';

/**
 * Retention and orphan collection by a real `barge broker` process with the embedded pointer
 * queue, on each storage adapter (local disk and the S3, GCS and Azure emulators). Test-sized
 * settings: sweeps every 300 ms, objects settle 1 s after they are stored.
 */

const RETENTION_MS = 4000;

async function keysOf(storage: ObjectStorage, topic: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of listAll(storage, `topics/${topic}/`)) out.push(o.key);
  return out;
}

for (const backend of STORAGE_BACKENDS) {
  describe(`retention and orphan collection on ${backend} storage (barge broker, embedded queue)`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let broker: BrokerProcess;
    let storage: ObjectStorage;
    let producer: Producer;
    let admin: string;
    let section: Record<string, unknown>;

    before(async () => {
      dir = await tempDir('barge-e2e-retention-');
      section = await prepareStorage(backend, dir.path);
      admin = `127.0.0.1:${await freePort()}`;
      const config = join(dir.path, 'barge.yaml');
      await writeFile(
        config,
        [
          `broker: { id: 5, dataDir: ${JSON.stringify(join(dir.path, 'data'))}, admin: "${admin}" }`,
          `storage: ${JSON.stringify(section)}`,
          'upload: { pointerRetryBudgetMs: 500 }',
          'retention: { intervalMs: 300, orphanGraceMs: 1000, clockSkewMs: 0 }',
          'topics:',
          `  - { name: timed, batch: { maxDelayMs: 10 }, retention: { ms: ${RETENTION_MS} } }`,
          '  - { name: sized, batch: { maxDelayMs: 10 }, retention: { bytes: 5000 } }',
          '  - { name: kept, batch: { maxDelayMs: 10 } }',
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
      await dir?.remove();
    });

    it('retention.ms: an expired batch goes, a newer one stays', async () => {
      await producer.send({ topic: 'timed', messages: [{ value: 'old' }] });
      const [old] = await keysOf(storage, 'timed');
      assert.ok(old);
      await new Promise((r) => setTimeout(r, 2500));
      await producer.send({ topic: 'timed', messages: [{ value: 'new' }] });
      const newer = (await keysOf(storage, 'timed')).filter((k) => k !== old);
      assert.equal(newer.length, 1);
      const left = await waitFor('the expired batch deleted', async () => {
        const keys = await keysOf(storage, 'timed');
        return keys.includes(old) ? undefined : keys;
      });
      assert.deepEqual(left, newer, 'the newer batch is still there when the expired one went');
    });

    it('retention.bytes: the oldest batches beyond the budget go', async () => {
      for (const v of ['a', 'b', 'c']) {
        if (v !== 'a') await new Promise((r) => setTimeout(r, 1100));
        await producer.send({ topic: 'sized', messages: [{ value: v.repeat(2000) }] });
      }
      const all = await keysOf(storage, 'sized');
      assert.equal(all.length, 3);
      await waitFor('the oldest batch deleted', async () => (await keysOf(storage, 'sized')).length === 2);
      // Keys sort by sequence: the first one was the oldest.
      assert.deepEqual(await keysOf(storage, 'sized'), all.slice(1));
    });

    it('orphans: an object stored before a crash and one given up with a marker are collected; the live one stays', async () => {
      await producer.send({ topic: 'kept', messages: [{ value: 'live' }] });
      const [live] = await keysOf(storage, 'kept');
      assert.ok(live);
      const crashed = batchKey('kept', 0, 1_000_000, 5);
      const givenUp = batchKey('kept', 0, 1_000_001, 5);
      await storage.put(crashed, Buffer.from('stored, never published'));
      await storage.put(givenUp, Buffer.from('stored, publication given up'));
      await storage.put(orphanMetaKey(givenUp), Buffer.from('{"reason":"test"}'));
      await waitFor('both orphans collected', async () => (await keysOf(storage, 'kept')).length === 1);
      assert.deepEqual(await keysOf(storage, 'kept'), [live]);
      await assert.rejects(storage.head(orphanMetaKey(givenUp)), { code: 'NOT_FOUND' });
      const metrics = await (await fetch(`http://${admin}/metrics`)).text();
      assert.match(metrics, /barge_orphans_collected_objects_total\{topic="kept"\} 2/);
      assert.match(metrics, /barge_retention_deleted_objects_total\{topic="timed"\} [1-9]/);
      assert.match(metrics, /barge_retention_deleted_objects_total\{topic="sized"\} 1/);
    });

    if (backend !== 's3') return;
    it('abandoned multipart uploads of batches are aborted (S3: the only adapter that lists them)', async () => {
      const s3 = new S3Client({
        endpoint: section.endpoint as string,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      try {
        const key = batchKey('kept', 0, 2_000_000, 5);
        const started = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: section.bucket as string, Key: `barge/${key}` }),
        );
        assert.ok(started.UploadId);
        assert.deepEqual(
          (await storage.listIncompleteUploads!('topics/kept/')).map((u) => u.key),
          [key],
        );
        await waitFor(
          'the abandoned upload aborted',
          async () => (await storage.listIncompleteUploads!('topics/')).length === 0,
        );
      } finally {
        s3.destroy();
      }
    });
  });
}
