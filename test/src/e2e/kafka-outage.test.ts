import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ConsumedMessage, Consumer, Producer, type RecordMetadata } from '@barge/client';
import { listAll } from '@barge/core';
import { KafkaPointerQueue } from '@barge/pointers-kafka';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import {
  freshBucket,
  kafkaQueueOptions,
  kafkaYaml,
  runId,
  s3Yaml,
  type TestBucket,
  verifyAnyMessage,
} from '../kafka-fixtures.js';
import { PrivateKafka } from '../private-kafka.js';
import { makeMessage, messageSize, prng } from '../workload.js';

// Kafka outages under a `barge broker` process on S3 (moto). The outages hit a Kafka of this
// file's own (never the shared one other files use): a single-node KRaft started from the
// jars scripts/services.sh installed, behind a TCP proxy that can refuse connections. Kafka
// advertises the proxy's port, so every client connection goes through it.

const RUN = runId();
const SEED = 20261127;

/** A producer that keeps sending durable messages in the background and records every ack. */
class Stream {
  next = 0;
  readonly ackedAt = new Map<number, number>();
  readonly failures: { ids: [number, number]; error: unknown; at: number }[] = [];
  readonly #pending = new Set<Promise<void>>();
  #stop = false;
  #loop: Promise<void> | undefined;
  readonly #random = prng(SEED);

  constructor(
    readonly producer: Producer,
    readonly topic: string,
    /** First message id: each scenario uses its own id range. */
    readonly base = 0,
  ) {
    this.next = base;
  }

