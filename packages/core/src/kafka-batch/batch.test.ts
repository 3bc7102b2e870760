import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compressSync as snappyRaw } from 'snappy';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import type { DecodedMessage, Message } from '../message.js';
import { isCodecUnavailable, zstdAvailable } from '../zstd.js';
import { decompressKafkaRecords } from './compression.js';
import { crc32c } from './crc32c.js';
import { encodeKafkaBatch } from './encode.js';
import {
  checkRecordBatch,
  KAFKA_BATCH,
  KAFKA_COMPRESSION,
  KAFKA_COMPRESSION_NAMES,
  type KafkaBatchView,
  readKafkaBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
  splitRecordBatches,
  UnsupportedKafkaMagicError,
} from './header.js';
import { KafkaRecordReader } from './records.js';

const T0 = 1_700_000_000_000;
const MESSAGES: Message[] = [
  { key: 'user-1', value: 'hello', headers: [{ name: 'trace', value: 'abc' }], timestamp: T0 },
  { key: null, value: '', timestamp: T0 + 5 },
  {
    key: '',
    value: 'ünïcødé \u{1f600} '.repeat(50),
    headers: [
      { name: 'é', value: Buffer.from([0, 1, 2]) },
      { name: 'é', value: '' },
    ],
    timestamp: T0 - 3,
  },
  ...Array.from({ length: 40 }, (_, i) => ({
    key: `k${i % 4}`,
    value: `value ${i} `.repeat(i),
    timestamp: T0 + i,
  })),
];

const MAX = 16 * 1024 * 1024;

