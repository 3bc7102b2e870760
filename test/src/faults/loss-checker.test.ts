import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConsumedMessage } from '@barge/client';
import { type BrokerProcess, startBroker, tempDir } from '../harness.js';
import { DeliveryLog, makeMessage } from '../workload.js';
import { assertNoLoss, LossChecker } from './loss-checker.js';

/** The checker itself must be able to fail: a suite that cannot see a loss proves nothing. */
describe('the loss checker', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess | undefined;

  before(async () => {
    dir = await tempDir('barge-loss-checker-');
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('reports acked messages whose batch object was removed as lost, and assertNoLoss fails', async () => {
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        'topics:',
        '  - { name: checked, writePartitions: 2, batch: { maxDelayMs: 20 } }',
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
    const checker = new LossChecker('checked', 2, 2_000, { brokers: [broker.address] });
    await checker.connect();
    await checker.produce({ from: 0, to: 2_000 });
    await checker.disconnect();
    assert.equal(checker.ackedCount, 2_000);
    const objects = join(dir.path, 'data', 'objects', 'topics', 'checked', '1');
    const keys = (await readdir(objects)).sort();
    await rm(join(objects, keys[keys.length - 1] ?? 'none'));

    const report = await checker.check([broker.address], 'checker-self-test', 15_000);
    assert.ok(report.lost > 0, `the removed batch's messages are lost (${report.lost})`);
    assert.match(report.failures.join('\n'), /missing|OBJECT_NOT_FOUND/);
    assert.throws(() => assertNoLoss(report));
  });

  it('counts a message delivered after a later sequence of its write partition, unless expected late', () => {
    const at = (id: number, sequence: number): ConsumedMessage => {
      const m = makeMessage(id, 10);
      return {
        topic: 't',
        partition: 0,
        offset: 0,
        messageIndex: 0,
        writePartition: 0,
        batchSequence: 0,
        producerId: 1,
        sequence,
        key: Buffer.from(m.key ?? ''),
        value: Buffer.from(m.value),
        // makeMessage builds its headers as a list of Buffers.
        headers: m.headers as { name: string; value: Buffer }[],
        timestamp: 0,
      };
    };
    const strict = new DeliveryLog(3);
    for (const [id, seq] of [
      [0, 0],
      [2, 2],
      [1, 1],
    ] as const)
      strict.record(at(id, seq));
    assert.equal(strict.outOfOrder, 1);
    assert.deepEqual(strict.orderViolations, ['1/0: sequence 1 after 2']);

    const lenient = new DeliveryLog(3, (m) => m.sequence === 1);
    for (const [id, seq] of [
      [0, 0],
      [2, 2],
      [1, 1],
    ] as const)
      lenient.record(at(id, seq));
    assert.equal(lenient.outOfOrder, 0);
    assert.equal(lenient.expectedLate, 1);
  });
});
