import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { CODEC } from '../codecs.js';
import { crc32 } from '../crc.js';
import { CorruptDataError } from '../errors.js';
import type { DecodedMessage } from '../message.js';
import { type EncodedChunk, encodeChunk } from './chunk.js';
import { BatchBuilder } from './header.js';
import { decodeBatch, decodeBatchChunks, readChunk } from './reader.js';

/**
 * Chunk isolation (issue 10, finding 1): every chunk of a batch is decoded on its own, so a
 * chunk that fails (hostile records whose CRC-32 is right, a gzip chunk whose declared size
 * lies, flipped bytes) takes none of the other chunks' messages with it.
 */

const honest = (prefix: string, n: number, codec: 'none' | 'gzip' | 'lz4', producerId: number) =>
  encodeChunk(
    Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${prefix}-${i}`, timestamp: 1000 + i })),
    codec,
    { producerId, baseSequence: 0, timestamp: 1000 },
  );

/** A chunk whose stored bytes are `bytes`, with metadata and CRC-32 that agree with them. */
function selfConsistent(
  bytes: Buffer,
  codec: number,
  messageCount: number,
  uncompressedLength: number,
): EncodedChunk {
  return {
    bytes,
    meta: {
      codec,
      length: bytes.length,
      messageCount,
      uncompressedLength,
      crc32: crc32(bytes),
      producerId: 666,
      baseSequence: 0,
      minTimestamp: 1000,
      maxTimestamp: 1000,
    },
  };
}

const hostile: Record<string, EncodedChunk> = {
  'garbage records (every length -1)': selfConsistent(Buffer.alloc(64, 0xff), CODEC.none, 2, 64),
  'gzip whose declared size is smaller than its content': selfConsistent(
    gzipSync(Buffer.alloc(100_000)),
    CODEC.gzip,
    1,
    100,
  ),
  'gzip of garbage records': selfConsistent(gzipSync(Buffer.alloc(64, 0xff)), CODEC.gzip, 2, 64),
  'an lz4 chunk that is not an lz4 frame': selfConsistent(Buffer.alloc(40, 7), CODEC.lz4, 1, 64),
  'a codec this reader does not know': selfConsistent(Buffer.alloc(40, 1), 9, 1, 40),
};

function batchOf(chunks: EncodedChunk[]): Buffer {
  const b = new BatchBuilder({ topic: 't', writePartition: 0, sequence: 1, brokerId: 1 });
  for (const c of chunks) b.add(c.bytes, c.meta);
  return Buffer.concat(b.build(2000).body);
}

const values = (ms: readonly DecodedMessage[]) => ms.map((m) => m.value.toString());

describe('decodeBatchChunks: each chunk on its own', () => {
  for (const [name, bad] of Object.entries(hostile)) {
    it(`a batch holding ${name}: the other chunks are returned, that one fails`, () => {
      const object = batchOf([
        honest('a', 3, 'gzip', 1),
        bad,
        honest('b', 2, 'lz4', 2),
        honest('c', 1, 'none', 3),
      ]);
      assert.throws(() => decodeBatch(object), CorruptDataError);
      const { header, chunks } = decodeBatchChunks(object);
      assert.equal(chunks.length, 4);
      assert.deepEqual(
        chunks.map((c) => c.ok),
        [true, false, true, true],
      );
      const failed = chunks[1]!;
      assert.ok(!failed.ok);
      assert.equal(failed.chunk.index, 1);
      assert.ok(failed.error instanceof CorruptDataError);
      assert.match(failed.error.message, /^batch t\/0\/1 chunk 1/);
      const read = chunks.flatMap((c) => (c.ok ? c.messages : []));
      assert.deepEqual(values(read), ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'c-0']);
      // Message indexes stay those of the batch: the failed chunk's indexes are a gap.
      assert.deepEqual(
        read.map((m) => m.index),
        [
          0,
          1,
          2,
          header.chunks[2]!.firstMessageIndex,
          header.chunks[2]!.firstMessageIndex + 1,
          header.chunks[3]!.firstMessageIndex,
        ],
      );
    });
  }

  it('readChunk returns a failed outcome for bytes that fail the CRC, and the messages otherwise', () => {
    const object = batchOf([honest('a', 2, 'none', 1)]);
    const { header } = decodeBatchChunks(object);
    const c = header.chunks[0]!;
    const bytes = Buffer.from(object.subarray(c.offset, c.offset + c.length));
    const good = readChunk(header, 0, bytes);
    assert.ok(good.ok);
    assert.deepEqual(values(good.messages), ['a-0', 'a-1']);
    bytes[3] = bytes[3]! ^ 1;
    const bad = readChunk(header, 0, bytes);
    assert.ok(!bad.ok);
    assert.match(bad.error.message, /checksum mismatch/);
    assert.throws(() => readChunk(header, 1, bytes), /out of range/);
  });

  it('a damaged header still fails the whole batch', () => {
    const object = batchOf([honest('a', 2, 'none', 1)]);
    object[20] = object[20]! ^ 0xff;
    assert.throws(() => decodeBatchChunks(object), /batch header: checksum mismatch/);
  });

  it('any byte flipped inside one chunk fails that chunk only', () => {
    const chunks = [honest('a', 3, 'gzip', 1), honest('b', 4, 'none', 2), honest('c', 2, 'lz4', 3)];
    const object = batchOf(chunks);
    const { header } = decodeBatchChunks(object);
    fc.assert(
      fc.property(fc.nat(header.payloadLength - 1), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const bad = Buffer.from(object);
        bad[header.headerLength + at] = bad[header.headerLength + at]! ^ mask;
        const hit = header.chunks.findIndex((c) => header.headerLength + at < c.offset + c.length);
        const got = decodeBatchChunks(bad).chunks;
        assert.deepEqual(
          got.map((c) => c.ok),
          header.chunks.map((c) => c.index !== hit),
        );
        const want = decodeBatchChunks(object).chunks;
        for (const [i, c] of got.entries()) {
          const w = want[i]!;
          if (c.ok && w.ok) assert.deepEqual(values(c.messages), values(w.messages));
        }
      }),
      { numRuns: 300 },
    );
  });
});
