import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '@barge/core';
import { Admin } from './admin.js';
import { RequestTimeoutError } from './connection.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import type { InstrumentationEvent } from './instrumentation.js';
import { Producer } from './producer.js';
import { CuttableProxy, startBroker, type TestBroker } from './test/broker.js';
import { randomName, until } from './test/helpers.js';

/** kafkajs-style instrumentation events (`on(name, listener)` → remover) of every client, against the real broker. */
describe('instrumentation events', () => {
  let tb: TestBroker;
  let admin: Admin;
  const open: { disconnect(): Promise<void> }[] = [];

  before(async () => {
    tb = await startBroker();
    admin = new Admin({ brokers: [tb.address] });
  });
  after(async () => {
    for (const c of open.splice(0).reverse()) await c.disconnect().catch(() => {});
    await admin.disconnect();
    await tb.close();
  });

  async function topic(readPartitions = 1): Promise<string> {
    const name = randomName('t');
    await admin.createTopic({
      name,
      writePartitions: readPartitions,
      readPartitions,
      batch: { maxDelayMs: 20 },
    });
    return name;
  }

  function consumer(groupId: string, extra: Partial<ConsumerOptions> = {}): Consumer {
    const c = new Consumer({ brokers: [tb.address], groupId, pollTimeoutMs: 100, ...extra });
    open.push(c);
    return c;
  }

  /** Every event of the given names, in order. */
  function record<E extends string>(
    client: { on(type: E, l: (e: InstrumentationEvent<unknown>) => void): () => void },
    types: readonly E[],
  ): { events: InstrumentationEvent<Record<string, unknown>>[] } {
    const events: InstrumentationEvent<Record<string, unknown>>[] = [];
    for (const t of types) client.on(t, (e) => events.push(e as never));
    return { events };
  }

  it('producer: connect, network.request, batch_acked (matching the record metadata) and disconnect', async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address], lingerMs: 0 });
    assert.equal(p.events.BATCH_ACKED, 'producer.batch_acked');
    const { events } = record(p, Object.values(p.events));
    await p.connect();
    const meta = await p.send({ topic: t, messages: [{ value: 'a' }, { value: 'b' }] });
    await p.disconnect();

    const types = events.map((e) => e.type).filter((type) => !type.includes('.network.'));
    assert.deepEqual(types, ['producer.connect', 'producer.batch_acked', 'producer.disconnect']);
    const connect = events.find((e) => e.type === 'producer.connect');
    assert.deepEqual(connect?.payload, { brokers: [tb.address], broker: tb.address });
    const requests = events.filter((e) => e.type === 'producer.network.request').map((e) => e.payload);
    const produce = requests.find((r) => r.apiName === 'Produce');
    assert.ok(produce, `a Produce request among ${requests.map((r) => r.apiName).join(', ')}`);
    assert.equal(produce.broker, tb.address);
    assert.ok((produce.duration as number) >= 0 && (produce.size as number) > 0);
    const acked = events.filter((e) => e.type === 'producer.batch_acked').map((e) => e.payload);
    assert.deepEqual(acked, [
      {
        topic: t,
        writePartition: 0,
        acks: 'durable',
        messages: 2,
        bytes: acked[0]!.bytes,
        firstSequence: 0,
        retries: 0,
        batchSequence: meta[0]!.batchSequence,
        partition: meta[0]!.partition,
        offset: meta[0]!.offset,
      },
    ]);
    assert.ok((acked[0]!.bytes as number) > 0);
    // ids grow by one, timestamps are times
    assert.deepEqual(
      events.map((e) => e.id),
      events.map((_, i) => i),
    );
    assert.ok(events.every((e) => Math.abs(e.timestamp - Date.now()) < 60_000));
  });

  it('the remover stops a listener; an unknown event name throws at once', async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address], lingerMs: 0 });
    open.push(p);
    let acks = 0;
    const remove = p.on('producer.batch_acked', () => acks++);
    await p.send({ topic: t, messages: [{ value: 'one' }] });
    remove();
    await p.send({ topic: t, messages: [{ value: 'two' }] });
    assert.equal(acks, 1);
    assert.throws(() => p.on('producer.nope' as never, () => {}), InvalidInputError);
    assert.throws(
      () => consumer('g').on('consumer.nope' as never, () => {}),
      /unknown event "consumer.nope"/,
    );
  });

  it('a listener that throws does not disturb the producer', async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address], lingerMs: 0 });
    open.push(p);
    p.on('producer.batch_acked', () => {
      throw new Error('listener bug');
    });
    const meta = await p.send({ topic: t, messages: [{ value: 'still sent' }] });
    assert.equal(meta.length, 1);
  });

  it('consumer: connect, group_join, rebalancing when a member joins, commit_offsets, crash, disconnect', async () => {
    const t = await topic(2);
    const group = randomName('g');
    const c1 = consumer(group, { autoCommitThreshold: 1, retry: { retries: 0 } });
    const { events } = record(c1, Object.values(c1.events));
    const legacyCrash: unknown[] = [];
    c1.on('crash', (e) => legacyCrash.push(e)); // the earlier positional event still works
    await c1.subscribe({ topic: t });
    const seen: string[] = [];
    await c1.run({
      eachMessage: async ({ message }) => {
        if (message.value.toString() === 'poison') throw new Error('cannot handle poison');
        seen.push(message.value.toString());
      },
    });
    const of = (type: string) => events.filter((e) => e.type === type).map((e) => e.payload);
    assert.deepEqual(of('consumer.connect'), [{ brokers: [tb.address], broker: tb.address }]);
    const [join] = of('consumer.group_join');
    assert.equal(join?.groupId, group);
    assert.equal(join?.topic, t);
    assert.match(String(join?.memberId), /.+/);
    assert.deepEqual(join?.memberAssignment, { [t]: [0, 1] });

    // a second member takes one partition: the first hears of it
    const c2 = consumer(group);
    await c2.subscribe({ topic: t });
    await c2.run({ eachMessage: async () => {} });
    await until(() => of('consumer.rebalancing').length > 0, 'rebalancing');
    const moved = of('consumer.rebalancing')[0]!;
    assert.deepEqual(moved.previous, [0, 1]);
    assert.equal((moved.assignment as number[]).length, 1);
    assert.equal(moved.memberId, join?.memberId);

    // messages to the partition c1 kept: processed and committed, then a handler failure crashes it
    const kept = (moved.assignment as number[])[0]!;
    const p = new Producer({ brokers: [tb.address] });
    open.push(p);
    const [ok] = await p.send({ topic: t, messages: [{ value: 'fine', writePartition: kept }] });
    await until(() => of('consumer.commit_offsets').length > 0, 'commit_offsets');
    assert.deepEqual(of('consumer.commit_offsets')[0], {
      groupId: group,
      topics: [{ topic: t, partitions: [{ partition: kept, offset: ok!.offset + 1, messageIndex: 0 }] }],
    });
    await p.send({ topic: t, messages: [{ value: 'poison', writePartition: kept }] });
    await until(() => of('consumer.crash').length > 0, 'crash');
    const crash = of('consumer.crash')[0]!;
    assert.equal(crash.groupId, group);
    assert.equal(crash.restart, false);
    assert.match(String((crash.error as Error).message), /cannot handle poison/);
    assert.equal(legacyCrash[0], crash.error);
    assert.deepEqual(seen, ['fine']);

    await c1.disconnect();
    assert.equal(events.at(-1)?.type, 'consumer.disconnect');
  });

  it('admin: network.request, and network.request_timeout when the broker stops answering', async () => {
    const proxy = new CuttableProxy(tb.address);
    await proxy.start();
    const a = new Admin({ brokers: [proxy.address], requestTimeout: 300, retry: { retries: 0 } });
    open.push(a);
    try {
      const { events } = record(a, [a.events.REQUEST, a.events.REQUEST_TIMEOUT, a.events.CONNECT]);
      await a.connect();
      await a.listTopics();
      proxy.stalled = true;
      await assert.rejects(a.listTopics(), RequestTimeoutError);
      const types = events.map((e) => e.type);
      assert.deepEqual(types, [
        'admin.network.request', // ApiVersions, while connecting
        'admin.connect',
        'admin.network.request',
        'admin.network.request_timeout',
      ]);
      assert.equal(events[2]!.payload.apiName, 'ListTopics');
      const timeout = events[3]!.payload;
      assert.equal(timeout.apiName, 'ListTopics');
      assert.equal(timeout.broker, proxy.address);
      assert.equal(timeout.timeoutMs, 300);
    } finally {
      await proxy.close();
    }
  });
});
