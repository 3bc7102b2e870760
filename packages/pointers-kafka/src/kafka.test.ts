import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  AuthError,
  type BatchPointer,
  ConfigError,
  GroupRebalanceError,
  loadPlugin,
  NotFoundError,
  PermanentError,
  type PointerRecord,
  pointerKey,
  readPartitionFor,
  TransientError,
} from '@barge/core';
import { randomId as rid, testPointer } from '@barge/testkit';
import kafkajs, { type Admin, type KafkaMessage } from 'kafkajs';
import type { KafkaPointerConsumer } from './consumer.js';
import { mapKafkaError } from './errors.js';
import {
  bargePlugin,
  createKafkaPointerQueue,
  KafkaPointerQueue,
  parseKafkaPointersConfig,
  parseMessageIndex,
} from './index.js';
import { toSafeNumber } from './kafka.js';
import { kafkaBrokers, rawKafka, testOptions } from './test-support/env.js';

const SESSION_MS = 6000;

// kafkajs is CommonJS and spreads its error classes into module.exports: Node cannot see them as
// named ESM exports.
const {
  ConfigResourceTypes,
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} = kafkajs;
type ErrorCtor = new (...args: unknown[]) => Error;

/** Rejects when `p` takes longer than `ms`: a bound that keeps a hang from stalling the run, not a timing assertion. */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new assert.AssertionError({ message: `${what} did not settle in ${ms} ms` })),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(
  what: string,
  ms: number,
  check: () => boolean | Promise<boolean>,
  step = 100,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(step);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

describe('pointers-kafka: config, plugin and error mapping', () => {
  it('the plugin validates its section, applies defaults and names bad fields', async () => {
    assert.equal(bargePlugin.name, 'kafka');
    assert.equal(bargePlugin.kind, 'pointers');
    assert.deepEqual([...bargePlugin.coreApi], [1]);
    const { plugin, config } = await loadPlugin(
      'pointers',
      { adapter: 'kafka', brokers: ['k1:9092'] },
      (s) => import(s),
    );
    assert.equal(plugin, bargePlugin);
    assert.deepEqual(config, {
      brokers: ['k1:9092'],
      clientId: 'barge',
      topicPrefix: 'barge.pointers.',
      groupPrefix: 'barge.',
      replicationFactor: 1,
      topicConfig: {},
      connectionTimeoutMs: 3000,
      requestTimeoutMs: 30_000,
      publishTimeoutMs: 30_000,
      retries: 3,
      initialRetryTimeMs: 200,
      maxRetryTimeMs: 5000,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3000,
      rebalanceTimeoutMs: 60_000,
      maxWaitTimeMs: 1000,
      maxBytesPerPartition: 1024 * 1024,
      maxBufferedRecords: 2000,
      logLevel: 'warn',
    });
    const bad = (section: Record<string, unknown>, field: RegExp) =>
      assert.rejects(
        loadPlugin('pointers', { adapter: 'kafka', ...section }, (s) => import(s)),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.match(e.message, field);
          return true;
        },
      );
    await bad({}, /pointers\.brokers/);
    await bad({ brokers: ['no-port'] }, /pointers\.brokers\[0\]: expected HOST:PORT/);
    await bad({ brokers: ['k:1'], topicPrefix: 'bad/prefix' }, /pointers\.topicPrefix/);
    await bad({ brokers: ['k:1'], sasl: { mechanism: 'plain', username: 'u' } }, /pointers\.sasl\.password/);
    await bad({ brokers: ['k:1'], replicationFactor: 0 }, /pointers\.replicationFactor/);
    await bad({ brokers: ['k:1'], brokerz: 1 }, /brokerz/);
    const withTls = parseKafkaPointersConfig({
      brokers: ['k:1'],
      ssl: { rejectUnauthorized: false },
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    });
    assert.deepEqual(withTls.ssl, { rejectUnauthorized: false });
    assert.equal(withTls.sasl?.mechanism, 'scram-sha-512');
    const q = createKafkaPointerQueue(withTls, { log: () => {} });
    assert.equal(q.adapter, 'kafka');
    assert.equal(q.pointerTopic('orders'), 'barge.pointers.orders');
    assert.throws(() => q.pointerTopic('bad/name'), ConfigError);
    await q.close();
  });

  it('maps kafkajs errors onto core classes and keeps the cause', () => {
    const protocol = (type: string, retriable = false) =>
      new KafkaJSProtocolError({ type, code: 1, retriable, message: `${type} happened` } as unknown as Error);
    for (const type of ['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']) {
      const cause = protocol(type);
      // kafkajs wraps protocol errors it will not retry; the mapping looks through the wrapper.
      const wrapped = new (KafkaJSNonRetriableError as unknown as ErrorCtor)(cause, { cause });
      const e = mapKafkaError(wrapped, 'commit');
      assert.ok(e instanceof GroupRebalanceError, `${type} → ${e.name}`);
      assert.equal(e.cause, wrapped);
      assert.match(e.message, /^commit: /);
    }
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    const retries = new (KafkaJSNumberOfRetriesExceeded as unknown as ErrorCtor)(refused, {
      retryCount: 3,
      retryTime: 800,
    });
    assert.ok(mapKafkaError(retries, 'publish') instanceof TransientError);
    assert.ok(mapKafkaError(protocol('UNKNOWN_TOPIC_OR_PARTITION', true), 'x') instanceof NotFoundError);
    assert.ok(mapKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED'), 'x') instanceof AuthError);
    assert.ok(
      mapKafkaError(
        new (KafkaJSSASLAuthenticationError as unknown as ErrorCtor)('bad password'),
        'x',
      ) instanceof AuthError,
    );
    assert.ok(mapKafkaError(protocol('NOT_ENOUGH_REPLICAS', true), 'x') instanceof TransientError);
    assert.ok(mapKafkaError(protocol('INVALID_REPLICATION_FACTOR'), 'x') instanceof ConfigError);
    assert.ok(mapKafkaError(protocol('UNSUPPORTED_VERSION'), 'x') instanceof PermanentError);
    const already = new NotFoundError('kept');
    assert.equal(mapKafkaError(already, 'x'), already);
  });

  it('reads messageIndex from commit metadata and ignores metadata written by other tools', () => {
    assert.equal(parseMessageIndex('{"messageIndex":7}'), 7);
    assert.equal(parseMessageIndex('{"messageIndex":0}'), 0);
    for (const other of [
      null,
      undefined,
      '',
      'checkpoint-42',
      '{"messageIndex":-1}',
      '{"messageIndex":"3"}',
      '[]',
    ]) {
      assert.equal(parseMessageIndex(other), undefined, String(other));
    }
  });

  it('refuses Kafka int64 values a JS number cannot hold exactly', () => {
    assert.equal(toSafeNumber('9007199254740991', 'offset'), Number.MAX_SAFE_INTEGER);
    assert.equal(toSafeNumber('-1', 'offset'), -1);
    assert.throws(
      () => toSafeNumber('9007199254740992', 'offset'),
      /offset 9007199254740992 is not an integer/,
    );
  });
});

describe('pointers-kafka on a real Kafka', () => {
  let brokers: string[];
  let admin: Admin;

  before(async () => {
    brokers = kafkaBrokers();
    admin = rawKafka(brokers).admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
  });

  /** A queue with a random topic prefix; its topics are deleted and it is closed after the test. */
  function setup(t: TestContext, overrides: Parameters<typeof testOptions>[1] = {}) {
    const options = testOptions(brokers, overrides);
    const queues: KafkaPointerQueue[] = [];
    const topics: string[] = [];
    const open = () => {
      const q = new KafkaPointerQueue(options);
      queues.push(q);
      return q;
    };
    t.after(async () => {
      for (const q of queues) await q.close();
      if (topics.length > 0)
        await admin.deleteTopics({ topics: topics.map((x) => `${options.topicPrefix}${x}`) });
    });
    return {
      options,
      queue: open(),
      open,
      kafkaTopic: (topic: string) => `${options.topicPrefix}${topic}`,
      /** A random topic name, registered for deletion (whoever creates it). */
      topicName: () => {
        const name = rid('kt');
        topics.push(name);
        return name;
      },
    };
  }

  it('ensureTopic creates the pointer topic with the partitions, replication and configs asked for', async (t) => {
    const s = setup(t, { topicConfig: { 'retention.ms': '3600000', 'cleanup.policy': 'delete' } });
    const topic = s.topicName();
    await s.queue.ensureTopic(topic, 5);
    const kt = s.kafkaTopic(topic);
    assert.equal(kt, `${s.options.topicPrefix}${topic}`);
    const md = await admin.fetchTopicMetadata({ topics: [kt] });
    const partitions = md.topics[0]?.partitions ?? [];
    assert.deepEqual(
      partitions.map((p) => p.partitionId).sort((a, b) => a - b),
      [0, 1, 2, 3, 4],
    );
    for (const p of partitions) assert.equal(p.replicas.length, 1, 'replicationFactor 1');
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: kt, configNames: ['retention.ms', 'cleanup.policy'] },
      ],
    });
    const entries = new Map(cfg.resources[0]?.configEntries.map((e) => [e.configName, e.configValue]));
    assert.equal(entries.get('retention.ms'), '3600000');
    assert.equal(entries.get('cleanup.policy'), 'delete');
    // Checking an existing topic leaves it as it is.
    await s.queue.ensureTopic(topic, 5);
    assert.equal(await s.queue.partitions(topic), 5);
  });

  it('a pointer topic with another partition count is a ConfigError naming both counts', async (t) => {
    const s = setup(t);
    const topic = s.topicName();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: s.kafkaTopic(topic), numPartitions: 2 }],
    });
    await assert.rejects(s.queue.ensureTopic(topic, 5), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /exists with 2 partitions, but readPartitions is 5/);
      assert.match(e.message, new RegExp(s.kafkaTopic(topic).replaceAll('.', '\\.')));
      return true;
    });
    assert.equal(await s.queue.partitions(topic), 2);
  });

  it('publishes with the idempotent producer: key, partition, timestamp and value per pointer', async (t) => {
    const s = setup(t);
    const topic = s.topicName();
    const N = 3;
    await s.queue.ensureTopic(topic, N);
    const base = Date.now() - 60_000;
    const pointers: BatchPointer[] = [0, 1, 2, 3, 4, 0, 4].map((wp, i) =>
      testPointer(topic, wp, i, { createdAt: base + i * 1000 }),
    );
    const positions = await s.queue.publish(topic, pointers);
    // A control record from a plain (non-idempotent) producer, so the producer-id check can fail.
    const plain = rawKafka(brokers).producer({ idempotent: false });
    await plain.connect();
    await plain.send({ topic: s.kafkaTopic(topic), acks: -1, messages: [{ value: 'plain', partition: 0 }] });
    await plain.disconnect();

    const got = await readRaw(brokers, s.kafkaTopic(topic), pointers.length + 1);
    const byPos = new Map(got.map((r) => [`${r.partition}/${r.message.offset}`, r.message]));
    pointers.forEach((p, i) => {
      const pos = positions[i]!;
      assert.equal(pos.partition, readPartitionFor(p.writePartition, N));
      const m = byPos.get(`${pos.partition}/${pos.offset}`);
      assert.ok(m, `pointer ${i} at ${pos.partition}/${pos.offset}`);
      assert.equal(m.key?.toString(), pointerKey(topic, p.writePartition));
      assert.equal(m.timestamp, String(p.createdAt), 'record timestamp = pointer.createdAt');
      assert.deepEqual(JSON.parse(m.value!.toString()), p);
      const ctx = batchContext(m);
      assert.notEqual(ctx.producerId, '-1', 'written by an idempotent producer (has a producer id)');
      assert.ok(ctx.firstSequence >= 0, 'with sequence numbers');
    });
    const control = got.find((r) => r.message.value?.toString() === 'plain');
    assert.ok(control);
    assert.equal(batchContext(control.message).producerId, '-1', 'a plain producer has no producer id');
  });

  it('commit metadata is {"messageIndex":n,"owner":id}; a member of another client resumes from it', async (t) => {
    const s = setup(t);
    const topic = s.topicName();
    await s.queue.ensureTopic(topic, 2);
    const pointers = [0, 0, 0, 1].map((wp, i) => testPointer(topic, wp, i));
    await s.queue.publish(topic, pointers);
    const group = rid('g');
    const first = (await s.queue.subscribe({
      group,
      topic,
      sessionTimeoutMs: SESSION_MS,
    })) as KafkaPointerConsumer;
    await first.commit([
      { partition: 0, offset: 1, messageIndex: 7 },
      { partition: 1, offset: 1 },
    ]);
    const raw = await admin.fetchOffsets({ groupId: first.groupId, topics: [s.kafkaTopic(topic)] });
    const stored = new Map(raw[0]?.partitions.map((p) => [p.partition, p]));
    assert.equal(first.groupId, `${s.options.groupPrefix}${group}`);
    const meta = (p: number) => JSON.parse(stored.get(p)?.metadata ?? 'null') as unknown;
    assert.equal(stored.get(0)?.offset, '1');
    assert.deepEqual(meta(0), { owner: meta(1) && (meta(1) as { owner: string }).owner, messageIndex: 7 });
    assert.equal(stored.get(1)?.offset, '1');
    assert.match((meta(1) as { owner: string }).owner, /^barge-test-/, 'the owner is the Kafka member id');
    assert.deepEqual(Object.keys(meta(1) as object), ['owner']);
    await first.close();

    // A different client (new queue, new connections) as a restarted broker would have.
    const other = s.open();
    const second = await other.subscribe({ group, topic, sessionTimeoutMs: SESSION_MS });
    assert.deepEqual(await second.committed([0, 1]), [
      { partition: 0, offset: 1, messageIndex: 7 },
      { partition: 1, offset: 1 },
    ]);
    const records: PointerRecord[] = [];
    await until('the records after the committed offsets', 20_000, async () => {
      records.push(...(await second.poll({ timeoutMs: 200 })));
      return records.length >= 2;
    });
    assert.deepEqual(records.map((r) => [r.partition, r.offset, r.pointer.sequence]).sort(), [
      [0, 1, 1],
      [0, 2, 2],
    ]);
    await second.close();
  });

  it('seek and commit on a partition the member does not own throw GroupRebalanceError', async (t) => {
    const s = setup(t);
    const topic = s.topicName();
    await s.queue.ensureTopic(topic, 2);
    const c = await s.queue.subscribe({ group: rid('g'), topic, sessionTimeoutMs: SESSION_MS });
    assert.deepEqual([...c.assignment()], [0, 1]);
    assert.throws(() => c.seek(2, 0), GroupRebalanceError);
    await assert.rejects(c.commit([{ partition: 5, offset: 0 }]), GroupRebalanceError);
    await c.close();
    await assert.rejects(c.commit([{ partition: 0, offset: 0 }]), /closed/);
  });

  it('a member that stops polling keeps its partitions, buffers at most maxBufferedRecords, then reads on', async (t) => {
    const s = setup(t, { maxBufferedRecords: 5 });
    const topic = s.topicName();
    await s.queue.ensureTopic(topic, 2);
    const pointers = Array.from({ length: 40 }, (_, i) => testPointer(topic, i % 2, Math.floor(i / 2)));
    await s.queue.publish(topic, pointers);
    const c = (await s.queue.subscribe({
      group: rid('g'),
      topic,
      sessionTimeoutMs: SESSION_MS,
    })) as KafkaPointerConsumer;
    const assignments: number[][] = [];
    c.onAssignment((p) => assignments.push([...p]));
    await until('the buffer to fill', 20_000, () => c.bufferedRecords >= 5);
    // Longer than the session timeout without a poll: heartbeats must go on, and the buffer stay bounded.
    await sleep(SESSION_MS + 2000);
    assert.equal(c.bufferedRecords, 5, 'the buffer holds maxBufferedRecords, no more');
    assert.deepEqual(assignments, [], 'no rebalance: the member kept its session while not polling');
    assert.deepEqual([...c.assignment()], [0, 1]);
    const records: PointerRecord[] = [];
    await until('every pointer', 30_000, async () => {
      records.push(...(await c.poll({ timeoutMs: 200, maxRecords: 3 })));
      assert.ok(c.bufferedRecords <= 5);
      return records.length >= pointers.length;
    });
    assert.deepEqual(await c.poll({ timeoutMs: 300 }), []);
    for (const p of [0, 1]) {
      const offs = records.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual(
        offs,
        Array.from({ length: 20 }, (_, i) => i),
        `partition ${p}: every offset once, in order`,
      );
    }
    await c.close();
  });

  it('a member that is killed loses its partitions once its session times out', async (t) => {
    const s = setup(t);
    const topic = s.topicName();
    const P = 4;
    await s.queue.ensureTopic(topic, P);
    const group = rid('g');
    const survivor = await s.queue.subscribe({ group, topic, sessionTimeoutMs: SESSION_MS });
    const gains: number[][] = [];
    survivor.onAssignment((p) => gains.push([...p]));
    assert.deepEqual([...survivor.assignment()], [0, 1, 2, 3]);

    const { log: _log, ...childOptions } = s.options;
    const script = fileURLToPath(new URL('./test-support/group-member.js', import.meta.url));
    const child: ChildProcess = spawn(
      process.execPath,
      [script, JSON.stringify({ options: { ...childOptions, sessionTimeoutMs: SESSION_MS }, group, topic })],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let childAssignment: number[] = [];
    let lines = '';
    child.stdout?.on('data', (d: Buffer) => {
      lines += d.toString();
      let nl = lines.indexOf('\n');
      while (nl >= 0) {
        childAssignment = (JSON.parse(lines.slice(0, nl)) as { assignment: number[] }).assignment;
        lines = lines.slice(nl + 1);
        nl = lines.indexOf('\n');
      }
    });
    const drain = async () => {
      await survivor.poll({ timeoutMs: 100 });
    };
    await until('the child to take half the partitions', 60_000, async () => {
      await drain();
      const mine = survivor.assignment();
      return childAssignment.length > 0 && mine.length > 0 && mine.length + childAssignment.length === P;
    });
    const lost = [...childAssignment];
    assert.ok(
      lost.every((p) => !survivor.assignment().includes(p)),
      'disjoint',
    );

    const killedAt = Date.now();
    child.kill('SIGKILL');
    await once(child, 'exit');
    await until('the survivor to own every partition', 60_000, async () => {
      await drain();
      return survivor.assignment().length === P;
    });
    const took = Date.now() - killedAt;
    assert.deepEqual([...survivor.assignment()].sort(), [0, 1, 2, 3]);
    assert.deepEqual(gains.at(-1), [0, 1, 2, 3], 'onAssignment reported the partitions it gained');
    t.diagnostic(
      `killed member's partitions [${lost}] reassigned ${took} ms after SIGKILL (session ${SESSION_MS} ms)`,
    );
    // The survivor can commit the partitions it took over.
    await survivor.commit(lost.map((p) => ({ partition: p, offset: 0, messageIndex: 1 })));
    await survivor.close();
  });

  it('an unreachable Kafka makes every call fail with TransientError, in bounded time', async (t) => {
    const port = await freePort();
    const q = new KafkaPointerQueue(
      testOptions([`127.0.0.1:${port}`], {
        publishTimeoutMs: 5000,
        connectionTimeoutMs: 500,
        logLevel: 'nothing',
      }),
    );
    t.after(() => q.close());
    const bound = 5000 + 10_000;
    const expectTransient = async (p: Promise<unknown>, what: string) => {
      const started = Date.now();
      await bounded(
        assert.rejects(p, (e: unknown) => {
          assert.ok(e instanceof TransientError, `${what}: ${String(e)}`);
          assert.ok(e.retryable);
          assert.match(e.message, /127\.0\.0\.1|ECONNREFUSED|Kafka/);
          return true;
        }),
        bound,
        what,
      );
      t.diagnostic(`${what}: TransientError after ${Date.now() - started} ms`);
    };
    await expectTransient(q.publish('orders', [testPointer('orders', 0, 0)]), 'publish');
    await expectTransient(q.ensureTopic('orders', 2), 'ensureTopic');
    await expectTransient(q.subscribe({ group: 'g', topic: 'orders' }), 'subscribe');
    await expectTransient(q.watermarks('orders', 0), 'watermarks');
  });
});

/** Reads `count` records of `topic` with a plain kafkajs consumer. */
async function readRaw(
  brokers: string[],
  topic: string,
  count: number,
): Promise<{ partition: number; message: KafkaMessage }[]> {
  const consumer = rawKafka(brokers).consumer({
    groupId: rid('raw'),
    sessionTimeout: SESSION_MS,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
  });
  const got: { partition: number; message: KafkaMessage }[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, message });
      },
    });
    await until(`${count} raw records`, 20_000, () => got.length >= count);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** The record-batch header kafkajs attaches to each decoded record (not in its typings). */
function batchContext(m: KafkaMessage): { producerId: string; firstSequence: number } {
  const ctx = (m as unknown as { batchContext?: { producerId: string; firstSequence: number } }).batchContext;
  assert.ok(ctx, 'record has a batch context');
  return ctx;
}
