import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChunkMeta, encodeChunk, validateChunkMeta } from '../batch/chunk.js';
import { sampleBatch } from '../batch/fixtures.js';
import {
  decodeBatch,
  decodeBatchChunks,
  decodeChunk,
  iterateBatch,
  openChunk,
  readChunk,
} from '../batch/reader.js';
import { checkChunkContent } from '../batch/validate.js';
import { checkChunkPartsContent } from '../batch/validate-parts.js';
import { CODEC, codecId, codecName, compress, decompress, isCodecId } from '../codecs.js';
import { crc32 } from '../crc.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import type { Message, MessageFactory } from '../message.js';
import { kafkaChunkFromRecords, kafkaReadProducerId, stampKafkaChunk } from './chunk.js';
import { crc32c } from './crc32c.js';
import { encodeKafkaBatch } from './encode.js';
import { checkRecordBatch, KAFKA_BATCH, splitRecordBatches, UnsupportedKafkaMagicError } from './header.js';

const T0 = 1_700_000_000_000;
const msgs = (n: number, from = 0): Message[] =>
  Array.from({ length: n }, (_, i) => ({
    key: `k${from + i}`,
    value: `v${from + i}`,
    timestamp: T0 + from + i,
  }));

function records(): Buffer {
  return Buffer.concat([
    encodeKafkaBatch(msgs(3), { compression: 'gzip', producerId: 41, producerEpoch: 0, baseSequence: 0 }),
    encodeKafkaBatch(msgs(4, 3), { compression: 'lz4', producerId: 41, producerEpoch: 0, baseSequence: 3 }),
    encodeKafkaBatch(msgs(2, 7), { producerId: 41, producerEpoch: 0, baseSequence: 7 }),
  ]);
}

/** `bytes` with its CRC-32C fixed after an edit. */
function recrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch, 0, KAFKA_BATCH.attributes), KAFKA_BATCH.crc);
  return batch;
}

