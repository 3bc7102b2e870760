import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer, type ProducerMessage } from '@barge/client';
import { listAll } from '@barge/core';
import { KafkaPointerQueue } from '@barge/pointers-kafka';
import { type BrokerProcess, freePort, runCli, spawnCli, startBroker, tempDir, waitFor } from '../harness.js';
import {
  deletePointerTopics,
  exitOf,
  freshBucket,
  kafkaBrokers,
  kafkaQueueOptions,
  kafkaYaml,
  makeAnyMessage,
  runId,
  s3Options,
  s3Yaml,
  Tally,
  type TestBucket,
} from '../kafka-fixtures.js';
import { messageSize, prng } from '../workload.js';

// The production path: a `barge broker` process with S3 storage (moto) and the Kafka pointer
// queue (the shared test Kafka), configured by a YAML file. Everything this file creates is
// unique to the run: the bucket, the Barge topics, and the Kafka pointer topics and groups
// (`topicPrefix`/`groupPrefix` barge.e2e.<run>.), so reruns and parallel files never collide.

const RUN = runId();
const TOTAL = Number(process.env.BARGE_E2E_KAFKA_MESSAGES ?? 3000);
/** Messages of 1.1-2.5 MiB sent in one burst to write partition 0 (ids TOTAL..TOTAL+BIG-1). */
const BIG = 8;
const SEED = Number(process.env.BARGE_E2E_SEED ?? 20261126);
const MiB = 1024 * 1024;

const T = {
  stream: `stream-${RUN}`,
  lines: `lines-${RUN}`,
  members: `members-${RUN}`,
  cli: `cli-${RUN}`,
};

const memberScript = new URL('../kafka-member.js', import.meta.url).pathname;

