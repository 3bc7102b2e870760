import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { testPointer } from '@barge/testkit';
import { type CountedPointer, messageLag, readPointersAfter } from './message-lag.js';

const pointers = (...counts: [offset: number, messages: number][]): CountedPointer[] =>
  counts.map(([offset, messageCount]) => ({ offset, messageCount }));

describe('messageLag: messages after a committed position', () => {
  it('counts the pointers read, less the messages read of the committed pointer', () => {
    const read = { pointers: pointers([3, 10], [4, 10], [5, 5]), complete: true };
    assert.deepEqual(messageLag({ offset: 3, messageIndex: 4 }, read, 6), { messages: 21, estimated: false });
    assert.deepEqual(messageLag({ offset: 3, messageIndex: 0 }, read, 6), { messages: 25, estimated: false });
  });

  it('a messageIndex at or past the end of its pointer takes that pointer whole, no more', () => {
    const read = { pointers: pointers([3, 10], [4, 7]), complete: true };
    assert.equal(messageLag({ offset: 3, messageIndex: 10 }, read, 5).messages, 7);
    assert.equal(messageLag({ offset: 3, messageIndex: 99 }, read, 5).messages, 7);
  });

  it('a committed pointer that was trimmed away counts nothing; the pointers after it count whole', () => {
    const read = { pointers: pointers([5, 10], [6, 10]), complete: true };
    assert.equal(messageLag({ offset: 2, messageIndex: 4 }, read, 7).messages, 20);
  });

  it('offsets that skip (Kafka commit markers) count nothing', () => {
    const read = { pointers: pointers([3, 2], [5, 2], [7, 2]), complete: true };
    assert.deepEqual(messageLag({ offset: 3, messageIndex: 1 }, read, 9), { messages: 5, estimated: false });
  });

  it('nothing after the committed position is no lag', () => {
    assert.deepEqual(messageLag({ offset: 8, messageIndex: 0 }, { pointers: [], complete: true }, 8), {
      messages: 0,
      estimated: false,
    });
  });

  it('a read cut short estimates the rest from the average per pointer read, and says so', () => {
    // 2 pointers read (10 + 20 messages), 5 offsets left before high 10: 5 × 15 more.
    const read = { pointers: pointers([3, 10], [4, 20]), complete: false };
    assert.deepEqual(messageLag({ offset: 3, messageIndex: 4 }, read, 10), {
      messages: 101,
      estimated: true,
    });
    // Cut short exactly at the end: exact after all.
    assert.deepEqual(messageLag({ offset: 3, messageIndex: 0 }, read, 5), { messages: 30, estimated: false });
  });
});

describe('readPointersAfter on the embedded pointer queue', () => {
  let dir: string;
  let queue: EmbeddedPointerQueue;
  const topic = 'lag';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'barge-message-lag-'));
    queue = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
    await queue.ensureTopic(topic, 1);
    // 2,500 pointers: more than one page of reads.
    for (let s = 0; s < 2500; s += 500) {
      await queue.publish(
        topic,
        Array.from({ length: 500 }, (_, i) => testPointer(topic, 0, s + i, { messageCount: 3 })),
      );
    }
  });
  after(async () => {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  });
  const read = (from: number, high: number, max: number) =>
    readPointersAfter(queue.readPartition.bind(queue), topic, 0, from, high, max);

  it('reads every pointer from an offset to high across pages', async () => {
    const r = await read(100, 2500, 10_000);
    assert.equal(r.complete, true);
    assert.equal(r.pointers.length, 2400);
    assert.deepEqual([r.pointers[0]?.offset, r.pointers.at(-1)?.offset], [100, 2499]);
    assert.deepEqual(messageLag({ offset: 100, messageIndex: 1 }, r, 2500), {
      messages: 7199,
      estimated: false,
    });
  });

  it('stops at max pointers and at high (pointers published after the watermark do not count)', async () => {
    const capped = await read(0, 2500, 1200);
    assert.deepEqual([capped.pointers.length, capped.complete], [1200, false]);
    assert.deepEqual(messageLag({ offset: 0, messageIndex: 0 }, capped, 2500), {
      messages: 7500,
      estimated: true,
    });
    const upTo = await read(0, 10, 10_000);
    assert.deepEqual([upTo.pointers.length, upTo.complete], [10, true]);
  });
});
