import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer, type ProducerMessage } from '@barge/client';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import { DeliveryLog, makeMessage, messageSize, prng } from '../workload.js';

const TOTAL = 20_000;
const KILL_AFTER_ACKED = 6_000;
const TOPIC = 'crash';

describe('broker killed with SIGKILL mid-stream and restarted', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let listen: string;
  let broker: BrokerProcess | undefined;

  before(async () => {
    dir = await tempDir();
    config = join(dir.path, 'barge.yaml');
    listen = `127.0.0.1:${await freePort()}`;
    await writeFile(
      config,
      [
        `broker: { id: 3, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 3, readPartitions: 2, batch: { maxBytes: 1MiB, maxDelayMs: 20 } }`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('loses no message acked durable, and producers resume on the restarted broker', async () => {
    broker = await startBroker(['--config', config, '--listen', listen]);
    // The harness passes --listen 127.0.0.1:0 first; ours comes later and wins.
    assert.equal(broker.address, listen);
    const producer = new Producer({
      brokers: [listen],
      acks: 'durable',
      lingerMs: 2,
      requestTimeoutMs: 5_000,
      retry: { retries: 60, initialRetryTimeMs: 50, maxRetryTimeMs: 500 },
    });
    await producer.connect();
    const acked = new Uint8Array(TOTAL);
    let ackedCount = 0;
    let failedSends = 0;
    let ackedAtKill = -1;
    let ackedAfterRestart = 0;
    const random = prng(99);
    const inFlight = new Set<Promise<void>>();
    const killAndRestart = (async () => {
      await waitFor('enough acks before the kill', () => ackedCount >= KILL_AFTER_ACKED, 120_000, 20);
      ackedAtKill = ackedCount;
      await broker?.kill();
      broker = await startBroker(['--config', config, '--listen', listen]);
    })();
    for (let start = 0; start < TOTAL; start += 200) {
      const ids: number[] = [];
      const messages: ProducerMessage[] = [];
      for (let id = start; id < Math.min(TOTAL, start + 200); id++) {
        ids.push(id);
        messages.push(makeMessage(id, Math.min(messageSize(random), 32 * 1024)));
      }
      const p: Promise<void> = producer
        .send({ topic: TOPIC, messages })
        .then(() => {
          for (const id of ids) acked[id] = 1;
          ackedCount += ids.length;
          if (ackedAtKill >= 0) ackedAfterRestart += ids.length;
        })
        .catch(() => {
          failedSends++;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= 8) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await killAndRestart;
    await producer.disconnect();
    assert.ok(ackedAtKill >= KILL_AFTER_ACKED, 'the broker was killed mid-stream');
    assert.ok(ackedAfterRestart > 0, 'the producer resumed on the restarted broker');
    assert.ok(ackedCount > ackedAtKill);

    const consumer = new Consumer({ brokers: [listen], groupId: 'after-crash', fromBeginning: true });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC });
    const log = new DeliveryLog(TOTAL);
    await log.consumeWith(consumer);
    let missing = -1;
    await waitFor(
      'every acked message',
      () => {
        missing = log.missing((id) => acked[id] === 1, TOTAL).length;
        return missing === 0 || log.failures.length > 0;
      },
      120_000,
      200,
    ).catch(() => undefined);
    await consumer.disconnect();
    assert.deepEqual(log.failures, []);
    assert.equal(missing, 0, `${missing} messages acked durable were lost`);
    // Retries after the kill may store a chunk twice; the consumer must recognise the copy.
    assert.equal(log.duplicates, 0, 'a duplicate reached the application undetected');
    assert.ok(log.delivered >= ackedCount);
    process.stderr.write(
      `crash test: acked ${ackedCount} (${ackedAtKill} before the kill), failed sends ${failedSends}, delivered ${log.delivered}, duplicates skipped by the consumer ${consumer.skippedDuplicates}\n`,
    );
  });
});
