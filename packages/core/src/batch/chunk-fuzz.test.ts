import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CODEC, type CodecId, compress, decompress } from '../codecs.js';
import { crc32 } from '../crc.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import { decodeRecords, encodeRecords, type Message } from '../message.js';
import { fuzzRuns, largestAllocationDuring, mutate, mutationArb, outcome } from '../test-support/fuzz.js';
import { type ChunkMeta, encodeChunk, validateChunkMeta } from './chunk.js';
import { SAMPLE_TARGET } from './fixtures.js';
import { BatchBuilder, decodeBatchHeader } from './header.js';
import { decodeBatch, decodeBatchChunks, decodeChunk, iterateBatch } from './reader.js';
import { checkChunkContent } from './validate.js';

/**
 * Extends `fuzz.test.ts` (damaged objects built from one fixed sample) with arbitrary messages
 * and codecs: record decoding, bounded decompression, and hostile chunks whose CRC and metadata
 * are self-consistent but whose records are garbage, next to an honest producer's chunk.
 */

const T0 = 1_700_000_000_000;
const bytesOrString = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
const messageArb: fc.Arbitrary<Message> = fc.record(
  {
    key: fc.option(bytesOrString, { nil: null }),
    value: bytesOrString,
    headers: fc.array(
      fc.record({ name: fc.string({ unit: 'grapheme', maxLength: 6 }), value: bytesOrString }),
      {
        maxLength: 3,
      },
    ),
    timestamp: fc.integer({ min: T0 - 1000, max: T0 + 1000 }),
  },
  { noNullPrototype: true },
);
const messagesArb = fc.array(messageArb, { maxLength: 12 });
const codecArb = fc.constantFrom<CodecId>(CODEC.none, CODEC.gzip, CODEC.lz4);
const isCorrupt = (e: unknown) => e instanceof CorruptDataError;
const isTyped = (e: unknown) => e instanceof CorruptDataError || e instanceof InvalidInputError;

/** Records of `messages` with the context their chunk's index entry would give. */
function records(messages: readonly Message[]) {
  const r = encodeRecords(messages, T0);
  const ctx = {
    messageCount: messages.length,
    producerId: 1,
    baseSequence: 0,
    firstMessageIndex: 0,
    minTimestamp: r.minTimestamp,
    maxTimestamp: r.maxTimestamp,
  };
  return { bytes: r.bytes, ctx };
}

/** A chunk whose CRC and lengths match its (possibly garbage) bytes, as a hostile producer makes it. */
function consistentChunk(
  codec: CodecId,
  recordBytes: Buffer,
  meta: Partial<ChunkMeta>,
): { bytes: Buffer; meta: ChunkMeta } {
  const bytes = compress(codec, recordBytes);
  return {
    bytes,
    meta: {
      codec,
      length: bytes.length,
      messageCount: 0,
      uncompressedLength: recordBytes.length,
      crc32: crc32(bytes),
      producerId: 66,
      baseSequence: 0,
      minTimestamp: 0,
      maxTimestamp: 0,
      ...meta,
    },
  };
}

/** Offsets of the length, count and timestamp fields of valid records, to damage one precisely. */
function recordFields(b: Buffer): { at: number; kind: 'timestamp' | 'i32' | 'u16' | 'name' }[] {
  const out: { at: number; kind: 'timestamp' | 'i32' | 'u16' | 'name' }[] = [];
  let p = 0;
  while (p < b.length) {
    out.push({ at: p, kind: 'timestamp' });
    p += 8;
    for (const _ of ['key', 'value']) {
      out.push({ at: p, kind: 'i32' });
      const n = b.readInt32BE(p);
      p += 4 + Math.max(n, 0);
    }
    out.push({ at: p, kind: 'u16' });
    const headers = b.readUInt16BE(p);
    p += 2;
    for (let h = 0; h < headers; h++) {
      out.push({ at: p, kind: 'u16' });
      const n = b.readUInt16BE(p);
      if (n > 0) out.push({ at: p + 2, kind: 'name' });
      p += 2 + n;
      out.push({ at: p, kind: 'i32' });
      p += 4 + b.readInt32BE(p);
    }
  }
  return out;
}

/** Valid records with exactly one field made wrong (the kind of damage one reader check must catch). */
const precisely = fc
  .tuple(fc.array(messageArb, { minLength: 1, maxLength: 6 }), fc.nat(), fc.nat(), fc.boolean())
  .map(([messages, which, how, trailing]) => {
    const { bytes, ctx } = records(messages);
    const b = Buffer.from(bytes);
    if (trailing) return { bytes: Buffer.concat([b, Buffer.from([0])]), ctx };
    const fields = recordFields(b);
    const f = fields[which % fields.length]!;
    if (f.kind === 'timestamp') {
      const ts = how % 2 === 0 ? ctx.maxTimestamp + 1 : ctx.minTimestamp - 1;
      b.writeBigInt64BE(BigInt(ts), f.at);
    } else if (f.kind === 'i32') {
      b.writeInt32BE([-2, -0x80000000, 0x7fffffff, b.length - f.at][how % 4]!, f.at);
    } else if (f.kind === 'u16') {
      b.writeUInt16BE(how % 2 === 0 ? 0xffff : b.readUInt16BE(f.at) + 1, f.at);
    } else {
      b[f.at] = 0xff;
    }
    return { bytes: b, ctx };
  });

