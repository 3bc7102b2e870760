import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ObjectStorage } from '@barge/core';
import type { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { DEFAULT_PREFETCH_BATCHES, DEFAULT_PREFETCH_BYTES, prefetchBudget } from './batch-fetcher.js';
import { Consumer } from './consumer.js';
import { localParts, messages, publishBatch, randomName, until } from './test/helpers.js';

describe('prefetchBudget', () => {
  it('admits a batch while both the count and the bytes stay within the budget', () => {
    const b = prefetchBudget({ prefetchBatches: 3, prefetchBytes: 100 });
    assert.equal(b.admits(0, 0, 100), true);
    assert.equal(b.admits(1, 60, 40), true);
    assert.equal(b.admits(1, 60, 41), false);
    assert.equal(b.admits(3, 0, 1), false);
  });

  it('defaults to 8 batches and 64 MiB', () => {
    const b = prefetchBudget({});
    assert.deepEqual([b.batches, b.bytes], [DEFAULT_PREFETCH_BATCHES, DEFAULT_PREFETCH_BYTES]);
    assert.deepEqual([DEFAULT_PREFETCH_BATCHES, DEFAULT_PREFETCH_BYTES], [8, 64 * 1024 * 1024]);
  });
});

/**
 * Real local storage, counted: how many batch objects were read, and how many of those the
 * application has not finished yet (loaded ahead, or being processed).
 */
function counted(storage: ObjectStorage) {
  const seen = { reads: 0, finished: 0, mostAhead: 0 };
  const read =
    <A extends unknown[]>(f: (...a: A) => Promise<Buffer>) =>
    async (...a: A) => {
      seen.reads++;
      seen.mostAhead = Math.max(seen.mostAhead, seen.reads - seen.finished);
      return f(...a);
    };
  const wrapped = new Proxy(storage, {
    get(target, prop) {
      if (prop === 'get') return read((k: string) => target.get(k));
      if (prop === 'getRange') return read((k: string, o: number, n: number) => target.getRange(k, o, n));
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { storage: wrapped, seen };
}

describe('Consumer prefetch (direct: embedded pointer queue + local storage)', () => {
  let storage: ObjectStorage;
  let queue: EmbeddedPointerQueue;
  let close: () => Promise<void>;

  before(async () => {
    ({ storage, queue, close } = await localParts());
  });
  after(async () => {
    await close();
  });

  /** Ten one-chunk batches of 20 messages of ~1 KB on one partition; returns the largest object size. */
  async function tenBatches(topic: string): Promise<number> {
    await queue.ensureTopic(topic, 1);
    let largest = 0;
    for (let b = 0; b < 10; b++) {
      const msgs = messages(`b${b}`.padEnd(1000, '.'), 20);
      const { pointer } = await publishBatch(storage, queue, topic, 0, b, [
        { producerId: 1, baseSequence: b * 20, messages: msgs },
      ]);
      largest = Math.max(largest, pointer.objectSize);
    }
    return largest;
  }

  /** Reads all 200 messages with a slow `eachBatch`; returns what the counting storage saw. */
  async function consumeSlowly(topic: string, extra: { prefetchBytes?: number; prefetchBatches?: number }) {
    const { storage: spy, seen } = counted(storage);
    const c = new Consumer({
      groupId: randomName('g'),
      storage: spy,
      pointers: queue,
      pollTimeoutMs: 50,
      ...extra,
    });
    await c.connect();
    await c.subscribe({ topic });
    const values: string[] = [];
    await c.run({
      eachBatch: async ({ batch }) => {
        // Slow enough that every load the budget allows has started before the batch is done.
        await new Promise((r) => setTimeout(r, 20));
        for (const m of batch.messages) values.push(m.value.toString());
        seen.finished++;
      },
    });
    await until(() => values.length >= 200, '200 messages');
    await c.disconnect();
    return { seen, values };
  }

  it('loads ahead no more batches than prefetchBytes holds, and delivers everything in order', async () => {
    const topic = randomName('t');
    const size = await tenBatches(topic);
    const { seen, values } = await consumeSlowly(topic, { prefetchBytes: 3 * size });
    // The batch being processed counts: with room for 3, at most 2 load while it is processed.
    assert.ok(seen.mostAhead <= 3, `${seen.mostAhead} batches were ahead`);
    assert.ok(seen.mostAhead >= 2, `${seen.mostAhead} batches were ahead: nothing was loaded ahead`);
    const expected = Array.from({ length: 10 }, (_, b) =>
      messages(`b${b}`.padEnd(1000, '.'), 20).map((m) => String(m.value)),
    ).flat();
    assert.deepEqual(values, expected);
  });

  it('loads further ahead by default, and never more than prefetchBatches', async () => {
    const topic = randomName('t');
    await tenBatches(topic);
    const byDefault = await consumeSlowly(topic, {});
    assert.ok(byDefault.seen.mostAhead > 3, `${byDefault.seen.mostAhead} batches were ahead`);
    const capped = await consumeSlowly(topic, { prefetchBatches: 1 });
    // One loading ahead of the one being processed.
    assert.ok(capped.seen.mostAhead <= 2, `${capped.seen.mostAhead} batches were ahead`);
    assert.equal(capped.values.length, 200);
  });
});
