import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PointerRecord, TransientError } from '@barge/core';
import { randomId as rid, testPointer } from '@barge/testkit';
import { KafkaPointerQueue } from './queue.js';
import { testOptions } from './test-support/env.js';
import { PrivateKafka } from './test-support/private-kafka.js';

// Stops and restarts Kafka, so it runs against a Kafka of its own (scripts/services.sh with a
// private cache and ports), never the shared one the other test files use. A restart starts
// from an empty data directory: topics and groups are gone and are created again.
describe('pointers-kafka when Kafka goes away and comes back', () => {
  let kafka: PrivateKafka;
  const timings: string[] = [];
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await f();
    } finally {
      timings.push(`${what}: ${Date.now() - t0} ms`);
    }
  };

  before(async () => {
    kafka = await PrivateKafka.create();
    await timed('start private Kafka', () => kafka.start());
  });
  after(async () => {
    await kafka?.dispose();
    for (const line of timings) process.stdout.write(`# ${line}\n`);
  });

  it('publish fails with TransientError while Kafka is down and works again once it is back', async (t) => {
    const publishTimeoutMs = 8000;
    const queue = new KafkaPointerQueue(
      testOptions(kafka.brokers, { publishTimeoutMs, connectionTimeoutMs: 1000, logLevel: 'nothing' }),
    );
    t.after(() => queue.close());
    const topic = rid('restart');
    await queue.ensureTopic(topic, 2);
    const first = await queue.publish(topic, [testPointer(topic, 0, 0), testPointer(topic, 1, 0)]);
    assert.deepEqual(first, [
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    const consumer = await queue.subscribe({ group: rid('g'), topic, sessionTimeoutMs: 6000 });
    const records: PointerRecord[] = [];
    const pollUntil = async (what: string, done: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!done()) {
        if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
        records.push(...(await consumer.poll({ timeoutMs: 200 })));
      }
    };
    await pollUntil('the first pointers', () => records.length >= 2, 30_000);

    await timed('stop Kafka', () => kafka.stop());
    let failures = 0;
    for (const sequence of [1, 2]) {
      const started = Date.now();
      await assert.rejects(queue.publish(topic, [testPointer(topic, 0, sequence)]), (e: unknown) => {
        assert.ok(e instanceof TransientError, String(e));
        assert.ok(e.retryable);
        return true;
      });
      const took = Date.now() - started;
      timings.push(`publish with Kafka down #${sequence}: TransientError after ${took} ms`);
      // publishTimeoutMs bounds every publish; this is that bound plus scheduling slack.
      assert.ok(took < publishTimeoutMs + 5000, `publish took ${took} ms, more than publishTimeoutMs`);
      failures++;
    }
    assert.equal(failures, 2);
    // The consumer keeps trying in the background and loses its assignment meanwhile.
    await sleep(500);

    await timed('restart Kafka', () => kafka.start());
    // A fresh data directory: the topic is gone until someone creates it again.
    await timed('ensureTopic after restart', () => queue.ensureTopic(topic, 2));
    const again = await timed('first publish after restart', () =>
      queue.publish(topic, [testPointer(topic, 0, 3), testPointer(topic, 1, 3)]),
    );
    assert.deepEqual(again, [
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    const more = await queue.publish(topic, [testPointer(topic, 0, 4)]);
    assert.deepEqual(more, [{ partition: 0, offset: 1 }]);

    // The consumer rejoins on its own and reads what was published after the restart.
    const seen = records.length;
    await timed('consumer reads again after restart', () =>
      pollUntil(
        'the pointers published after the restart',
        () => records.slice(seen).filter((r) => r.pointer.sequence >= 3).length >= 3,
        90_000,
      ),
    );
    const after = records.slice(seen).filter((r) => r.pointer.sequence >= 3);
    assert.deepEqual(after.map((r) => [r.partition, r.offset, r.pointer.sequence]).sort(), [
      [0, 0, 3],
      [0, 1, 4],
      [1, 0, 3],
    ]);
    assert.deepEqual([...consumer.assignment()].sort(), [0, 1]);
    await consumer.close();
  });
});
