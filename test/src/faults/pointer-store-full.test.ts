import assert from 'node:assert/strict';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer, type ProducerMessage } from '@barge/client';
import { type BrokerProcess, startBroker, tempDir, waitFor } from '../harness.js';
import { DeliveryLog, makeMessage } from '../workload.js';
import { mountTmpfs, type Tmpfs } from './tmpfs.js';

const TOPIC = 'full';
const TOTAL = 1000;
/** Small, so filling it takes a moment; large enough for the SQLite file and its WAL. */
const TMPFS_BYTES = 8 * 1024 * 1024;

/** Writes zeros to `file` until the file system is full (ENOSPC). */
async function fillDisk(file: string): Promise<number> {
  const fh = await open(file, 'w');
  const block = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) {
      try {
        const { bytesWritten } = await fh.write(block);
        written += bytesWritten;
        if (bytesWritten < block.length) break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
    // The last partial blocks: tmpfs hands out pages, so a 4 KiB write may still fit.
    const page = Buffer.alloc(4096);
    for (;;) {
      try {
        written += (await fh.write(page)).bytesWritten;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
  } finally {
    await fh.close();
  }
  return written;
}

describe('the embedded pointer store on a full disk', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pointerDir: string;
  let tmpfs: Tmpfs | undefined;
  let skip: string | undefined;
  let broker: BrokerProcess | undefined;

  before(async () => {
    dir = await tempDir('barge-ptr-full-');
    pointerDir = join(dir.path, 'pointers');
    await mkdir(pointerDir);
    const mounted = mountTmpfs(pointerDir, TMPFS_BYTES);
    if (typeof mounted === 'string') skip = mounted;
    else tmpfs = mounted;
  });
  after(async () => {
    await broker?.stop();
    tmpfs?.unmount();
    await dir?.remove();
  });

  it('answers durable producers POINTER_QUEUE_UNAVAILABLE naming SQLITE_FULL within seconds, and loses nothing acked once space returns', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `pointers: { adapter: embedded, path: ${JSON.stringify(join(pointerDir, 'pointers.sqlite'))} }`,
        'upload: { backoffMaxMs: 500, pointerUnavailableAfterMs: 1500 }',
        'topics:',
        `  - { name: ${TOPIC}, batch: { maxDelayMs: 10 } }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config], { BARGE_LOG_LEVEL: 'info' });
    const producer = (acks: 'durable' | 'received') =>
      new Producer({
        brokers: [broker!.address],
        acks,
        lingerMs: 0,
        requestTimeoutMs: 20_000,
        retry: { retries: 0 },
      });
    const durable = producer('durable');
    const received = producer('received');
    await durable.connect();
    await received.connect();
    const acked = new Set<number>();
    const send = async (p: Producer, ids: number[]) => {
      const messages: ProducerMessage[] = ids.map((id) => makeMessage(id, 200));
      await p.send({ topic: TOPIC, messages });
      for (const id of ids) acked.add(id);
    };
    try {
      for (let id = 0; id < 200; id += 10) {
        await send(
          durable,
          Array.from({ length: 10 }, (_, i) => id + i),
        );
      }
      assert.equal(acked.size, 200, 'durable sends work before the disk fills');

      const filled = await fillDisk(join(pointerDir, 'filler'));
      t.diagnostic(`filled the pointer store's tmpfs with ${filled} bytes`);

      // The first durable send waits for the failing publication, then gets the named error.
      let started = Date.now();
      const first = await send(durable, [200]).then(
        () => undefined,
        (e: unknown) => e,
      );
      const firstMs = Date.now() - started;
      t.diagnostic(`first durable send on the full disk answered in ${firstMs} ms: ${String(first)}`);
      assert.ok(first instanceof Error, 'a durable send on the full pointer store fails');
      assert.match(first.message, /POINTER_QUEUE_UNAVAILABLE/);
      assert.match(first.message, /SQLITE_FULL/);
      assert.ok(firstMs < 8_000, `answered within 8 s (took ${firstMs} ms)`);

      // Every later durable send gets the same named answer, after upload.pointerUnavailableAfterMs.
      started = Date.now();
      const second = await send(durable, [201]).then(
        () => undefined,
        (e: unknown) => e,
      );
      const secondMs = Date.now() - started;
      assert.ok(second instanceof Error);
      assert.match(second.message, /POINTER_QUEUE_UNAVAILABLE: SQLITE_FULL: database or disk is full/);
      assert.ok(secondMs < 5_000, `answered within 5 s (took ${secondMs} ms)`);

      // acks=received is still taken: the broker keeps retrying the publication of what it acked.
      for (let id = 300; id < 400; id += 10) {
        await send(
          received,
          Array.from({ length: 10 }, (_, i) => id + i),
        );
      }
      assert.equal(acked.size, 300);
      assert.match(broker.logs(), /SQLITE_FULL/);

      await rm(join(pointerDir, 'filler'));
      await waitFor(
        'durable sends accepted again',
        () =>
          send(durable, [500]).then(
            () => true,
            () => false,
          ),
        30_000,
        250,
      );
    } finally {
      await durable.disconnect();
      await received.disconnect();
    }

    const consumer = new Consumer({ brokers: [broker.address], groupId: 'after-full', fromBeginning: true });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC });
    const log = new DeliveryLog(TOTAL);
    void log.consumeWith(consumer);
    let missing: number[] = [];
    await waitFor(
      'every acked message',
      () => {
        missing = log.missing((id) => acked.has(id), TOTAL);
        return missing.length === 0 || log.failures.length > 0;
      },
      60_000,
      200,
    ).catch(() => undefined);
    await consumer.disconnect();
    assert.deepEqual(log.failures, []);
    assert.deepEqual(missing, [], `${missing.length} acked messages lost`);
    t.diagnostic(
      `${acked.size} acked (200 durable before, 100 received during, 1 durable after), ${log.delivered} delivered`,
    );
  });
});
