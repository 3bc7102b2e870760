import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodePointer } from '@barge/core';
import { testPointer } from '@barge/testkit';
import type { Kafka } from 'kafkajs';
import { KafkaPointerQueue } from './queue.js';
import { kafkaBrokers, rawKafka, testOptions } from './test-support/env.js';

// readPartition against the real test Kafka, with pointers published in transactions as a
// clustered broker does: commit markers take offsets and aborted pointers stay in the log, and
// neither may come back (consumer lag in messages counts what this returns).
describe('KafkaPointerQueue.readPartition: committed pointers only, outside any group', () => {
  const options = testOptions(kafkaBrokers());
  let queue: KafkaPointerQueue;
  let kafka: Kafka;
  const topic = 'read-partition';

  before(async () => {
    queue = new KafkaPointerQueue(options);
    kafka = rawKafka(options.brokers);
    await queue.ensureTopic(topic, 1);
  });
  after(async () => {
    await queue.close();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [queue.pointerTopic(topic)] }).catch(() => {});
    await admin.disconnect();
  });

  it('skips commit markers and aborted pointers, from any offset, at most max', async () => {
    const producer = kafka.producer({
      transactionalId: `${options.topicPrefix}tx`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const send = async (sequences: number[], outcome: 'commit' | 'abort') => {
      const tx = await producer.transaction();
      await tx.send({
        topic: queue.pointerTopic(topic),
        messages: sequences.map((s) => ({ partition: 0, value: encodePointer(testPointer(topic, 0, s)) })),
      });
      await (outcome === 'commit' ? tx.commit() : tx.abort());
    };
    try {
      // Offsets: 0, 1 pointers, 2 marker; 3 aborted, 4 marker; 5 pointer, 6 marker.
      await send([0, 1], 'commit');
      await send([2], 'abort');
      await send([3], 'commit');
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(await queue.watermarks(topic, 0), { low: 0, high: 7 });
    const read = async (from: number, max = 100) =>
      (await queue.readPartition(topic, 0, from, max)).map((r) => [r.offset, r.pointer.sequence]);
    assert.deepEqual(await read(0), [
      [0, 0],
      [1, 1],
      [5, 3],
    ]);
    assert.deepEqual(await read(2), [[5, 3]], 'past a marker and an aborted pointer');
    assert.deepEqual(await read(0, 1), [[0, 0]]);
    assert.deepEqual(await read(6), [], 'only a marker is left');
    assert.deepEqual(await read(7), [], 'nothing at the high watermark');
    const [first] = await queue.readPartition(topic, 0, 0, 1);
    const sent = testPointer(topic, 0, 0);
    assert.deepEqual(
      [first?.pointer.storage, first?.pointer.messageCount, first?.partition],
      [sent.storage, sent.messageCount, 0],
    );
  });
});
