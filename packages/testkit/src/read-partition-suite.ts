/**
 * The optional `readPartition` of the `PointerQueue` contract (pointers of one partition read
 * outside any group: consumer lag in messages, retention), declared by `describePointerQueue`
 * for every adapter; skipped where the adapter does not have it.
 */
import assert from 'node:assert/strict';
import { type PointerQueueHarness, testPointer } from './pointer-queue-suite.js';

type Test = (title: string, fn: (h: PointerQueueHarness) => Promise<void>) => void;

export function readPartitionTests(test: Test): void {
  test('readPartition returns the published pointers in offset order, from an offset, at most max', async (h) => {
    const read = h.queue.readPartition?.bind(h.queue);
    if (!read) return; // optional: this adapter reports lag in pointers only
    const topic = await h.topic();
    const pointers = Array.from({ length: 5 }, (_, s) => testPointer(topic, 0, s));
    const positions = await h.publish(topic, pointers);
    const partition = positions[0]!.partition;
    const offsets = positions.map((p) => p.offset);

    const all = await read(topic, partition, offsets[0]!, 100);
    assert.deepEqual(
      all.map((r) => r.offset),
      offsets,
    );
    assert.deepEqual(
      all.map((r) => r.pointer),
      pointers,
    );
    assert.ok(all.every((r) => r.partition === partition && r.timestamp > 0));

    const page = await read(topic, partition, offsets[2]!, 2);
    assert.deepEqual(
      page.map((r) => [r.offset, r.pointer.messageCount]),
      [2, 3].map((i) => [offsets[i], pointers[i]!.messageCount]),
    );
    const { high } = await h.queue.watermarks(topic, partition);
    assert.deepEqual(await read(topic, partition, high, 10), [], 'nothing at the high watermark');
  });
}
