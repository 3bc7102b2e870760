import assert from 'node:assert/strict';
import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeChunk, type Message } from '@barge/core';
import { Admin } from './admin.js';
import { Consumer } from './consumer.js';
import { startBroker, type TestBroker } from './test/broker.js';
import { publishChunks } from './test/damage.js';
import { randomName, until } from './test/helpers.js';

/**
 * Batch objects larger than the broker's `maxReadBytes` read through its read proxy: the reader
 * asks for them in several ranges at once, and must put exactly the object's bytes together, for
 * small objects read whole, large ones read whole in one go, and ones read from a later message.
 */
describe('reading through the read proxy in ranges (real broker, local storage)', () => {
  let tb: TestBroker;
  let admin: Admin;
  before(async () => {
    // maxReadBytes is the frame limit less the response's own bytes: about 64 KiB.
    tb = await startBroker({ limits: { maxFrameBytes: 64 * 1024 } });
    admin = new Admin({ brokers: [tb.address] });
  });
  after(async () => {
    await admin.disconnect();
    await tb.close();
  });

  /** A message's name, e.g. `s0c3-7`, after checking its bytes are the ones `big` wrote. */
  const id = (v: string) => {
    const name = v.slice(0, v.indexOf('-', v.indexOf('-') + 1));
    assert.equal(v, `${name}-`.padEnd(v.length, v[v.length - 1]), `message ${name} is damaged`);
    return name;
  };

  /** `n` messages of `size` bytes, each distinct in every byte position that matters. */
  const big = (prefix: string, n: number, size: number): Message[] =>
    Array.from({ length: n }, (_, i) => ({
      value: `${prefix}-${i}-`.padEnd(size, String.fromCharCode(97 + (i % 26))),
    }));

  /** One batch object of chunks of `perChunk` messages of `size` bytes; returns its key and messages. */
  async function publish(topic: string, sequence: number, chunks: number, perChunk: number, size: number) {
    const all: string[] = [];
    const encoded = Array.from({ length: chunks }, (_, c) => {
      const msgs = big(`s${sequence}c${c}`, perChunk, size);
      all.push(...msgs.map((m) => id(String(m.value))));
      return encodeChunk(msgs, 'none', { producerId: 1 + sequence * 100 + c, baseSequence: 0 }); // no duplicates
    });
    const { pointer } = await publishChunks(tb.storage, tb.queue, topic, sequence, encoded);
    return { key: pointer.storage.key, size: pointer.objectSize, values: all };
  }

  async function consumeAll(topic: string, n: number, extra = {}) {
    const got: string[] = [];
    const c = new Consumer({ brokers: [tb.address], groupId: randomName('g'), pollTimeoutMs: 50, ...extra });
    await c.connect();
    await c.subscribe({ topic });
    await c.run({
      eachMessage: async ({ message }) => {
        got.push(id(message.value.toString()));
      },
    });
    await until(() => got.length >= n, `${n} messages`);
    await c.disconnect();
    return { got, skipped: c.skippedDamaged };
  }

  it('puts objects larger than maxReadBytes together exactly (small objects read whole, large ones in one go)', async () => {
    const topic = randomName('t');
    await admin.createTopic({ name: topic, writePartitions: 1, readPartitions: 1 });
    const small = await publish(topic, 0, 3, 20, 3000); // ~180 KB: read whole, in ranges
    const large = await publish(topic, 1, 12, 10, 10_000); // ~1.2 MB: above the whole-object size
    assert.ok(small.size > 64 * 1024 && large.size > 1024 * 1024, `${small.size}, ${large.size}`);
    const { got } = await consumeAll(topic, small.values.length + large.values.length);
    assert.deepEqual(got, [...small.values, ...large.values]);
  });

  it('a truncated object: the chunks before the cut are delivered, the rest skipped (onDamagedData skip)', async () => {
    const topic = randomName('t');
    await admin.createTopic({ name: topic, writePartitions: 1, readPartitions: 1 });
    const large = await publish(topic, 0, 12, 10, 10_000);
    const after = await publish(topic, 1, 1, 3, 100);
    // Cut inside the last (twelfth) chunk of ~100 KB: chunks 0-10 are whole.
    await truncate(join(tb.dir, 'objects', ...large.key.split('/')), large.size - 15_000);
    const { got, skipped } = await consumeAll(topic, 110 + 3, { onDamagedData: 'skip', logLevel: 'error' });
    assert.deepEqual(got, [...large.values.slice(0, 110), ...after.values]);
    assert.deepEqual(skipped, { batches: 0, chunks: 1, messages: 10 });
  });
});