describe('codec kafka (4)', () => {
  it('is a chunk codec id but not a compression setting', () => {
    assert.equal(CODEC.kafka, 4);
    assert.equal(codecName(4), 'kafka');
    assert.ok(isCodecId(4));
    assert.throws(() => codecId('kafka'), InvalidInputError);
    assert.throws(() => compress(CODEC.kafka, Buffer.from('x')), InvalidInputError);
    assert.throws(() => encodeChunk(msgs(1), CODEC.kafka), /kafkaChunkFromRecords/);
    assert.throws(() => decompress(CODEC.kafka, Buffer.from('x'), 1), InvalidInputError);
  });

  it('kafkaChunkFromRecords keeps the bytes and derives the metadata from the batch headers', () => {
    const bytes = records();
    const chunk = kafkaChunkFromRecords(bytes);
    assert.equal(chunk.bytes, bytes);
    assert.deepEqual(chunk.meta, {
      codec: 4,
      length: bytes.length,
      messageCount: 9,
      uncompressedLength: bytes.length,
      crc32: crc32(bytes),
      producerId: 42,
      baseSequence: 0,
      minTimestamp: T0,
      maxTimestamp: T0 + 8,
    });
    assert.deepEqual(
      chunk.batches.map((h) => [h.recordsCount, h.baseSequence, h.compression]),
      [
        [3, 0, 1],
        [4, 3, 3],
        [2, 7, 0],
      ],
    );
    validateChunkMeta(chunk.meta);
    assert.equal(checkChunkContent(bytes, chunk.meta), undefined);
    const none = kafkaChunkFromRecords(encodeKafkaBatch(msgs(1)));
    assert.equal(none.meta.producerId, 0, 'Kafka producer id -1 is stored as 0');
    assert.equal(none.meta.baseSequence, 0, 'Kafka baseSequence -1 is stored as 0');
  });

  it('refuses what a producer may not send', () => {
    const control = encodeKafkaBatch(msgs(1));
    control.writeInt16BE(0x20, KAFKA_BATCH.attributes);
    assert.throws(() => kafkaChunkFromRecords(recrc(control)), /control batches/);
    const offsets = encodeKafkaBatch(msgs(3));
    offsets.writeInt32BE(5, KAFKA_BATCH.lastOffsetDelta);
    assert.throws(
      () => kafkaChunkFromRecords(recrc(offsets)),
      (e) => e instanceof InvalidInputError,
    );
    const crc = encodeKafkaBatch(msgs(3));
    crc[crc.length - 1]! ^= 0xff;
    assert.throws(
      () => kafkaChunkFromRecords(crc),
      (e) => e instanceof CorruptDataError && /CRC-32C/.test(e.message),
    );
    const v1 = encodeKafkaBatch(msgs(1));
    v1[KAFKA_BATCH.magic] = 1;
    assert.throws(() => kafkaChunkFromRecords(v1), UnsupportedKafkaMagicError);
  });

  it('stampKafkaChunk sets dense base offsets and the leader epoch; every CRC-32C stays valid', () => {
    const bytes = Buffer.from(records());
    assert.equal(stampKafkaChunk(bytes, 1000, 3), 1009);
    const views = splitRecordBatches(bytes);
    assert.deepEqual(
      views.map((v) => [v.header.baseOffset, v.header.partitionLeaderEpoch]),
      [
        [1000, 3],
        [1003, 3],
        [1007, 3],
      ],
    );
    for (const v of views) checkRecordBatch(v);
  });

  it("the broker's content check refuses metadata that does not match the headers, without decompressing", async () => {
    const { bytes, meta } = kafkaChunkFromRecords(records());
    const lies: Partial<ChunkMeta>[] = [
      { messageCount: 8 },
      { minTimestamp: T0 - 1 },
      { maxTimestamp: T0 + 9 },
      { producerId: 41 },
      { baseSequence: 1 },
    ];
    for (const lie of lies) {
      assert.throws(
        () => checkChunkContent(bytes, { ...meta, ...lie }, 'chunk 3'),
        /^CorruptDataError: chunk 3: metadata says/,
      );
    }
    assert.throws(
      () => validateChunkMeta({ ...meta, uncompressedLength: meta.length + 1 }),
      /kafka chunk has length/,
    );
    // Compressed inside: a record batch header is all the broker looks at, so damage inside a
    // compressed body with a recomputed CRC-32C passes the broker and fails the reader.
    const parts = [bytes.subarray(0, 50), bytes.subarray(50, 130), bytes.subarray(130)];
    assert.equal(await checkChunkPartsContent(parts, meta, 'chunk'), undefined);
    const damaged = Buffer.from(bytes);
    damaged[200]! ^= 0x40;
    assert.throws(() => checkChunkContent(damaged, { ...meta, crc32: crc32(damaged) }), /CRC-32C/);
  });

  it('Barge readers decode kafka chunks next to Barge chunks, with unique message identities', () => {
    const barge = encodeChunk(msgs(2, 100), 'gzip', { producerId: 9, baseSequence: 0 });
    const kafka = kafkaChunkFromRecords(records());
    const { object } = sampleBatch([barge, kafka]);
    const { header, messages } = decodeBatch(object);
    assert.deepEqual(
      messages.map((m) => m.value.toString()),
      [...msgs(2, 100), ...msgs(9)].map((m) => m.value),
    );
    assert.deepEqual(
      messages.map((m) => m.index),
      Array.from({ length: 11 }, (_, i) => i),
    );
    const kafkaMessages = messages.slice(2);
    assert.ok(kafkaMessages.every((m) => m.producerId === kafkaReadProducerId(header.sequence)));
    assert.deepEqual(
      kafkaMessages.map((m) => m.sequence),
      kafkaMessages.map((m) => m.index),
    );
    assert.deepEqual(kafkaMessages[0]!.key?.toString(), 'k0');
    assert.equal(kafkaMessages[0]!.timestamp, T0);
    assert.equal([...iterateBatch(object)].length, 11);
    const r = openChunk(header, 1, object.subarray(header.chunks[1]!.offset));
    assert.equal(r.remaining, 9);
    r.next();
    assert.equal(r.remaining, 8);
    assert.equal(header.messageCount, 11);
  });

  it('readers build each message with the factory given, for Barge and kafka chunks alike', () => {
    const barge = encodeChunk(msgs(2, 100), 'none', { producerId: 9, baseSequence: 5 });
    const kafka = kafkaChunkFromRecords(records());
    const { object } = sampleBatch([barge, kafka]);
    const { header } = decodeBatch(object);
    const made: MessageFactory<string> = (key, value, headers, timestamp, producerId, sequence, index) =>
      `${index}:${producerId}/${sequence}:${key}=${value}:${headers.length}:${timestamp - T0}`;
    const chunk = (i: number) =>
      object.subarray(header.chunks[i]!.offset, header.chunks[i]!.offset + header.chunks[i]!.length);
    assert.deepEqual(decodeChunk(header, 0, chunk(0), {}, made), [
      '0:9/5:k100=v100:0:100',
      '1:9/6:k101=v101:0:101',
    ]);
    const fromKafka = readChunk(header, 1, chunk(1), {}, made);
    assert.ok(fromKafka.ok);
    const pid = kafkaReadProducerId(header.sequence);
    assert.deepEqual(fromKafka.messages.slice(0, 2), [`2:${pid}/2:k0=v0:0:0`, `3:${pid}/3:k1=v1:0:1`]);
    assert.equal(fromKafka.messages.length, 9);
  });

  it('skips control batches (their records keep their indexes)', () => {
    const control = encodeKafkaBatch(msgs(1, 50), { producerId: 41, producerEpoch: 0, baseSequence: -1 });
    control.writeInt16BE(0x30, KAFKA_BATCH.attributes);
    const bytes = Buffer.concat([encodeKafkaBatch(msgs(2)), recrc(control), encodeKafkaBatch(msgs(1, 9))]);
    const meta: ChunkMeta = {
      codec: 4,
      length: bytes.length,
      messageCount: 4,
      uncompressedLength: bytes.length,
      crc32: crc32(bytes),
      producerId: 0,
      baseSequence: 0,
      minTimestamp: T0,
      maxTimestamp: T0 + 50,
    };
    const { object } = sampleBatch([{ bytes, meta }]);
    const { messages } = decodeBatch(object);
    assert.deepEqual(
      messages.map((m) => [m.index, m.value.toString()]),
      [
        [0, 'v0'],
        [1, 'v1'],
        [3, 'v9'],
      ],
    );
  });

  it('a damaged kafka chunk is one failed chunk; the others still read', () => {
    const ok = encodeChunk(msgs(2, 100), 'none');
    const bytes = Buffer.from(records());
    // The last batch claims a record more than it holds, with a matching CRC-32C: the broker
    // (headers only) accepts it, the reader does not.
    const last = bytes.subarray(bytes.length - encodeKafkaBatch(msgs(2, 7)).length);
    last.writeInt32BE(3, KAFKA_BATCH.recordsCount);
    last.writeInt32BE(2, KAFKA_BATCH.lastOffsetDelta);
    recrc(last);
    const kafka = kafkaChunkFromRecords(bytes);
    const { object } = sampleBatch([ok, kafka]);
    const { chunks } = decodeBatchChunks(object);
    assert.equal(chunks[0]!.ok, true);
    assert.equal(chunks[1]!.ok, false);
    assert.ok(!chunks[1]!.ok && chunks[1]!.error instanceof CorruptDataError);
    assert.throws(() => decodeBatch(object), CorruptDataError);
  });
});
