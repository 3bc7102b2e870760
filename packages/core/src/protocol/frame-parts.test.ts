import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeChunk } from '../batch/chunk.js';
import { ApiKey, decodeRequestBody, encodeRequest, type ProduceRequest } from './api.js';
import { decodeRequestFrame, decodeRequestFrameParts, FrameDecoder, LENGTH_PREFIX_BYTES } from './frame.js';
import { PartsReader } from './parts-reader.js';
import { decodeProduceRequestParts, keepable } from './produce-parts.js';
import { Reader } from './wire.js';

/**
 * The produce path's zero-copy decoding: frames returned as views of the socket's reads
 * (`FrameDecoder.nextParts`), fields read across those views (`PartsReader`), and Produce
 * requests decoded from them exactly as `decodeRequestBody` decodes the joined bytes.
 */

function frame(body: Buffer): Buffer {
  const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  prefix.writeUInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

/** Each split of `stream` into pieces at the given cut points, as separately allocated buffers (socket reads). */
function cutAt(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, stream.length]) {
    out.push(Buffer.from(stream.subarray(from, c)));
    from = c;
  }
  return out;
}

function drainParts(pieces: readonly Buffer[]): Buffer[][] {
  const d = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  const frames: Buffer[][] = [];
  for (const p of pieces) {
    d.push(p);
    for (let f = d.nextParts(); f; f = d.nextParts()) frames.push(f);
  }
  assert.equal(d.bufferedBytes, 0);
  return frames;
}

function sampleProduce(): ProduceRequest {
  const producerId = 2 ** 40 + 5;
  const chunk = (n: number, base: number) =>
    encodeChunk(
      Array.from({ length: n }, (_, i) => ({
        key: `k${i}`,
        value: `value ${i} `.repeat(3),
        timestamp: 1000 + i,
      })),
      'none',
      { producerId, baseSequence: base },
    );
  return {
    topic: 'lögs',
    writePartition: 3,
    acks: 'durable',
    producerId,
    timeoutMs: 30_000,
    chunks: [chunk(3, 0), chunk(1, 3), chunk(5, 4)],
  };
}

function produceFrame(req: ProduceRequest): Buffer {
  return Buffer.concat(encodeRequest(ApiKey.Produce, 2, 77, req));
}

describe('FrameDecoder.nextParts', () => {
  const bodies = [Buffer.from('first frame'), Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(300, 7)];
  const stream = Buffer.concat(bodies.map(frame));

  it('returns every frame whole when the stream is cut at any one byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const frames = drainParts(cutAt(stream, [cut]));
      assert.deepEqual(
        frames.map((f) => Buffer.concat(f)),
        bodies,
        `cut at ${cut}`,
      );
    }
  });

  it('returns every frame whole when each byte arrives alone, and when all frames arrive in one read', () => {
    const single = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(
      drainParts(cutAt(stream, single)).map((f) => Buffer.concat(f)),
      bodies,
    );
    assert.deepEqual(
      drainParts([stream]).map((f) => Buffer.concat(f)),
      bodies,
    );
  });

  it('hands out views of the pushed buffers, never copies', () => {
    const pieces = cutAt(stream, [5, 40, 41, 200]);
    const pushed = new Set(pieces.map((p) => p.buffer));
    for (const f of drainParts(pieces)) for (const p of f) assert.ok(pushed.has(p.buffer));
    const [one] = drainParts([stream]);
    assert.equal(one!.length, 1);
    assert.equal(one![0]!.buffer, stream.buffer);
  });
});

describe('decodeRequestFrameParts', () => {
  it('reads the header across any cut and leaves the body as views', () => {
    const f = produceFrame(sampleProduce()).subarray(LENGTH_PREFIX_BYTES);
    const whole = decodeRequestFrame(f);
    for (let cut = 0; cut <= 12; cut++) {
      const { header, body } = decodeRequestFrameParts(cutAt(f, [cut]));
      assert.deepEqual(header, whole.header);
      assert.deepEqual(Buffer.concat(body), whole.body);
    }
  });

  it('refuses a frame shorter than the header', () => {
    assert.throws(
      () => decodeRequestFrameParts([Buffer.alloc(3), Buffer.alloc(4)]),
      /shorter than the 8-byte header/,
    );
  });
});

describe('decodeProduceRequestParts', () => {
  const req = sampleProduce();
  const body = produceFrame(req).subarray(LENGTH_PREFIX_BYTES + 8);
  const expected = decodeRequestBody(ApiKey.Produce, 2, body);

  it('decodes what decodeRequestBody decodes, wherever the body is cut (one or two cuts)', () => {
    for (let a = 0; a <= body.length; a++) {
      for (const b of a % 7 === 0 ? [a + 1, a + 13, a + 64] : [a]) {
        const cuts = b > a && b < body.length ? [a, b] : [a];
        const got = decodeProduceRequestParts(2, cutAt(body, cuts));
        const { chunks, ...rest } = got;
        const { chunks: wantChunks, ...wantRest } = expected;
        assert.deepEqual(rest, wantRest, `cuts ${cuts}`);
        assert.deepEqual(
          chunks.map((c) => ({ meta: c.meta, bytes: Buffer.concat(c.parts) })),
          wantChunks.map((c) => ({ meta: c.meta, bytes: c.bytes })),
          `cuts ${cuts}`,
        );
      }
    }
  });

  it('fails on a truncated or padded body with the errors decodeRequestBody gives', () => {
    for (const bad of [
      body.subarray(0, body.length - 1),
      body.subarray(0, 30),
      Buffer.concat([body, Buffer.alloc(2)]),
    ]) {
      let want: unknown;
      try {
        decodeRequestBody(ApiKey.Produce, 2, bad);
      } catch (e) {
        want = e;
      }
      assert.ok(want instanceof Error);
      assert.throws(() => decodeProduceRequestParts(2, cutAt(bad, [bad.length >> 1])), {
        name: want.name,
        message: want.message,
      });
    }
  });

  it('keeps large chunk pieces as views and copies pieces small against their buffer', () => {
    const big = Buffer.alloc(64 * 1024);
    assert.equal(keepable(big.subarray(0, 40_000)).buffer, big.buffer);
    const small = keepable(big.subarray(100, 200));
    assert.notEqual(small.buffer, big.buffer);
    assert.equal(small.buffer.byteLength, 100);
    assert.deepEqual(small, big.subarray(100, 200));
  });
});

describe('PartsReader', () => {
  it('reads 64-bit fields as Reader does, limits included, across a cut', () => {
    const values = [0n, 1n, -1n, 2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n];
    for (const v of values) {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(v);
      for (const field of ['i64', 'u64'] as const) {
        const outcome = (read: () => number) => {
          try {
            return read();
          } catch (e) {
            return (e as Error).message;
          }
        };
        const want = outcome(() => new Reader(b)[field]('f'));
        for (let cut = 0; cut <= 8; cut++) {
          assert.equal(
            outcome(() => new PartsReader(cutAt(b, [cut]))[field]('f')),
            want,
            `${field} ${v} cut ${cut}`,
          );
        }
      }
    }
  });
});
