import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CODEC, inspectLz4Frame, UnsupportedCodecError } from '../codecs.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import type { DecodedMessage, Message } from '../message.js';
import { decodePointer, encodePointer } from '../pointer.js';
import { type ChunkMeta, encodeChunk, encodeChunkAsync, validateChunkMeta, verifyChunk } from './chunk.js';
import { UnsupportedVersionError } from './errors.js';
import { encodeHeaderVariant, fixHeaderCrc, SAMPLE_TARGET, sampleBatch, sampleChunks } from './fixtures.js';
import { BATCH_FORMAT_VERSION, HEADER_PREAMBLE_BYTES, INDEX_ENTRY_BYTES } from './format.js';
import {
  BatchBuilder,
  batchHeaderLength,
  batchPointer,
  checkHeaderMatchesPointer,
  decodeBatchHeader,
  encodeBatchHeader,
  headerLengthFromPreamble,
} from './header.js';
import { chunkRange, decodeBatch, decodeChunk, iterateBatch, iterateChunk, openChunk } from './reader.js';

const toBuf = (v: Uint8Array | string) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));
const expected = (m: Message) => ({
  key: m.key === null || m.key === undefined ? null : toBuf(m.key),
  value: toBuf(m.value),
  headers: (m.headers ?? []).map((h) => ({ name: h.name, value: toBuf(h.value) })),
  timestamp: m.timestamp,
});
const plain = (m: DecodedMessage) => ({
  key: m.key === null ? null : Buffer.from(m.key),
  value: Buffer.from(m.value),
  headers: m.headers.map((h) => ({ name: h.name, value: Buffer.from(h.value) })),
  timestamp: m.timestamp,
});

const bytesOrString = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
);
const messageArb: fc.Arbitrary<Message> = fc.record({
  key: fc.oneof(fc.constant(null), bytesOrString),
  value: bytesOrString,
  headers: fc.array(
    fc.record({ name: fc.string({ unit: 'grapheme', maxLength: 8 }), value: bytesOrString }),
    {
      maxLength: 3,
    },
  ),
  timestamp: fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
});

