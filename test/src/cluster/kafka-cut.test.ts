/**
 * One broker of a three-broker cluster loses its Kafka connection (the others keep theirs): the
 * others take over its write partitions, no durable-acked message is lost, no batch sequence is
 * used twice or published late; once Kafka is reachable again it rejoins and owns partitions.
 *
 * Cutting one broker's Kafka needs a Kafka of this file's own with two listeners: broker 1
 * reaches it through a TCP proxy the test cuts, brokers 2 and 3 (and the test's clients)
 * through a direct listener, each advertised as itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../harness.js';
import { PrivateKafka } from '../private-kafka.js';
import { type ClusterTopic, ownedBy } from './cluster-harness.js';
import { acks, withCluster } from './scenario.js';

const TOPIC: ClusterTopic = { name: 'stream', writePartitions: 6, readPartitions: 3 };
const SESSION_MS = 6000;
/** The broker whose Kafka connection goes through the proxy. */
const CUT = 1;

describe('a cluster broker cut from Kafka', { timeout: 300_000 }, () => {
  let kafka: PrivateKafka;

  before(async () => {
    kafka = await PrivateKafka.create({ directListener: true });
    await kafka.start({ fresh: true });
  });
  after(async () => {
    await kafka?.dispose();
  });

  for (const mode of ['refuse', 'blackhole'] as const) {
    const how = mode === 'refuse' ? 'refusing' : 'black-holing';
    it(`Kafka ${how} one broker's connections: the others take over its write partitions, 0 acked lost; restored, it rejoins`, async (t) => {
      const options = {
        size: 3,
        topics: [TOPIC],
        sessionTimeoutMs: SESSION_MS,
        kafka: {
          brokersFor: (id: number) => (id === CUT ? kafka.brokers : kafka.directBrokers),
          clients: kafka.directBrokers,
        },
      };
      await withCluster(t, options, async (cluster, stream, progress) => {
        try {
          await acks(progress, 1000);
          const owners = await cluster.waitAssigned();
          const former = ownedBy(owners, TOPIC.name, CUT);
          assert.ok(former.length > 0, `broker ${CUT} owns write partitions: ${JSON.stringify(owners)}`);
          const t0 = Date.now();
          await kafka.proxy.cut(mode);
          const others = cluster.liveIds().filter((id) => id !== CUT);
          await cluster.waitAssigned(others, 60_000);
          const takenOver = Date.now() - t0;
          await stream.probe(
            former,
            others.map((id) => cluster.address(id)),
          );
          t.diagnostic(
            `broker ${CUT} cut (${mode}): its write partitions ${former.join(', ')} reassigned after ${takenOver} ms, writable after ${Date.now() - t0} ms`,
          );
          const stale = await cluster.owners(CUT).catch((e: unknown) => String(e));
          t.diagnostic(`meanwhile broker ${CUT} answers Metadata with owners ${JSON.stringify(stale)}`);
          // The stream (whose producer knows every broker) resumes once it follows the new owners.
          await acks(progress, progress.ackedCount + 500, 30_000);
          const t1 = Date.now();
          await kafka.proxy.restore();
          const rejoined = await waitFor(
            `broker ${CUT} to rejoin with write partitions`,
            async () => {
              const now = await cluster.waitAssigned(cluster.liveIds(), 60_000);
              return ownedBy(now, TOPIC.name, CUT).length > 0 ? now : undefined;
            },
            90_000,
            200,
          );
          t.diagnostic(
            `restored: broker ${CUT} rejoined in ${Date.now() - t1} ms: ${JSON.stringify(rejoined)}`,
          );
          await acks(progress, progress.ackedCount + 500);
        } finally {
          await kafka.proxy.restore();
        }
      });
    });
  }
});
