/**
 * `barge consume --exit-at-end` on a clustered topic: pointers are published in Kafka
 * transactions there, so commit markers sit between and after them and the high watermark is
 * above the last pointer. The consumer must still see that it read everything and exit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Producer } from '@barge/client';
import { TestCluster } from '../cluster/cluster-harness.js';
import { runCli } from '../harness.js';

describe('consume --exit-at-end on a clustered topic (Kafka transactions)', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({
      size: 1,
      topics: [{ name: 'ends', writePartitions: 2, readPartitions: 2 }],
      sessionTimeoutMs: 6000,
      logLevel: 'warn',
    });
    await cluster.waitAssigned();
  });
  after(async () => {
    await cluster?.close();
  });

  // Known bug (issue 12 follow-up): the end is the high watermark at start, which counts the last
  // commit marker; the consumer's position stops one short of it and consume never exits.
  // A fix that made the Kafka adapter's watermarks() read back to the last pointer (with the
  // group-less partition reader) passed this test and the plain-Kafka adapter tests, but over
  // SASL_SSL (sasl-ssl.test.ts) three TLS sockets of the reader's kafkajs cluster stayed open after
  // its disconnect() and the test process never exited (commit a301a6d, reverted; session notes).
  it('reads every message and exits, with and without a group', {
    skip: 'known bug: --exit-at-end waits for a Kafka transaction marker offset (see the comment above)',
  }, async () => {
    const producer = new Producer({ brokers: cluster.addresses(), acks: 'durable' });
    await producer.connect();
    try {
      for (let i = 0; i < 6; i++) {
        await producer.send({ topic: 'ends', messages: [{ key: `k${i}`, value: `v${i}` }] });
      }
    } finally {
      await producer.disconnect();
    }
    for (const group of [[], ['--group', 'ends-reader']]) {
      const r = await runCli(
        [
          'consume',
          '--topic',
          'ends',
          '--from-beginning',
          '--exit-at-end',
          '--broker',
          cluster.address(1),
          ...group,
        ],
        { timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const values = r.stdout.toString().trim().split('\n').sort();
      assert.deepEqual(values, ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'], r.stderr);
    }
  });
});
