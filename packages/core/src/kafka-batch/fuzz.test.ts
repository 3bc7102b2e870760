import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkChunkContent } from '../batch/validate.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import type { Message } from '../message.js';
import { allocationsDuring, fuzzRuns, mutate, mutationArb, outcome } from '../test-support/fuzz.js';
import { isCodecUnavailable } from '../zstd.js';
import { KafkaChunkReader, kafkaChunkFromRecords } from './chunk.js';
import { crc32c } from './crc32c.js';
import { encodeKafkaBatch } from './encode.js';
import { JAVA_BATCHES } from './fixtures.js';
import { KAFKA_BATCH, type KafkaCompressionName, splitRecordBatches } from './header.js';

/**
 * Damaged record batches must fail with a typed error (never a TypeError or RangeError, never a
 * hang) and must not make a decoder allocate far beyond its input and limit: as produce input
 * (framing, CRC-32C), in the broker's content check, and in the reader, including damage inside
 * the (compressed) records behind a recomputed CRC-32C, which only the reader meets.
 */

const T0 = 1_700_000_000_000;
const LIMIT = 1024 * 1024;
const bytesOrString = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
const messageArb: fc.Arbitrary<Message> = fc.record(
  {
    key: fc.option(bytesOrString, { nil: null }),
    value: bytesOrString,
    headers: fc.array(fc.record({ name: fc.string({ maxLength: 6 }), value: bytesOrString }), {
      maxLength: 3,
    }),
    timestamp: fc.integer({ min: T0 - 1000, max: T0 + 1000 }),
  },
  { noNullPrototype: true },
);
const compressionArb = fc.constantFrom<KafkaCompressionName>('none', 'gzip', 'snappy', 'lz4');
const batchesArb = fc.array(fc.tuple(fc.array(messageArb, { minLength: 1, maxLength: 8 }), compressionArb), {
  minLength: 1,
  maxLength: 3,
});
const isTyped = (e: unknown) => e instanceof CorruptDataError || e instanceof InvalidInputError;
const isReadError = (e: unknown) => e instanceof CorruptDataError || isCodecUnavailable(e);

function records(batches: [Message[], KafkaCompressionName][]): Buffer {
  return Buffer.concat(batches.map(([m, compression]) => encodeKafkaBatch(m, { compression })));
}

/** Reads every message of `bytes` as a kafka chunk of `messageCount` messages. */
function readAll(bytes: Buffer, messageCount: number): number {
  const r = new KafkaChunkReader(bytes, {
    firstMessageIndex: 0,
    messageCount,
    producerId: 1,
    maxUncompressedBytes: LIMIT,
  });
  let n = 0;
  while (r.next() !== undefined) n++;
  return n;
}

/** Recomputes every batch's CRC-32C that framing still finds, so damage reaches the decoders. */
function recrc(bytes: Buffer): Buffer {
  try {
    for (const v of splitRecordBatches(bytes)) {
      v.bytes.writeUInt32BE(crc32c(v.bytes, 0, KAFKA_BATCH.attributes), KAFKA_BATCH.crc);
    }
  } catch {
    // framing is broken: nothing to fix
  }
  return bytes;
}

function assertBounded(fn: () => void, input: Buffer): void {
  const { largest, arrayBuffersGrowth } = allocationsDuring(fn);
  const bound = LIMIT + 8 * input.length + 64 * 1024;
  assert.ok(largest <= bound, `allocated ${largest} bytes at once for ${input.length} input bytes`);
  assert.ok(arrayBuffersGrowth <= 4 * bound, `held ${arrayBuffersGrowth} more bytes`);
}

describe('damaged Kafka record batches fail with typed errors and bounded allocations', () => {
  it('round-trips arbitrary messages in every codec (the property the damage is measured from)', () => {
    fc.assert(
      fc.property(batchesArb, (batches) => {
        const chunk = kafkaChunkFromRecords(records(batches));
        assert.equal(checkChunkContent(chunk.bytes, chunk.meta), undefined);
        assert.equal(readAll(chunk.bytes, chunk.meta.messageCount), chunk.meta.messageCount);
      }),
      fuzzRuns(100),
    );
  });

  it('as produce input and in the broker check: framing and CRC-32C', () => {
    fc.assert(
      fc.property(batchesArb, mutationArb, (batches, m) => {
        const good = kafkaChunkFromRecords(records(batches));
        const bad = mutate(good.bytes, m);
        assertBounded(() => {
          outcome(() => kafkaChunkFromRecords(bad), isTyped);
          outcome(
            () =>
              checkChunkContent(bad, { ...good.meta, length: bad.length, uncompressedLength: bad.length }),
            (e) => e instanceof CorruptDataError,
          );
        }, bad);
      }),
      fuzzRuns(300),
    );
  });

  it('in the reader, with the CRC-32C recomputed over the damage', () => {
    const java = Object.values(JAVA_BATCHES).map((b) => Buffer.from(b, 'base64'));
    fc.assert(
      fc.property(
        fc.oneof(batchesArb.map(records), fc.constantFrom(...java)),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        (good, ms) => {
          let bad = good;
          for (const m of ms) bad = mutate(bad, m);
          recrc(bad);
          const count = kafkaChunkFromRecords(good).meta.messageCount;
          assertBounded(() => {
            outcome(() => readAll(bad, count), isReadError);
          }, bad);
        },
      ),
      fuzzRuns(400),
    );
  });

  it('decompression bombs stop at the limit', () => {
    const big: Message[] = [{ value: Buffer.alloc(4 * LIMIT), timestamp: T0 }];
    for (const compression of ['gzip', 'snappy', 'lz4'] as const) {
      const bytes = encodeKafkaBatch(big, { compression });
      assert.ok(bytes.length < LIMIT / 4, `${compression} bomb is small`);
      let err: unknown;
      assertBounded(
        () => {
          err = outcome(() => readAll(bytes, 1), isReadError);
        },
        Buffer.alloc(LIMIT / 4),
      );
      assert.ok(err instanceof CorruptDataError, `${compression}: ${String(err)}`);
    }
  });
});
