import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin, Consumer, Producer, type SaslOptions } from '@barge/client';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir } from '../harness.js';

// Per-principal quotas against real `barge broker` processes. With authentication off every
// client is the principal ANONYMOUS, so `security.quotas.principals.ANONYMOUS` applies to all of
// them together. Rates are compared within the run: the same client against a broker without
// quotas is the baseline.

const MiB = 1024 * 1024;
const QUOTA = MiB;
const SEND_BYTES = 256 * 1024;
const VALUE = Buffer.alloc(16 * 1024, 'q');
const TOPICS = ['flow', 'spare'];

interface Started {
  broker: BrokerProcess;
  admin: string;
  data: string;
}

async function start(name: string, quotas: string, data?: string): Promise<Started> {
  const dir = data ?? (await tempDir(`barge-quotas-${name}-`)).path;
  const config = join(dir, 'barge.yaml');
  const topics = TOPICS.map((t) => `  - { name: ${t}, batch: { maxDelayMs: 10 } }`).join('\n');
  await writeFile(config, `topics:\n${topics}\nsecurity:\n  quotas:\n${quotas}\n`);
  const admin = `127.0.0.1:${await freePort()}`;
  const broker = await startBroker(['--config', config, '--data', dir, '--admin', admin]);
  return { broker, admin, data: dir };
}

/** Sends `SEND_BYTES` requests for `ms`; the achieved rate and the throttle events seen. */
async function produceFor(address: string, ms: number) {
  const producer = new Producer({ brokers: [address] });
  const throttles: number[] = [];
  producer.on(producer.events.THROTTLE, (e) => throttles.push(e.payload.throttleTimeMs));
  await producer.connect();
  const messages = Array.from({ length: SEND_BYTES / VALUE.length }, () => ({ value: VALUE }));
  const started = Date.now();
  let bytes = 0;
  while (Date.now() - started < ms) {
    await producer.send({ topic: 'flow', messages });
    bytes += SEND_BYTES;
  }
  const rate = (bytes * 1000) / (Date.now() - started);
  await producer.disconnect();
  return { rate, bytes, throttles };
}

/** Consumes `bytes` of message values from the beginning through the read proxy; the rate and throttle events. */
async function consumeBytes(address: string, bytes: number) {
  const consumer = new Consumer({ brokers: [address], groupId: `g-${Date.now()}` });
  const throttles: number[] = [];
  consumer.on(consumer.events.THROTTLE, (e) => throttles.push(e.payload.throttleTimeMs));
  await consumer.connect();
  await consumer.subscribe({ topic: 'flow', fromBeginning: true });
  let got = 0;
  const started = Date.now();
  let elapsed = 0;
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          got += message.value.length;
          if (got >= bytes && elapsed === 0) {
            elapsed = Date.now() - started;
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return { rate: (got * 1000) / elapsed, throttles };
}

async function metric(admin: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('quotas per principal (real broker processes)', { timeout: 90_000 }, () => {
  let open: Started;
  let limited: Started;
  before(async () => {
    [open, limited] = await Promise.all([
      start('open', '    default: {}'),
      start(
        'limited',
        `    principals:\n      ANONYMOUS: { produceBytesPerSec: ${QUOTA}, readBytesPerSec: 1MiB, connections: 3, topics: 2 }`,
      ),
    ]);
  });
  after(async () => {
    await Promise.all([open?.broker.stop(), limited?.broker.stop()]);
  });

  it('refuses a connection past the connections quota with a message naming the principal and the quota', async () => {
    const admins: Admin[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const a = new Admin({ brokers: [limited.broker.address] });
        await a.connect();
        admins.push(a);
      }
      const extra = new Admin({ brokers: [limited.broker.address], retry: { retries: 0 } });
      await assert.rejects(extra.connect(), (e: Error) => {
        assert.match(
          e.message,
          /^QUOTA_EXCEEDED: principal "ANONYMOUS" has 3 connections to this broker, its quota \(security\.quotas\.principals\["ANONYMOUS"\]\.connections: 3\)/,
        );
        return true;
      });
      // The broker without the quota takes as many.
      const more = new Admin({ brokers: [open.broker.address] });
      await more.connect();
      admins.push(more);
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()));
    }
    assert.equal(
      await metric(limited.admin, 'barge_quota_exceeded_total', 'principal="ANONYMOUS",kind="connections"'),
      1,
    );
  });

  it('holds a producer near its produce quota; without the quota the same producer is much faster', async (t) => {
    const fast = await produceFor(open.broker.address, 2000);
    const slow = await produceFor(limited.broker.address, 3000);
    t.diagnostic(
      `produce B/s: ${Math.round(fast.rate)} without quota, ${Math.round(slow.rate)} with ${QUOTA}`,
    );
    assert.equal(fast.throttles.length, 0, 'no throttle without a quota');
    assert.ok(slow.throttles.length > 0 && Math.max(...slow.throttles) > 0, 'throttle times reported');
    assert.ok(slow.rate < 2 * QUOTA, `throttled rate ${Math.round(slow.rate)} B/s is below twice the quota`);
    assert.ok(
      fast.rate > 3 * slow.rate,
      `unthrottled ${Math.round(fast.rate)} B/s vs ${Math.round(slow.rate)} B/s`,
    );
    const labels = 'principal="ANONYMOUS",kind="produce"';
    assert.ok((await metric(limited.admin, 'barge_quota_throttle_ms_total', labels)) > 0);
    assert.ok((await metric(limited.admin, 'barge_quota_bytes_total', labels)) >= slow.bytes);
  });

  it('holds back a consumer reading through the read proxy', async (t) => {
    const wanted = 3 * MiB;
    const fast = await consumeBytes(open.broker.address, wanted);
    const slow = await consumeBytes(limited.broker.address, wanted);
    t.diagnostic(`read B/s: ${Math.round(fast.rate)} without quota, ${Math.round(slow.rate)} with ${QUOTA}`);
    assert.equal(fast.throttles.length, 0);
    assert.ok(slow.throttles.length > 0, 'throttle times reported');
    assert.ok(
      slow.rate < 2 * QUOTA,
      `throttled read rate ${Math.round(slow.rate)} B/s is below twice the quota`,
    );
    assert.ok(
      fast.rate > 3 * slow.rate,
      `unthrottled ${Math.round(fast.rate)} B/s vs ${Math.round(slow.rate)} B/s`,
    );
  });

  it('refuses the CreateTopic past the topics quota, creates nothing, and still counts after a restart', async () => {
    const admin = new Admin({ brokers: [limited.broker.address] });
    await admin.connect();
    try {
      await admin.createTopic({ name: 'mine-1' });
      await admin.createTopic({ name: 'mine-2' });
      const refused =
        /QUOTA_EXCEEDED: principal "ANONYMOUS" may create at most 2 topics and created 2 \(quota security\.quotas\.principals\["ANONYMOUS"\]\.topics\); topic "mine-3" was not created/;
      await assert.rejects(admin.createTopic({ name: 'mine-3' }), refused);
      // An existing topic is not a new one: ifNotExists still succeeds at the quota.
      await admin.createTopic({ name: 'mine-1', ifNotExists: true });
      const names = (await admin.listTopics()).map((t) => t.name);
      assert.deepEqual(names.sort(), ['flow', 'mine-1', 'mine-2', 'spare']);
      const meta = JSON.parse(await readFile(join(limited.data, 'objects/_meta/topics/mine-1.json'), 'utf8'));
      assert.equal(meta.createdBy, 'ANONYMOUS');
      await assert.rejects(readFile(join(limited.data, 'objects/_meta/topics/mine-3.json')), /ENOENT/);
    } finally {
      await admin.disconnect();
    }
    await limited.broker.stop();
    limited = await start('limited', '    principals:\n      ANONYMOUS: { topics: 2 }', limited.data);
    const again = new Admin({ brokers: [limited.broker.address] });
    await again.connect();
    try {
      await assert.rejects(again.createTopic({ name: 'mine-3' }), /QUOTA_EXCEEDED/);
    } finally {
      await again.disconnect();
    }
  });
});

