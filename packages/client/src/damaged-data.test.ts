import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CorruptDataError, NotFoundError, type ObjectStorage } from '@barge/core';
import type { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { Admin } from './admin.js';
import { BatchReader, type ObjectSource } from './batch-reader.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import type { SkippedPayload } from './consumer-events.js';
import { DamagedDataError, damageOf } from './damaged-data.js';
import type { LogEntry } from './logger.js';
import { startBroker, type TestBroker } from './test/broker.js';
import { flipStoredByte, honestChunk, hostileChunk, publishChunks } from './test/damage.js';
import { localParts, randomName } from './test/helpers.js';
import type { ConsumedMessage } from './types.js';

/**
 * Damaged and missing data (issue 10, findings 1 and 5): each chunk is decoded on its own, so one
 * hostile chunk does not take its batch-mates with it; `onDamagedData` fails with the place or
 * skips, and every skip is logged, counted and emitted; a missing object is handled the same way.
 */

/** Serves one in-memory object. */
class BufferSource implements ObjectSource {
  constructor(
    private readonly object: Buffer,
    readonly maxReadBytes = Number.MAX_SAFE_INTEGER,
  ) {}
  async readRange(_p: unknown, offset: number, length: number): Promise<Buffer> {
    return this.object.subarray(offset, Math.min(this.object.length, offset + length));
  }
}

const values = (ms: readonly ConsumedMessage[]) => ms.map((m) => m.value.toString());

/** Reads messages until `n` arrived or the consumer stops; the error that stopped it, if any. */
async function take(c: Consumer, n: number): Promise<{ got: ConsumedMessage[]; error?: unknown }> {
  const got: ConsumedMessage[] = [];
  try {
    for await (const m of c) {
      got.push(m);
      if (got.length === n) break;
    }
  } catch (error) {
    return { got, error };
  }
  return { got };
}

/** A consumer that records its warnings and `consumer.skipped` events. */
function watched(options: ConsumerOptions) {
  const warnings: string[] = [];
  const logCreator = () => (e: LogEntry) => {
    if (e.label === 'WARN') warnings.push(e.log.message);
  };
  const consumer = new Consumer({ pollTimeoutMs: 50, logLevel: 'warn', logCreator, ...options });
  const skipped: SkippedPayload[] = [];
  consumer.on('consumer.skipped', (e) => skipped.push(e.payload));
  return { consumer, warnings, skipped };
}

describe('BatchReader decodes each chunk on its own', () => {
  for (const wholeObjectBytes of [1024 * 1024, 0]) {
    it(`returns the other chunks of a batch holding a hostile chunk (${wholeObjectBytes ? 'whole object' : 'by range'})`, async () => {
      const { storage, queue, close } = await localParts();
      try {
        await queue.ensureTopic('t', 1);
        const { pointer } = await publishChunks(storage, queue, 't', 0, [
          honestChunk('a', 3, 1, 'gzip'),
          hostileChunk(2),
          honestChunk('b', 4, 2, 'lz4'),
        ]);
        const object = await storage.get(pointer.storage.key);
        const reader = new BatchReader(new BufferSource(object, 40), { wholeObjectBytes });
        const { messages, damaged } = await reader.load(pointer);
        assert.deepEqual(values(messages as never), ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'b-2', 'b-3']);
        assert.deepEqual(
          messages.map((m) => m.index),
          [0, 1, 2, 5, 6, 7, 8],
        );
        assert.equal(damaged.length, 1);
        assert.equal(damaged[0]!.chunk.index, 1);
        assert.ok(damaged[0]!.error instanceof CorruptDataError);
        assert.match(damaged[0]!.error.message, /chunk 1/);
        // From a message index inside the damaged chunk: the chunk is still reported, chunk 0 not read.
        const later = await reader.load(pointer, 4);
        assert.deepEqual(values(later.messages as never), ['b-0', 'b-1', 'b-2', 'b-3']);
        assert.equal(later.damaged.length, 1);
      } finally {
        await close();
      }
    });
  }
});

