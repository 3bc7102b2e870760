import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApiKey, type CodecName, zstdAvailable } from '@barge/core';
import { Admin } from './admin.js';
import { BrokerConnection, BrokerUnreachableError } from './connection.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { partitionForKey } from './partitioner.js';
import { Producer, type ProducerOptions } from './producer.js';
import { CuttableProxy, startBroker, type TestBroker } from './test/broker.js';
import { clockPast, randomName, until } from './test/helpers.js';
import type { AckLevel, ConsumedMessage, ProducerMessage } from './types.js';

/**
 * Producer and Consumer against the real broker (`@barge/broker`) on real local storage and the
 * real embedded pointer queue, in a temp dir. Pointers come from the broker's consumer groups,
 * batches through its read proxy unless a test gives the consumer the storage.
 */
describe('Producer and Consumer with the real broker', () => {
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

  async function topic(
    settings: {
      writePartitions?: number;
      readPartitions?: number;
      maxDelayMs?: number;
      compression?: CodecName;
    } = {},
  ): Promise<string> {
    const name = randomName('t');
    await admin.createTopic({
      name,
      writePartitions: settings.writePartitions ?? 1,
      readPartitions: settings.readPartitions ?? 1,
      batch: { maxDelayMs: settings.maxDelayMs ?? 20 },
      compression: settings.compression ?? 'none',
    });
    return name;
  }

  function producer(extra: Partial<ProducerOptions> = {}): Producer {
    const p = new Producer({ brokers: [tb.address], lingerMs: 2, ...extra });
    open.push(p);
    return p;
  }

  function consumer(groupId = randomName('g'), extra: Partial<ConsumerOptions> = {}): Consumer {
    const c = new Consumer({ brokers: [tb.address], groupId, pollTimeoutMs: 100, ...extra });
    open.push(c);
    return c;
  }

  /** The next `n` messages from the consumer's iterator. */
  async function take(c: Consumer, n: number): Promise<ConsumedMessage[]> {
    const out: ConsumedMessage[] = [];
    if (n === 0) return out;
    for await (const m of c) {
      out.push(m);
      if (out.length === n) break;
    }
    return out;
  }

  const view = (m: ConsumedMessage) => ({
    key: m.key === null ? null : m.key.toString('hex'),
    value: m.value.toString('hex'),
    headers: m.headers.map((h) => [h.name, h.value.toString('hex')]),
    timestamp: m.timestamp,
  });

  const hex = (s: string | Uint8Array) => Buffer.from(s).toString('hex');

  for (const codec of ['none', 'gzip', 'lz4', 'zstd'] as const) {
    const skip =
      codec === 'zstd' && !zstdAvailable() && `this Node.js ${process.version} has no zstd in zlib`;
    for (const acks of ['durable', 'received', 'none'] as const) {
      it(`round trip with ${codec} chunks and acks=${acks}: keys, null key, empty value, binary, headers`, {
        skip,
      }, async () => {
        const t = await topic({ writePartitions: 2 });
        const p = producer({ compression: codec, acks });
        const input: ProducerMessage[] = [
          { key: 'user-1', value: 'hello', headers: [{ name: 'trace', value: 'abc' }] },
          { key: null, value: '' },
          { value: Buffer.from([0, 255, 1, 254]), headers: { a: 'x', b: ['y', Buffer.from([7])] } },
          { key: Buffer.alloc(0), value: 'empty key', timestamp: 1_700_000_000_000 },
          { key: 'user-1', value: 'x'.repeat(10_000) },
        ];
        const meta = await p.send({ topic: t, messages: input });
        assert.equal(meta.length, input.length);
        for (const [i, m] of meta.entries()) {
          assert.equal(m.topic, t);
          assert.equal(m.acks, acks);
          assert.equal(m.producerId, p.producerId);
          if (input[i]!.key === 'user-1') assert.equal(m.writePartition, partitionForKey('user-1', 2));
          if (acks === 'durable') {
            assert.ok(m.offset >= 0 && m.partition >= 0 && m.batchSequence >= 0 && m.messageIndex >= 0);
          } else if (acks === 'received') {
            assert.ok(m.messageIndex >= 0);
            assert.equal(m.offset, -1);
          } else {
            assert.equal(m.messageIndex, -1);
          }
        }
        const c = consumer();
        await c.subscribe({ topic: t });
        const got = await take(c, input.length);
        const byValue = new Map(got.map((m) => [m.value.toString('hex'), m]));
        assert.equal(byValue.size, input.length);
        const want = [
          { key: hex('user-1'), value: hex('hello'), headers: [['trace', hex('abc')]] },
          { key: null, value: '', headers: [] },
          {
            key: null,
            value: '00ff01fe',
            headers: [
              ['a', hex('x')],
              ['b', hex('y')],
              ['b', '07'],
            ],
          },
          { key: '', value: hex('empty key'), headers: [], timestamp: 1_700_000_000_000 },
          { key: hex('user-1'), value: hex('x'.repeat(10_000)), headers: [] },
        ];
        for (const w of want) {
          const m = byValue.get(w.value);
          assert.ok(m, `message ${w.value.slice(0, 20)} was delivered`);
          const v = view(m);
          assert.deepEqual(
            { key: v.key, value: v.value, headers: v.headers },
            { key: w.key, value: w.value, headers: w.headers },
          );
          if (w.timestamp !== undefined) assert.equal(v.timestamp, w.timestamp);
          assert.equal(m.producerId, p.producerId);
          assert.equal(m.topic, t);
        }
        if (acks === 'durable') {
          // the metadata points at the exact message
          for (const [i, rm] of meta.entries()) {
            const m = got.find(
              (x) =>
                x.offset === rm.offset && x.partition === rm.partition && x.messageIndex === rm.messageIndex,
            );
            assert.equal(m?.value.toString('hex'), hex(input[i]!.value));
            assert.equal(m?.sequence, rm.sequence);
          }
        }
      });
    }
  }

  it('keeps the order of every write partition with many requests in flight', async () => {
    const t = await topic({ writePartitions: 3, readPartitions: 2 });
    const p = producer({ lingerMs: 0, maxInFlight: 16, maxChunkBytes: 2_000 });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const sends: Promise<unknown>[] = [];
    for (let round = 0; round < 40; round++) {
      sends.push(
        p.send({
          topic: t,
          messages: keys.map((k) => ({ key: k, value: `${k}-${round}-${'.'.repeat(200)}` })),
        }),
      );
    }
    await Promise.all(sends);
    const c = consumer();
    await c.subscribe({ topic: t });
    const got = await take(c, 40 * keys.length);
    for (const k of keys) {
      const rounds = got
        .filter((m) => m.key?.toString() === k)
        .map((m) => Number(m.value.toString().split('-')[1]));
      assert.deepEqual(rounds, [...Array(40).keys()], `order of key ${k}`);
    }
    const perPartition = new Map<number, number[]>();
    for (const m of got) {
      assert.equal(m.writePartition, partitionForKey(m.key!, 3));
      perPartition.set(m.writePartition, [...(perPartition.get(m.writePartition) ?? []), m.sequence]);
    }
    for (const [wp, seqs] of perPartition) {
      assert.deepEqual(seqs, [...Array(seqs.length).keys()], `sequences of write partition ${wp}`);
    }
  });

  it('a retry after a cut connection creates duplicates that the consumer detects and skips', async () => {
    const t = await topic({ maxDelayMs: 300 });
    const proxy = new CuttableProxy(tb.address);
    await proxy.start();
    try {
      const p = producer({ brokers: [proxy.address], retry: { initialRetryTimeMs: 20, retries: 20 } });
      await p.connect();
      const values: string[] = [];
      // the broker's count of accepted messages, for every topic: only the growth is this test's
      const baseline = await tb.producedMessages();
      let accepted = 0;
      for (let round = 0; round < 3; round++) {
        const batch = Array.from({ length: 4 }, (_, i) => `r${round}-${i}`);
        values.push(...batch);
        const sent = p.send({ topic: t, messages: batch.map((value) => ({ value })) });
        // the broker has the chunk in its open batch (it waits 300 ms to close it): the ack is lost
        const target = baseline + accepted + batch.length;
        await waitFor(async () => (await tb.producedMessages()) >= target);
        assert.ok(proxy.cut() >= 1);
        await sent; // retried with the same chunk bytes, producer id and sequences
        accepted = (await tb.producedMessages()) - baseline;
      }
      assert.ok(
        accepted >= values.length * 2,
        `the broker accepted ${accepted} messages for ${values.length} sent`,
      );

      const raw = consumer(randomName('raw'), { dedup: false });
      await raw.subscribe({ topic: t });
      const all = await take(raw, accepted);
      assert.equal(all.length, accepted);
      const rawValues = all.map((m) => m.value.toString());
      assert.ok(rawValues.length > values.length, 'duplicates were stored');
      assert.deepEqual([...new Set(rawValues)].sort(), [...values].sort());

      const dedup = consumer(randomName('dedup'));
      await dedup.subscribe({ topic: t });
      const once: string[] = [];
      await dedup.run({ eachMessage: async ({ message }) => void once.push(message.value.toString()) });
      await until(() => once.length + dedup.skippedDuplicates >= accepted, 'every stored copy read');
      assert.deepEqual(once, values);
      assert.equal(dedup.skippedDuplicates, accepted - values.length);
    } finally {
      await proxy.close();
    }
  });

  it('keeps producing through a broker restart without losses or undetected duplicates', async () => {
    const t = await topic({ writePartitions: 2 });
    const p = producer({ retry: { initialRetryTimeMs: 50, retries: 30 } });
    const values: string[] = [];
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const batch = [`v${i}-a`, `v${i}-b`];
      values.push(...batch);
      sends.push(p.send({ topic: t, messages: batch.map((value) => ({ key: value.slice(0, -2), value })) }));
      if (i === 20) await tb.restart();
      if (i % 5 === 0) await sends[sends.length - 1];
    }
    await Promise.all(sends);
    const c = consumer();
    await c.subscribe({ topic: t });
    const got = await take(c, values.length);
    assert.deepEqual(got.map((m) => m.value.toString()).sort(), [...values].sort());
    // per key (one write partition each), the order of the sends
    for (let i = 0; i < 40; i++) {
      assert.deepEqual(
        got.filter((m) => m.key?.toString() === `v${i}`).map((m) => m.value.toString()),
        [`v${i}-a`, `v${i}-b`],
      );
    }
  });

  it('a new consumer of the group resumes after the last processed message, mid-batch (messageIndex)', async () => {
    const t = await topic({ maxDelayMs: 100 });
    const p = producer();
    const values = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const meta = await p.send({ topic: t, messages: values.map((value) => ({ value })) });
    assert.ok(
      meta.every((m) => m.offset === meta[0]!.offset),
      'one batch',
    );
    const group = randomName('g');
    const c1 = consumer(group);
    await c1.subscribe({ topic: t });
    const first = await take(c1, 5); // m0..m3 processed, the loop breaks on m4
    await c1.disconnect();
    assert.deepEqual(
      first.map((m) => m.value.toString()),
      values.slice(0, 5),
    );
    const c2 = consumer(group);
    await c2.subscribe({ topic: t });
    const rest = await take(c2, 6);
    assert.deepEqual(
      rest.map((m) => m.value.toString()),
      values.slice(4),
    );
    const committed = await c2.committed(t, [0]);
    assert.deepEqual(committed, [{ topic: t, partition: 0, offset: meta[0]!.offset, messageIndex: 4 }]);
  });

  it('run({ eachMessage }) commits automatically; a restart of the group continues after it', async () => {
    const t = await topic();
    const p = producer();
    await p.send({ topic: t, messages: ['a', 'b', 'c'].map((value) => ({ value })) });
    const group = randomName('g');
    const c1 = consumer(group, { autoCommitThreshold: 1 });
    await c1.subscribe({ topic: t });
    const seen: string[] = [];
    await c1.run({ eachMessage: async ({ message }) => void seen.push(message.value.toString()) });
    await until(() => seen.length === 3);
    await c1.disconnect();
    await p.send({ topic: t, messages: [{ value: 'd' }] });
    const c2 = consumer(group);
    await c2.subscribe({ topic: t });
    const next = await take(c2, 1);
    assert.equal(next[0]!.value.toString(), 'd');
  });

  it('heartbeats keep a member whose handler runs far longer than its session timeout', async () => {
    const t = await topic();
    const p = producer();
    await p.send({ topic: t, messages: ['slow', 'next'].map((value) => ({ value })) });
    const c = consumer(randomName('g'), { sessionTimeoutMs: 300 });
    const rebalances: (readonly number[])[] = [];
    c.on('rebalance', (_topic, partitions) => rebalances.push(partitions));
    await c.subscribe({ topic: t });
    const seen: string[] = [];
    await c.run({
      eachMessage: async ({ message }) => {
        if (message.value.toString() === 'slow') await new Promise((r) => setTimeout(r, 1_500));
        seen.push(message.value.toString());
      },
    });
    await until(() => seen.length === 2);
    await p.send({ topic: t, messages: [{ value: 'after' }] });
    await until(() => seen.length === 3);
    assert.deepEqual(seen, ['slow', 'next', 'after']);
    // joined once, never expired and re-joined
    assert.deepEqual(rebalances, [[0]]);
  });

  it('seek to an offset and message index, and to a timestamp', async () => {
    const t = await topic();
    const p = producer();
    const a = await p.send({ topic: t, messages: ['a0', 'a1', 'a2'].map((value) => ({ value })) });
    const before = Date.now();
    await clockPast(before);
    const ts = Date.now();
    await clockPast(ts);
    const b = await p.send({ topic: t, messages: ['b0', 'b1'].map((value) => ({ value })) });
    assert.notEqual(a[0]!.offset, b[0]!.offset);
    const c = consumer();
    await c.subscribe({ topic: t });
    assert.equal((await take(c, 5)).length, 5);
    await c.seekToTimestamp(ts);
    assert.deepEqual(
      (await take(c, 2)).map((m) => m.value.toString()),
      ['b0', 'b1'],
    );
    c.seek({ topic: t, partition: a[0]!.partition, offset: a[0]!.offset, messageIndex: 1 });
    assert.deepEqual(
      (await take(c, 4)).map((m) => m.value.toString()),
      ['a1', 'a2', 'b0', 'b1'],
    );
  });

  it('a group of three splits the read partitions and rebalances when one leaves', async () => {
    const t = await topic({ writePartitions: 6, readPartitions: 6 });
    const group = randomName('g');
    const members = [consumer(group), consumer(group), consumer(group)];
    const got = new Map<Consumer, ConsumedMessage[]>(members.map((m) => [m, []]));
    for (const m of members) {
      await m.subscribe({ topic: t });
      await m.run({ eachMessage: async ({ message }) => void got.get(m)!.push(message) });
    }
    const owned = () => members.map((m) => [...(m.assignment()[0]?.partitions ?? [])]);
    await until(() => owned().every((ps) => ps.length === 2), 'two partitions each');
    assert.deepEqual(owned().flat().sort(), [0, 1, 2, 3, 4, 5]);

    const p = producer();
    const send = (round: number) =>
      p.send({
        topic: t,
        messages: Array.from({ length: 6 }, (_, w) => ({ value: `r${round}-w${w}`, writePartition: w })),
      });
    await send(0);
    const total = () => [...got.values()].reduce((n, l) => n + l.length, 0);
    await until(() => total() === 6, 'round 0');
    for (const [m, list] of got) {
      const mine = new Set(m.assignment()[0]!.partitions);
      assert.equal(list.length, 2);
      assert.ok(list.every((msg) => mine.has(msg.partition)));
    }

    const leaving = members[2]!;
    await leaving.disconnect();
    const stay = members.slice(0, 2);
    await until(() => stay.every((m) => m.assignment()[0]?.partitions.length === 3), 'three partitions each');
    await send(1);
    const round = (r: string) => [...got.values()].flat().filter((msg) => msg.value.toString().startsWith(r));
    await until(() => round('r1').length === 6, 'round 1');
    // each member got round 1 from exactly the partitions it owns now
    for (const m of stay) {
      const mine = m.assignment()[0]!.partitions;
      const r1 = got.get(m)!.filter((msg) => msg.value.toString().startsWith('r1'));
      assert.deepEqual(r1.map((msg) => msg.partition).sort(), [...mine].sort());
    }
    assert.equal(round('r1').filter((m) => got.get(leaving)!.includes(m)).length, 0);
    // round 0 was delivered at least once (a partition that moved before its owner committed is
    // delivered again to its new owner: at-least-once)
    assert.deepEqual(
      [...new Set(round('r0').map((m) => m.value.toString()))].sort(),
      [0, 1, 2, 3, 4, 5].map((w) => `r0-w${w}`),
    );
  });

  it('reading through the read proxy gives the same messages as reading storage directly', async () => {
    const t = await topic({ writePartitions: 2, readPartitions: 2 });
    const p = producer({ compression: 'gzip' });
    const input = Array.from({ length: 50 }, (_, i) => ({
      key: i % 3 === 0 ? null : `k${i % 7}`,
      value: Buffer.from(`value-${i}-${'z'.repeat(i * 10)}`),
      headers: [{ name: 'i', value: String(i) }],
    }));
    await p.send({ topic: t, messages: input });
    const proxied = consumer();
    const direct = consumer(randomName('g'), { storage: tb.storage });
    await proxied.subscribe({ topic: t });
    await direct.subscribe({ topic: t });
    const sort = (l: ConsumedMessage[]) =>
      l
        .map((m) => ({
          ...view(m),
          partition: m.partition,
          offset: m.offset,
          index: m.messageIndex,
          seq: m.sequence,
        }))
        .sort((x, y) => x.partition - y.partition || x.offset - y.offset || x.index - y.index);
    const a = sort(await take(proxied, input.length));
    const b = sort(await take(direct, input.length));
    assert.equal(a.length, input.length);
    assert.deepEqual(a, b);
  });

  it('reads a batch larger than the broker frame limit through the read proxy, in ranges', async () => {
    const small = await startBroker({ limits: { maxFrameBytes: 64 * 1024 } });
    const smallAdmin = new Admin({ brokers: [small.address] });
    try {
      const t = randomName('big');
      await smallAdmin.createTopic({ name: t, batch: { maxDelayMs: 300, maxBytes: 4 * 1024 * 1024 } });
      const meta = await smallAdmin.metadata([t]);
      const p = new Producer({ brokers: [small.address], maxChunkBytes: 16 * 1024, lingerMs: 0 });
      const values = Array.from({ length: 40 }, (_, i) =>
        `${i}:`.padEnd(8_000, String.fromCharCode(97 + (i % 26))),
      );
      const sends = values.map((value) => p.send({ topic: t, messages: [{ value }] }));
      const rm = await Promise.all(sends);
      await p.disconnect();
      const c = new Consumer({ brokers: [small.address], groupId: randomName('g'), pollTimeoutMs: 100 });
      await c.subscribe({ topic: t });
      const got = await take(c, values.length);
      await c.disconnect();
      assert.deepEqual(
        got.map((m) => m.value.toString()),
        values,
      );
      // at least one batch object is bigger than one ReadObject response can carry
      const offsets = [...new Set(rm.flat().map((r) => r.offset))];
      assert.ok(offsets.length < values.length, 'several messages per batch');
      const sizes = await Promise.all((await small.storage.listPage('topics/')).objects.map((o) => o.size));
      assert.ok(
        sizes.some((s) => s > meta.maxReadBytes),
        `some object (${sizes.join(', ')}) is larger than maxReadBytes ${meta.maxReadBytes}`,
      );
    } finally {
      await smallAdmin.disconnect();
      await small.close();
    }
  });

  it('send waits for buffer space (back-pressure) and still delivers everything', async () => {
    const t = await topic();
    const p = producer({ bufferBytes: 4_000, lingerMs: 0 });
    const values = Array.from({ length: 60 }, (_, i) => `${i}`.padEnd(500, '.'));
    let peak = 0;
    const sends = values.map((value) =>
      p.send({ topic: t, messages: [{ value }] }).then((r) => {
        peak = Math.max(peak, p.bufferedBytes);
        return r;
      }),
    );
    const tick = setInterval(() => {
      peak = Math.max(peak, p.bufferedBytes);
    }, 1);
    await Promise.all(sends);
    clearInterval(tick);
    assert.ok(peak <= 4_000, `buffered ${peak} bytes with a 4000-byte budget`);
    const c = consumer();
    await c.subscribe({ topic: t });
    const got = await take(c, values.length);
    assert.deepEqual(
      got.map((m) => m.value.toString()),
      values,
    );
  });

  it('pipelines many requests on one connection', async () => {
    const conn = new BrokerConnection(tb.address, { clientId: 'pipeline-test' });
    try {
      const topics = await Promise.all(
        Array.from({ length: 100 }, () => conn.request(ApiKey.ListTopics, {})),
      );
      assert.equal(topics.length, 100);
      assert.ok(topics.every((r) => Array.isArray(r.topics)));
      assert.ok(conn.brokerId >= 0);
    } finally {
      await conn.close();
    }
  });
});

describe('unreachable broker', () => {
  it('names the address in a BrokerUnreachableError', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const p = new Producer({ brokers: [`127.0.0.1:${port}`], retry: { retries: 0 } });
    await assert.rejects(p.connect(), (e: unknown) => {
      assert.ok(e instanceof BrokerUnreachableError);
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
    await p.disconnect();
  });

  it('an acks level outside none/received/durable is a configuration error', () => {
    assert.throws(() => new Producer({ brokers: ['127.0.0.1:1'], acks: 'all' as AckLevel }), /acks/);
  });
});

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}
