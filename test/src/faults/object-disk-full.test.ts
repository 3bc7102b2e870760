import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, startBroker, tempDir } from '../harness.js';
import { assertNoLoss, LossChecker, reportLine } from './loss-checker.js';
import { mountTmpfs, type Tmpfs } from './tmpfs.js';

const TOPIC = 'disk-full';
const WRITE_PARTITIONS = 2;
const MiB = 1024 * 1024;
/** Room for the topic metadata and a few batches; the first phase sends about three times that. */
const SMALL = 4 * MiB;
const FIRST_PHASE = 15_000;
const TOTAL = 20_000;

/**
 * The broker's local object storage on a small tmpfs (the pointer store stays on the normal disk,
 * a full pointer store is pointer-store-full.test.ts): uploads meet ENOSPC, which the broker
 * retries and then answers with an error; nothing that was not stored is acked. Once the tmpfs
 * grows, the same producer's sends are acked again and every acked message is readable.
 */
describe('fault: the object storage disk is full', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let disk: Tmpfs | string;
  let broker: BrokerProcess | undefined;

  before(async () => {
    dir = await tempDir('barge-disk-full-');
    const objects = join(dir.path, 'objects');
    await mkdir(objects);
    disk = mountTmpfs(objects, SMALL);
  });
  after(async () => {
    await broker?.stop();
    if (typeof disk === 'object') disk.unmount();
    await dir?.remove();
  });

  it('refuses what it cannot store, never acks it, and resumes when space returns', async (t) => {
    if (typeof disk === 'string') {
      t.skip(disk);
      return;
    }
    const started = Date.now();
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `storage: { adapter: local, root: ${JSON.stringify(disk.path)} }`,
        'upload: { maxAttempts: 3, backoffMaxMs: 200 }',
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: ${WRITE_PARTITIONS}, batch: { maxBytes: 256KiB, maxDelayMs: 20 } }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', config]);
    const checker = new LossChecker(TOPIC, WRITE_PARTITIONS, TOTAL, {
      brokers: [broker.address],
      lingerMs: 2,
      requestTimeoutMs: 10_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 300 },
    });
    await checker.connect();

    await checker.produce({ from: 0, to: FIRST_PHASE, concurrency: 4 });
    const ackedWhileFull = checker.ackedCount;
    const failedWhileFull = checker.failedSends;
    const errors = [...checker.sendErrors].map(([e, n]) => `${n}× ${e}`);
    t.diagnostic(
      `full disk: ${ackedWhileFull} acked, ${failedWhileFull} sends failed: ${errors.join(' | ')}`,
    );
    assert.ok(failedWhileFull > 0, 'sends fail while the disk is full');
    assert.ok(ackedWhileFull < FIRST_PHASE, 'not everything was acked');
    assert.ok(
      errors.some((e) => /ENOSPC|no space/i.test(e)),
      `an error names the full disk: ${errors.join(' | ')}`,
    );

    disk.resize(256 * MiB);
    await checker.produce({ from: FIRST_PHASE, to: TOTAL, concurrency: 4 });
    await checker.disconnect();
    assert.equal(checker.failedSends, failedWhileFull, 'every send is acked once the disk has room');
    assert.equal(checker.ackedCount - ackedWhileFull, TOTAL - FIRST_PHASE);

    const report = await checker.check([broker.address], 'after-disk-full');
    process.stderr.write(
      reportLine(
        'fault object disk full',
        report,
        Date.now() - started,
        `${ackedWhileFull} of ${FIRST_PHASE} acked on a ${SMALL / MiB} MiB disk, then ${TOTAL - FIRST_PHASE} of ${TOTAL - FIRST_PHASE} after it grew`,
      ),
    );
    assertNoLoss(report);
  });
});