function decodeView(view: KafkaBatchView, max = MAX): DecodedMessage[] {
  const h = view.header;
  const records = decompressKafkaRecords(
    h.compression,
    view.bytes.subarray(KAFKA_BATCH.records),
    max,
    'test',
  );
  const r = new KafkaRecordReader(records, h, { firstIndex: 10, producerId: 5, baseSequence: 100 });
  const out: DecodedMessage[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(m);
  return out;
}

function asText(m: Message) {
  const t = (v: unknown) =>
    v === null || v === undefined ? null : Buffer.from(v as string).toString('latin1');
  return {
    key: t(m.key),
    value: t(m.value),
    headers: (m.headers ?? []).map((h) => [h.name, t(h.value)]),
    timestamp: m.timestamp,
  };
}

describe('Kafka v2 record batches: encode, split, check, decode', () => {
  for (const name of KAFKA_COMPRESSION_NAMES) {
    it(`round-trips messages with compression ${name}`, (t) => {
      if (name === 'zstd' && !zstdAvailable()) {
        assert.throws(() => encodeKafkaBatch(MESSAGES, { compression: 'zstd' }), isCodecUnavailable);
        t.skip('no zstd in this runtime');
        return;
      }
      const batch = encodeKafkaBatch(MESSAGES, { compression: name, baseOffset: 7 });
      const [view, ...rest] = splitRecordBatches(batch);
      assert.equal(rest.length, 0);
      const h = view!.header;
      assert.equal(h.compression, KAFKA_COMPRESSION[name]);
      assert.deepEqual(
        [
          h.baseOffset,
          h.magic,
          h.recordsCount,
          h.lastOffsetDelta,
          h.producerId,
          h.producerEpoch,
          h.baseSequence,
        ],
        [7, 2, MESSAGES.length, MESSAGES.length - 1, -1, -1, -1],
      );
      assert.equal(h.baseTimestamp, T0);
      assert.equal(h.maxTimestamp, T0 + 39);
      checkRecordBatch(view!);
      const decoded = decodeView(view!);
      assert.deepEqual(decoded.map(asText), MESSAGES.map(asText));
      assert.deepEqual(
        decoded.map((m) => [m.index, m.producerId, m.sequence]),
        MESSAGES.map((_, i) => [10 + i, 5, 100 + i]),
      );
      assert.equal(decoded[1]!.key, null);
    });
  }

  it('splits several batches back to back and checks each CRC-32C', () => {
    const a = encodeKafkaBatch(MESSAGES.slice(0, 3), { compression: 'gzip' });
    const b = encodeKafkaBatch(MESSAGES.slice(3), { compression: 'lz4' });
    const views = splitRecordBatches(Buffer.concat([a, b]));
    assert.deepEqual(
      views.map((v) => [v.position, v.bytes.length, v.header.recordsCount]),
      [
        [0, a.length, 3],
        [a.length, b.length, MESSAGES.length - 3],
      ],
    );
    for (const v of views) checkRecordBatch(v);
  });

  it('base offset and leader epoch are written in place, outside the CRC-32C', () => {
    const batch = encodeKafkaBatch(MESSAGES.slice(0, 2));
    setBaseOffset(batch, 2 ** 40 + 3);
    setPartitionLeaderEpoch(batch, 9);
    const [view] = splitRecordBatches(batch);
    assert.equal(view!.header.baseOffset, 2 ** 40 + 3);
    assert.equal(view!.header.partitionLeaderEpoch, 9);
    checkRecordBatch(view!);
    assert.throws(() => setBaseOffset(batch, -1), InvalidInputError);
    assert.throws(() => setPartitionLeaderEpoch(batch, -2), InvalidInputError);
  });

  it('refuses a wrong CRC-32C, a truncated trailing batch, an older magic and bad headers', () => {
    const batch = encodeKafkaBatch(MESSAGES.slice(0, 2));
    const flipped = Buffer.from(batch);
    flipped[flipped.length - 1]! ^= 1;
    assert.throws(() => checkRecordBatch(splitRecordBatches(flipped)[0]!), /CRC-32C of the batch is/);
    assert.throws(() => splitRecordBatches(Buffer.concat([batch, batch.subarray(0, 30)])), /truncated/);
    assert.throws(() => splitRecordBatches(Buffer.concat([batch, batch.subarray(0, 5)])), /truncated/);
    assert.throws(() => splitRecordBatches(Buffer.alloc(0)), CorruptDataError);
    const v1 = Buffer.from(batch);
    v1[KAFKA_BATCH.magic] = 1;
    assert.throws(
      () => splitRecordBatches(v1),
      (e) => e instanceof UnsupportedKafkaMagicError && e.magic === 1 && e instanceof CorruptDataError,
    );
    const bad = Buffer.from(batch);
    bad.writeInt16BE(6, KAFKA_BATCH.attributes);
    assert.throws(() => readKafkaBatchHeader(bad), /unknown compression id 6/);
    bad.writeInt16BE(0, KAFKA_BATCH.attributes);
    bad.writeInt32BE(-1, KAFKA_BATCH.recordsCount);
    assert.throws(() => readKafkaBatchHeader(bad), /recordsCount -1/);
  });

  it('reads raw (unframed) snappy as librdkafka may write it, and xerial-framed snappy', () => {
    const batch = encodeKafkaBatch(MESSAGES, { compression: 'snappy' });
    const [view] = splitRecordBatches(batch);
    const framed = view!.bytes.subarray(KAFKA_BATCH.records);
    assert.equal(framed[0], 0x82, 'xerial magic');
    const records = decompressKafkaRecords(KAFKA_COMPRESSION.snappy, framed, MAX, 'test');
    const raw = snappyRaw(records);
    assert.deepEqual(decompressKafkaRecords(KAFKA_COMPRESSION.snappy, raw, MAX, 'test'), records);
    assert.throws(
      () => decompressKafkaRecords(KAFKA_COMPRESSION.snappy, raw, records.length - 1, 'test'),
      /above the limit/,
    );
  });

  it('bounds decompression by the limit, for every codec', () => {
    const big = Array.from({ length: 200 }, (_, i) => ({ value: 'x'.repeat(1000), timestamp: T0 + i }));
    for (const name of KAFKA_COMPRESSION_NAMES) {
      if (name === 'none' || (name === 'zstd' && !zstdAvailable())) continue;
      const [view] = splitRecordBatches(encodeKafkaBatch(big, { compression: name }));
      assert.ok(decodeView(view!).length === 200);
      assert.throws(() => decodeView(view!, 50_000), CorruptDataError, name);
    }
  });

  it('decodes LogAppendTime batches with maxTimestamp, and skips nothing else', () => {
    const batch = encodeKafkaBatch(MESSAGES.slice(0, 3));
    batch.writeInt16BE(0x08, KAFKA_BATCH.attributes);
    batch.writeBigInt64BE(BigInt(T0 + 999), KAFKA_BATCH.maxTimestamp);
    batch.writeUInt32BE(crc32c(batch, 0, KAFKA_BATCH.attributes), KAFKA_BATCH.crc);
    const [view] = splitRecordBatches(batch);
    checkRecordBatch(view!);
    assert.deepEqual(
      decodeView(view!).map((m) => m.timestamp),
      [T0 + 999, T0 + 999, T0 + 999],
    );
  });

  it('refuses messages and options it cannot encode', () => {
    assert.throws(() => encodeKafkaBatch([]), InvalidInputError);
    assert.throws(() => encodeKafkaBatch([{ value: 1 as unknown as string }]), InvalidInputError);
    assert.throws(() => encodeKafkaBatch(MESSAGES, { producerEpoch: 40_000 }), InvalidInputError);
    assert.throws(() => encodeKafkaBatch(MESSAGES, { compression: 9 as 0 }), InvalidInputError);
  });
});
