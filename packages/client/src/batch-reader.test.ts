import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BatchBuilder,
  type BatchPointer,
  CorruptDataError,
  encodeChunk,
  type Message,
  TransientError,
} from '@barge/core';
import { BatchReader, chunkRuns, type ObjectSource } from './batch-reader.js';
import { resolveRetry } from './retry.js';

/** A batch object built with the core encoders, and its pointer. */
function makeBatch(chunks: Message[][], codec: 'none' | 'gzip' | 'lz4' = 'none') {
  const builder = new BatchBuilder({ topic: 't', writePartition: 3, sequence: 7, brokerId: 1 });
  let seq = 0;
  for (const msgs of chunks) {
    const c = encodeChunk(msgs, codec, { producerId: 42, baseSequence: seq, timestamp: 1000 });
    seq += msgs.length;
    builder.add(c.bytes, c.meta);
  }
  const batch = builder.build(2000);
  const object = Buffer.concat(batch.body as Buffer[]);
  const pointer: BatchPointer = {
    v: 1,
    topic: 't',
    writePartition: 3,
    sequence: 7,
    brokerId: 1,
    storage: { adapter: 'mem', location: 'x', key: 'k' },
    objectSize: batch.objectSize,
    headerLength: batch.headerLength,
    messageCount: batch.messageCount,
    chunkCount: batch.chunkCount,
    firstTimestamp: batch.minTimestamp,
    lastTimestamp: batch.maxTimestamp,
    createdAt: batch.createdAt,
    headerCrc: batch.headerCrc,
  };
  return { object, pointer };
}

/** Serves ranges of one in-memory object and records the reads. */
class BufferSource implements ObjectSource {
  reads: [number, number][] = [];
  failNext = 0;
  constructor(
    private readonly object: Buffer,
    readonly maxReadBytes = Number.MAX_SAFE_INTEGER,
  ) {}
  async readRange(_p: BatchPointer, offset: number, length: number): Promise<Buffer> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new TransientError('flaky');
    }
    this.reads.push([offset, length]);
    return this.object.subarray(offset, Math.min(this.object.length, offset + length));
  }
}

const msgs = (prefix: string, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i % 2 ? null : `${prefix}${i}`,
    value: `${prefix}-value-${i}`,
    headers: [{ name: 'h', value: String(i) }],
  }));

