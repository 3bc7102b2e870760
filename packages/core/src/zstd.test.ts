import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChunkMeta, encodeChunk, encodeChunkAsync } from './batch/chunk.js';
import { BatchBuilder, decodeBatchHeader } from './batch/header.js';
import { decodeBatch, decodeBatchChunks, decodeChunk, readChunk } from './batch/reader.js';
import { checkChunkContent } from './batch/validate.js';
import { CODEC, compress, compressAsync, decompress } from './codecs.js';
import { crc32 } from './crc.js';
import { CorruptDataError, InvalidInputError, isRetryable, PermanentError } from './errors.js';
import { encodeRecords } from './message.js';
import { CodecUnavailableError, inspectZstdFrame, isCodecUnavailable, zstdAvailable } from './zstd.js';

const HAS_ZSTD = zstdAvailable();
const NO_ZSTD_RUNTIME =
  HAS_ZSTD && `this Node.js ${process.version} has zstd; the error paths need one without`;
const ZSTD_RUNTIME = !HAS_ZSTD && `this Node.js ${process.version} has no zstd in zlib (needs >= 22.15)`;

const T0 = 1_700_000_000_000;
const messages = Array.from({ length: 200 }, (_, i) => ({
  key: `k${i}`,
  value: `{"id":${i},"level":"info","msg":"request served in ${i % 13} ms"}`,
  timestamp: T0 + i,
}));

/** `data` as one zstd frame of raw (stored) blocks: valid zstd, written without a zstd library. */
function rawZstdFrame(data: Buffer, blockSize = 128 * 1024): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0]), Buffer.alloc(4)];
  parts[1]!.writeUInt32LE(data.length);
  let off = 0;
  do {
    const size = Math.min(blockSize, data.length - off);
    const last = off + size >= data.length ? 1 : 0;
    const h = Buffer.alloc(3);
    h.writeUIntLE(last | (size << 3), 0, 3);
    parts.push(h, data.subarray(off, off + size));
    off += size;
  } while (off < data.length);
  return Buffer.concat(parts);
}

/** A zstd (codec 3) chunk of `records`, made by hand so that any runtime can build one. */
function handMadeZstdChunk(): { bytes: Buffer; meta: ChunkMeta } {
  const records = encodeRecords(messages, T0).bytes;
  const bytes = rawZstdFrame(records);
  const meta: ChunkMeta = {
    codec: CODEC.zstd,
    length: bytes.length,
    messageCount: messages.length,
    uncompressedLength: records.length,
    crc32: crc32(bytes),
    producerId: 5,
    baseSequence: 0,
    minTimestamp: T0,
    maxTimestamp: T0 + messages.length - 1,
  };
  return { bytes, meta };
}

/** A batch of [gzip chunk, hand-made zstd chunk]. */
function mixedBatch(): Buffer {
  const b = new BatchBuilder({ topic: 't', writePartition: 0, sequence: 4, brokerId: 1 });
  const gzip = encodeChunk([{ value: 'before', timestamp: T0 }], 'gzip');
  b.add(gzip.bytes, gzip.meta);
  const z = handMadeZstdChunk();
  b.add(z.bytes, z.meta);
  const built = b.build(T0);
  return Buffer.concat(built.body);
}

function unavailable(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof CodecUnavailableError, `expected CodecUnavailableError, got ${String(e)}`);
    assert.ok(isCodecUnavailable(e));
    assert.ok(!(e instanceof CorruptDataError), 'not reported as damaged data');
    assert.ok(e instanceof PermanentError);
    assert.equal(isRetryable(e), false);
    assert.equal(e.codec, 3);
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(process.version), e.message);
    assert.match(e.message, /Node\.js >= 22\.15/);
    return true;
  };
}

describe('zstd on a runtime without it', { skip: NO_ZSTD_RUNTIME }, () => {
  it('refuses to encode, naming the codec and the Node.js version needed', async () => {
    assert.throws(
      () => encodeChunk(messages, 'zstd'),
      unavailable(/^cannot encode a chunk with zstd \(codec 3\)/),
    );
    assert.throws(() => encodeChunk(messages, CODEC.zstd), unavailable(/zstd/));
    await assert.rejects(encodeChunkAsync(messages, 'zstd'), unavailable(/zstd \(codec 3\)/));
    assert.throws(() => compress('zstd', Buffer.from('x')), unavailable(/cannot compress with zstd/));
    await assert.rejects(compressAsync('zstd', Buffer.from('x')), unavailable(/cannot compress with zstd/));
  });

  it('a reader meeting a zstd chunk gets the clear error, with the chunk named, not "corrupt"', () => {
    const object = mixedBatch();
    const named =
      /^batch t\/0\/4 chunk 1: chunk uses zstd \(codec 3\) but this Node\.js v\S+ has no zstd in zlib/;
    assert.throws(() => decodeBatch(object), unavailable(named));
    // Thrown, not returned as a damaged chunk: a reader that skips damaged chunks must not skip it.
    assert.throws(() => decodeBatchChunks(object), unavailable(named));
    const header = decodeBatchHeader(object); // the header reads on any runtime
    const bytesOf = (i: number) => {
      const c = header.chunks[i]!;
      return object.subarray(c.offset, c.offset + c.length);
    };
    assert.throws(() => readChunk(header, 1, bytesOf(1)), unavailable(named));
    assert.equal(decodeChunk(header, 0, bytesOf(0))[0]!.value.toString(), 'before', 'the other chunk reads');
  });

  it('the broker-side content check cannot check a zstd chunk and says why', () => {
    const { bytes, meta } = handMadeZstdChunk();
    assert.throws(() => checkChunkContent(bytes, meta, 'chunk 0'), unavailable(/^chunk 0: chunk uses zstd/));
  });
});

