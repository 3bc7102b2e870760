/**
 * Record batches from independent implementations: Kafka's Java client (golden bytes in
 * `fixtures.ts`, one batch per codec) and kafkajs, whose own RecordBatch encoder (what its
 * producer sends) must decode here, and whose decoder and CRC-32C must accept ours. Test-only
 * use of kafkajs internals (kafkajs is a dependency of the repo's Kafka packages).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { DecodedMessage } from '../message.js';
import { isCodecUnavailable, zstdAvailable } from '../zstd.js';
import { kafkaChunkFromRecords } from './chunk.js';
import { decompressKafkaRecords } from './compression.js';
import { encodeKafkaBatch } from './encode.js';
import { JAVA_BATCHES, JAVA_RECORDS } from './fixtures.js';
import { checkRecordBatch, KAFKA_BATCH, KAFKA_COMPRESSION, splitRecordBatches } from './header.js';
import { KafkaRecordReader } from './records.js';

const require = createRequire(import.meta.url);
type KjsRecord = {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  timestamp: string;
};
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  o: Record<string, unknown>,
) => unknown;
const decodeKjs = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  records: KjsRecord[];
}>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const kjsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number): unknown };

const T0 = 1_700_000_000_000;
const INPUT = [
  {
    key: Buffer.from('key-0'),
    value: Buffer.from('value 0'),
    headers: { trace: Buffer.from('t0') },
    delta: 0,
  },
  { key: null, value: Buffer.from('x'.repeat(3000)), headers: {}, delta: 7 },
  {
    key: Buffer.from(''),
    value: Buffer.from('ünï'),
    headers: { a: Buffer.from('1'), b: Buffer.from('') },
    delta: 3,
  },
];

async function kafkajsBatch(compression: number): Promise<Buffer> {
  const records = INPUT.map((m, i) =>
    Record({ offsetDelta: i, timestampDelta: m.delta, key: m.key, value: m.value, headers: m.headers }),
  );
  const batch = await RecordBatch({
    compression,
    records,
    firstTimestamp: T0,
    maxTimestamp: T0 + 7,
    lastOffsetDelta: records.length - 1,
    producerId: Long.fromValue(1234),
    producerEpoch: 2,
    firstSequence: 50,
  });
  return batch.buffer;
}

function decode(bytes: Buffer): DecodedMessage[] {
  const [view] = splitRecordBatches(bytes);
  checkRecordBatch(view!);
  const h = view!.header;
  const body = decompressKafkaRecords(h.compression, bytes.subarray(KAFKA_BATCH.records), 1 << 20, 'test');
  const r = new KafkaRecordReader(body, h, {
    firstIndex: 0,
    producerId: h.producerId,
    baseSequence: h.baseSequence,
  });
  const out: DecodedMessage[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(m);
  return out;
}

describe("record batches written by Kafka's Java client decode", () => {
  for (const [codec, base64] of Object.entries(JAVA_BATCHES)) {
    it(`${codec} (xerial-framed for snappy, an LZ4 frame for lz4)`, () => {
      const bytes = Buffer.from(base64, 'base64');
      const chunk = kafkaChunkFromRecords(bytes);
      const h = chunk.batches[0]!;
      assert.equal(h.compression, KAFKA_COMPRESSION[codec as keyof typeof JAVA_BATCHES]);
      assert.ok(h.producerId >= 0 && h.producerEpoch === 0 && h.baseSequence === 0, 'idempotent producer');
      assert.equal(chunk.meta.producerId, h.producerId + 1);
      if (codec === 'zstd' && !zstdAvailable()) {
        assert.throws(() => decode(bytes), isCodecUnavailable);
        return;
      }
      const got = decode(bytes);
      assert.deepEqual(
        got.map((m) => ({
          key: m.key?.toString(),
          value: m.value.toString(),
          headers: m.headers.map((x) => [x.name, x.value.toString()]),
        })),
        JAVA_RECORDS,
      );
      assert.deepEqual(
        got.map((m) => m.timestamp),
        [h.baseTimestamp, h.maxTimestamp],
      );
    });
  }
});

describe('record batches interoperate with kafkajs', () => {
  for (const [name, compression] of [
    ['none', 0],
    ['gzip', 1],
  ] as const) {
    it(`decodes a batch kafkajs encodes (${name})`, async () => {
      const bytes = await kafkajsBatch(compression);
      const chunk = kafkaChunkFromRecords(bytes);
      assert.equal(chunk.meta.messageCount, 3);
      assert.equal(chunk.meta.producerId, 1235);
      assert.equal(chunk.meta.baseSequence, 50);
      assert.deepEqual([chunk.meta.minTimestamp, chunk.meta.maxTimestamp], [T0, T0 + 7]);
      assert.equal(chunk.batches[0]!.producerEpoch, 2);
      const got = decode(bytes);
      assert.deepEqual(
        got.map((m) => ({
          key: m.key,
          value: m.value,
          headers: Object.fromEntries(m.headers.map((h) => [h.name, h.value])),
          timestamp: m.timestamp,
          sequence: m.sequence,
        })),
        INPUT.map((m, i) => ({
          key: m.key,
          value: m.value,
          headers: m.headers,
          timestamp: T0 + m.delta,
          sequence: 50 + i,
        })),
      );
    });
  }

  for (const compression of ['none', 'gzip'] as const) {
    it(`kafkajs decodes a batch this encoder writes (${compression}), and its CRC-32C agrees`, async () => {
      const messages = INPUT.map((m) => ({
        key: m.key,
        value: m.value,
        headers: Object.entries(m.headers).map(([name, value]) => ({ name, value })),
        timestamp: T0 + m.delta,
      }));
      const bytes = encodeKafkaBatch(messages, { compression, baseOffset: 100 });
      assert.equal(
        kjsCrc32C(bytes.subarray(KAFKA_BATCH.attributes)) >>> 0,
        bytes.readUInt32BE(KAFKA_BATCH.crc),
      );
      const { records } = await decodeKjs(new Decoder(bytes));
      assert.deepEqual(
        records.map((r) => [r.key, r.value, r.headers, r.timestamp]),
        INPUT.map((m) => [m.key, m.value, m.headers, String(T0 + m.delta)]),
      );
    });
  }
});
