import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer, type ProducerMessage } from '@barge/client';
import { type BrokerProcess, startBroker, tempDir, waitFor } from '../harness.js';
import { DeliveryLog, makeMessage, messageSize, prng } from '../workload.js';

const TOTAL = Number(process.env.BARGE_E2E_MESSAGES ?? 100_000);
const SEED = Number(process.env.BARGE_E2E_SEED ?? 20261125);
const TOPIC = 'stream';

describe(`end to end on the embedded default: ${TOTAL} messages, 4 write partitions, group of 3`, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;

  before(async () => {
    dir = await tempDir();
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { id: 7, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 4, readPartitions: 3, batch: { maxBytes: 4MiB, maxDelayMs: 40 }, compression: lz4 }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('delivers every message once, in order per write partition, with keys, headers and exact bytes', async () => {
    const consumers = [0, 1, 2].map(
      (i) =>
        new Consumer({
          brokers: [broker.address],
          groupId: 'e2e-stream',
          clientId: `c${i}`,
          fromBeginning: true,
          sessionTimeoutMs: 20_000,
          autoCommitIntervalMs: 500,
        }),
    );
    const log = new DeliveryLog(TOTAL);
    for (const c of consumers) {
      await c.connect();
      await c.subscribe({ topic: TOPIC });
      await log.consumeWith(c);
    }
    // Produce only once the group is settled, so no rebalance redelivers anything.
    await waitFor('3 consumers to share the 3 read partitions', () => {
      const owned = consumers.map((c) => c.assignment().reduce((n, a) => n + a.partitions.length, 0));
      return owned.every((n) => n === 1) ? true : undefined;
    });

    try {
      const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 5 });
      await producer.connect();
      const random = prng(SEED);
      let bytes = 0;
      const sends: Promise<unknown>[] = [];
      let group: ProducerMessage[] = [];
      for (let id = 0; id < TOTAL; id++) {
        const size = messageSize(random);
        bytes += size;
        group.push(makeMessage(id, size));
        if (group.length === 500 || id === TOTAL - 1) {
          sends.push(producer.send({ topic: TOPIC, messages: group }));
          group = [];
          if (sends.length >= 32) await Promise.all(sends.splice(0, 16));
        }
      }
      const acked = (await Promise.all(sends)).length;
      assert.ok(acked > 0);
      await producer.disconnect();
      if (TOTAL >= 100_000)
        assert.ok(bytes > 100 * 1024 * 1024, `workload should be a few hundred MB, was ${bytes}`);

      await waitFor(
        `all ${TOTAL} messages`,
        () => (log.delivered >= TOTAL || log.failures.length > 0 ? true : undefined),
        600_000,
        250,
      );
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect()));
    }
    assert.deepEqual(log.failures, []);
    assert.deepEqual(log.missing(), [], 'messages lost');
    assert.deepEqual(log.orderViolations, [], 'out of order within a write partition');
    assert.equal(log.duplicates, 0, 'no fault was injected, so nothing may be delivered twice');
    assert.equal(log.delivered, TOTAL);
    const dedupSkipped = consumers.reduce((n, c) => n + c.skippedDuplicates, 0);
    assert.equal(dedupSkipped, 0);
    // Every consumer did real work: the group split the partitions.
    assert.equal(log.streams, 4, 'one sequence stream per write partition');
  });
});
