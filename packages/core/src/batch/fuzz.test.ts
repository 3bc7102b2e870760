import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressSync } from 'lz4-napi';
import { CODEC } from '../codecs.js';
import { crc32 } from '../crc.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import { encodeRecords } from '../message.js';
import { allocationsDuring } from '../test-support/fuzz.js';
import { isCodecUnavailable } from '../zstd.js';
import type { ChunkMeta } from './chunk.js';
import { encodeHeaderVariant, fixHeaderCrc, SAMPLE_TARGET, sampleBatch, sampleChunks } from './fixtures.js';
import { H } from './format.js';
import { decodeBatchHeader, headerLengthFromPreamble } from './header.js';
import { decodeBatch, decodeChunk } from './reader.js';

const MiB = 1024 * 1024;
const { object, batch } = sampleBatch();

/**
 * Runs `fn`; it may succeed, or fail only with a typed error. Returns the error, if any.
 * A codec byte rewritten to zstd (3) on a runtime without zstd is a typed CodecUnavailableError.
 */
function typedOrOk(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(
      e instanceof CorruptDataError || e instanceof InvalidInputError || isCodecUnavailable(e),
      `untyped error: ${(e as Error)?.stack ?? String(e)}`,
    );
    return e;
  }
}

function mustBeCorrupt(fn: () => unknown, what: string): void {
  const e = typedOrOk(fn);
  assert.ok(
    e instanceof CorruptDataError,
    `${what}: expected CorruptDataError, got ${e === undefined ? 'success' : String(e)}`,
  );
}

/** Rebuilds `object` with chunk `index` replaced by `bytes`/`meta`, with all CRCs valid. */
function withChunk(index: number, bytes: Buffer, over: Partial<ChunkMeta> = {}): Buffer {
  const chunks = sampleChunks();
  const metas = chunks.map((c) => c.meta);
  metas[index] = { ...metas[index]!, length: bytes.length, crc32: crc32(bytes), ...over };
  const parts = chunks.map((c) => c.bytes);
  parts[index] = bytes;
  const header = encodeHeaderVariant({ ...SAMPLE_TARGET, createdAt: 1, chunks: metas });
  return Buffer.concat([header, ...parts]);
}