describe('BatchReader', () => {
  for (const codec of ['none', 'gzip', 'lz4'] as const) {
    it(`reads every message of a small batch in one read (${codec})`, async () => {
      const { object, pointer } = makeBatch([msgs('a', 3), msgs('b', 2)], codec);
      const src = new BufferSource(object);
      const { messages } = await new BatchReader(src).load(pointer);
      assert.deepEqual(src.reads, [[0, object.length]]);
      assert.deepEqual(
        messages.map((m) => [
          m.index,
          m.key?.toString() ?? null,
          m.value.toString(),
          m.sequence,
          m.producerId,
        ]),
        [
          [0, 'a0', 'a-value-0', 0, 42],
          [1, null, 'a-value-1', 1, 42],
          [2, 'a2', 'a-value-2', 2, 42],
          [3, 'b0', 'b-value-0', 3, 42],
          [4, null, 'b-value-1', 4, 42],
        ],
      );
      assert.equal(messages[4]!.headers[0]!.value.toString(), '1');
    });
  }

  it('reads a large batch header first, then only the chunks from the start index, in ranges of maxReadBytes', async () => {
    const { object, pointer } = makeBatch([msgs('a', 3), msgs('b', 2), msgs('c', 4)]);
    const src = new BufferSource(object, 50);
    const reader = new BatchReader(src, { wholeObjectBytes: 0 });
    const { messages, header } = await reader.load(pointer, 4);
    assert.deepEqual(
      messages.map((m) => m.index),
      [4, 5, 6, 7, 8],
    );
    assert.ok(src.reads.every(([, n]) => n <= 50));
    // chunk 0 was never read
    const c0 = header.chunks[0]!;
    assert.ok(src.reads.every(([o]) => o < header.headerLength || o >= c0.offset + c0.length));
  });

  it('reads a large batch wanted from its start in one read, and from a later index in one range after the header', async () => {
    const { object, pointer } = makeBatch([msgs('a', 3), msgs('b', 2), msgs('c', 4)]);
    const src = new BufferSource(object);
    const reader = new BatchReader(src, { wholeObjectBytes: 0 });
    const all = await reader.load(pointer);
    assert.deepEqual(src.reads, [[0, object.length]]);
    assert.equal(all.messages.length, 9);
    src.reads = [];
    const c1 = all.header.chunks[1]!;
    const later = await reader.load(pointer, 3);
    assert.deepEqual(src.reads, [
      [0, pointer.headerLength],
      [c1.offset, object.length - c1.offset],
    ]);
    assert.deepEqual(
      later.messages.map((m) => m.value.toString()),
      ['b-value-0', 'b-value-1', 'c-value-0', 'c-value-1', 'c-value-2', 'c-value-3'],
    );
  });

  it('a truncated large object: the chunks the reads reached are returned, the others are damaged', async () => {
    const { object, pointer } = makeBatch([msgs('a', 3), msgs('b', 2), msgs('c', 4)]);
    const c2 = (await new BatchReader(new BufferSource(object)).load(pointer)).header.chunks[2]!;
    const cut = object.subarray(0, c2.offset + 5);
    for (const [fromIndex, maxReadBytes] of [
      [0, Number.MAX_SAFE_INTEGER],
      [0, 40],
      [1, Number.MAX_SAFE_INTEGER],
      [1, 40],
    ] as const) {
      const reader = new BatchReader(new BufferSource(cut, maxReadBytes), { wholeObjectBytes: 0 });
      const { messages, damaged } = await reader.load(pointer, fromIndex);
      const where = `fromIndex ${fromIndex}, maxReadBytes ${maxReadBytes}`;
      assert.deepEqual(
        messages.map((m) => m.index),
        [0, 1, 2, 3, 4].filter((i) => i >= fromIndex),
        where,
      );
      assert.deepEqual(
        damaged.map((d) => d.chunk.index),
        [2],
        where,
      );
      assert.ok(damaged[0]!.error instanceof CorruptDataError, where);
    }
  });

  it('fetch holds the bytes undecoded; decodeFetched verifies each chunk on its own', async () => {
    const { object, pointer } = makeBatch([msgs('a', 2), msgs('b', 2)]);
    const bad = Buffer.from(object);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff; // inside the last chunk
    const reader = new BatchReader(new BufferSource(bad));
    const fetched = await reader.fetch(pointer);
    assert.deepEqual(
      fetched.chunks.map((c) => c.bytes?.length),
      fetched.header.chunks.map((c) => c.length),
    );
    const { messages, damaged } = reader.decodeFetched(fetched);
    assert.deepEqual(
      messages.map((m) => m.value.toString()),
      ['a-value-0', 'a-value-1'],
    );
    assert.deepEqual(
      damaged.map((d) => d.chunk.index),
      [1],
    );
  });

  it('decodeFetched builds every message with the factory given, also from mid-chunk', async () => {
    const { object, pointer } = makeBatch([msgs('a', 3), msgs('b', 2), msgs('c', 4)]);
    const reader = new BatchReader(new BufferSource(object), { wholeObjectBytes: 0 });
    const made = (fromIndex: number) =>
      reader.fetch(pointer, fromIndex).then((f) =>
        reader.decodeFetched(f, (key, value, headers, timestamp, producerId, sequence, index) => ({
          made: true as const,
          at: `${index}/${sequence}/${producerId}`,
          value: value.toString(),
          key: key?.toString(),
          headers: headers.length,
          timestamp,
        })),
      );
    // From index 4: chunk b (3-4) starts before it, chunk c (5-8) after.
    const { messages } = await made(4);
    assert.deepEqual(
      messages.map((m) => [m.made, m.at, m.value]),
      [
        [true, '4/4/42', 'b-value-1'],
        [true, '5/5/42', 'c-value-0'],
        [true, '6/6/42', 'c-value-1'],
        [true, '7/7/42', 'c-value-2'],
        [true, '8/8/42', 'c-value-3'],
      ],
    );
    const whole = await made(0);
    assert.equal(whole.messages.length, 9);
    assert.ok(whole.messages.every((m) => m.made && m.timestamp === 1000));
  });

  it('retries transient read failures', async () => {
    const { object, pointer } = makeBatch([msgs('a', 2)]);
    const src = new BufferSource(object);
    src.failNext = 2;
    const reader = new BatchReader(src, { retry: resolveRetry({ retries: 3, initialRetryTimeMs: 1 }) });
    const { messages } = await reader.load(pointer);
    assert.equal(messages.length, 2);
  });

  it('reports a corrupted chunk (with none of its messages) and rejects a header that does not match the pointer', async () => {
    const { object, pointer } = makeBatch([msgs('a', 3)]);
    const bad = Buffer.from(object);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    const { messages, damaged } = await new BatchReader(new BufferSource(bad)).load(pointer);
    assert.deepEqual(messages, []);
    assert.equal(damaged.length, 1);
    assert.ok(damaged[0]!.error instanceof CorruptDataError);
    assert.match(damaged[0]!.error.message, /chunk 0 checksum mismatch/);
    await assert.rejects(
      new BatchReader(new BufferSource(object)).load({ ...pointer, sequence: 8 }),
      /sequence/,
    );
  });

  it('rejects an object shorter than its pointer says', async () => {
    const { object, pointer } = makeBatch([msgs('a', 3)]);
    await assert.rejects(
      new BatchReader(new BufferSource(object.subarray(0, object.length - 1))).load(pointer),
      CorruptDataError,
    );
  });
});

describe('chunkRuns', () => {
  const chunk = (index: number, offset: number, length: number) =>
    ({ index, offset, length }) as Parameters<typeof chunkRuns>[0][number];
  const runs = (chunks: ReturnType<typeof chunk>[], max: number) =>
    chunkRuns(chunks, max).map((r) => r.map((c) => c.index));

  it('groups adjacent chunks into runs of at most maxBytes; a larger chunk is a run of its own', () => {
    const cs = [chunk(0, 100, 10), chunk(1, 110, 10), chunk(2, 120, 30), chunk(3, 150, 10)];
    assert.deepEqual(runs(cs, 1000), [[0, 1, 2, 3]]);
    assert.deepEqual(runs(cs, 20), [[0, 1], [2], [3]]);
    assert.deepEqual(runs(cs, 50), [[0, 1, 2], [3]]);
    assert.deepEqual(runs([], 10), []);
  });

  it('starts a new run at a gap between chunks', () => {
    assert.deepEqual(runs([chunk(0, 100, 10), chunk(2, 130, 10)], 1000), [[0], [2]]);
  });
});