  /** Sends `count` messages in sends of `per`, up to `inFlight` sends at a time; resolves when sent (not acked). */
  async send(count: number, per = 50, inFlight = 4): Promise<void> {
    const end = this.next + count;
    while (this.next < end && !this.#stop) {
      while (this.#pending.size >= inFlight) await Promise.race(this.#pending);
      const from = this.next;
      const to = Math.min(end, from + per);
      this.next = to;
      const messages = [];
      for (let id = from; id < to; id++) messages.push(makeMessage(id, messageSize(this.#random)));
      const p: Promise<void> = this.producer
        .send({ topic: this.topic, messages })
        .then(
          (r: RecordMetadata[]) => {
            const at = Date.now();
            for (let i = 0; i < r.length; i++) this.ackedAt.set(from + i, at);
          },
          (error: unknown) => {
            this.failures.push({ ids: [from, to], error, at: Date.now() });
          },
        )
        .finally(() => this.#pending.delete(p));
      this.#pending.add(p);
    }
  }

  /** Keeps sending until `stop()`. */
  start(per = 50, inFlight = 4, pauseMs = 20): void {
    this.#loop = (async () => {
      while (!this.#stop) {
        await this.send(per, per, inFlight);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  /** Waits for every send started so far to be acked or failed. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  ackedBetween(from: number, to: number): number {
    let n = 0;
    for (const at of this.ackedAt.values()) if (at > from && at <= to) n++;
    return n;
  }
}

describe('Kafka outages under a barge broker process on S3 (private Kafka behind a TCP proxy)', {
  timeout: 280_000,
}, () => {
  let kafka: PrivateKafka;
  let bucket: TestBucket;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess | undefined;
  let configFile: string;
  let adminAddress: string;
  const topic = `outage-${RUN}`;
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
    await timed('start private Kafka', () => kafka.start({ fresh: true }));
    bucket = await freshBucket('barge-e2e-outage');
    dir = await tempDir('barge-e2e-outage-');
    configFile = join(dir.path, 'barge.yaml');
    adminAddress = `127.0.0.1:${await freePort()}`;
    await writeFile(
      configFile,
      [
        `broker: { id: 31, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        ...s3Yaml(bucket.name),
        ...kafkaYaml(kafka.brokers, RUN, { publishTimeoutMs: 5000, requestTimeoutMs: 5000 }),
        // Pointer publication retries with backoff up to 1 s between attempts.
        'upload: { backoffBaseMs: 50, backoffMaxMs: 1000 }',
        'topics:',
        `  - { name: ${topic}, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 50 } }`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await broker?.stop();
    await kafka?.dispose();
    await bucket?.remove().catch((e: unknown) => process.stderr.write(`bucket cleanup: ${String(e)}\n`));
    await dir?.remove();
    for (const line of timings) process.stdout.write(`# ${line}\n`);
  });

  /** The broker of the previous test, or a new one (so each test also runs alone). */
  const ensureBroker = async (port = 0): Promise<BrokerProcess> => {
    if (broker && broker.child.exitCode === null && broker.child.signalCode === null) return broker;
    broker = await startBroker(
      ['--config', configFile, '--admin', adminAddress, '--listen', `127.0.0.1:${port}`],
      { BARGE_LOG_LEVEL: 'info' },
    );
    return broker;
  };

  const newProducer = async (maxInFlight = 16) => {
    const p = new Producer({
      brokers: [broker!.address],
      acks: 'durable',
      lingerMs: 5,
      maxInFlight,
      // Longer than any outage here: the broker holds the ack, the producer waits for it.
      requestTimeoutMs: 120_000,
      // Outlasts a broker that drains for its whole shutdown timeout and then restarts on a
      // loaded machine: 10 retries (the default) ran out first there once.
      retry: { retries: 30 },
    });
    await p.connect();
    return p;
  };

  const metrics = async (): Promise<string> => (await fetch(`http://${adminAddress}/metrics`)).text();

  const batchObjects = async (): Promise<string[]> => {
    const s = bucket.storage();
    try {
      const keys: string[] = [];
      for await (const o of listAll(s, `topics/${topic}/`)) keys.push(o.key);
      return keys;
    } finally {
      await s.close();
    }
  };

  const orphanKeys = async (): Promise<string[]> => {
    const s = bucket.storage();
    try {
      const keys: string[] = [];
      for await (const o of listAll(s, '_meta/orphans/')) keys.push(o.key.slice('_meta/orphans/'.length));
      return keys;
    } finally {
      await s.close();
    }
  };

  /** Everything a fresh group reads from the beginning, until `done` or `ms` passed. */
  const readAll = async (group: string, done: (ids: Map<number, number>) => boolean, ms: number) => {
    const queue = new KafkaPointerQueue(kafkaQueueOptions(kafka.brokers, RUN));
    const storage = bucket.storage();
    const consumer = new Consumer({ groupId: group, pointers: queue, storage, autoCommit: false });
    const ids = new Map<number, number>();
    const keys = new Set<string>();
    const failures: unknown[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          keys.add(batch.pointer.storage.key);
          for (const m of batch.messages as ConsumedMessage[]) {
            try {
              const id = verifyAnyMessage(m);
              ids.set(id, (ids.get(id) ?? 0) + 1);
            } catch (e) {
              failures.push(e);
            }
          }
        },
      });
      await waitFor(
        `group ${group} to read what it should`,
        () => done(ids) || failures.length > 0,
        ms,
        200,
      ).catch(() => {});
    } finally {
      await consumer.disconnect();
      await Promise.allSettled([queue.close(), storage.close()]);
    }
    assert.deepEqual(failures, []);
    return { ids, keys };
  };

  it('Kafka unreachable when the broker starts: the broker starts, stores objects, holds durable acks, and releases them once Kafka is reachable', async (t) => {
    await kafka.proxy.cut('refuse');
    const t0 = Date.now();
    broker = await startBroker(['--config', configFile, '--admin', adminAddress], {
      BARGE_LOG_LEVEL: 'info',
    });
    t.diagnostic(`broker listening ${Date.now() - t0} ms after spawn with Kafka unreachable`);
    await waitFor('the broker to log that the pointer queue is unavailable', () =>
      /pointer queue (did not answer within 5 s at start|unavailable at start)/.test(broker!.logs()),
    );
    const health = await fetch(`http://${adminAddress}/health`);
    assert.equal(health.status, 200, 'the broker reports healthy while only Kafka is down');

    const producer = await newProducer();
    const stream = new Stream(producer, topic);
    try {
      // Ten sends of 50, all in flight at once: none can be acked yet.
      await stream.send(500, 50, 10);
      // Objects are written while the pointer queue is down...
      await waitFor('batch objects in S3', async () => (await batchObjects()).length > 0, 30_000, 250);
      await waitFor(
        'the broker to log that it holds acks',
        () => /pointer queue unavailable; holding durable acks and retrying/.test(broker!.logs()),
        30_000,
      );
      await new Promise((r) => setTimeout(r, 3000));
      // ...but no durable ack is sent without the pointer.
      assert.equal(stream.ackedAt.size, 0, 'no durable ack while Kafka is unreachable');
      assert.deepEqual(stream.failures, []);
      const stored = (await batchObjects()).length;

      const restoredAt = Date.now();
      await kafka.proxy.restore();
      await waitFor(
        'every ack after Kafka is back',
        () => stream.ackedAt.size === 500 || stream.failures.length > 0,
        60_000,
      );
      await stream.settle();
      assert.deepEqual(stream.failures, []);
      t.diagnostic(
        `${stored} objects stored while Kafka was unreachable; all 500 acks arrived ${Math.max(...stream.ackedAt.values()) - restoredAt} ms after Kafka became reachable`,
      );
      assert.match(broker.logs(), /pointer queue recovered; pointers published/);
    } finally {
      await producer.disconnect();
    }
    const { ids } = await readAll(`start-${RUN}`, (got) => got.size >= 500, 60_000);
    const missing = [...stream.ackedAt.keys()].filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], 'acked messages lost');
    assert.deepEqual(await orphanKeys(), []);
  });

  it('Kafka stopped mid-stream and restarted with its data: objects keep being stored, durable acks are held with retries, then released; nothing acked is lost', async (t) => {
    const base = 100_000;
    await ensureBroker();
    // Many sends in flight, so new produce requests (and new batch objects) keep arriving
    // during the outage, as they would from many producers.
    const producer = await newProducer(64);
    const stream = new Stream(producer, topic, base);
    let stoppedAt = 0;
    let restartedAt = 0;
    try {
      stream.start(50, 64, 150);
      await waitFor('500 acks before the outage', () => stream.ackedAt.size >= 500, 60_000);
      const objectsBefore = (await batchObjects()).length;
      const failuresBefore = publishFailures(await metrics());
      await timed('stop Kafka (mid-stream)', () => kafka.stop());
      stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, 10_000));
      const objectsDuring = (await batchObjects()).length;
      const failuresDuring = publishFailures(await metrics());
      const heldSends = stream.inFlight;
      // Acks may legitimately arrive as soon as Kafka is reachable again, before start() returns.
      const restartBegin = Date.now();
      await timed('restart Kafka with its data', () => kafka.start());
      restartedAt = Date.now();
      const ackedDuringOutage = stream.ackedBetween(stoppedAt + 500, restartBegin);
      t.diagnostic(
        `outage ${restartedAt - stoppedAt} ms: ${objectsDuring - objectsBefore} objects stored meanwhile, ` +
          `${failuresDuring - failuresBefore} failed publish attempts, ${heldSends} sends waiting for their ack, ` +
          `${ackedDuringOutage} acks`,
      );
      assert.equal(ackedDuringOutage, 0, 'no durable ack while Kafka is down');
      assert.ok(objectsDuring > objectsBefore, 'batch objects keep being stored while Kafka is down');
      assert.ok(failuresDuring - failuresBefore >= 3, 'pointer publication is retried');
      assert.match(broker!.logs(), /pointer queue unavailable; holding durable acks and retrying/);
      const before = stream.ackedAt.size;
      await waitFor('acks again after the restart', () => stream.ackedAt.size > before, 60_000);
      t.diagnostic(
        `first ack ${Math.min(...[...stream.ackedAt.values()].filter((a) => a > restartedAt)) - restartedAt} ms after Kafka was ready again`,
      );
    } finally {
      await stream.stop();
      await stream.settle();
      await producer.disconnect();
    }
    assert.deepEqual(stream.failures, [], 'every send was acked in the end');
    const sent = stream.next - base;
    assert.equal(stream.ackedAt.size, sent);
    const { ids } = await readAll(
      `midstream-${RUN}`,
      (got) => [...stream.ackedAt.keys()].every((id) => got.has(id)),
      90_000,
    );
    const missing = [...stream.ackedAt.keys()].filter((id) => !ids.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acked messages lost`);
    let twice = 0;
    for (const id of stream.ackedAt.keys()) if ((ids.get(id) ?? 0) > 1) twice++;
    t.diagnostic(
      `${sent} messages sent and acked, all read back; ${twice} delivered twice (pointer published twice)`,
    );
    assert.deepEqual(await orphanKeys(), []);
  });

  it('the network to Kafka blackholed mid-stream (requests hang): publication times out and is retried, acks are held, then released', async (t) => {
    const base = 200_000;
    await ensureBroker();
    const producer = await newProducer(64);
    const stream = new Stream(producer, topic, base);
    let cutAt = 0;
    let restoredAt = 0;
    try {
      stream.start(50, 64, 150);
      await waitFor('300 acks before the partition', () => stream.ackedAt.size >= 300, 60_000);
      const failuresBefore = publishFailures(await metrics());
      await kafka.proxy.cut('blackhole');
      cutAt = Date.now();
      await new Promise((r) => setTimeout(r, 12_000));
      const failuresDuring = publishFailures(await metrics());
      await kafka.proxy.restore();
      restoredAt = Date.now();
      const ackedDuring = stream.ackedBetween(cutAt + 500, restoredAt);
      t.diagnostic(
        `network partition ${restoredAt - cutAt} ms: ${failuresDuring - failuresBefore} publish attempts timed out ` +
          `(publishTimeoutMs 5000), ${stream.inFlight} sends held, ${ackedDuring} acks`,
      );
      assert.equal(ackedDuring, 0, 'no durable ack while Kafka cannot be reached');
      assert.ok(failuresDuring > failuresBefore, 'hung publications time out and are retried');
      const before = stream.ackedAt.size;
      await waitFor('acks again after the partition heals', () => stream.ackedAt.size > before, 60_000);
      t.diagnostic(
        `first ack ${Math.min(...[...stream.ackedAt.values()].filter((a) => a > restoredAt)) - restoredAt} ms after the network was back`,
      );
    } finally {
      await stream.stop();
      await stream.settle();
      await producer.disconnect();
    }
    assert.deepEqual(stream.failures, [], 'every send was acked in the end');
    assert.equal(stream.ackedAt.size, stream.next - base);
    const { ids } = await readAll(
      `blackhole-${RUN}`,
      (got) => [...stream.ackedAt.keys()].every((id) => got.has(id)),
      90_000,
    );
    const missing = [...stream.ackedAt.keys()].filter((id) => !ids.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acked messages lost`);
    assert.deepEqual(await orphanKeys(), []);
  });