describe('onDamagedData with a hostile chunk (direct: embedded pointer queue + local storage)', () => {
  let storage: ObjectStorage;
  let queue: EmbeddedPointerQueue;
  let close: () => Promise<void>;
  before(async () => {
    ({ storage, queue, close } = await localParts());
  });
  after(async () => close());

  /** Batch 0: 3 honest; batch 1: 2 honest, 2 hostile, 4 honest; batch 2: 1 honest. */
  async function poisonedTopic(): Promise<{ topic: string; key: string }> {
    const topic = randomName('t');
    await queue.ensureTopic(topic, 1);
    await publishChunks(storage, queue, topic, 0, [honestChunk('a', 3, 1)]);
    const { pointer } = await publishChunks(storage, queue, topic, 1, [
      honestChunk('b', 2, 2),
      hostileChunk(2),
      honestChunk('c', 4, 3, 'gzip'),
    ]);
    await publishChunks(storage, queue, topic, 2, [honestChunk('d', 1, 4)]);
    return { topic, key: pointer.storage.key };
  }

  it('skip: every honest message is delivered, and the skipped chunk is logged, emitted and counted', async () => {
    const { topic, key } = await poisonedTopic();
    const { consumer, warnings, skipped } = watched({
      groupId: randomName('g'),
      storage,
      pointers: queue,
      onDamagedData: 'skip',
    });
    await consumer.subscribe({ topic });
    const { got, error } = await take(consumer, 10);
    await consumer.disconnect();
    assert.equal(error, undefined);
    assert.deepEqual(values(got), ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'c-0', 'c-1', 'c-2', 'c-3', 'd-0']);
    assert.equal(warnings.length, 1);
    const skippedChunk = `skipped topic ${topic} partition 0 offset 1: chunk 1 (messages 2..3) of object ${key} is damaged: batch ${topic}/0/1 chunk 1: message 0: `;
    assert.ok(warnings[0]!.startsWith(skippedChunk), warnings[0]);
    assert.deepEqual(skipped, [
      {
        groupId: consumer.groupId,
        topic,
        partition: 0,
        offset: 1,
        key,
        reason: 'corrupt-chunk',
        chunk: 1,
        fromMessageIndex: 2,
        toMessageIndex: 4,
        error: skipped[0]!.error,
      },
    ]);
    assert.match(skipped[0]!.error, new RegExp(`^batch ${topic}/0/1 chunk 1: message 0: `));
    assert.deepEqual(consumer.skippedDamaged, { batches: 0, chunks: 1, messages: 2 });
  });

  it('onCorruptBatch: skip still works as the earlier name', async () => {
    const { topic } = await poisonedTopic();
    const { consumer, warnings } = watched({
      groupId: randomName('g'),
      storage,
      pointers: queue,
      onCorruptBatch: 'skip',
    });
    await consumer.subscribe({ topic });
    const { got } = await take(consumer, 10);
    await consumer.disconnect();
    assert.equal(got.length, 10);
    assert.equal(warnings.length, 1);
  });

  it('fail (the default): stops at the batch with an error naming topic, partition, offset, key and chunk', async () => {
    const { topic, key } = await poisonedTopic();
    const { consumer, warnings } = watched({ groupId: randomName('g'), storage, pointers: queue });
    await consumer.subscribe({ topic });
    const { got, error } = await take(consumer, 10);
    await consumer.disconnect();
    assert.deepEqual(values(got), ['a-0', 'a-1', 'a-2']);
    assert.ok(error instanceof DamagedDataError, String(error));
    assert.ok(error instanceof CorruptDataError);
    assert.match(
      error.message,
      new RegExp(`topic ${topic} partition 0 offset 1: chunk 1 \\(messages 2\\.\\.3\\) of object ${key}`),
    );
    assert.match(error.message, /commit offset 2 of partition 0/);
    assert.deepEqual(damageOf(error), error.damage);
    assert.deepEqual(warnings, []);
    assert.deepEqual(consumer.skippedDamaged, { batches: 0, chunks: 0, messages: 0 });
  });
});