function assertCorrupt(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CorruptDataError, `expected CorruptDataError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('batch format v1: golden vector (docs/format.md, "Worked example")', () => {
  const GOLDEN = `
    42 52 47 42 00 01 00 00 00 00 00 8d 00 00 00 01
    00 00 00 00 00 00 00 02 00 00 01 8b cf e5 69 f4
    00 00 01 8b cf e5 68 00 00 00 01 8b cf e5 68 01
    00 00 00 02 00 00 00 01 00 00 00 00 00 00 00 2e
    00 00 00 03 00 40 00 01 74 00 00 00 00 00 00 00
    8d 00 00 00 2e 00 00 00 00 00 00 00 00 00 00 00
    02 00 00 00 2e b0 11 fe ac 00 00 00 00 00 00 00
    07 00 00 00 00 00 00 00 0a 00 00 01 8b cf e5 68
    00 00 00 01 8b cf e5 68 01 08 41 38 83 00 00 01
    8b cf e5 68 00 00 00 00 01 6b 00 00 00 01 76 00
    01 00 01 68 00 00 00 01 78 00 00 01 8b cf e5 68
    01 ff ff ff ff 00 00 00 00 00 00`;
  const golden = Buffer.from(GOLDEN.replace(/\s+/g, ''), 'hex');
  const chunk = encodeChunk(
    [
      { key: 'k', value: 'v', headers: [{ name: 'h', value: 'x' }], timestamp: 1_700_000_000_000 },
      { value: '', timestamp: 1_700_000_000_001 },
    ],
    'none',
    { producerId: 7, baseSequence: 10 },
  );

  it('the encoder writes exactly these bytes', () => {
    const b = new BatchBuilder({ topic: 't', writePartition: 1, sequence: 2, brokerId: 3 });
    b.add(chunk.bytes, chunk.meta);
    const batch = b.build(1_700_000_000_500);
    assert.equal(Buffer.concat(batch.body).toString('hex'), golden.toString('hex'));
    assert.equal(batch.headerCrc, 0x08413883);
    assert.equal(chunk.meta.crc32, 0xb011feac);
  });

  it('the decoder reads them', () => {
    const { header, messages } = decodeBatch(golden);
    assert.equal(header.headerLength, 141);
    assert.equal(header.objectSize, 187);
    assert.deepEqual(header.chunks[0], {
      index: 0,
      offset: 141,
      length: 46,
      codec: 0,
      flags: 0,
      firstMessageIndex: 0,
      messageCount: 2,
      uncompressedLength: 46,
      crc32: 0xb011feac,
      producerId: 7,
      baseSequence: 10,
      minTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_001,
    });
    assert.deepEqual(
      messages.map((m) => [
        m.key?.toString() ?? null,
        m.value.toString(),
        m.headers.length,
        m.sequence,
        m.index,
      ]),
      [
        ['k', 'v', 1, 10, 0],
        [null, '', 0, 11, 1],
      ],
    );
  });
});

describe('batch round trips', () => {
  for (const codec of ['none', 'gzip', 'lz4'] as const) {
    it(`${codec}: any messages, any chunking`, () => {
      fc.assert(
        fc.property(fc.array(fc.array(messageArb, { maxLength: 12 }), { maxLength: 4 }), (chunkMessages) => {
          const b = new BatchBuilder(SAMPLE_TARGET);
          let seq = 0;
          const encoded = chunkMessages.map((ms, i) => {
            const c = encodeChunk(ms, codec, { producerId: i, baseSequence: seq });
            seq += ms.length;
            b.add(c.bytes, c.meta);
            return c;
          });
          const batch = b.build(123);
          assert.equal(batch.body.length, encoded.length + 1);
          encoded.forEach((c, i) => {
            assert.equal(batch.body[i + 1], c.bytes, 'chunks are kept by reference');
          });
          const object = Buffer.concat(batch.body);
          assert.equal(object.length, batch.objectSize);
          const { header, messages } = decodeBatch(object);
          const all = chunkMessages.flat();
          assert.deepEqual(messages.map(plain), all.map(expected));
          assert.deepEqual(
            messages.map((m) => m.index),
            all.map((_, i) => i),
          );
          assert.deepEqual(
            messages.map((m) => m.sequence),
            all.map((_, i) => i),
          );
          assert.equal(header.messageCount, all.length);
          const ts = all.map((m) => m.timestamp!);
          assert.equal(header.minTimestamp, all.length ? Math.min(...ts) : 0);
          assert.equal(header.maxTimestamp, all.length ? Math.max(...ts) : 0);
          assert.deepEqual([...iterateBatch(object)].map(plain), messages.map(plain));
        }),
        { numRuns: 60 },
      );
    });
  }

  it('encodeChunkAsync makes chunks the same readers read, with the same metadata', async () => {
    const messages = Array.from({ length: 3000 }, (_, i) => ({
      key: i % 2 ? null : `key ${i}`,
      value: `value ${i} `.repeat(1 + (i % 50)),
      headers: [{ name: 'i', value: String(i) }],
      timestamp: 1000 + (i % 7),
    }));
    for (const codec of ['none', 'gzip', 'lz4'] as const) {
      const sync = encodeChunk(messages, codec, { producerId: 4, baseSequence: 9, timestamp: 1 });
      const async = await encodeChunkAsync(messages, codec, { producerId: 4, baseSequence: 9, timestamp: 1 });
      const { length, crc32, ...meta } = async.meta;
      const { length: l2, crc32: c2, ...syncMeta } = sync.meta;
      assert.deepEqual(meta, syncMeta);
      assert.equal(length, async.bytes.length);
      verifyChunk(async.bytes, async.meta);
      const { object } = sampleBatch([async, sync]);
      const out = decodeBatch(object).messages;
      assert.deepEqual(out.slice(0, 3000).map(plain), out.slice(3000).map(plain));
      assert.deepEqual(out.slice(0, 3000).map(plain), messages.map(expected));
      if (codec === 'lz4') {
        // lz4-napi's frame encoder fills its blocks, so the reader's block fast path applies.
        const info = inspectLz4Frame(async.bytes);
        assert.equal(info.independent, true);
        assert.equal(info.blocks.length, Math.ceil(async.meta.uncompressedLength / info.blockMaxSize));
      }
    }
    await assert.rejects(encodeChunkAsync([{ value: 1 as unknown as string }], 'lz4'), InvalidInputError);
  });

  it('many messages in one chunk, every codec', () => {
    const messages = Array.from({ length: 20_000 }, (_, i) => ({
      key: `k${i}`,
      value: `value ${i}`,
      timestamp: i,
    }));
    for (const codec of ['none', 'gzip', 'lz4'] as const) {
      const { object } = sampleBatch([encodeChunk(messages, codec)]);
      const { messages: out } = decodeBatch(object);
      assert.equal(out.length, 20_000);
      assert.equal(out[19_999]!.value.toString(), 'value 19999');
      assert.equal(out[12_345]!.key!.toString(), 'k12345');
    }
  });

  it('a batch without chunks, and chunks without messages', () => {
    const empty = sampleBatch([]);
    assert.equal(empty.object.length, batchHeaderLength(Buffer.byteLength(SAMPLE_TARGET.topic), 0));
    const d = decodeBatch(empty.object);
    assert.equal(d.header.chunkCount, 0);
    assert.deepEqual(d.messages, []);
    const zero = sampleBatch([encodeChunk([], 'gzip'), encodeChunk([], 'lz4'), encodeChunk([], 'none')]);
    const z = decodeBatch(zero.object);
    assert.equal(z.header.chunkCount, 3);
    assert.equal(z.header.messageCount, 0);
    assert.equal(z.header.minTimestamp, 0);
    assert.deepEqual(z.messages, []);
  });

  it('values larger than a 4 MiB lz4 block', () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 7, 'abcdefghij');
    const { object } = sampleBatch([encodeChunk([{ value: big, timestamp: 1 }], 'lz4')]);
    assert.deepEqual(decodeBatch(object).messages[0]!.value, big);
  });
});

describe('reading by parts', () => {
  const chunks = sampleChunks();
  const { batch, object } = sampleBatch(chunks);
  const all = decodeBatch(object).messages;

  it('headerLengthFromPreamble needs only the first 12 bytes', () => {
    assert.equal(HEADER_PREAMBLE_BYTES, 12);
    assert.equal(headerLengthFromPreamble(object.subarray(0, 12)), batch.headerLength);
    assertCorrupt(() => headerLengthFromPreamble(object.subarray(0, 11)), /truncated/);
  });

  it('decodeBatchHeader needs only [0, headerLength)', () => {
    const h = decodeBatchHeader(Buffer.from(object.subarray(0, batch.headerLength)));
    assert.deepEqual(h, decodeBatchHeader(object));
    assert.equal(h.topic, SAMPLE_TARGET.topic);
    assert.equal(h.sequence, SAMPLE_TARGET.sequence);
    assert.equal(h.writePartition, SAMPLE_TARGET.writePartition);
    assert.equal(h.brokerId, SAMPLE_TARGET.brokerId);
    assert.equal(h.createdAt, 1_700_000_001_000);
    assert.equal(h.version, BATCH_FORMAT_VERSION);
    assert.equal(h.indexEntryLength, INDEX_ENTRY_BYTES);
    assert.equal(h.chunkCount, chunks.length);
    assert.equal(h.objectSize, object.length);
    assert.equal(h.headerCrc, batch.headerCrc);
    h.chunks.forEach((c, i) => {
      const { index, offset, firstMessageIndex, flags, ...meta } = c;
      assert.deepEqual(meta, chunks[i]!.meta);
      assert.equal(index, i);
      assert.equal(flags, 0);
    });
    assertCorrupt(() => decodeBatchHeader(object.subarray(0, batch.headerLength - 1)), /truncated/);
  });

  it('decodes any one chunk from its byte range alone', () => {
    const h = decodeBatchHeader(object.subarray(0, batch.headerLength));
    const fromChunks: DecodedMessage[] = [];
    for (let i = 0; i < h.chunkCount; i++) {
      const { offset, length } = chunkRange(h, i);
      const bytes = Buffer.from(object.subarray(offset, offset + length));
      assert.deepEqual(bytes, chunks[i]!.bytes);
      const ms = decodeChunk(h, i, bytes);
      assert.equal(ms.length, chunks[i]!.meta.messageCount);
      assert.deepEqual([...iterateChunk(h, i, bytes)].map(plain), ms.map(plain));
      fromChunks.push(...ms);
    }
    assert.deepEqual(fromChunks.map(plain), all.map(plain));
    assert.deepEqual(
      fromChunks.map((m) => m.index),
      all.map((_, i) => i),
    );
    assert.throws(() => chunkRange(h, 4), InvalidInputError);
    assert.throws(() => decodeChunk(h, -1, Buffer.alloc(0)), InvalidInputError);
    assertCorrupt(() => decodeChunk(h, 0, chunks[1]!.bytes), /bytes; its metadata says|checksum/);
  });

  it('iterates lazily: messages of good chunks come before a bad chunk fails', () => {
    const bad = Buffer.from(object);
    bad[chunkRange(decodeBatchHeader(bad), 3).offset + 10]! ^= 1;
    const seen: DecodedMessage[] = [];
    assertCorrupt(() => {
      for (const m of iterateBatch(bad)) seen.push(m);
    }, /chunk 3 checksum mismatch/);
    assert.equal(seen.length, 3 + 20 + 0);
  });

  it('a whole object must be exactly objectSize bytes', () => {
    assertCorrupt(() => decodeBatch(Buffer.concat([object, Buffer.alloc(1)])), /its header says/);
    assertCorrupt(() => decodeBatch(object.subarray(0, object.length - 1)), /its header says/);
  });

  it('openChunk returns a record reader', () => {
    const h = decodeBatchHeader(object);
    const r = openChunk(h, 1, chunks[1]!.bytes);
    assert.equal(r.remaining, 20);
    assert.equal(r.next()!.sequence, 1000);
  });
});

describe('pointers', () => {
  const { batch, object } = sampleBatch();
  const storage = { adapter: 'local', location: '/data', key: 'topics/orders.eu/3/42' };

  it('batchPointer describes the batch and survives JSON', () => {
    const p = decodePointer(encodePointer(batchPointer(batch, storage)));
    assert.equal(p.objectSize, object.length);
    assert.equal(p.headerLength, batch.headerLength);
    assert.equal(p.messageCount, 33);
    assert.equal(p.chunkCount, 4);
    assert.equal(p.firstTimestamp, 1_700_000_000_000 - 9);
    assert.equal(p.lastTimestamp, 1_700_000_000_000 + 119);
    checkHeaderMatchesPointer(decodeBatchHeader(object), p);
  });

  it('checkHeaderMatchesPointer names the first field that differs', () => {
    const p = batchPointer(batch, storage);
    const h = decodeBatchHeader(object);
    assertCorrupt(
      () => checkHeaderMatchesPointer(h, { ...p, sequence: 43 }),
      /header sequence 42 does not match the pointer's 43/,
    );
    assertCorrupt(() => checkHeaderMatchesPointer(h, { ...p, headerCrc: 1 }), /headerCrc/);
    assertCorrupt(() => checkHeaderMatchesPointer(h, { ...p, objectSize: 1 }), /objectSize/);
  });
});

describe('forward compatibility', () => {
  const chunks = sampleChunks();
  const info = { ...SAMPLE_TARGET, createdAt: 5, chunks: chunks.map((c) => c.meta) };
  const withHeader = (header: Buffer) => Buffer.concat([header, ...chunks.map((c) => c.bytes)]);
  const reference = decodeBatch(withHeader(encodeBatchHeader(info)));

  it('the test encoder matches the real one when asked for v1', () => {
    assert.deepEqual(encodeHeaderVariant(info), encodeBatchHeader(info));
  });

  it('reads index entries longer than v1 and extension bytes before the CRC', () => {
    const header = encodeHeaderVariant(info, {
      entryLength: 96,
      extension: Buffer.from('future fields'),
      fill: 0xa5,
    });
    const object = withHeader(header);
    const { header: h, messages } = decodeBatch(object);
    assert.equal(h.indexEntryLength, 96);
    assert.equal(h.headerLength, header.length);
    assert.deepEqual(messages.map(plain), reference.messages.map(plain));
    const { offset, length } = chunkRange(h, 3);
    assert.deepEqual(
      decodeChunk(h, 3, object.subarray(offset, offset + length)).map(plain),
      decodeChunk(reference.header, 3, chunks[3]!.bytes).map(plain),
    );
  });

  it('ignores header flags and entry flags/reserved bits', () => {
    const header = encodeHeaderVariant(info, {
      flags: 0xffff,
      entries: { 0: { flags: 0x80, reserved: 0xffff } },
    });
    const { header: h, messages } = decodeBatch(withHeader(header));
    assert.equal(h.flags, 0xffff);
    assert.equal(h.chunks[0]!.flags, 0x80);
    assert.equal(messages.length, reference.messages.length);
  });

  it('rejects index entries shorter than v1', () => {
    assertCorrupt(
      () => decodeBatchHeader(encodeHeaderVariant(info, { entryLength: 63 })),
      /index entry length 63/,
    );
  });

  it('rejects another format version with UnsupportedVersionError (a CorruptDataError)', () => {
    for (const version of [0, 2, 0xffff]) {
      const header = encodeHeaderVariant(info, { version });
      assert.throws(
        () => headerLengthFromPreamble(header),
        (e: unknown) =>
          e instanceof UnsupportedVersionError && e instanceof CorruptDataError && e.version === version,
      );
      assert.throws(() => decodeBatch(withHeader(header)), UnsupportedVersionError);
    }
  });

  it('an unknown codec fails only its own chunk', () => {
    const header = encodeHeaderVariant(info, { entries: { 1: { codec: 9 } } });
    const object = withHeader(header);
    const h = decodeBatchHeader(object);
    assert.equal(h.chunks[1]!.codec, 9);
    assert.throws(() => decodeChunk(h, 1, chunks[1]!.bytes), UnsupportedCodecError);
    assert.equal(decodeChunk(h, 3, chunks[3]!.bytes).length, 10);
  });
});

describe('header consistency checks (valid CRC, inconsistent fields)', () => {
  const chunks = sampleChunks();
  const info = { ...SAMPLE_TARGET, createdAt: 5, chunks: chunks.map((c) => c.meta) };
  const cases: [string, Parameters<typeof encodeHeaderVariant>[1], RegExp][] = [
    ['offset gap', { entries: { 1: { offset: 10_000 } } }, /chunk 1 starts at 10000/],
    ['overlap', { entries: { 2: { offset: 200 } } }, /chunk 2 starts at 200/],
    ['message index gap', { entries: { 1: { firstMessageIndex: 4 } } }, /chunk 1 starts at message 4/],
    ['count', { entries: { 3: { messageCount: 11 } } }, /hold more than|chunks hold 34 messages|cannot fit/],
    ['none length', { entries: { 0: { uncompressedLength: 5 } } }, /messages cannot fit|uncompressedLength/],
    [
      'timestamps',
      { entries: { 0: { minTimestamp: 1_800_000_000_000 } } },
      /minTimestamp .* is after maxTimestamp/,
    ],
    ['empty chunk', { entries: { 2: { minTimestamp: 1 } } }, /empty chunk must have timestamps 0/],
    ['sequence', { entries: { 1: { baseSequence: 2 ** 53 - 5 } } }, /passes 2\^53-1/],
    ['u64 range', { entries: { 0: { producerId: 2 ** 53 } } }, /producerId is above 2\^53-1/],
  ];
  for (const [name, variant, pattern] of cases) {
    it(name, () => {
      assertCorrupt(() => decodeBatchHeader(encodeHeaderVariant(info, variant)), pattern);
    });
  }
  it('batch totals must match the chunks', () => {
    const h = encodeHeaderVariant(info);
    const patch = (write: (b: Buffer) => void) => {
      const b = Buffer.from(h);
      write(b);
      return decodeBatchHeader(fixHeaderCrc(b));
    };
    assertCorrupt(() => patch((b) => b.writeUInt32BE(34, 48)), /chunks hold 33 messages; the header says 34/);
    assertCorrupt(() => patch((b) => b.writeUInt32BE(1, 60)), /chunks end at|past the object size/);
    assertCorrupt(() => patch((b) => b.writeUInt32BE(0, 36)), /timestamps/);
    assertCorrupt(() => patch((b) => b.writeUInt16BE(0, 70)), /empty topic/);
    assertCorrupt(() => patch((b) => b.writeUInt16BE(200, 70)), /do not fit/);
    assertCorrupt(() => patch((b) => b.writeUInt32BE(1000, 52)), /do not fit/);
  });
});

describe('writer validation (InvalidInputError)', () => {
  const meta = sampleChunks()[0]!.meta;
  const bad = (over: Partial<ChunkMeta>) => ({ ...meta, ...over });

  it('rejects bad chunk metadata naming the field', () => {
    const cases: [Partial<ChunkMeta>, RegExp][] = [
      [{ codec: 256 }, /chunk 0.codec/],
      [{ length: -1 }, /chunk 0.length/],
      [{ crc32: 2 ** 32 }, /chunk 0.crc32/],
      [{ producerId: 1.5 }, /chunk 0.producerId/],
      [{ minTimestamp: Number.NaN }, /chunk 0.minTimestamp/],
      [{ messageCount: 1000 }, /cannot fit/],
      [{ length: 5 }, /uncompressed chunk has length 5/],
      [{ minTimestamp: meta.maxTimestamp + 1 }, /is after maxTimestamp/],
    ];
    for (const [over, pattern] of cases) {
      assert.throws(
        () => encodeBatchHeader({ ...SAMPLE_TARGET, createdAt: 1, chunks: [bad(over)] }),
        (e: unknown) => e instanceof InvalidInputError && pattern.test(e.message),
        String(pattern),
      );
    }
    assert.throws(() => validateChunkMeta(null as unknown as ChunkMeta), InvalidInputError);
  });

  it('rejects bad batch identity', () => {
    const cases: [object, RegExp][] = [
      [{ topic: '' }, /topic/],
      [{ topic: 'a\ud800' }, /topic/],
      [{ topic: 'x'.repeat(70_000) }, /70000 bytes/],
      [{ writePartition: -1 }, /writePartition/],
      [{ sequence: 2 ** 53 }, /sequence/],
      [{ brokerId: 2 ** 32 }, /brokerId/],
      [{ createdAt: 1.5 }, /createdAt/],
    ];
    for (const [over, pattern] of cases) {
      assert.throws(
        () => encodeBatchHeader({ ...SAMPLE_TARGET, createdAt: 1, chunks: [], ...over }),
        (e: unknown) => e instanceof InvalidInputError && pattern.test(e.message),
        String(pattern),
      );
    }
  });

  it('BatchBuilder checks that bytes match the metadata and tracks sizes', () => {
    const [a, b] = sampleChunks();
    const builder = new BatchBuilder(SAMPLE_TARGET);
    const topicBytes = Buffer.byteLength(SAMPLE_TARGET.topic);
    assert.equal(builder.objectSize, batchHeaderLength(topicBytes, 0));
    assert.equal(builder.objectSizeWith(a!.meta.length), batchHeaderLength(topicBytes, 1) + a!.meta.length);
    builder.add(a!.bytes, a!.meta);
    assert.throws(() => builder.add(a!.bytes, b!.meta), InvalidInputError);
    assert.equal(builder.chunkCount, 1);
    assert.equal(builder.messageCount, 3);
    assert.equal(builder.payloadLength, a!.meta.length);
    assert.equal(builder.objectSize, builder.build().objectSize);
  });

  it('encodeChunk rejects bad options', () => {
    assert.throws(() => encodeChunk([], 'brotli' as 'none'), InvalidInputError);
    assert.throws(() => encodeChunk([], 7 as 0), InvalidInputError);
    assert.throws(() => encodeChunk([], 'none', { producerId: -1 }), /producerId/);
    assert.throws(
      () => encodeChunk([{ value: 'a' }, { value: 'b' }], 'none', { baseSequence: 2 ** 53 - 1 }),
      /passes 2\^53-1/,
    );
    assert.throws(() => encodeChunk([{ value: 'abc' }], 'none', { maxUncompressedBytes: 10 }), /at most 10/);
  });

  it('verifyChunk checks length and CRC', () => {
    const [c] = sampleChunks();
    verifyChunk(c!.bytes, c!.meta);
    assertCorrupt(() => verifyChunk(c!.bytes.subarray(1), c!.meta), /bytes; its metadata says/);
    assertCorrupt(() => verifyChunk(c!.bytes, { ...c!.meta, crc32: c!.meta.crc32 ^ 1 }), /checksum mismatch/);
    assert.equal(CODEC.none, c!.meta.codec);
  });
});