  it('SIGTERM while Kafka is unreachable: the held batches are given up, producers retry on the restarted broker, nothing acked is lost and the given-up objects are never delivered', async (t) => {
    const base = 300_000;
    await ensureBroker();
    const port = Number(broker!.address.split(':')[1]);
    const objectsBefore = new Set(await batchObjects());
    await kafka.proxy.cut('refuse');
    const producer = await newProducer();
    const stream = new Stream(producer, topic, base);
    const failuresBefore = publishFailures(await metrics());
    let abandoned: string[] = [];
    let orphans: string[] = [];
    let stopMs = 0;
    let logs = '';
    try {
      await stream.send(200, 50, 10);
      await waitFor(
        'the batches to be stored and their publication to fail',
        async () => publishFailures(await metrics()) > failuresBefore + 2 && stream.inFlight === 4,
        30_000,
      );
      const stopping = Date.now();
      const code = await broker!.stop();
      stopMs = Date.now() - stopping;
      logs = broker!.logs();
      assert.equal(code, 0, logs.slice(-3000));
      abandoned = (await batchObjects()).filter((k) => !objectsBefore.has(k));
      orphans = await orphanKeys();
      t.diagnostic(
        `SIGTERM → exit in ${stopMs} ms (shutdown timeout 30 s); ${abandoned.length} objects stored without ` +
          `a pointer; ${orphans.length} orphan markers`,
      );
      assert.ok(abandoned.length >= 1, 'the held batches were stored');
      assert.match(
        logs,
        /giving up publishing pointers; producers get negative acks, objects become orphans/,
      );
      assert.equal(stream.ackedAt.size, 0);
      // The producer keeps retrying: a broker back on the same address with Kafka reachable
      // takes the retries.
      await kafka.proxy.restore();
      await ensureBroker(port);
      await waitFor('the retried sends to be acked', () => stream.inFlight === 0, 90_000);
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(
      stream.failures.map((f) => String(f.error)),
      [],
    );
    assert.equal(stream.ackedAt.size, 200);
    const { ids, keys } = await readAll(
      `sigterm-${RUN}`,
      (got) => [...stream.ackedAt.keys()].every((id) => got.has(id)),
      60_000,
    );
    const missing = [...stream.ackedAt.keys()].filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], 'acked messages lost');
    assert.deepEqual(
      abandoned.filter((k) => keys.has(k)),
      [],
      'an object whose pointer was given up is never delivered as data',
    );
    // What Broker.stop() promises (docs/deploy.md, "Graceful shutdown"): it waits for batches in
    // the publication retry loop until the shutdown deadline, gives them up there, and writes
    // their orphan markers before the Kafka queue and the storage are closed.
    await t.test(
      'stop() waits for batches whose pointer publication is being retried, up to the shutdown timeout',
      () => {
        assert.doesNotMatch(logs, /the Kafka pointer queue is closed/);
        assert.ok(stopMs >= 25_000, `stopped after ${stopMs} ms`);
      },
    );
    await t.test('every given-up object is recorded under _meta/orphans/', () =>
      assert.deepEqual([...abandoned].sort(), orphans.filter((k) => abandoned.includes(k)).sort()),
    );
  });

  it('Kafka restarted empty (the pointer topic is gone): what the broker does', async (t) => {
    const base = 400_000;
    await ensureBroker();
    let producer = await newProducer();
    const stream = new Stream(producer, topic, base);
    const failedBefore = failedPublishBatches(await metrics());
    const orphansBefore = new Set(await orphanKeys());
    let recoveredWithoutRestart = false;
    try {
      await stream.send(100, 50, 4);
      await stream.settle();
      assert.equal(stream.ackedAt.size, 100);
      await timed('stop Kafka', () => kafka.stop());
      await timed('start Kafka with an empty data directory', () => kafka.start({ fresh: true }));
      // Produce as soon as Kafka is back, and again a few seconds later.
      await stream.send(100, 50, 4);
      await stream.settle();
      await new Promise((r) => setTimeout(r, 3000));
      await stream.send(100, 50, 4);
      await stream.settle();
      recoveredWithoutRestart = stream.failures.length === 0;
      t.diagnostic(
        recoveredWithoutRestart
          ? 'the broker re-created the pointer topic by itself'
          : `${stream.failures.length} of 4 sends after the wipe failed: ${String(stream.failures.at(-1)?.error)}`,
      );
      // Every batch the broker gave up on is recorded as an orphan.
      const failed = failedPublishBatches(await metrics()) - failedBefore;
      const newOrphans = async () => (await orphanKeys()).filter((k) => !orphansBefore.has(k));
      let markers: string[] = [];
      await waitFor(
        'an orphan marker per abandoned batch',
        async () => {
          markers = await newOrphans();
          return markers.length >= failed;
        },
        30_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}: ${failed} batches failed, markers ${JSON.stringify(markers)}`);
      });
      assert.equal(markers.length, failed, JSON.stringify(markers));
      t.diagnostic(`${failed} batches abandoned, ${markers.length} orphan markers`);
      for (const f of stream.failures) {
        assert.match(String(f.error), /UNKNOWN_TOPIC: pointer publication failed/);
      }
    } finally {
      await producer.disconnect();
    }
    await t.test(
      'the broker re-creates a vanished pointer topic and keeps publishing, without a restart',
      () => assert.ok(recoveredWithoutRestart),
    );

    // A broker restart re-creates the pointer topic (ensureTopic at start) and publishing works.
    const port = Number(broker!.address.split(':')[1]);
    await broker!.stop();
    await ensureBroker(port);
    producer = await newProducer();
    const after = new Stream(producer, topic, base + 10_000);
    try {
      await after.send(200, 50, 4);
      await after.settle();
    } finally {
      await producer.disconnect();
    }
    assert.deepEqual(after.failures, []);
    assert.equal(after.ackedAt.size, 200);
    const orphans = await orphanKeys();
    // Acked after the wipe: published to the re-created pointer topic (before the restart) or
    // to the one the restarted broker found.
    const ackedAfterWipe = [
      ...[...stream.ackedAt.keys()].filter((id) => id >= base + 100),
      ...after.ackedAt.keys(),
    ];
    const { ids, keys } = await readAll(
      `empty-${RUN}`,
      (got) => ackedAfterWipe.every((id) => got.has(id)),
      60_000,
    );
    assert.deepEqual(
      ackedAfterWipe.filter((id) => !ids.has(id)),
      [],
      'acked after the wipe: lost',
    );
    assert.deepEqual(
      orphans.filter((k) => keys.has(k)),
      [],
      'an orphaned object is never delivered as data',
    );
    // Messages acked before the wipe had their pointers in the Kafka that was wiped: the new
    // pointer topic starts empty, so they are unreachable for consumers (their objects are still
    // in S3). This is why the pointer topic needs replication 3 / min.insync.replicas 2.
    const before = [...stream.ackedAt.keys()].filter((id) => id < base + 100);
    t.diagnostic(
      `${before.filter((id) => ids.has(id)).length} of ${before.length} messages acked before the wipe are readable after it`,
    );
    const readable = [...ids.keys()].filter((id) => id < base + 10_000 && !stream.ackedAt.has(id));
    assert.deepEqual(readable, [], 'nothing abandoned after the wipe is delivered');
    assert.deepEqual(
      [...ids.keys()].filter((id) => id < base + 100),
      [],
      'nothing published before the wipe is delivered (its pointers were in the wiped Kafka)',
    );
  });
});

function publishFailures(text: string): number {
  const m = /^barge_pointer_publish_failures_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Batches whose pointer publication the broker gave up on (negative acks, orphans). */
function failedPublishBatches(text: string): number {
  const m = /^barge_batches_failed_total\{stage="publish"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}