describe('quotas of two authenticated users (real broker process)', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  const user = (username: string): SaslOptions => ({
    mechanism: 'SCRAM-SHA-256',
    username,
    password: `${username}-quota-pw`,
  });
  const admin = async (sasl: SaslOptions) => {
    const a = new Admin({ brokers: [broker.address], sasl, retry: { retries: 0 } });
    await a.connect();
    await a.listTopics(); // the connection counts from its first request after authentication
    return a;
  };

  before(async () => {
    dir = await tempDir('barge-quotas-users-');
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(dir.path)} }`,
        'security:',
        '  authentication: [SCRAM-SHA-256]',
        '  superUsers: [alice, bob]', // ACLs are not what this file tests
        '  quotas:',
        '    default: { connections: 2 }',
        '    principals: { alice: { connections: 1, topics: 1 } }',
        '',
      ].join('\n'),
    );
    for (const name of ['alice', 'bob']) {
      const add = await runCli(['users', 'add', name, '--config', config], { stdin: `${name}-quota-pw\n` });
      assert.equal(add.code, 0, add.stderr);
    }
    broker = await startBroker(['--config', config]);
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('counts connections and created topics per user', async () => {
    const alice = await admin(user('alice'));
    const bobs = [await admin(user('bob')), await admin(user('bob'))];
    try {
      await assert.rejects(
        admin(user('alice')),
        /QUOTA_EXCEEDED: principal "alice" has 1 connections to this broker, its quota \(security\.quotas\.principals\["alice"\]\.connections: 1\)/,
      );
      await assert.rejects(
        admin(user('bob')),
        /QUOTA_EXCEEDED: principal "bob" has 2 connections to this broker, its quota \(security\.quotas\.default\.connections: 2\)/,
      );
      await alice.createTopic({ name: 'alice-1' });
      await assert.rejects(
        alice.createTopic({ name: 'alice-2' }),
        /principal "alice" may create at most 1 topics/,
      );
      // bob has no topics quota; alice's topic does not count for him.
      await bobs[0]!.createTopic({ name: 'bob-1' });
      await bobs[0]!.createTopic({ name: 'bob-2' });
      const meta = JSON.parse(await readFile(join(dir.path, 'objects/_meta/topics/bob-1.json'), 'utf8'));
      assert.equal(meta.createdBy, 'bob');
    } finally {
      await Promise.all([alice, ...bobs].map((a) => a.disconnect()));
    }
  });
});