describe('zstd frame walk (any runtime)', () => {
  const data = Buffer.from('x'.repeat(300_000));
  const frame = rawZstdFrame(data);

  it('accepts one frame of raw blocks and bounds its output', () => {
    const info = inspectZstdFrame(frame, data.length);
    assert.equal(info.contentSize, data.length);
    assert.equal(info.maxOutputBytes, data.length);
    assert.equal(inspectZstdFrame(rawZstdFrame(Buffer.alloc(0)), 0).maxOutputBytes, 0);
  });

  const corrupt = (bytes: Buffer, length: number, pattern: RegExp) =>
    assert.throws(
      () => inspectZstdFrame(bytes, length),
      (e: unknown) => e instanceof CorruptDataError && pattern.test(e.message),
    );

  it('refuses what a Barge reader must not decode', () => {
    corrupt(frame, data.length - 1, /declares 300000 content bytes; the chunk metadata says 299999/);
    corrupt(Buffer.concat([frame, Buffer.from([0])]), data.length, /1 bytes after the end of the frame/);
    corrupt(Buffer.concat([frame, frame]), data.length, /bytes after the end of the frame/);
    corrupt(frame.subarray(0, frame.length - 1), data.length, /truncated block/);
    corrupt(Buffer.from('not zstd at all'), 1, /bad magic/);
    const reserved = Buffer.from(frame);
    reserved[4]! |= 0x08;
    corrupt(reserved, data.length, /reserved descriptor bit/);
    // Dictionary id flag 1 (one byte, id 7) before the content size.
    const dict = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa1, 7]), frame.subarray(5)]);
    corrupt(dict, data.length, /need a dictionary/);
    // Not single-segment, window descriptor 2^31, no content size; one empty last raw block.
    const wide = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (31 - 10) << 3, 1, 0, 0]);
    corrupt(wide, 0, /window of 2147483648 bytes is above/);
    // A 1 KiB window, one empty raw block: cannot hold the 10 bytes declared.
    corrupt(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 1, 0, 0]), 10, /can hold at most 0 bytes/);
  });
});

describe('zstd round trip', { skip: ZSTD_RUNTIME }, () => {
  it('encodes and decodes chunks at several levels, sync and async, and the broker check passes them', async () => {
    for (const zstdLevel of [undefined, 1, 3, 19]) {
      for (const c of [
        encodeChunk(messages, 'zstd', { zstdLevel, timestamp: T0 }),
        await encodeChunkAsync(messages, 'zstd', { zstdLevel, timestamp: T0 }),
      ]) {
        assert.equal(c.meta.codec, CODEC.zstd);
        assert.ok(c.bytes.length < c.meta.uncompressedLength / 2, `level ${zstdLevel}: ${c.bytes.length}`);
        const info = inspectZstdFrame(c.bytes, c.meta.uncompressedLength);
        assert.equal(info.contentSize, c.meta.uncompressedLength, 'writers record the content size');
        const b = new BatchBuilder({ topic: 't', writePartition: 0, sequence: 0, brokerId: 1 });
        b.add(c.bytes, c.meta);
        const built = b.build(T0);
        const got = decodeBatch(Buffer.concat(built.body)).messages;
        assert.deepEqual(
          got.map((m) => [m.key?.toString(), m.value.toString(), m.timestamp]),
          messages.map((m) => [m.key, m.value, m.timestamp]),
        );
        await checkChunkContent(c.bytes, c.meta, 'chunk 0');
      }
    }
    const empty = encodeChunk([], 'zstd');
    assert.equal(decompress(CODEC.zstd, empty.bytes, 0).length, 0);
    await checkChunkContent(empty.bytes, empty.meta);
  });

  it('decodes frames from other writers (raw blocks) and refuses lengths that do not match', async () => {
    const { bytes, meta } = handMadeZstdChunk();
    assert.equal(decompress(CODEC.zstd, bytes, meta.uncompressedLength).length, meta.uncompressedLength);
    await checkChunkContent(bytes, meta);
    const c = encodeChunk(messages, 'zstd');
    assert.throws(() => decompress(CODEC.zstd, c.bytes, c.meta.uncompressedLength + 1), CorruptDataError);
    const liar = { ...c.meta, uncompressedLength: c.meta.uncompressedLength - 18 };
    await assert.rejects(
      Promise.resolve().then(() => checkChunkContent(c.bytes, liar)),
      CorruptDataError,
    );
  });

  it('refuses an invalid level', () => {
    assert.throws(() => encodeChunk(messages, 'zstd', { zstdLevel: 23 }), InvalidInputError);
    assert.throws(() => encodeChunk(messages, 'zstd', { zstdLevel: 0 }), InvalidInputError);
  });
});
