import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  ApiKey,
  type BrokerConfigInput,
  type ChunkMeta,
  CODEC,
  crc32,
  decodeBatch,
  decodeBatchHeader,
  ErrorCode,
  encodeRecords,
  isCodecUnavailable,
  type ProduceChunk,
  zstdAvailable,
} from '@barge/core';
import { type Harness, ok, produceRequest, readAllPointers, startHarness } from './test-helpers.js';

/**
 * zstd chunks (codec 3) at the broker. Storing never decompresses; `limits.validateChunks`
 * decompresses to check, which needs zstd in the broker's runtime (Node.js >= 22.15).
 */
const HAS_ZSTD = zstdAvailable();

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

async function harness(limits: BrokerConfigInput['limits'] = {}): Promise<Harness> {
  const h = await startHarness({ topics: [{ name: 't', batch: { maxDelayMs: 20 } }], limits });
  harnesses.push(h);
  return h;
}

const T0 = 1_700_000_000_000;
const values = ['alpha', 'beta', 'gamma'];

/** The records as one zstd frame of raw blocks (RFC 8878): valid zstd that any runtime can write. */
function zstdChunk(): ProduceChunk {
  const records = encodeRecords(
    values.map((value) => ({ value, timestamp: T0 })),
    T0,
  ).bytes;
  const head = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0, 0, 0, 0]);
  head.writeUInt32LE(records.length, 5); // content size
  head.writeUIntLE(1 | (records.length << 3), 9, 3); // last raw block
  const bytes = Buffer.concat([head, records]);
  const meta: ChunkMeta = {
    codec: CODEC.zstd,
    length: bytes.length,
    messageCount: values.length,
    uncompressedLength: records.length,
    crc32: crc32(bytes),
    producerId: 7,
    baseSequence: 0,
    minTimestamp: T0,
    maxTimestamp: T0,
  };
  return { bytes, meta };
}

describe('produce: zstd chunks', () => {
  it('with validateChunks false, stores a zstd chunk as received on any runtime', async () => {
    const h = await harness({ validateChunks: false });
    const c = await h.client();
    const chunk = zstdChunk();
    ok(await c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [chunk] }));
    const [p] = await readAllPointers(h.pointers, 't');
    assert.ok(p, 'a pointer was published');
    const object = await h.storage.get(p.pointer.storage.key);
    const header = decodeBatchHeader(object);
    assert.equal(header.chunks[0]!.codec, CODEC.zstd);
    const stored = object.subarray(
      header.chunks[0]!.offset,
      header.chunks[0]!.offset + header.chunks[0]!.length,
    );
    assert.ok(stored.equals(chunk.bytes), 'stored byte for byte');
    if (HAS_ZSTD) {
      assert.deepEqual(
        decodeBatch(object).messages.map((m) => m.value.toString()),
        values,
      );
    } else {
      assert.throws(() => decodeBatch(object), isCodecUnavailable);
    }
  });

  it('with validateChunks on, a broker without zstd refuses the chunk with UNSUPPORTED_CODEC saying why', {
    skip: HAS_ZSTD && `this Node.js ${process.version} has zstd, so the broker checks the chunk`,
  }, async () => {
    const h = await harness();
    const c = await h.client();
    const r = await c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [zstdChunk()] });
    assert.equal(r.errorCode, ErrorCode.UNSUPPORTED_CODEC, r.message ?? 'acked');
    assert.match(
      r.message ?? '',
      /^chunk 0: chunk uses zstd \(codec 3\) but this Node\.js v\S+ has no zstd in zlib; use Node\.js >= 22\.15.*limits\.validateChunks/,
    );
    h.broker.flush();
    assert.deepEqual(await readAllPointers(h.pointers, 't'), [], 'nothing was stored');
  });

  it('with validateChunks on, a broker with zstd checks and stores zstd chunks and refuses a lying one', {
    skip: !HAS_ZSTD && `this Node.js ${process.version} has no zstd in zlib (needs >= 22.15)`,
  }, async () => {
    const h = await harness();
    const c = await h.client();
    ok(await c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [zstdChunk()] }));
    const good = zstdChunk();
    const liar = { ...good, meta: { ...good.meta, uncompressedLength: good.meta.uncompressedLength + 18 } };
    const r = await c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [liar] });
    assert.equal(r.errorCode, ErrorCode.CORRUPT_CHUNK, r.message ?? 'acked');
  });
});