describe('fuzz: record decoding', () => {
  it('arbitrary messages round-trip through records', () => {
    fc.assert(
      fc.property(messagesArb, (messages) => {
        const { bytes, ctx } = records(messages);
        const got = decodeRecords(bytes, ctx);
        assert.equal(got.length, messages.length);
        got.forEach((m, i) => {
          assert.equal(m.timestamp, messages[i]!.timestamp);
          assert.deepEqual(m.value, Buffer.from(messages[i]!.value));
        });
      }),
      fuzzRuns(300),
    );
  });

  it('damaged records and lying counts: CorruptDataError, or messages inside the context', () => {
    fc.assert(
      fc.property(
        messagesArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        fc.option(fc.oneof(fc.nat(20), fc.constant(0xffffffff)), { nil: undefined }),
        (messages, mutations, count) => {
          const { bytes, ctx } = records(messages);
          let damaged = bytes;
          for (const m of mutations) damaged = mutate(damaged, m);
          const c = { ...ctx, messageCount: count ?? ctx.messageCount };
          let got: ReturnType<typeof decodeRecords> | undefined;
          const largest = largestAllocationDuring(() => {
            outcome(() => {
              got = decodeRecords(damaged, c);
            }, isCorrupt);
          });
          assert.ok(largest <= 4096, `allocated ${largest} bytes`);
          if (!got) return;
          assert.equal(got.length, c.messageCount);
          for (const m of got) assert.ok(m.timestamp >= c.minTimestamp && m.timestamp <= c.maxTimestamp);
        },
      ),
      fuzzRuns(2000),
    );
  });
});

describe('fuzz: bounded decompression', () => {
  it('damaged gzip and lz4 data, any claimed length: CorruptDataError, bounded output', () => {
    const MAX = 64 * 1024;
    fc.assert(
      fc.property(
        codecArb,
        fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
        fc.array(mutationArb, { maxLength: 3 }),
        fc.oneof(fc.constant('true' as const), fc.nat(MAX + 10), fc.constantFrom(0, 0xffffffff, -1, 0.5)),
        (codec, data, mutations, claim) => {
          let stored = compress(codec, data);
          for (const m of mutations) stored = mutate(stored, m);
          const expected = claim === 'true' ? data.length : claim;
          let out: Buffer | undefined;
          const largest = largestAllocationDuring(() => {
            outcome(() => {
              out = decompress(codec, stored, expected, MAX);
            }, isCorrupt);
          });
          assert.ok(
            largest <= Math.max(expected, 0) + 64 * 1024,
            `allocated ${largest} for a claim of ${expected}`,
          );
          if (out) assert.equal(out.length, expected);
          if (out && mutations.length === 0) assert.deepEqual(out, data);
        },
      ),
      fuzzRuns(600),
    );
  });
});