describe('fuzz: damaged objects are always a typed error', () => {
  it('sample object decodes', () => {
    assert.equal(decodeBatch(object).messages.length, 33);
    assert.ok(object.length > 900);
  });

  it('every truncation is a CorruptDataError', () => {
    for (let n = 0; n < object.length; n++) {
      mustBeCorrupt(() => decodeBatch(object.subarray(0, n)), `truncated to ${n}`);
      if (n < batch.headerLength)
        mustBeCorrupt(() => decodeBatchHeader(object.subarray(0, n)), `header cut at ${n}`);
    }
  });

  it('every single bit flip anywhere is detected (CRC) as a CorruptDataError', () => {
    const b = Buffer.from(object);
    for (let i = 0; i < b.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        b[i]! ^= 1 << bit;
        mustBeCorrupt(() => decodeBatch(b), `bit ${bit} of byte ${i} flipped`);
        b[i]! ^= 1 << bit;
      }
    }
    assert.deepEqual(b, object);
  });

  it('random byte changes and burst errors are detected', () => {
    fc.assert(
      fc.property(fc.nat(object.length - 1), fc.uint8Array({ minLength: 1, maxLength: 8 }), (at, bytes) => {
        const b = Buffer.from(object);
        Buffer.from(bytes).copy(b, at);
        if (b.equals(object)) return;
        mustBeCorrupt(() => decodeBatch(b), `bytes at ${at}`);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes, with or without a valid preamble, give typed errors only', () => {
    const preamble = object.subarray(0, 12);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (a, withPreamble) => {
        let b = Buffer.from(a);
        if (withPreamble) {
          b = Buffer.concat([preamble, b]);
          b.writeUInt32BE(Math.min(b.length, Math.max(77, b.readUInt32BE(8) % (b.length + 1))), 8);
        }
        mustBeCorrupt(() => decodeBatch(b), 'random bytes');
        typedOrOk(() => decodeBatchHeader(b));
        typedOrOk(() => headerLengthFromPreamble(b));
      }),
      { numRuns: 3000 },
    );
  });

  it('header fields rewritten with a valid CRC: decoded consistently or a typed error', () => {
    fc.assert(
      fc.property(
        fc.nat(batch.headerLength - 5),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (at, bytes) => {
          const b = Buffer.from(object);
          Buffer.from(bytes).copy(b, at, 0, Math.min(bytes.length, batch.headerLength - 4 - at));
          fixHeaderCrc(b, batch.headerLength);
          let decoded: ReturnType<typeof decodeBatch> | undefined;
          typedOrOk(() => {
            decoded = decodeBatch(b);
          });
          if (decoded) {
            // Whatever a changed header still lets through must be internally consistent.
            assert.equal(decoded.messages.length, decoded.header.messageCount);
            assert.equal(decoded.header.objectSize, b.length);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('chunk bytes rewritten with valid CRCs (hostile producer): typed errors only', () => {
    const chunks = sampleChunks();
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 3),
        fc.nat(10_000),
        fc.uint8Array({ minLength: 1, maxLength: 6 }),
        fc.nat(10_000),
        (index, atSeed, bytes, cutSeed) => {
          const orig = chunks[index]!.bytes;
          const b = Buffer.from(orig);
          Buffer.from(bytes).copy(b, atSeed % b.length);
          const cut = b.subarray(0, b.length - (cutSeed % 3 === 0 ? cutSeed % b.length : 0));
          // For codec none the uncompressed length must follow the stored length.
          const over = chunks[index]!.meta.codec === CODEC.none ? { uncompressedLength: cut.length } : {};
          typedOrOk(() => decodeBatch(withChunk(index, cut, over)));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('fuzz: hostile length fields never cause large allocations', () => {
  it('a header length of 4 GiB is refused from the preamble', () => {
    const b = Buffer.from(object);
    b.writeUInt32BE(0xffffffff, H.headerLength);
    const r = allocationsDuring(() => {
      assert.throws(() => headerLengthFromPreamble(b), /exceeds the limit of 16777216/);
      mustBeCorrupt(() => decodeBatch(b), '4 GiB header');
    });
    assert.ok(r.largest < MiB, `allocated ${r.largest}`);
  });

  it('a chunk count of 2^32-1 with a valid CRC is refused before any entry is read', () => {
    const b = Buffer.from(object.subarray(0, batch.headerLength));
    b.writeUInt32BE(0xffffffff, H.chunkCount);
    fixHeaderCrc(b);
    const r = allocationsDuring(() => mustBeCorrupt(() => decodeBatchHeader(b), 'chunk count'));
    assert.ok(r.largest < MiB);
  });

  it('an uncompressed length of 4 GiB is refused before decompressing', () => {
    const c = sampleChunks()[1]!;
    const obj = withChunk(1, c.bytes, { uncompressedLength: 0xffffffff });
    const h = decodeBatchHeader(obj);
    const r = allocationsDuring(() =>
      assert.throws(() => decodeChunk(h, 1, c.bytes), /uncompressed length 4294967295 exceeds the limit/),
    );
    assert.ok(r.largest < MiB);
  });

  it('a message count of 2^32-1 is refused (it cannot fit the bytes)', () => {
    const c = sampleChunks()[0]!;
    const obj = withChunk(0, c.bytes, { messageCount: 0xffffffff });
    const r = allocationsDuring(() => mustBeCorrupt(() => decodeBatch(obj), 'message count'));
    assert.ok(r.largest < MiB);
  });

  it('key, value and header lengths of 2 GiB inside a valid chunk are refused', () => {
    const records = encodeRecords(
      [{ key: 'k', value: 'v', headers: [{ name: 'n', value: 'x' }], timestamp: 0 }],
      0,
    ).bytes;
    for (const at of [8, 8 + 4 + 1, 8 + 4 + 1 + 4 + 1 + 2 + 2 + 1]) {
      const b = Buffer.from(records);
      b.writeInt32BE(0x7fffffff, at);
      const meta = {
        messageCount: 1,
        uncompressedLength: b.length,
        minTimestamp: 0,
        maxTimestamp: 0,
        baseSequence: 0,
      };
      const obj = withChunk(0, b, meta);
      const r = allocationsDuring(() => mustBeCorrupt(() => decodeBatch(obj), `length at ${at}`));
      assert.ok(r.largest < MiB);
    }
  });

  it('a gzip bomb (32 MiB of zeros) claiming 1 KiB stops at the claim', () => {
    const bomb = gzipSync(Buffer.alloc(32 * MiB), { level: 1 });
    const obj = withChunk(1, bomb, { uncompressedLength: 1024, messageCount: 1 });
    const r = allocationsDuring(() => mustBeCorrupt(() => decodeBatch(obj), 'gzip bomb'));
    assert.ok(r.largest < MiB, `largest allocation ${r.largest}`);
    assert.ok(r.arrayBuffersGrowth < 16 * MiB, `grew ${r.arrayBuffersGrowth}`);
  });

  it('an lz4 frame that could expand to 400 MiB is refused before decoding', () => {
    const block = compressSync(Buffer.alloc(4 * MiB)).subarray(4);
    const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73])];
    for (let i = 0; i < 100; i++) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(block.length);
      parts.push(len, block);
    }
    parts.push(Buffer.alloc(4));
    const frame = Buffer.concat(parts);
    const obj = withChunk(3, frame, { uncompressedLength: 1024, messageCount: 1 });
    const r = allocationsDuring(() => mustBeCorrupt(() => decodeBatch(obj), 'lz4 bomb'));
    assert.ok(r.largest < 4 * MiB, `largest allocation ${r.largest}`);
    assert.ok(r.arrayBuffersGrowth < 16 * MiB, `grew ${r.arrayBuffersGrowth}`);
  });
});
