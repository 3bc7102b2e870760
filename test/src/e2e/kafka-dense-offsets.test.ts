import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nextOffsetFromTail, OffsetIndex } from '@barge/broker';
import { Producer } from '@barge/client';
import type { BatchPointer } from '@barge/core';
import { KafkaPointerQueue } from '@barge/pointers-kafka';
import { testPointer } from '@barge/testkit';
import { type BrokerProcess, startBroker, tempDir } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaQueueOptions, kafkaYaml, runId } from '../kafka-fixtures.js';
import { prepareStorage } from '../storage-backends.js';

/**
 * Dense offsets on the Kafka pointer queue: a `barge broker` stamps `baseOffset` into every
 * pointer, and after a SIGKILL and a restart on the same data recovers the next offset from the
 * pointer topic's tail (read_committed, back from the high watermark) and reuses none. Then the
 * offset index and the tail read over pointers published in Kafka transactions (the cluster's
 * fenced publisher), whose commit markers take offsets of their own.
 */

const RUN = runId();
const TOPIC = 'dense';

async function pointersOf(queue: KafkaPointerQueue, topic: string): Promise<BatchPointer[]> {
  const out: BatchPointer[] = [];
  const { low, high } = await queue.watermarks(topic, 0);
  for (let from = low; from < high; ) {
    const page = await queue.readPartition(topic, 0, from, 1000);
    if (page.length === 0) break;
    out.push(...page.map((r) => r.pointer));
    from = page.at(-1)!.offset + 1;
  }
  return out;
}

describe('dense offsets on the Kafka pointer queue', () => {
  const brokers = kafkaBrokers();
  const options = kafkaQueueOptions(brokers, RUN);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let broker: BrokerProcess | undefined;
  let queue: KafkaPointerQueue;

  before(async () => {
    dir = await tempDir('barge-e2e-dense-offsets-');
    const section = await prepareStorage('local', dir.path);
    config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { id: 3, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `storage: ${JSON.stringify(section)}`,
        ...kafkaYaml(brokers, RUN),
        'topics:',
        `  - { name: ${TOPIC}, batch: { maxDelayMs: 5 } }`,
        '',
      ].join('\n'),
    );
    queue = new KafkaPointerQueue(options);
  });
  after(async () => {
    await broker?.stop();
    await queue?.close();
    await deletePointerTopics(brokers, options.topicPrefix);
    await dir?.remove();
  });

  async function produce(sizes: readonly number[]): Promise<void> {
    const producer = new Producer({ brokers: [broker!.address], acks: 'durable' });
    await producer.connect();
    try {
      for (const n of sizes) {
        await producer.send({
          topic: TOPIC,
          messages: Array.from({ length: n }, (_, i) => ({ value: `m${i}` })),
        });
      }
    } finally {
      await producer.disconnect();
    }
  }

  it('continues after a SIGKILL and a restart, reusing no offset', { timeout: 120_000 }, async () => {
    broker = await startBroker(['--config', config]);
    await produce([3, 1, 4]);
    await broker.kill();
    broker = await startBroker(['--config', config]);
    await produce([2, 5]);
    const ps = await pointersOf(queue, TOPIC);
    assert.deepEqual(
      ps.map((p) => [p.baseOffset, p.messageCount]),
      [
        [0, 3],
        [3, 1],
        [4, 4],
        [8, 2],
        [10, 5],
      ],
    );
    assert.equal(await nextOffsetFromTail(queue, TOPIC, 0), 15);
    const index = new OffsetIndex(queue);
    assert.equal(await index.latest(TOPIC, 0), 15);
    const at = await index.locate(TOPIC, 0, 9);
    assert.ok(typeof at !== 'string');
    assert.deepEqual([at.pointer.record.pointer.sequence, at.messageIndex], [ps[3]!.sequence, 1]);
  });

  it('reads the tail and indexes pointers published in transactions (commit markers between them)', {
    timeout: 60_000,
  }, async () => {
    const topic = 'fenced';
    await queue.ensureTopic(topic, 1);
    const publisher = await queue.cluster.fencedPublisher(`dense-${RUN}`, topic, 0);
    try {
      let next = 0;
      for (let seq = 0; seq < 4; seq++) {
        const p = testPointer(topic, 0, seq, { messageCount: 2 + seq, baseOffset: next });
        next += p.messageCount;
        await publisher.publish([p]);
      }
      assert.equal(await nextOffsetFromTail(queue, topic, 0, 3), next);
      const index = new OffsetIndex(queue);
      assert.deepEqual([await index.earliest(topic, 0), await index.latest(topic, 0)], [0, next]);
      const at = await index.locate(topic, 0, 5); // pointer 1 holds 2..4, pointer 2 holds 5..8
      assert.ok(typeof at !== 'string');
      assert.deepEqual([at.pointer.record.pointer.sequence, at.messageIndex], [2, 0]);
      assert.deepEqual(await index.toPosition(topic, 0, 5), {
        offset: at.pointer.record.offset,
        messageIndex: 0,
      });
    } finally {
      await publisher.close();
    }
  });
});
