import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, InvalidInputError } from '@barge/core';
import { Admin } from './admin.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { Producer } from './producer.js';
import { freePort, startBroker, type TestBroker } from './test/broker.js';
import { randomName, until } from './test/helpers.js';
import type { ConsumedMessage, ProducerMessage } from './types.js';

/**
 * Programming errors fail at once with an error naming the field, and are never retried; values
 * kafkajs users pass (string offsets and timestamps, numeric acks) work. Against the real broker.
 */
describe('programming errors and kafkajs-style values', () => {
  let tb: TestBroker;
  let admin: Admin;
  let dead: string;
  const open: { disconnect(): Promise<void> }[] = [];

  before(async () => {
    tb = await startBroker();
    admin = new Admin({ brokers: [tb.address] });
    dead = `127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    for (const c of open.splice(0).reverse()) await c.disconnect().catch(() => {});
    await admin.disconnect();
    await tb.close();
  });

  async function topic(): Promise<string> {
    const name = randomName('t');
    await admin.createTopic({ name, batch: { maxDelayMs: 20 } });
    return name;
  }

  function consumer(extra: Partial<ConsumerOptions> = {}): Consumer {
    const c = new Consumer({ brokers: [tb.address], groupId: randomName('g'), pollTimeoutMs: 100, ...extra });
    open.push(c);
    return c;
  }

  async function take(c: Consumer, n: number): Promise<string[]> {
    const out: ConsumedMessage[] = [];
    for await (const m of c) {
      out.push(m);
      if (out.length === n) break;
    }
    return out.map((m) => m.value.toString());
  }

  /** Resolves with how long `p` took to reject, checking the error. */
  async function rejectsAtOnce(p: Promise<unknown>, error: RegExp): Promise<void> {
    const t0 = Date.now();
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof InvalidInputError || e instanceof ConfigError, String(e));
      assert.match((e as Error).message, error);
      return true;
    });
    assert.ok(Date.now() - t0 < 200, `rejected after ${Date.now() - t0} ms`);
  }

  it('a RegExp subscription, or a topic that is not a name, throws at subscribe', async () => {
    const c = new Consumer({ brokers: [dead], groupId: 'g' });
    await rejectsAtOnce(
      c.subscribe({ topic: /^logs-/ as never }),
      /a RegExp \(\/\^logs-\/\) is not supported/,
    );
    await rejectsAtOnce(c.subscribe({ topics: 'logs' as never }), /topics must be an array/);
    await rejectsAtOnce(
      c.subscribe({ topics: ['ok', 42 as never] }),
      /topic must be a topic name \(a string\), got 42/,
    );
    await rejectsAtOnce(c.subscribe({ topic: 'bad name' }), /topic name "bad name" is invalid/);
    await rejectsAtOnce(c.subscribe(undefined as never), /subscribe needs \{ topic \}/);
    await rejectsAtOnce(c.run({ eachMessage: 'print' as never }), /eachMessage must be an async function/);
  });

  it('a message of the wrong type fails send at once, before connecting (the broker is unreachable)', async () => {
    const p = new Producer({ brokers: [dead] });
    const bad: [ProducerMessage, RegExp][] = [
      [{ value: 42 as never }, /message 0: value must be a Buffer, Uint8Array or string, got number 42/],
      [{ value: null as never }, /got null \(Barge has no tombstones\)/],
      [{ key: 7 as never, value: 'v' }, /message 0: key must be .*, got number 7/],
      [{ value: 'v', headers: { h: 1 as never } }, /message 0: header h must be/],
      [{ value: 'v', headers: [{ name: 'h' }] as never }, /message 0: header 0 must be/],
      [{ value: 'v', timestamp: 'yesterday' }, /message 0: timestamp must be an integer/],
      [{ value: 'v', writePartition: -1 }, /message 0: writePartition must be an integer >= 0/],
    ];
    for (const [m, error] of bad) await rejectsAtOnce(p.send({ topic: 't', messages: [m] }), error);
    await rejectsAtOnce(
      p.send({ topic: 't', messages: [{ value: 'v' }], acks: 'all' as never }),
      /acks must be/,
    );
    await p.disconnect();
  });

  it('send after disconnect, and during it, fails at once', async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address] });
    await p.send({ topic: t, messages: [{ value: 'before' }] });
    const disconnecting = p.disconnect();
    await rejectsAtOnce(p.send({ topic: t, messages: [{ value: 'during' }] }), /send after disconnect/);
    await disconnecting;
    await rejectsAtOnce(p.send({ topic: t, messages: [{ value: 'after' }] }), /send after disconnect/);
    await rejectsAtOnce(p.connect(), /disconnected; create a new Producer/);
  });

  it("kafkajs's numeric acks and string timestamps are accepted", async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address], acks: 1 });
    open.push(p);
    const [received] = await p.send({ topic: t, messages: [{ value: 'a', timestamp: '1700000000000' }] });
    assert.equal(received!.acks, 'received');
    const [durable] = await p.send({ topic: t, acks: -1, messages: [{ value: 'b' }] });
    assert.equal(durable!.acks, 'durable');
    const c = consumer();
    await c.subscribe({ topic: t });
    for await (const m of c) {
      assert.equal(m.timestamp, 1_700_000_000_000);
      break;
    }
  });

  it('seek and commitOffsets take string offsets; -2 and -1 seek to the earliest and the latest', async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address] });
    open.push(p);
    const offsets: number[] = [];
    for (const value of ['a', 'b', 'c'])
      offsets.push((await p.send({ topic: t, messages: [{ value }] }))[0]!.offset);
    const c = consumer();
    await c.subscribe({ topic: t });
    assert.deepEqual(await take(c, 3), ['a', 'b', 'c']);

    await c.seek({ topic: t, partition: 0, offset: String(offsets[1]) });
    assert.deepEqual(await take(c, 2), ['b', 'c']);
    await c.seek({ topic: t, partition: 0, offset: '-2' });
    assert.deepEqual(await take(c, 3), ['a', 'b', 'c']);
    await c.seek({ topic: t, partition: 0, offset: -1 });
    const next = take(c, 1);
    await new Promise((r) => setTimeout(r, 300));
    await p.send({ topic: t, messages: [{ value: 'new' }] });
    assert.deepEqual(await next, ['new']);

    await c.commitOffsets([{ topic: t, partition: 0, offset: String(offsets[2]), messageIndex: '0' }]);
    assert.deepEqual(await c.committed(t, [0]), [
      { topic: t, partition: 0, offset: offsets[2], messageIndex: 0 },
    ]);
  });

  it('bad offsets throw at once, naming the field', async () => {
    const t = await topic();
    const p = new Producer({ brokers: [tb.address] });
    open.push(p);
    await p.send({ topic: t, messages: [{ value: 'x' }] });
    const c = consumer();
    await c.subscribe({ topic: t });
    const seen: string[] = [];
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.value.toString()) });
    await until(() => seen.length === 1);
    const seek =
      (offset: unknown, extra = {}) =>
      () =>
        c.seek({ topic: t, partition: 0, offset: offset as never, ...extra });
    assert.throws(seek('abc'), /seek offset must be a pointer offset .* got "abc"/);
    assert.throws(seek(1.5), /seek offset must be .* got 1.5/);
    assert.throws(seek('-3'), /seek offset must be .* got "-3"/);
    assert.throws(seek(undefined), /seek offset must be .* got undefined/);
    assert.throws(seek(0, { messageIndex: 'x' }), /seek messageIndex must be an integer >= 0/);
    assert.throws(seek(0, { partition: '0' }), /seek partition must be an integer >= 0, got "0"/);
    const commit = (offset: unknown) =>
      c.commitOffsets([{ topic: t, partition: 0, offset: offset as never }]);
    await rejectsAtOnce(
      commit('-1'),
      /commitOffsets offset must be .* \(latest\/earliest can be sought with seek/,
    );
    await rejectsAtOnce(commit('12abc'), /commitOffsets offset must be .* got "12abc"/);
    await rejectsAtOnce(commit(null), /commitOffsets offset must be .* got null/);
  });

  it('bad options are configuration errors naming the option', () => {
    const brokers = [dead];
    assert.throws(
      () => new Producer({ brokers, retry: { retries: -1 } }),
      /retry.retries must be an integer >= 0/,
    );
    assert.throws(
      () => new Producer({ brokers, retry: { initialRetryTime: '100' as never } }),
      /retry.initialRetryTime/,
    );
    assert.throws(
      () => new Consumer({ brokers, groupId: 'g', connectionTimeout: 0 }),
      /connectionTimeout must be/,
    );
    assert.throws(
      () => new Consumer({ brokers, groupId: 'g', fromBeginning: 'yes' as never }),
      /fromBeginning/,
    );
    assert.throws(() => new Admin({ brokers, requestTimeout: 10, requestTimeoutMs: 20 }), /disagree/);
  });
});
