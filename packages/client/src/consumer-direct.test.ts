import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ObjectStorage } from '@barge/core';
import type { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { Consumer } from './consumer.js';
import { clockPast, localParts, messages, publishBatch, randomName, until } from './test/helpers.js';
import type { ConsumedMessage } from './types.js';

/**
 * The consumer in direct mode: pointers from a real embedded pointer queue, batches from real
 * local storage, batches written with the core encoders (no broker), so each test controls the
 * exact batch contents: chunk boundaries, producer ids, sequences, duplicates, timestamps.
 */
describe('Consumer (direct: embedded pointer queue + local storage)', () => {
  let storage: ObjectStorage;
  let queue: EmbeddedPointerQueue;
  let close: () => Promise<void>;

  before(async () => {
    ({ storage, queue, close } = await localParts());
  });
  after(async () => {
    await close();
  });

  const consumer = (groupId: string, extra: Partial<ConstructorParameters<typeof Consumer>[0]> = {}) =>
    new Consumer({ groupId, storage, pointers: queue, pollTimeoutMs: 50, ...extra });

  async function take(c: Consumer, n: number): Promise<ConsumedMessage[]> {
    const out: ConsumedMessage[] = [];
    if (n === 0) return out;
    for await (const m of c) {
      out.push(m);
      if (out.length === n) break;
    }
    return out;
  }

  it('a batch with no messages is passed over without skipping the batch after it', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [{ producerId: 7, baseSequence: 0, messages: [] }]);
    const c = consumer(randomName('g'));
    await c.connect();
    await c.subscribe({ topic });
    const taking = take(c, 2);
    // The empty batch is fetched and passed over before the next batches exist.
    await new Promise((r) => setTimeout(r, 300));
    await publishBatch(storage, queue, topic, 0, 1, [
      { producerId: 7, baseSequence: 0, messages: messages('m', 1) },
    ]);
    await publishBatch(storage, queue, topic, 0, 2, [
      { producerId: 7, baseSequence: 1, messages: messages('m', 1, 1) },
    ]);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the batch after the empty one was never delivered')), 5000).unref(),
    );
    const got = await Promise.race([taking, timeout]);
    await c.disconnect();
    assert.deepEqual(
      got.map((m) => [m.offset, m.value.toString()]),
      [
        [1, 'm-0'],
        [2, 'm-1'],
      ],
    );
  });

  it('delivers every message of every chunk in order, with key, null key, empty value, headers, codecs', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      {
        producerId: 7,
        baseSequence: 0,
        codec: 'gzip',
        messages: [
          {
            key: 'a',
            value: 'v0',
            headers: [
              { name: 'h', value: 'x' },
              { name: 'h', value: 'y' },
            ],
          },
          { key: null, value: '' },
        ],
      },
      {
        producerId: 7,
        baseSequence: 2,
        codec: 'lz4',
        messages: [{ key: Buffer.alloc(0), value: Buffer.from([0, 1, 2]) }],
      },
      {
        producerId: 8,
        baseSequence: 0,
        codec: 'none',
        messages: [{ value: 'other producer', timestamp: 1234 }],
      },
    ]);
    const c = consumer(randomName('g'));
    await c.connect();
    await c.subscribe({ topic });
    const got = await take(c, 4);
    await c.disconnect();
    assert.deepEqual(
      got.map((m) => [
        m.key?.toString('hex') ?? null,
        m.value.toString('hex'),
        m.producerId,
        m.sequence,
        m.messageIndex,
      ]),
      [
        [Buffer.from('a').toString('hex'), Buffer.from('v0').toString('hex'), 7, 0, 0],
        [null, '', 7, 1, 1],
        ['', '000102', 7, 2, 2],
        [null, Buffer.from('other producer').toString('hex'), 8, 0, 3],
      ],
    );
    assert.deepEqual(
      got[0]!.headers.map((h) => [h.name, h.value.toString()]),
      [
        ['h', 'x'],
        ['h', 'y'],
      ],
    );
    assert.equal(got[3]!.timestamp, 1234);
    assert.equal(got[0]!.topic, topic);
    assert.equal(got[0]!.offset, 0);
    assert.equal(got[0]!.batchSequence, 0);
  });

  it('skips a re-sent chunk (same producer id and sequences) and counts it', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    const first = messages('m', 5);
    // batch 0: sequences 0-4; batch 1: the retry of 0-4 (same bytes) and then 5-6; batch 2: 3-6 again
    await publishBatch(storage, queue, topic, 0, 0, [{ producerId: 1, baseSequence: 0, messages: first }]);
    await publishBatch(storage, queue, topic, 0, 1, [
      { producerId: 1, baseSequence: 0, messages: first },
      { producerId: 1, baseSequence: 5, messages: messages('m', 2, 5) },
    ]);
    await publishBatch(storage, queue, topic, 0, 2, [
      { producerId: 1, baseSequence: 3, messages: messages('m', 4, 3) },
      { producerId: 2, baseSequence: 0, messages: messages('p2', 1) },
    ]);
    const c = consumer(randomName('g'));
    await c.subscribe({ topic });
    const got = await take(c, 8);
    assert.deepEqual(
      got.map((m) => m.value.toString()),
      ['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6', 'p2-0'],
    );
    assert.equal(c.skippedDuplicates, 9);
    await c.disconnect();
  });

  it('dedup can be turned off: then the duplicates are delivered', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('m', 2) },
      { producerId: 1, baseSequence: 0, messages: messages('m', 2) },
    ]);
    const c = consumer(randomName('g'), { dedup: false });
    await c.subscribe({ topic });
    const got = await take(c, 4);
    assert.deepEqual(
      got.map((m) => m.value.toString()),
      ['m-0', 'm-1', 'm-0', 'm-1'],
    );
    assert.equal(c.skippedDuplicates, 0);
    await c.disconnect();
  });

  it('a new consumer of the group resumes exactly after the committed message, mid-batch', async () => {
    const topic = randomName('t');
    const group = randomName('g');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('a', 5) },
    ]);
    await publishBatch(storage, queue, topic, 0, 1, [
      { producerId: 1, baseSequence: 5, messages: messages('a', 3, 5) },
    ]);

    // The first member processes three messages, then its handler fails for good (no retries):
    // the run loop stops, commits what was processed, and the member leaves.
    const c1 = consumer(group, { retry: { retries: 0 } });
    let crashed: unknown;
    c1.on('crash', (e) => {
      crashed = e;
    });
    await c1.subscribe({ topic });
    const seen1: string[] = [];
    await c1.run({
      eachMessage: async ({ message }) => {
        if (seen1.length >= 3) throw new Error('boom');
        seen1.push(message.value.toString());
      },
    });
    await until(() => crashed !== undefined, 'crash');
    assert.match(String(crashed), /handler failed on message .* offset 0 index 3: boom/);
    const committed = await c1.committed(topic, [0]);
    assert.deepEqual(committed, [{ topic, partition: 0, offset: 0, messageIndex: 3 }]);
    await c1.disconnect();

    const c2 = consumer(group);
    await c2.subscribe({ topic });
    const got = await take(c2, 5);
    assert.deepEqual(seen1, ['a-0', 'a-1', 'a-2']);
    assert.deepEqual(
      got.map((m) => m.value.toString()),
      ['a-3', 'a-4', 'a-5', 'a-6', 'a-7'],
    );
    await c2.disconnect();
  });

  it('commits after processing with the iterator; breaking out redelivers the message it broke on', async () => {
    const topic = randomName('t');
    const group = randomName('g');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('b', 4) },
    ]);
    const c1 = consumer(group);
    await c1.subscribe({ topic });
    const first = await take(c1, 2); // b-0 processed; b-1 is where the loop broke
    await c1.disconnect();
    assert.deepEqual(
      first.map((m) => m.value.toString()),
      ['b-0', 'b-1'],
    );
    const c2 = consumer(group);
    await c2.subscribe({ topic });
    const rest = await take(c2, 3);
    assert.deepEqual(
      rest.map((m) => m.value.toString()),
      ['b-1', 'b-2', 'b-3'],
    );
    await c2.disconnect();
  });

  it('iterating again on the same consumer continues where the previous loop stopped', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('c', 3) },
    ]);
    await publishBatch(storage, queue, topic, 0, 1, [
      { producerId: 1, baseSequence: 3, messages: messages('c', 2, 3) },
    ]);
    const c = consumer(randomName('g'), { prefetchBatches: 2 });
    await c.subscribe({ topic });
    const a = await take(c, 2);
    const b = await take(c, 4);
    await c.disconnect();
    assert.deepEqual(
      [...a, ...b].map((m) => m.value.toString()),
      ['c-0', 'c-1', 'c-1', 'c-2', 'c-3', 'c-4'],
    );
  });

  it('seek to an offset and message index re-reads from there', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('s', 3) },
    ]);
    await publishBatch(storage, queue, topic, 0, 1, [
      { producerId: 1, baseSequence: 3, messages: messages('s', 3, 3) },
    ]);
    const c = consumer(randomName('g'));
    await c.subscribe({ topic });
    const all = await take(c, 6);
    assert.equal(all.length, 6);
    c.seek({ topic, partition: 0, offset: 0, messageIndex: 2 });
    const again = await take(c, 4);
    assert.deepEqual(
      again.map((m) => m.value.toString()),
      ['s-2', 's-3', 's-4', 's-5'],
    );
    c.seek({ topic, partition: 0, offset: 1 });
    const last = await take(c, 1);
    assert.equal(last[0]!.value.toString(), 's-3');
    await c.disconnect();
  });

  it('seekToTimestamp starts at the first batch appended at or after the time and skips older messages', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('old', 3) },
    ]);
    const wm = await queue.watermarks(topic, 0);
    assert.equal(wm.high, 1);
    const t0 = Date.now();
    await clockPast(t0);
    const t = Date.now();
    await clockPast(t);
    // a batch appended after t holding one message stamped before t and two after
    await publishBatch(storage, queue, topic, 0, 1, [
      {
        producerId: 1,
        baseSequence: 3,
        messages: [
          { value: 'late-old', timestamp: t - 1000 },
          { value: 'new-0', timestamp: t },
          { value: 'new-1', timestamp: t + 1 },
        ],
      },
    ]);
    const c = consumer(randomName('g'));
    await c.subscribe({ topic });
    const all = await take(c, 6);
    assert.equal(all.length, 6);
    await c.seekToTimestamp(t);
    const got = await take(c, 2);
    assert.deepEqual(
      got.map((m) => m.value.toString()),
      ['new-0', 'new-1'],
    );
    await c.disconnect();
  });

  it('fromTime starts a new group at a time', async () => {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('x', 2) },
    ]);
    const t = Date.now();
    await clockPast(t);
    await publishBatch(storage, queue, topic, 0, 1, [
      { producerId: 1, baseSequence: 2, messages: [{ value: 'y-0', timestamp: t + 5 }] },
    ]);
    const c = consumer(randomName('g'), { fromTime: t });
    await c.subscribe({ topic });
    const got = await take(c, 1);
    assert.equal(got[0]!.value.toString(), 'y-0');
    await c.disconnect();
  });

  it('eachBatch with resolveOffset: a partly processed batch resumes after the last resolved message', async () => {
    const topic = randomName('t');
    const group = randomName('g');
    await queue.ensureTopic(topic, 1);
    await publishBatch(storage, queue, topic, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('e', 4) },
    ]);
    const c1 = consumer(group);
    await c1.subscribe({ topic });
    let batches = 0;
    await c1.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        batches++;
        assert.equal(batch.messages.length, 4);
        resolveOffset(batch.messages[1]!);
      },
    });
    await until(() => batches === 1);
    await c1.disconnect();
    const c2 = consumer(group);
    await c2.subscribe({ topic });
    const got = await take(c2, 2);
    assert.deepEqual(
      got.map((m) => m.value.toString()),
      ['e-2', 'e-3'],
    );
    await c2.disconnect();
  });

  it('reads several subscribed topics', async () => {
    const [a, b] = [randomName('ta'), randomName('tb')];
    await queue.ensureTopic(a, 1);
    await queue.ensureTopic(b, 2);
    await publishBatch(storage, queue, a, 0, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('a', 2) },
    ]);
    await publishBatch(storage, queue, b, 1, 0, [
      { producerId: 1, baseSequence: 0, messages: messages('b', 3) },
    ]);
    const c = consumer(randomName('g'));
    await c.subscribe({ topics: [a, b] });
    const got = await take(c, 5);
    await c.disconnect();
    assert.deepEqual(
      got.filter((m) => m.topic === a).map((m) => m.value.toString()),
      ['a-0', 'a-1'],
    );
    assert.deepEqual(
      got.filter((m) => m.topic === b).map((m) => [m.partition, m.value.toString()]),
      [
        [1, 'b-0'],
        [1, 'b-1'],
        [1, 'b-2'],
      ],
    );
  });

  it('a group of three splits the partitions; when one leaves, the others take its partitions', async () => {
    const topic = randomName('t');
    const group = randomName('g');
    await queue.ensureTopic(topic, 6);
    const members = [consumer(group), consumer(group), consumer(group)];
    const got = new Map<Consumer, ConsumedMessage[]>(members.map((m) => [m, []]));
    for (const m of members) {
      await m.subscribe({ topic });
      await m.run({ eachMessage: async ({ message }) => void got.get(m)!.push(message) });
    }
    const owned = () => members.map((m) => [...(m.assignment()[0]?.partitions ?? [])]);
    await until(() => owned().every((p) => p.length === 2), 'three members with two partitions each');
    assert.deepEqual(owned().flat().sort(), [0, 1, 2, 3, 4, 5]);

    // one batch per write partition; write partition w lands on read partition w % 6
    for (let w = 0; w < 6; w++) {
      await publishBatch(storage, queue, topic, w, 0, [
        { producerId: 1, baseSequence: 0, messages: messages(`w${w}`, 2) },
      ]);
    }
    const total = () => [...got.values()].reduce((n, l) => n + l.length, 0);
    await until(() => total() === 12, 'first 12 messages');
    for (const [m, list] of got) {
      const mine = new Set(m.assignment()[0]!.partitions);
      assert.ok(list.every((msg) => mine.has(msg.partition)));
    }

    const leaving = members[2]!;
    await leaving.disconnect();
    const stay = members.slice(0, 2);
    await until(
      () => stay.every((m) => (m.assignment()[0]?.partitions.length ?? 0) === 3),
      'two members with three partitions each',
    );
    for (let w = 0; w < 6; w++) {
      await publishBatch(storage, queue, topic, w, 1, [
        { producerId: 1, baseSequence: 2, messages: messages(`w${w}`, 1, 2) },
      ]);
    }
    const round1 = () => stay.flatMap((m) => got.get(m)!.filter((msg) => msg.sequence === 2));
    await until(() => round1().length === 6, 'the second round');
    assert.deepEqual(
      round1()
        .map((m) => m.partition)
        .sort(),
      [0, 1, 2, 3, 4, 5],
    );
    // the first round was delivered at least once (a partition that moved before its owner
    // committed is delivered again to its new owner)
    const first = [...got.values()].flat().filter((m) => m.sequence < 2);
    assert.equal(new Set(first.map((m) => m.value.toString())).size, 12);
    for (const m of stay) await m.disconnect();
  });
});
