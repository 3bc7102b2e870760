import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  ApiKey,
  type BrokerConfigInput,
  type ChunkMeta,
  CODEC,
  crc32,
  ErrorCode,
  encodeChunk,
  encodeRecords,
  type ProduceChunk,
} from '@barge/core';
import {
  type Harness,
  ok,
  produceRequest,
  readAllPointers,
  readBatchValues,
  startHarness,
} from './test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

async function harness(limits: BrokerConfigInput['limits'] = {}): Promise<Harness> {
  const h = await startHarness({
    topics: [{ name: 't', batch: { maxDelayMs: 20 } }],
    upload: { backoffBaseMs: 5, backoffMaxMs: 50 },
    limits,
  });
  harnesses.push(h);
  return h;
}

const T0 = 1_700_000_000_000;

/** A chunk whose metadata and CRC-32 are self-consistent, whatever its bytes hold. */
function hostile(
  codec: number,
  bytes: Buffer,
  messageCount: number,
  uncompressedLength: number,
): ProduceChunk {
  const meta: ChunkMeta = {
    codec,
    length: bytes.length,
    messageCount,
    uncompressedLength,
    crc32: crc32(bytes),
    producerId: 7,
    baseSequence: 0,
    minTimestamp: T0,
    maxTimestamp: T0,
  };
  return { bytes, meta };
}

const oneRecord = encodeRecords([{ key: 'k', value: 'v', timestamp: T0 }], T0).bytes;
const negativeKey = Buffer.from(oneRecord);
negativeKey.writeInt32BE(-7, 8);

const HOSTILE: [string, ProduceChunk, RegExp][] = [
  ['garbage records', hostile(CODEC.none, Buffer.alloc(100, 0x41), 3, 100), /chunk 0: message 0: timestamp/],
  [
    'a negative key length',
    hostile(CODEC.none, negativeKey, 1, negativeKey.length),
    /chunk 0: message 0: key length -7 is negative/,
  ],
  [
    'a gzip bomb declaring 20 bytes',
    hostile(
      CODEC.gzip,
      gzipSync(Buffer.concat([oneRecord, Buffer.alloc(20 * 1024 * 1024)])),
      1,
      oneRecord.length,
    ),
    /chunk 0: .*(gzip data decompresses to more than the 20 bytes the metadata declares)/,
  ],
  [
    'an lz4 frame declaring more than it holds',
    (() => {
      const c = encodeChunk([{ value: 'x'.repeat(1000), timestamp: T0 }], 'lz4');
      return hostile(CODEC.lz4, c.bytes, 1, c.meta.uncompressedLength + 500);
    })(),
    /chunk 0: .*(decompresses to 1018 bytes; the metadata declares 1518|runs past)/,
  ],
];

describe('produce: the broker refuses chunks readers could not decode', () => {
  it('refuses each hostile chunk with CORRUPT_CHUNK naming what is wrong, at every ack level', async () => {
    const h = await harness();
    const c = await h.client();
    for (const [what, chunk, pattern] of HOSTILE) {
      for (const acks of ['durable', 'received'] as const) {
        const r = await c.request(ApiKey.Produce, { ...produceRequest('t', []), acks, chunks: [chunk] });
        assert.equal(r.errorCode, ErrorCode.CORRUPT_CHUNK, `${what}, acks=${acks}: ${r.message ?? 'acked'}`);
        assert.match(r.message ?? '', pattern, what);
      }
    }
    h.broker.flush();
    assert.deepEqual(await readAllPointers(h.pointers, 't'), [], 'nothing was stored');
  });

  it('refuses a request holding one bad chunk whole; its good chunks are not appended', async () => {
    const h = await harness();
    const c = await h.client();
    const good = produceRequest('t', ['good']).chunks[0]!;
    const r = await c.request(ApiKey.Produce, {
      ...produceRequest('t', []),
      chunks: [good, HOSTILE[1]![1]],
    });
    assert.equal(r.errorCode, ErrorCode.CORRUPT_CHUNK);
    assert.match(r.message ?? '', /^chunk 1: message 0: key length -7/);
    ok(await c.request(ApiKey.Produce, produceRequest('t', ['after'], {}, 1)));
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(values, ['after']);
  });

  it("an honest producer's messages sent alongside hostile chunks are acked and readable", async () => {
    const h = await harness();
    const honest = await h.client();
    const attacker = await h.client();
    const sends: Promise<unknown>[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      const values = [`honest-${i}-a`, `honest-${i}-b`];
      expected.push(...values);
      // honest sends go in order on one connection; the attacker's interleave on another
      sends.push(honest.request(ApiKey.Produce, produceRequest('t', values, {}, 2 * i)).then(ok));
      const [, chunk] = HOSTILE[i % HOSTILE.length]!;
      sends.push(
        attacker.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [chunk] }).then((r) => {
          assert.equal(r.errorCode, ErrorCode.CORRUPT_CHUNK);
        }),
      );
    }
    await Promise.all(sends);
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(values, expected);
  });

  it('keeps the order of pipelined requests while compressed chunks are checked', async () => {
    const h = await harness();
    const c = await h.client();
    const expected: string[] = [];
    const replies: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const values = Array.from({ length: 1 + (i % 5) * 200 }, (_, k) => `m${i}-${k}`);
      expected.push(...values);
      const codec = (['none', 'gzip', 'lz4'] as const)[i % 3]!;
      const chunk = encodeChunk(
        values.map((value) => ({ value, timestamp: T0 })),
        codec,
        { producerId: 7, baseSequence: expected.length - values.length },
      );
      replies.push(c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [chunk] }).then(ok));
    }
    await Promise.all(replies);
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(values, expected);
  });

  it('counts requests being checked against the in-flight budget, so their sender is paused', async () => {
    // Well above one socket read (64 KiB), so the overshoot before the pause stays below 2 × limit.
    const limit = 256 * 1024;
    const h = await startHarness({
      topics: [{ name: 't', batch: { maxDelayMs: 5 } }],
      upload: { inFlightBytes: limit, backoffBaseMs: 5, backoffMaxMs: 50 },
    });
    harnesses.push(h);
    // ~32 KiB on the wire, 32 MiB to decompress: slow to check, cheap to send.
    const chunk = encodeChunk([{ value: Buffer.alloc(32 * 1024 * 1024), timestamp: T0 }], 'gzip', {
      producerId: 7,
    });
    const c = await h.client();
    const replies = Array.from({ length: 40 }, () =>
      c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [chunk] }),
    );
    for (const r of await Promise.all(replies)) ok(r);
    // Without counting them, all 40 requests (1.3 MB) are read while their checks run.
    const bound = limit + 384 * 1024;
    assert.ok(h.broker.budget.peak <= bound, `peak in-flight ${h.broker.budget.peak} > ${bound}`);
  });

  it('with limits.validateChunks false, checks only metadata and CRC-32 (the hostile chunk is acked)', async () => {
    const h = await harness({ validateChunks: false });
    const c = await h.client();
    ok(await c.request(ApiKey.Produce, { ...produceRequest('t', []), chunks: [HOSTILE[1]![1]] }));
  });
});