describe('fuzz: a hostile chunk next to an honest one', () => {
  const honestMessages: Message[] = [
    { key: 'k', value: 'honest 1', timestamp: T0 },
    { key: null, value: 'honest 2', headers: [{ name: 'h', value: 'v' }], timestamp: T0 + 1 },
  ];

  it('garbage records under a valid CRC: the batch fails typed, and the honest chunk still decodes', () => {
    fc.assert(
      fc.property(
        codecArb,
        codecArb,
        messagesArb,
        fc.array(mutationArb, { maxLength: 3 }),
        fc.record({
          messageCount: fc.option(fc.oneof(fc.nat(15), fc.constant(0xffffffff)), { nil: undefined }),
          uncompressedLength: fc.option(fc.oneof(fc.nat(3000), fc.constant(0xffffffff)), { nil: undefined }),
        }),
        fc.boolean(),
        (honestCodec, hostileCodec, messages, mutations, lies, hostileFirst) => {
          const honest = encodeChunk(honestMessages, honestCodec, { producerId: 7, timestamp: T0 });
          const { bytes: recs, ctx } = records(messages);
          let garbage = recs;
          for (const m of mutations) garbage = mutate(garbage, m);
          const hostile = consistentChunk(hostileCodec, garbage, {
            messageCount: lies.messageCount ?? ctx.messageCount,
            minTimestamp: ctx.messageCount > 0 ? ctx.minTimestamp : 0,
            maxTimestamp: ctx.messageCount > 0 ? ctx.maxTimestamp : 0,
            ...(lies.uncompressedLength === undefined ? {} : { uncompressedLength: lies.uncompressedLength }),
          });
          const b = new BatchBuilder(SAMPLE_TARGET);
          const order = hostileFirst ? [hostile, honest] : [honest, hostile];
          // The broker builds batches with this: metadata it cannot accept never gets in.
          if (outcome(() => b.add(order[0]!.bytes, order[0]!.meta), isTyped)) return;
          if (outcome(() => b.add(order[1]!.bytes, order[1]!.meta), isTyped)) return;
          const object = Buffer.concat(b.build(T0).body);
          const largest = largestAllocationDuring(() => {
            outcome(() => decodeBatch(object, { maxUncompressedBytes: 1 << 20 }), isCorrupt);
            outcome(() => [...iterateBatch(object, { maxUncompressedBytes: 1 << 20 })], isCorrupt);
          });
          assert.ok(largest <= (1 << 20) + 64 * 1024, `allocated ${largest}`);
          const header = decodeBatchHeader(object);
          const at = hostileFirst ? 1 : 0;
          const c = header.chunks[at]!;
          const got = decodeChunk(header, at, object.subarray(c.offset, c.offset + c.length));
          assert.deepEqual(
            got.map((m) => m.value.toString()),
            honestMessages.map((m) => String(m.value)),
          );
          const outcomes = decodeBatchChunks(object, { maxUncompressedBytes: 1 << 20 }).chunks;
          const honestOutcome = outcomes[at]!;
          assert.ok(honestOutcome.ok, 'the honest chunk decodes whatever is next to it');
          assert.equal(honestOutcome.messages.length, honestMessages.length);
        },
      ),
      fuzzRuns(800),
    );
  });

  it("the broker's content check accepts exactly the chunks a reader decodes", async () => {
    const MAX = 1 << 20;
    await fc.assert(
      fc.asyncProperty(
        codecArb,
        messagesArb,
        fc.array(mutationArb, { maxLength: 3 }),
        fc.boolean(),
        fc.record({
          messageCount: fc.option(fc.nat(15), { nil: undefined }),
          uncompressedLength: fc.option(fc.oneof(fc.nat(3000), fc.constant(MAX + 1)), { nil: undefined }),
        }),
        fc.option(precisely, { nil: undefined }),
        async (codec, messages, mutations, damageStored, lies, precise) => {
          const { bytes: recs, ctx } = precise ?? records(messages);
          let content = recs;
          if (!damageStored && !precise) for (const m of mutations) content = mutate(content, m);
          let chunk = consistentChunk(codec, content, {
            messageCount: lies.messageCount ?? ctx.messageCount,
            minTimestamp: ctx.messageCount > 0 ? ctx.minTimestamp : 0,
            maxTimestamp: ctx.messageCount > 0 ? ctx.maxTimestamp : 0,
            ...(lies.uncompressedLength === undefined ? {} : { uncompressedLength: lies.uncompressedLength }),
          });
          if (damageStored) {
            let stored = chunk.bytes;
            for (const m of mutations) stored = mutate(stored, m);
            chunk = { bytes: stored, meta: { ...chunk.meta, length: stored.length, crc32: crc32(stored) } };
          }
          // The broker checks the metadata first; content checks only see metadata that passed.
          if (outcome(() => validateChunkMeta(chunk.meta), isTyped)) return;
          const { bytes, meta } = chunk;
          const readerError = outcome(() => {
            const out = decompress(meta.codec, bytes, meta.uncompressedLength, MAX);
            decodeRecords(out, { ...meta, firstMessageIndex: 0 });
          }, isCorrupt);
          let brokerError: unknown;
          try {
            await checkChunkContent(bytes, meta, 'chunk', { maxUncompressedBytes: MAX });
          } catch (e) {
            assert.ok(isCorrupt(e), `content check threw ${(e as Error)?.stack ?? e}`);
            brokerError = e;
          }
          assert.equal(
            brokerError === undefined,
            readerError === undefined,
            `broker: ${String(brokerError ?? 'accepts')}; reader: ${String(readerError ?? 'decodes')}`,
          );
        },
      ),
      fuzzRuns(800),
    );
  });

  it('arbitrary chunk metadata: validateChunkMeta accepts or throws InvalidInputError', () => {
    const int = fc.oneof(
      fc.integer(),
      fc.maxSafeInteger(),
      fc.constantFrom(-1, 0.5, Number.NaN, 2 ** 53, 2 ** 32),
    );
    fc.assert(
      fc.property(
        fc.record({
          codec: int,
          length: int,
          messageCount: int,
          uncompressedLength: int,
          crc32: int,
          producerId: int,
          baseSequence: int,
          minTimestamp: int,
          maxTimestamp: int,
        }),
        (meta) => {
          outcome(
            () => validateChunkMeta(meta),
            (e) => e instanceof InvalidInputError,
          );
        },
      ),
      fuzzRuns(2000),
    );
  });
});
