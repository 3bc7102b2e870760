/**
 * A cluster of three (and four) `barge broker` processes on one S3 bucket (moto) and the shared
 * test Kafka, under a stream of durable sends: rolling restart, SIGKILL (failover time), SIGSTOP
 * past the session (fencing), and a fourth broker joining. Each test starts its own cluster
 * (cluster id, bucket and Kafka prefixes unique to it) and checks that no durable-acked message
 * was lost and no batch sequence of a write partition was used twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../harness.js';
import { type ClusterTopic, ownedBy } from './cluster-harness.js';
import { acks, withCluster } from './scenario.js';

const TOPIC: ClusterTopic = { name: 'stream', writePartitions: 6, readPartitions: 3 };
/** Short enough to keep each test well under a minute and a half; Kafka's minimum is 6000. */
const SESSION_MS = 6000;

describe('a cluster of brokers on S3 and Kafka under a durable stream', { timeout: 360_000 }, () => {
  it('rolling restart: each of three brokers SIGTERMed and started again mid-stream, 0 acked lost', async (t) => {
    await withCluster(
      t,
      { size: 3, sessionTimeoutMs: SESSION_MS, topics: [TOPIC] },
      async (cluster, _stream, progress) => {
        await acks(progress, 500);
        for (const id of [1, 2, 3]) {
          const t0 = Date.now();
          const code = await cluster.stop(id);
          const stopped = Date.now() - t0;
          assert.equal(
            code,
            0,
            `broker ${id} stopped cleanly after draining:\n${cluster.logs(id).slice(-3000)}`,
          );
          // It left the group: the others own its write partitions without waiting for a session timeout.
          await cluster.waitAssigned();
          const handedOver = Date.now() - t0;
          await cluster.start(id);
          await cluster.waitAssigned();
          t.diagnostic(
            `broker ${id}: SIGTERM to exit ${stopped} ms, to the others owning everything ${handedOver} ms, to started and assigned ${Date.now() - t0} ms`,
          );
          await acks(progress, progress.ackedCount + 300);
        }
      },
    );
  });

  it('SIGKILL of one broker mid-stream: its write partitions writable on the survivors within 15 s (default session timeout)', async (t) => {
    await withCluster(t, { size: 3, topics: [TOPIC] }, async (cluster, stream, progress) => {
      await acks(progress, 1000);
      const owners = await cluster.waitAssigned();
      const victim = 2;
      const former = ownedBy(owners, TOPIC.name, victim);
      assert.ok(former.length > 0, `broker ${victim} owns write partitions: ${JSON.stringify(owners)}`);
      const t0 = Date.now();
      await cluster.kill(victim);
      const survivors = cluster.liveIds();
      const [assigned, writable] = await Promise.all([
        cluster.waitAssigned(survivors, 60_000).then(() => Date.now() - t0),
        stream
          .probe(
            former,
            survivors.map((id) => cluster.address(id)),
          )
          .then(() => Date.now() - t0),
      ]);
      const failover = Math.max(assigned, writable);
      t.diagnostic(
        `failover of broker ${victim} (write partitions ${former.join(', ')}): ${failover} ms (owners in Metadata after ${assigned} ms, a durable ack on each after ${writable} ms)`,
      );
      await acks(progress, progress.ackedCount + 500);
      assert.ok(failover <= 15_000, `failover took ${failover} ms, more than 15 s`);
    });
  });

  it('SIGSTOP of an owner past its session, then SIGCONT: its late publications are refused, 0 repeated sequences', async (t) => {
    await withCluster(
      t,
      { size: 3, sessionTimeoutMs: SESSION_MS, topics: [TOPIC] },
      async (cluster, stream, progress) => {
        await acks(progress, 1000);
        const owners = await cluster.waitAssigned();
        const victim = 3;
        const former = ownedBy(owners, TOPIC.name, victim);
        assert.ok(former.length > 0, `broker ${victim} owns write partitions: ${JSON.stringify(owners)}`);
        const t0 = Date.now();
        cluster.pause(victim);
        const survivors = cluster.liveIds();
        await cluster.waitAssigned(survivors, 60_000);
        const takenOver = Date.now() - t0;
        await stream.probe(
          former,
          survivors.map((id) => cluster.address(id)),
        );
        const writable = Date.now() - t0;
        // Paused for twice its session: the survivors published on its former partitions meanwhile.
        await new Promise((r) => setTimeout(r, Math.max(0, 2 * SESSION_MS - (Date.now() - t0))));
        const before = cluster.logs(victim).length;
        cluster.resume(victim);
        t.diagnostic(
          `broker ${victim} paused ${Date.now() - t0} ms; its write partitions ${former.join(', ')} reassigned after ${takenOver} ms, writable after ${writable} ms`,
        );
        const t1 = Date.now();
        const rejoined = await waitFor(
          `broker ${victim} to rejoin with write partitions`,
          async () => {
            const now = await cluster.waitAssigned(cluster.liveIds(), 60_000);
            return ownedBy(now, TOPIC.name, victim).length > 0 ? now : undefined;
          },
          60_000,
          200,
        );
        t.diagnostic(
          `after SIGCONT broker ${victim} rejoined in ${Date.now() - t1} ms: ${JSON.stringify(rejoined)}`,
        );
        await acks(progress, progress.ackedCount + 500);
        const refusals = cluster
          .logs(victim)
          .slice(before)
          .split('\n')
          .filter((l) => /NOT_OWNER|not own|fenc/i.test(l));
        t.diagnostic(
          `broker ${victim} logged ${refusals.length} refusal lines after SIGCONT: ${refusals.slice(0, 3).join(' | ')}`,
        );
      },
    );
  });

  it('a fourth broker joining mid-stream takes write partitions from the others only, 0 acked lost', async (t) => {
    await withCluster(
      t,
      { size: 3, sessionTimeoutMs: SESSION_MS, topics: [TOPIC] },
      async (cluster, stream, progress) => {
        await acks(progress, 1000);
        const before = await cluster.waitAssigned();
        const t0 = Date.now();
        await cluster.start(4);
        const after = await waitFor(
          'broker 4 to own write partitions',
          async () => {
            const now = await cluster.waitAssigned(cluster.liveIds(), 60_000);
            return ownedBy(now, TOPIC.name, 4).length > 0 ? now : undefined;
          },
          60_000,
          200,
        );
        const joined = Date.now() - t0;
        const mine = ownedBy(after, TOPIC.name, 4);
        await stream.probe(mine, cluster.addresses());
        const moved = (after[TOPIC.name] ?? []).flatMap((o, wp) =>
          o !== before[TOPIC.name]?.[wp] ? [wp] : [],
        );
        t.diagnostic(
          `broker 4 joined in ${joined} ms (writable ${Date.now() - t0} ms): owners ${JSON.stringify(before[TOPIC.name])} -> ${JSON.stringify(after[TOPIC.name])}, moved ${moved.join(', ')}`,
        );
        const metadata = await cluster.metadata(1);
        assert.deepEqual(
          metadata.brokers.map((b) => b.brokerId).sort(),
          [1, 2, 3, 4],
          'Metadata lists the four brokers',
        );
        assert.deepEqual(
          moved.filter((wp) => after[TOPIC.name]?.[wp] !== 4),
          [],
          'only write partitions given to the new broker moved',
        );
        await acks(progress, progress.ackedCount + 500);
      },
    );
  });
});