describe('onDamagedData through the broker read proxy (real broker, local storage)', () => {
  let tb: TestBroker;
  let admin: Admin;
  before(async () => {
    tb = await startBroker();
    admin = new Admin({ brokers: [tb.address] });
  });
  after(async () => {
    await admin.disconnect();
    await tb.close();
  });

  /** Three single-chunk batches of 2 messages each, published into the broker's topic. */
  async function threeBatches(): Promise<{ topic: string; keys: string[] }> {
    const topic = randomName('t');
    await admin.createTopic({ name: topic, writePartitions: 1, readPartitions: 1 });
    const keys: string[] = [];
    for (const [i, prefix] of ['a', 'b', 'c'].entries()) {
      const { pointer } = await publishChunks(tb.storage, tb.queue, topic, i, [
        honestChunk(prefix, 2, i + 1),
      ]);
      keys.push(pointer.storage.key);
    }
    return { topic, keys };
  }

  const member = (groupId: string, extra: Partial<ConsumerOptions> = {}) =>
    watched({ brokers: [tb.address], groupId, ...extra });

  async function missingReads(): Promise<number> {
    const m = await tb.broker.metrics.unreadableReads.get();
    return m.values.filter((v) => v.labels.reason === 'not_found').reduce((n, v) => n + v.value, 0);
  }

  it('a deleted object: fail names it; skip moves past it, and the group continues on the next run', async () => {
    const { topic, keys } = await threeBatches();
    await tb.storage.delete([keys[1]!]);
    const group = randomName('g');
    const before = await missingReads();

    const first = member(group);
    await first.consumer.subscribe({ topic });
    const failed = await take(first.consumer, 6);
    await first.consumer.disconnect();
    assert.deepEqual(values(failed.got), ['a-0', 'a-1']);
    assert.ok(failed.error instanceof NotFoundError, String(failed.error));
    assert.match(
      String(failed.error),
      new RegExp(`offset 1: batch object ${keys[1]} \\(messages 0\\.\\.1\\) is missing`),
    );
    assert.ok((await missingReads()) > before, 'the broker counts the missing object');

    const second = member(group, { onDamagedData: 'skip' });
    await second.consumer.subscribe({ topic });
    const skipping = await take(second.consumer, 2);
    await second.consumer.disconnect();
    assert.equal(skipping.error, undefined);
    assert.deepEqual(values(skipping.got), ['c-0', 'c-1']);
    assert.deepEqual(second.consumer.skippedDamaged, { batches: 1, chunks: 0, messages: 2 });
    assert.equal(second.skipped[0]?.reason, 'missing-object');
    assert.equal(second.warnings.length, 1);
    assert.match(
      second.warnings[0]!,
      new RegExp(
        `^skipped topic ${topic} partition 0 offset 1: batch object ${keys[1]} \\(messages 0\\.\\.1\\) is missing: `,
      ),
    );

    // The group committed past the missing object: a default (fail) member reads on from there.
    const c = await publishChunks(tb.storage, tb.queue, topic, 3, [honestChunk('d', 1, 9)]);
    assert.equal(c.offset, 3);
    const third = member(group);
    await third.consumer.subscribe({ topic });
    const after = await take(third.consumer, 2);
    await third.consumer.disconnect();
    assert.equal(after.error, undefined);
    // The message the iterator stopped on was not processed: it comes again, then the new batch.
    assert.deepEqual(values(after.got), ['c-1', 'd-0']);
  });

  it('a corrupted byte in a stored object: fail names the chunk; skip moves past; the group continues', async () => {
    const { topic, keys } = await threeBatches();
    await flipStoredByte(join(tb.dir, 'objects'), keys[1]!);
    const group = randomName('g');

    const first = member(group);
    await first.consumer.subscribe({ topic });
    const failed = await take(first.consumer, 6);
    await first.consumer.disconnect();
    assert.deepEqual(values(failed.got), ['a-0', 'a-1']);
    assert.ok(failed.error instanceof CorruptDataError, String(failed.error));
    assert.match(
      String(failed.error),
      new RegExp(
        `offset 1: chunk 0 \\(messages 0\\.\\.1\\) of object ${keys[1]} is damaged: .*checksum mismatch`,
      ),
    );

    const second = member(group, { onDamagedData: 'skip' });
    await second.consumer.subscribe({ topic });
    const skipping = await take(second.consumer, 2);
    await second.consumer.disconnect();
    assert.deepEqual(values(skipping.got), ['c-0', 'c-1']);
    assert.equal(second.skipped.length, 1);
    assert.equal(second.skipped[0]?.reason, 'corrupt-chunk');
    assert.deepEqual(second.consumer.skippedDamaged, { batches: 0, chunks: 1, messages: 2 });
    assert.equal(second.warnings.length, 1);

    await publishChunks(tb.storage, tb.queue, topic, 3, [honestChunk('d', 1, 9)]);
    const third = member(group);
    await third.consumer.subscribe({ topic });
    const after = await take(third.consumer, 2);
    await third.consumer.disconnect();
    // The message the iterator stopped on was not processed: it comes again, then the new batch.
    assert.deepEqual(values(after.got), ['c-1', 'd-0']);
  });
});
