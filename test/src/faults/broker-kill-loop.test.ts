import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import { assertNoLoss, LossChecker, reportLine } from './loss-checker.js';

const TOPIC = 'kill-loop';
const WRITE_PARTITIONS = 4;
const TOTAL = 30_000;
const KILLS = 5;
/** Acked messages between two kills. */
const ACKS_PER_KILL = 4_000;

describe('fault: broker SIGKILLed in a loop on the embedded default', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let listen: string;
  let broker: BrokerProcess | undefined;

  before(async () => {
    dir = await tempDir('barge-kill-loop-');
    config = join(dir.path, 'barge.yaml');
    listen = `127.0.0.1:${await freePort()}`;
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: ${WRITE_PARTITIONS}, readPartitions: 2, batch: { maxBytes: 1MiB, maxDelayMs: 20 } }`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it(`loses no durable-acked message over ${KILLS} kills and restarts during production`, async () => {
    const started = Date.now();
    // The harness passes --listen 127.0.0.1:0 first; ours comes later and wins.
    broker = await startBroker(['--config', config, '--listen', listen]);
    const checker = new LossChecker(TOPIC, WRITE_PARTITIONS, TOTAL, {
      brokers: [listen],
      lingerMs: 2,
      requestTimeoutMs: 5_000,
      retry: { retries: 60, initialRetryTime: 50, maxRetryTime: 500 },
    });
    await checker.connect();
    let kills = 0;
    await checker.produce({
      from: 0,
      to: TOTAL,
      during: async (progress) => {
        for (let k = 1; k <= KILLS; k++) {
          await waitFor(
            `${k * ACKS_PER_KILL} acks`,
            () => progress.ackedCount >= k * ACKS_PER_KILL,
            90_000,
            20,
          );
          await broker?.kill();
          kills++;
          broker = await startBroker(['--config', config, '--listen', listen]);
        }
      },
    });
    await checker.disconnect();
    assert.equal(kills, KILLS);
    assert.ok(checker.ackedCount > KILLS * ACKS_PER_KILL, 'producers resumed after the last restart');

    const report = await checker.check([listen], 'after-kills');
    process.stderr.write(reportLine('fault kill loop', report, Date.now() - started, `${kills} SIGKILLs`));
    assertNoLoss(report);
  });
});
