import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { BatchPointer, PointerQueue } from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { testPointer } from '@barge/testkit';
import { OffsetIndex } from './offset-index.js';
import type { Located } from './partition-index.js';
import { nextOffsetFromTail } from './tail.js';

async function openQueue(t: TestContext, topic: string, readPartitions = 1): Promise<EmbeddedPointerQueue> {
  const dir = await mkdtemp(join(tmpdir(), 'barge-offset-index-'));
  const queue = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
  t.after(async () => {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  });
  await queue.ensureTopic(topic, readPartitions);
  return queue;
}

/** A pointer of `count` messages at dense offset `baseOffset` (absent: an older broker's pointer). */
function pointer(
  wp: number,
  sequence: number,
  count: number,
  baseOffset: number | undefined,
  lastTimestamp = 1_000 + sequence,
): BatchPointer {
  const p = testPointer('t', wp, sequence, { messageCount: count, lastTimestamp, firstTimestamp: 0 });
  return baseOffset === undefined ? p : { ...p, baseOffset };
}

/** Publishes batches of `counts` messages on write partition `wp`, stamped as a broker would. */
async function publishRun(
  queue: PointerQueue,
  wp: number,
  counts: readonly number[],
  start: { offset: number; sequence: number },
): Promise<void> {
  const ps: BatchPointer[] = [];
  for (const n of counts) {
    ps.push(pointer(wp, start.sequence++, n, start.offset));
    start.offset += n;
  }
  await queue.publish('t', ps);
}

/** What `locate` answers, in a form `deepEqual` can compare. */
function where(l: Located): string | [number, number] {
  return typeof l === 'string' ? l : [l.pointer.record.offset, l.messageIndex];
}