describe('production path: barge broker process on S3 (moto) + Kafka pointers', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let bucket: TestBucket;
  let broker: BrokerProcess;
  let configFile: string;
  let adminAddress: string;
  const brokers = kafkaBrokers();
  const kafkaOptions = kafkaQueueOptions(brokers, RUN);

  before(async () => {
    dir = await tempDir('barge-e2e-kafka-s3-');
    bucket = await freshBucket('barge-e2e-ks3');
    configFile = join(dir.path, 'barge.yaml');
    adminAddress = `127.0.0.1:${await freePort()}`;
    await writeFile(
      configFile,
      [
        '# barge broker: S3 + Kafka, as in docs/deploy.md, with test-sized timeouts',
        `broker: { id: 21, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        // Objects of 6 MiB and more go up as multipart uploads of 5 MiB parts.
        ...s3Yaml(bucket.name, { multipartThresholdBytes: '6MiB', partSize: '5MiB' }),
        ...kafkaYaml(brokers, RUN),
        'topics:',
        `  - { name: ${T.stream}, writePartitions: 4, readPartitions: 3, batch: { maxBytes: 8MiB, maxDelayMs: 200 }, compression: lz4 }`,
        `  - { name: ${T.lines}, writePartitions: 3, readPartitions: 3, batch: { maxDelayMs: 50 } }`,
        `  - { name: ${T.members}, writePartitions: 3, readPartitions: 3, batch: { maxDelayMs: 50 }, compression: gzip }`,
        '',
      ].join('\n'),
    );
    broker = await startBroker(['--config', configFile, '--admin', adminAddress]);
  });

  after(async () => {
    const code = await broker?.stop();
    if (code !== 0 && broker) process.stderr.write(`broker exited with ${code}:\n${broker.logs()}\n`);
    await bucket?.remove().catch((e: unknown) => process.stderr.write(`bucket cleanup: ${String(e)}\n`));
    await deletePointerTopics(brokers, kafkaOptions.topicPrefix);
    await dir?.remove();
  });

  it('(a) keys, headers, sizes up to 2.5 MiB: three groups each read everything, exact bytes, in order per write partition', async (t) => {
    const total = TOTAL + BIG;
    // Group 1: pointers straight from Kafka and batches straight from S3 (no broker involved).
    // Group 2: the broker's consumer groups (backed by its Kafka PointerQueue) and its read proxy.
    // Group 3: the broker's consumer groups, batches straight from S3.
    const directQueues = [0, 1].map(() => new KafkaPointerQueue(kafkaOptions));
    const directStorages = [0, 1].map(() => bucket.storage());
    const mixedStorage = bucket.storage();
    const groups = [
      {
        name: 'direct',
        tally: new Tally(total),
        consumers: [0, 1].map(
          (i) =>
            new Consumer({
              groupId: `direct-${RUN}`,
              clientId: `direct-${i}`,
              pointers: directQueues[i]!,
              storage: directStorages[i]!,
              sessionTimeoutMs: 20_000,
              autoCommitIntervalMs: 500,
            }),
        ),
      },
      {
        name: 'proxied',
        tally: new Tally(total),
        consumers: [0, 1].map(
          (i) =>
            new Consumer({
              brokers: [broker.address],
              groupId: `proxied-${RUN}`,
              clientId: `proxied-${i}`,
              sessionTimeoutMs: 20_000,
              autoCommitIntervalMs: 500,
            }),
        ),
      },
      {
        name: 'broker groups + direct S3',
        tally: new Tally(total),
        consumers: [
          new Consumer({
            brokers: [broker.address],
            storage: mixedStorage,
            groupId: `mixed-${RUN}`,
            clientId: 'mixed-0',
            sessionTimeoutMs: 20_000,
            autoCommitIntervalMs: 500,
          }),
        ],
      },
    ];
    const crashes: unknown[] = [];
    try {
      for (const g of groups) {
        for (const c of g.consumers) {
          c.on('crash', (e) => crashes.push(e));
          await c.connect();
          await c.subscribe({ topic: T.stream });
          await c.run({ eachMessage: async ({ message }) => g.tally.add(message) });
        }
      }
      // Produce only once every group is settled (3 read partitions spread over its members), so
      // no rebalance redelivers anything and every group must see every message exactly once.
      await waitFor(
        'every group to own the 3 read partitions',
        () =>
          groups.every((g) => {
            const owned = g.consumers.map((c) => c.assignment()[0]?.partitions.length ?? 0);
            return owned.reduce((a, b) => a + b, 0) === 3 && owned.every((n) => n > 0);
          }),
        60_000,
      );

      const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 5 });
      await producer.connect();
      const random = prng(SEED);
      let bytes = 0;
      const started = Date.now();
      const sends: Promise<unknown>[] = [];
      let group: ProducerMessage[] = [];
      for (let id = 0; id < TOTAL; id++) {
        const size = messageSize(random);
        bytes += size;
        group.push(makeAnyMessage(id, size));
        if (group.length === 200 || id === TOTAL - 1) {
          sends.push(producer.send({ topic: T.stream, messages: group }));
          group = [];
        }
      }
      // One burst of big messages to one write partition: batches of 6-8+ MiB, multipart in S3.
      const big: ProducerMessage[] = [];
      for (let i = 0; i < BIG; i++) {
        const size = Math.floor(1.1 * MiB + random() * 1.4 * MiB);
        bytes += size;
        big.push({ ...makeAnyMessage(TOTAL + i, size), writePartition: 0 });
      }
      sends.push(producer.send({ topic: T.stream, messages: big }));
      const acked = (await Promise.all(sends)) as { partition: number; offset: number }[][];
      const produceMs = Date.now() - started;
      await producer.disconnect();
      const acks = acked.flat();
      assert.equal(acks.length, total);
      // acks=durable: every ack names the read partition and the Kafka offset of its pointer.
      assert.ok(acks.every((a) => a.partition >= 0 && a.partition < 3 && a.offset >= 0));

      await waitFor(
        `all ${total} messages in every group`,
        () =>
          groups.every((g) => g.tally.distinct >= total) ||
          crashes.length > 0 ||
          groups.some((g) => g.tally.failures.length > 0),
        180_000,
        200,
      );
      const readMs = Date.now() - started;
      t.diagnostic(
        `produced ${total} messages, ${(bytes / 1e6).toFixed(1)} MB in ${produceMs} ms ` +
          `(${Math.round(total / (produceMs / 1000))} msgs/s, ${(bytes / 1e6 / (produceMs / 1000)).toFixed(1)} MB/s, acks=durable); ` +
          `three groups had read everything ${readMs} ms after the first send`,
      );
    } finally {
      for (const g of groups) await Promise.all(g.consumers.map((c) => c.disconnect()));
      await Promise.allSettled([
        ...directQueues.map((q) => q.close()),
        ...directStorages.map((s) => s.close()),
        mixedStorage.close(),
      ]);
    }
    assert.deepEqual(crashes, []);
    for (const g of groups) {
      assert.deepEqual(g.tally.failures, [], `${g.name}: byte verification`);
      assert.deepEqual(g.tally.missing(), [], `${g.name}: messages lost`);
      assert.deepEqual(g.tally.orderViolations, [], `${g.name}: out of order within a write partition`);
      assert.equal(g.tally.duplicates, 0, `${g.name}: no fault was injected, nothing may arrive twice`);
      assert.equal(g.tally.delivered, total, g.name);
      assert.equal(g.tally.streams, 4, `${g.name}: one sequence stream per write partition`);
    }

    // Storage and pointer queue agree: one object per pointer, none orphaned, some multipart.
    const storage = bucket.storage();
    const queue = new KafkaPointerQueue(kafkaOptions);
    try {
      const objects = [];
      for await (const o of listAll(storage, `topics/${T.stream}/`)) objects.push(o);
      let pointers = 0;
      for (let p = 0; p < 3; p++) {
        const w = await queue.watermarks(T.stream, p);
        assert.equal(w.low, 0);
        pointers += w.high;
      }
      assert.equal(pointers, objects.length, 'every stored batch has exactly one pointer in Kafka');
      const multipart = objects.filter((o) => /-\d+$/.test(o.etag ?? ''));
      assert.ok(
        multipart.length >= 1,
        `expected a multipart object among ${objects.map((o) => `${o.size}:${o.etag}`).join(', ')}`,
      );
      assert.ok(multipart.every((o) => o.size >= 6 * MiB));
      const orphans = [];
      for await (const o of listAll(storage, '_meta/orphans/')) orphans.push(o.key);
      assert.deepEqual(orphans, []);
      t.diagnostic(
        `${objects.length} batch objects (${multipart.length} multipart, largest ${Math.max(...objects.map((o) => o.size))} bytes); ${pointers} pointers`,
      );
    } finally {
      await Promise.allSettled([storage.close(), queue.close()]);
    }
  });

  it('(b1) three `barge consume --group` processes, one SIGKILLed mid-stream: the others take over its partitions, nothing is lost', async (t) => {
    const total = 3000;
    const group = `cli-members-${RUN}`;
    const members = [0, 1, 2].map(() =>
      spawnCli([
        'consume',
        '--topic',
        T.lines,
        '--group',
        group,
        '--from-beginning',
        '--broker',
        broker.address,
      ]),
    );
    const lines = (i: number) => {
      const s = members[i]!.stdout().toString();
      return s === '' ? [] : s.replace(/\n$/, '').split('\n');
    };
    try {
      // Produce once the three have joined (the broker serves their group members: its gauge),
      // so the only rebalance during the stream is the one the kill causes.
      await waitFor(
        'three members joined through the broker',
        async () => {
          const text = await (await fetch(`http://${adminAddress}/metrics`)).text();
          return /^barge_group_members 3$/m.test(text);
        },
        60_000,
        200,
      );
      const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 2 });
      await producer.connect();
      let killedAt = -1;
      let victimLines = 0;
      for (let from = 0; from < total; from += 100) {
        const messages: ProducerMessage[] = [];
        for (let id = from; id < from + 100; id++) {
          messages.push({ value: Buffer.from(`line-${id}`), writePartition: id % 3 });
        }
        await producer.send({ topic: T.lines, messages });
        // Mid-stream: once every member printed something (each owns a read partition), kill one.
        if (killedAt < 0 && from >= total / 3 && [0, 1, 2].every((i) => lines(i).length > 0)) {
          members[0]!.child.kill('SIGKILL');
          await members[0]!.exited;
          victimLines = lines(0).length;
          killedAt = from + 100;
        }
        if (killedAt < 0 && from >= total / 3) await new Promise((r) => setTimeout(r, 200));
      }
      await producer.disconnect();
      assert.ok(killedAt > 0, 'the victim was killed mid-stream');
      const union = () => {
        const seen = new Set<string>();
        for (const i of [0, 1, 2]) for (const l of lines(i)) seen.add(l);
        return seen;
      };
      await waitFor(`the survivors to print all ${total} lines`, () => union().size >= total, 120_000, 200);
      const seen = union();
      const expected = Array.from({ length: total }, (_, id) => `line-${id}`);
      assert.deepEqual(
        expected.filter((l) => !seen.has(l)),
        [],
      );
      assert.equal(seen.size, total, 'nothing but the produced lines');
      const printed = [0, 1, 2].reduce((n, i) => n + lines(i).length, 0);
      t.diagnostic(
        `victim printed ${victimLines} lines before SIGKILL (after ${killedAt} of ${total} were sent); ` +
          `survivors ${lines(1).length} + ${lines(2).length}; ${printed - total} redelivered (at least once)`,
      );
      assert.ok(victimLines > 0);
      // The victim's read partitions (= write partitions here) were read on by the survivors:
      // lines sent after the kill on them were printed by another member.
      const victimPartitions = new Set(lines(0).map((l) => Number(l.slice(5)) % 3));
      for (const p of victimPartitions) {
        const later = [1, 2]
          .flatMap((i) => lines(i))
          .filter((l) => {
            const id = Number(l.slice(5));
            return id % 3 === p && id >= killedAt;
          });
        assert.ok(later.length > 0, `a survivor read partition ${p} after the kill`);
      }
    } finally {
      for (const m of members)
        if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGTERM');
      const codes = await Promise.all(members.map((m) => m.exited));
      // The survivors stop cleanly on SIGTERM (commit, leave the group).
      assert.deepEqual(codes.slice(1), [0, 0], members.map((m) => m.stderr()).join('\n'));
    }
  });

  it('(b2) three member processes reading Kafka and S3 directly, one SIGKILLed: its partitions move after the session timeout', async (t) => {
    const total = 3000;
    const group = `direct-members-${RUN}`;
    const sessionTimeoutMs = 6000;
    const arg = JSON.stringify({
      kafka: kafkaOptions,
      s3: s3Options(bucket.name),
      topic: T.members,
      group,
      sessionTimeoutMs,
    });
    type Member = {
      child: ChildProcess;
      out: string;
      err: string;
      assigns: { at: number; parts: number[] }[];
    };
    const members: Member[] = [0, 1, 2].map(() => {
      const child = spawn(process.execPath, [memberScript, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
      const m: Member = { child, out: '', err: '', assigns: [] };
      let partial = '';
      child.stdout!.on('data', (d: Buffer) => {
        m.out += d.toString();
        partial += d.toString();
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          if (line.startsWith('#assign '))
            m.assigns.push({ at: Date.now(), parts: JSON.parse(line.slice(8)) });
        }
      });
      child.stderr!.on('data', (d: Buffer) => {
        m.err += d.toString();
      });
      return m;
    });
    const ids = (m: Member) =>
      m.out
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => Number(l.split(' ')[0]));
    const current = (m: Member) => m.assigns.at(-1)?.parts ?? [];
    try {
      await waitFor(
        'the three members to own one read partition each',
        () => members.every((m) => current(m).length === 1) && new Set(members.flatMap(current)).size === 3,
        90_000,
      );
      const victimPartitions = current(members[0]!);
      const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 2 });
      await producer.connect();
      const random = prng(SEED + 1);
      let killedAt = 0;
      for (let from = 0; from < total; from += 100) {
        const messages: ProducerMessage[] = [];
        for (let id = from; id < from + 100; id++) {
          messages.push({ ...makeAnyMessage(id, Math.floor(random() * 2048)), writePartition: id % 3 });
        }
        await producer.send({ topic: T.members, messages });
        if (killedAt === 0 && from >= total / 3 && ids(members[0]!).length > 0) {
          members[0]!.child.kill('SIGKILL');
          await exitOf(members[0]!.child);
          killedAt = Date.now();
        }
      }
      await producer.disconnect();
      assert.ok(killedAt > 0, 'the victim was killed mid-stream');
      const union = () => new Set(members.flatMap(ids));
      await waitFor(`all ${total} messages across the members`, () => union().size >= total, 120_000, 200);
      const seen = union();
      const missing = Array.from({ length: total }, (_, id) => id).filter((id) => !seen.has(id));
      assert.deepEqual(missing, [], 'messages lost');
      // The survivors' latest assignments cover every read partition, the victim's included.
      const survivors = members.slice(1);
      assert.deepEqual([...new Set(survivors.flatMap(current))].sort(), [0, 1, 2]);
      const takeover = survivors
        .flatMap((m) => m.assigns)
        .filter((a) => a.at > killedAt && victimPartitions.every((p) => a.parts.includes(p)))
        .map((a) => a.at - killedAt);
      assert.ok(takeover.length > 0, 'a survivor was assigned the victim partition after the kill');
      const printed = members.reduce((n, m) => n + ids(m).length, 0);
      t.diagnostic(
        `victim (partition ${victimPartitions}) printed ${ids(members[0]!).length} before SIGKILL; a survivor got ` +
          `its partition ${Math.min(...takeover)} ms after the kill (session timeout ${sessionTimeoutMs} ms); ` +
          `${printed - total} redelivered (at least once)`,
      );
      assert.ok(Math.min(...takeover) >= sessionTimeoutMs / 2, 'only Kafka notices a killed direct member');
    } finally {
      for (const m of members)
        if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGTERM');
      const codes = await Promise.all(members.map((m) => exitOf(m.child)));
      assert.deepEqual(codes.slice(1), [0, 0], members.map((m) => m.err).join('\n'));
    }
  });

  it('(c) the barge CLI works unchanged with pointers on Kafka: topics, produce, consume, inspect of an S3 key, admin HTTP', async () => {
    const b = ['--broker', broker.address];
    const created = await runCli([
      'topics',
      'create',
      T.cli,
      '--partitions',
      '2',
      '--read-partitions',
      '2',
      ...b,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout.toString(),
      new RegExp(`^created ${T.cli} writePartitions=2 readPartitions=2`),
    );
    // The pointer topic is in Kafka, with one partition per read partition.
    const queue = new KafkaPointerQueue(kafkaOptions);
    try {
      assert.equal(await queue.partitions(T.cli), 2);
    } finally {
      await queue.close();
    }
    const listed = await runCli(['topics', 'list', '--json', ...b]);
    assert.equal(listed.code, 0, listed.stderr);
    const names = (JSON.parse(listed.stdout.toString()) as { name: string }[]).map((x) => x.name);
    for (const name of Object.values(T)) assert.ok(names.includes(name), `${name} in ${names}`);

    const input = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const produced = await runCli(['produce', '--topic', T.cli, ...b], { stdin: `${input.join('\n')}\n` });
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, new RegExp(`produced 5 messages to ${T.cli} \\(acks=durable\\)`));

    const described = await runCli(['topics', 'describe', T.cli, ...b]);
    assert.equal(described.code, 0, described.stderr);
    const offsets = [...described.stdout.toString().matchAll(/read partition (\d): offsets (\d+)\.\.(\d+)/g)];
    assert.equal(offsets.length, 2, described.stdout.toString());
    assert.ok(offsets.reduce((n, m) => n + Number(m[3]) - Number(m[2]), 0) >= 1);

    // --max-messages commits exactly what it printed (offset + message index in Kafka's commit
    // metadata), so the next run of the same group prints exactly the rest.
    const group = `cli-${RUN}`;
    const first = await runCli([
      'consume',
      '--topic',
      T.cli,
      '--group',
      group,
      '--from-beginning',
      '--max-messages',
      '3',
      ...b,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli([
      'consume',
      '--topic',
      T.cli,
      '--group',
      group,
      '--from-beginning',
      '--max-messages',
      '2',
      ...b,
    ]);
    assert.equal(second.code, 0, second.stderr);
    const got = [first, second].flatMap((r) => r.stdout.toString().replace(/\n$/, '').split('\n'));
    assert.deepEqual([...got].sort(), [...input].sort());

    // inspect decodes an object by its S3 key, reading the storage named in the config file.
    const storage = bucket.storage();
    let key: string | undefined;
    try {
      for await (const o of listAll(storage, `topics/${T.cli}/`)) {
        key = o.key;
        break;
      }
    } finally {
      await storage.close();
    }
    assert.ok(key, 'a batch object in S3');
    const inspected = await runCli(['inspect', key, '--config', configFile, '--messages']);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(
      inspected.stdout.toString(),
      new RegExp(`batch format v1: topic ${T.cli}, write partition \\d, sequence \\d+, broker 21`),
    );
    assert.match(inspected.stdout.toString(), /value="(alpha|beta|gamma|delta|epsilon)"/);
    const missing = await runCli(['inspect', `topics/${T.cli}/0/nope`, '--config', configFile]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /neither a file nor a key in s3 storage/);

    // Admin HTTP: health and Prometheus metrics, including the Kafka publish latency.
    const health = await fetch(`http://${adminAddress}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const metrics = await (await fetch(`http://${adminAddress}/metrics`)).text();
    const count = /^barge_pointer_publish_seconds_count (\d+)/m.exec(metrics);
    assert.ok(count && Number(count[1]) > 0, 'pointer publications were timed');
    assert.match(metrics, /^barge_batches_uploaded_total\S* \d+/m);
  });

  it('(d) three brokers share the bucket and Kafka: a producer fails over when its broker is SIGKILLed, groups span brokers, nothing acked is lost', async (t) => {
    const topic = `shared-${RUN}`;
    const perProducer = 2000;
    // Broker 21 (from `before`) plus 22 and 23 with the same config file, as behind a load balancer.
    const extra = await Promise.all(
      [22, 23].map((id) =>
        startBroker(['--config', configFile], {
          BARGE_BROKER_ID: String(id),
          BARGE_DATA_DIR: join(dir.path, `data-${id}`),
        }),
      ),
    );
    const [b22, b23] = extra as [BrokerProcess, BrokerProcess];
    const tally = new Tally(2 * perProducer);
    const consumers = [broker.address, b23.address].map(
      (address, i) =>
        new Consumer({
          brokers: [address],
          groupId: `shared-${RUN}`,
          clientId: `shared-${i}`,
          sessionTimeoutMs: 20_000,
          autoCommitIntervalMs: 500,
        }),
    );
    const crashes: unknown[] = [];
    let killedAt = -1;
    try {
      // A topic created at runtime on one broker is known to the others (metadata in S3).
      const created = await runCli([
        'topics',
        'create',
        topic,
        '--partitions',
        '2',
        '--read-partitions',
        '2',
        '--broker',
        b22.address,
      ]);
      assert.equal(created.code, 0, created.stderr);
      for (const c of consumers) {
        c.on('crash', (e) => crashes.push(e));
        await c.connect();
        await c.subscribe({ topic });
        await c.run({ eachMessage: async ({ message }) => tally.add(message) });
      }
      // Producer 1 lists brokers 22 then 23 (client-side list: the first reachable is used);
      // producer 2 uses broker 21. Both write both write partitions.
      const p1 = new Producer({ brokers: [b22.address, b23.address], acks: 'durable', lingerMs: 2 });
      const p2 = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 2 });
      await Promise.all([p1.connect(), p2.connect()]);
      const random = prng(SEED + 2);
      const acked = new Set<number>();
      const failures: unknown[] = [];
      const pending: Promise<void>[] = [];
      for (let from = 0; from < perProducer; from += 100) {
        for (const [producer, base] of [
          [p1, 0],
          [p2, perProducer],
        ] as const) {
          const messages: ProducerMessage[] = [];
          for (let id = base + from; id < base + from + 100; id++) {
            messages.push({ ...makeAnyMessage(id, Math.floor(random() * 4096)), writePartition: id % 2 });
          }
          pending.push(
            producer.send({ topic, messages }).then(
              () => {
                for (let id = base + from; id < base + from + 100; id++) acked.add(id);
              },
              (e: unknown) => {
                failures.push(e);
              },
            ),
          );
        }
        if (pending.length >= 8) await Promise.all(pending.splice(0, 4));
        // Mid-stream, with sends of producer 1 in flight: broker 22 dies.
        if (killedAt < 0 && from >= perProducer / 2) {
          await b22.kill();
          killedAt = from;
        }
      }
      await Promise.all(pending);
      await Promise.all([p1.disconnect(), p2.disconnect()]);
      assert.deepEqual(
        failures.map(String),
        [],
        'producer 1 failed over to broker 23 and its retries were acked',
      );
      assert.equal(acked.size, 2 * perProducer);
      await waitFor(
        'every acked message in the group',
        () => tally.distinct >= 2 * perProducer || crashes.length > 0 || tally.failures.length > 0,
        120_000,
        200,
      );
      // Both members (on different brokers) took part in the one Kafka group.
      assert.ok(consumers.every((c) => (c.assignment()[0]?.partitions.length ?? 0) === 1));
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect()));
      for (const b of extra) if (b.child.exitCode === null && b.child.signalCode === null) await b.stop();
    }
    assert.deepEqual(crashes, []);
    assert.deepEqual(tally.failures, []);
    assert.deepEqual(tally.missing(), [], 'acked messages lost');
    assert.deepEqual(tally.orderViolations, [], 'out of order within a (producer, write partition)');
    // Batch sequences are leased per write partition with a compare-and-swap, so brokers that
    // serve the same write partition at once get different numbers; reported, not asserted,
    // because moto does not apply conditional puts atomically (see docs/storage.md).
    // test/src/e2e/sequence-leases.test.ts asserts it.
    const storage = bucket.storage();
    const byBroker = new Map<string, Set<number>>();
    let objects = 0;
    try {
      for await (const o of listAll(storage, `topics/${topic}/`)) {
        const m = /^topics\/[^/]+\/(\d+)\/(\d{16})-(\d+)-/.exec(o.key);
        if (!m) continue;
        objects++;
        const k = `${m[1]}/${Number(m[2])}`;
        const set = byBroker.get(k) ?? new Set<number>();
        set.add(Number(m[3]));
        byBroker.set(k, set);
      }
    } finally {
      await storage.close();
    }
    const shared = [...byBroker.values()].filter((b) => b.size > 1).length;
    t.diagnostic(
      `${tally.delivered} delivered (${tally.duplicates} duplicates after the kill at ${killedAt}/${perProducer}); ` +
        `${objects} objects; ${shared} (write partition, batch sequence) pairs used by more than one broker`,
    );
  });
});
