import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeChunk, type Message } from '@barge/core';
import { CHUNK_OVERHEAD, PartitionQueue, type QueuedChunk, REQUEST_OVERHEAD } from './partition-queue.js';
import type { PendingMessage } from './send-tracker.js';
import { ProduceTargets } from './target.js';

const target = new ProduceTargets().get('t', 0, 'durable');

/** A chunk of `count` messages of `valueBytes` each, encoded from `queue`'s next sequence. */
function chunk(queue: PartitionQueue, count: number, valueBytes: number): QueuedChunk {
  const messages: Message[] = Array.from({ length: count }, () => ({ value: Buffer.alloc(valueBytes, 1) }));
  const encoded = encodeChunk(messages, 'none', { producerId: 1, baseSequence: queue.nextSequence });
  const pending = messages.map((message, index) => ({ message, size: valueBytes, index }) as PendingMessage);
  return {
    target,
    messages: pending,
    encoded,
    bytes: count * valueBytes,
    retries: 0,
    queuedAt: 0,
    notOwner: false,
  };
}

const unlimited = { maxFrameBytes: Number.POSITIVE_INFINITY, maxMessagesPerRequest: 1e9 };

describe('PartitionQueue', () => {
  it('reports the next request that all its queued chunks would make, as take() makes it', () => {
    const q = new PartitionQueue(target.partition);
    assert.equal(q.wholeRequestBytes(unlimited), 0, 'nothing queued');
    for (const n of [3, 5, 7]) q.push(chunk(q, n, 100));
    const whole = q.wholeRequestBytes(unlimited);
    assert.ok(whole > q.nextRequestBytes, 'more than the first chunk');
    assert.equal(q.take(unlimited).bytes, whole);
    assert.equal(q.wholeRequestBytes(unlimited), 0, 'all taken');
  });

  it('bounds it by the frame and message limits, and never below the first chunk', () => {
    const q = new PartitionQueue(target.partition);
    for (let i = 0; i < 4; i++) q.push(chunk(q, 10, 1000));
    const first = q.nextRequestBytes;
    const whole = q.wholeRequestBytes(unlimited);
    assert.equal(q.wholeRequestBytes({ ...unlimited, maxFrameBytes: 2 * first }), 2 * first);
    assert.equal(q.wholeRequestBytes({ ...unlimited, maxFrameBytes: 10 }), first);
    // 20 of the 40 messages fit a request: about half of the bytes.
    const half = q.wholeRequestBytes({ ...unlimited, maxMessagesPerRequest: 20 });
    assert.ok(Math.abs(half - whole / 2) <= 1, `${half} vs ${whole / 2}`);
    assert.equal(q.take({ ...unlimited, maxMessagesPerRequest: 20 }).chunks.length, 2);
  });

  it('counts the chunks of a failed request again when they are put back', () => {
    const q = new PartitionQueue(target.partition);
    for (let i = 0; i < 3; i++) q.push(chunk(q, 2, 500));
    const whole = q.wholeRequestBytes(unlimited);
    const first = q.take({ ...unlimited, maxFrameBytes: REQUEST_OVERHEAD + 2 * (CHUNK_OVERHEAD + 1100) });
    assert.ok(q.wholeRequestBytes(unlimited) < whole);
    q.requestEnded(false);
    q.retryLater(first.chunks, 0);
    assert.equal(q.wholeRequestBytes(unlimited), whole);
  });
});