describe('OffsetIndex over the embedded queue', () => {
  it('locates the first, middle and last message, the end, above the end, and below the start after deleteBefore', async (t) => {
    const queue = await openQueue(t, 't');
    await publishRun(queue, 0, [3, 1, 5], { offset: 0, sequence: 0 }); // offsets 0-2, 3, 4-8
    const index = new OffsetIndex(queue);
    assert.deepEqual(where(await index.locate('t', 0, 0)), [0, 0]);
    assert.deepEqual(where(await index.locate('t', 0, 2)), [0, 2]);
    assert.deepEqual(where(await index.locate('t', 0, 3)), [1, 0]);
    assert.deepEqual(where(await index.locate('t', 0, 6)), [2, 2]);
    assert.deepEqual(where(await index.locate('t', 0, 8)), [2, 4]);
    assert.equal(await index.locate('t', 0, 9), 'at-end');
    assert.equal(await index.locate('t', 0, 10), 'above-end');
    assert.deepEqual([await index.earliest('t', 0), await index.latest('t', 0)], [0, 9]);
    const hit = await index.locate('t', 0, 4);
    assert.ok(typeof hit !== 'string');
    assert.equal(hit.pointer.baseOffset, 4);
    assert.equal(hit.pointer.record.pointer.sequence, 2);

    await queue.deleteBefore!('t', 0, 2); // retention drops the first two pointers
    assert.equal(await index.locate('t', 0, 3), 'below-start');
    assert.equal(await index.earliest('t', 0), 4);
    assert.deepEqual(where(await index.locate('t', 0, 4)), [2, 0]);

    await queue.deleteBefore!('t', 0, 3); // and the last one: nothing retained, the end stays
    assert.deepEqual([await index.earliest('t', 0), await index.latest('t', 0)], [9, 9]);
    assert.equal(await index.locate('t', 0, 8), 'below-start');
    assert.equal(await index.locate('t', 0, 9), 'at-end');
  });

  it('reads only what was appended since the last lookup (no rescans)', async (t) => {
    const queue = await openQueue(t, 't');
    const reads: number[] = [];
    const spy: Pick<PointerQueue, 'partitions' | 'watermarks' | 'readPartition'> = {
      partitions: (topic) => queue.partitions(topic),
      watermarks: (topic, p) => queue.watermarks(topic, p),
      readPartition: (topic, p, from, max) => {
        reads.push(from);
        return queue.readPartition(topic, p, from, max);
      },
    };
    const at = { offset: 0, sequence: 0 };
    await publishRun(queue, 0, [2, 2, 2], at);
    const index = new OffsetIndex(spy, { recentPointers: 1000 });
    assert.equal(await index.latest('t', 0), 6);
    assert.deepEqual(reads, [0]);
    await publishRun(queue, 0, [4], at);
    assert.equal(await index.latest('t', 0), 10);
    assert.deepEqual(where(await index.locate('t', 0, 7)), [3, 1]);
    assert.equal(await index.latest('t', 0), 10);
    assert.deepEqual(reads, [0, 3], 'the second refresh starts where the first stopped');
  });

  it('stays exact when thinned to a few sparse entries, reading from the nearest entry', async (t) => {
    const queue = await openQueue(t, 't');
    const counts = Array.from({ length: 60 }, (_, i) => 1 + ((i * 7) % 5));
    await publishRun(queue, 0, counts, { offset: 0, sequence: 0 });
    const index = new OffsetIndex(queue, { maxEntries: 4, recentPointers: 1, pageSize: 7 });
    const part = await index.partition('t', 0);
    assert.ok(part.entries <= 5, `entries ${part.entries}`);
    let offset = 0;
    for (let q = 0; q < counts.length; q++) {
      for (let m = 0; m < counts[q]!; m++, offset++) {
        assert.deepEqual(where(await index.locate('t', 0, offset)), [q, m], `offset ${offset}`);
        assert.deepEqual(await index.toPosition('t', 0, offset), { offset: q, messageIndex: m });
        assert.equal(await index.fromPosition('t', 0, { offset: q, messageIndex: m }), offset);
      }
    }
    assert.equal(await index.latest('t', 0), offset);
    assert.deepEqual(await index.toPosition('t', 0, offset), { offset: counts.length, messageIndex: 0 });
    assert.equal(await index.fromPosition('t', 0, { offset: counts.length, messageIndex: 0 }), offset);
  });

  it('offsetForTimestamp: the first pointer whose messages reach the timestamp', async (t) => {
    const queue = await openQueue(t, 't');
    // lastTimestamps 100, 300, 200 (not monotonic), 400: offsets 0, 2, 4, 6 (2 messages each)
    await queue.publish('t', [
      pointer(0, 0, 2, 0, 100),
      pointer(0, 1, 2, 2, 300),
      pointer(0, 2, 2, 4, 200),
      pointer(0, 3, 2, 6, 400),
    ]);
    for (const options of [{}, { maxEntries: 2, recentPointers: 1 }]) {
      const index = new OffsetIndex(queue, options);
      assert.equal(await index.offsetForTimestamp('t', 0, 50), 0);
      assert.equal(await index.offsetForTimestamp('t', 0, 100), 0);
      assert.equal(await index.offsetForTimestamp('t', 0, 150), 2);
      assert.equal(await index.offsetForTimestamp('t', 0, 250), 2, 'pointer 2 is older than pointer 1');
      assert.equal(await index.offsetForTimestamp('t', 0, 301), 6);
      assert.equal(await index.offsetForTimestamp('t', 0, 401), undefined);
    }
  });

  it('skips a republished pointer and serves an offset in a gap from the next pointer', async (t) => {
    const queue = await openQueue(t, 't');
    const a = pointer(0, 0, 3, 0);
    // sequence 1 (offsets 3-4) was abandoned: a gap; pointer 0 appears twice (publish retried)
    await queue.publish('t', [a, a, pointer(0, 2, 2, 5)]);
    const index = new OffsetIndex(queue);
    assert.equal(await index.latest('t', 0), 7);
    assert.deepEqual(where(await index.locate('t', 0, 2)), [0, 2]);
    assert.deepEqual(where(await index.locate('t', 0, 3)), [2, 0]);
    assert.deepEqual(where(await index.locate('t', 0, 6)), [2, 1]);
    assert.equal(await index.fromPosition('t', 0, { offset: 1, messageIndex: 0 }), 5);
  });

  it('numbers unstamped pointers (older brokers) so they end where the first stamped one starts', async (t) => {
    const queue = await openQueue(t, 't');
    await queue.publish('t', [pointer(0, 0, 4, undefined), pointer(0, 1, 6, undefined)]);
    assert.equal(await nextOffsetFromTail(queue, 't', 0), 10, 'a writer upgraded here starts at 10');
    const index = new OffsetIndex(queue);
    assert.deepEqual([await index.earliest('t', 0), await index.latest('t', 0)], [0, 10]);
    assert.deepEqual(where(await index.locate('t', 0, 5)), [1, 1]);
    // The first stamped pointer came from a writer that counted more (retention had removed an
    // older pointer when this index read the partition): the unstamped ones move up to meet it.
    await queue.publish('t', [pointer(0, 2, 5, 12)]);
    assert.deepEqual([await index.earliest('t', 0), await index.latest('t', 0)], [2, 17]);
    assert.deepEqual(where(await index.locate('t', 0, 12)), [2, 0]);
    assert.deepEqual(where(await index.locate('t', 0, 2)), [0, 0]);
    assert.equal(await nextOffsetFromTail(queue, 't', 0), 17);
  });

  it('never numbers below 0 when a stamped pointer starts below the unstamped ones', async (t) => {
    const queue = await openQueue(t, 't');
    await queue.publish('t', [pointer(0, 0, 4, undefined), pointer(0, 1, 5, 2)]);
    const index = new OffsetIndex(queue);
    assert.deepEqual([await index.earliest('t', 0), await index.latest('t', 0)], [0, 9]);
    assert.deepEqual(where(await index.locate('t', 0, 4)), [1, 0]);
  });

  it('indexes each write partition on a shared read partition by itself', async (t) => {
    const queue = await openQueue(t, 't', 1);
    await queue.publish('t', [
      pointer(0, 0, 2, 0),
      pointer(1, 0, 5, 0),
      pointer(0, 1, 3, 2),
      pointer(1, 1, 1, 5),
    ]);
    const index = new OffsetIndex(queue);
    assert.equal(await index.latest('t', 0), 5);
    assert.equal(await index.latest('t', 1), 6);
    assert.deepEqual(where(await index.locate('t', 1, 5)), [3, 0]);
    assert.deepEqual(where(await index.locate('t', 0, 4)), [2, 2]);
    assert.equal(
      await index.fromPosition('t', 0, { offset: 1, messageIndex: 3 }),
      2,
      'queue offset 1 is wp 1',
    );
    assert.equal(await nextOffsetFromTail(queue, 't', 0, 1), 5);
    assert.equal(await nextOffsetFromTail(queue, 't', 1, 1), 6);
  });

  it('finds the earliest offset exactly when retention cuts between sparse entries', async (t) => {
    const queue = await openQueue(t, 't');
    await publishRun(queue, 0, Array(20).fill(2), { offset: 0, sequence: 0 });
    const index = new OffsetIndex(queue, { maxEntries: 3, recentPointers: 1 });
    assert.equal(await index.latest('t', 0), 40);
    await queue.deleteBefore!('t', 0, 7);
    assert.equal(await index.earliest('t', 0), 14);
    assert.equal(await index.locate('t', 0, 13), 'below-start');
    assert.deepEqual(where(await index.locate('t', 0, 15)), [7, 1]);
    assert.equal(await index.fromPosition('t', 0, { offset: 6, messageIndex: 0 }), 'below-start');
  });
});
