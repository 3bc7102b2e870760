import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzzRuns, largestAllocationDuring, outcome } from '../test-support/fuzz.js';
import { FrameDecoder, LENGTH_PREFIX_BYTES, REQUEST_HEADER_BYTES } from './frame.js';
import { FrameTooLargeError, ProtocolError } from './wire.js';

/**
 * Model-based fuzzing of the streaming frame decoder: whatever the length fields say and however
 * the stream is split, it returns exactly the frames a simple reference parser finds, stops with
 * `FrameTooLargeError` at the first frame above the limit, never allocates more than the limit,
 * and throws nothing but `ProtocolError`.
 */

const MAX = 256;

/** One frame of the stream: a body within the limit, or a length above it and some bytes after. */
const frameArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.uint8Array({ maxLength: MAX }).map((a) => ({ big: false as const, body: Buffer.from(a) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.integer({ min: MAX + 1, max: 0xffffffff }),
          fc.constantFrom(MAX + 1, 0x7fffffff, 0xffffffff),
        ),
        fc.uint8Array({ maxLength: 20 }),
      )
      .map(([length, after]) => ({ big: true as const, length, after: Buffer.from(after) })),
  },
);
type Frame = typeof frameArb extends fc.Arbitrary<infer T> ? T : never;

function serialize(frames: readonly Frame[]): Buffer {
  return Buffer.concat(
    frames.map((f) => {
      const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
      prefix.writeUInt32BE(f.big ? f.length : f.body.length);
      return Buffer.concat([prefix, f.big ? f.after : f.body]);
    }),
  );
}

/** What the reference parser expects: the frames up to the first oversized one, then its error. */
function expected(stream: Buffer): { frames: Buffer[]; tooLarge?: { length: number; header: Buffer } } {
  const frames: Buffer[] = [];
  let pos = 0;
  while (stream.length - pos >= LENGTH_PREFIX_BYTES) {
    const length = stream.readUInt32BE(pos);
    const rest = stream.length - pos - LENGTH_PREFIX_BYTES;
    if (length > MAX) {
      if (rest < REQUEST_HEADER_BYTES) break;
      const header = stream.subarray(
        pos + LENGTH_PREFIX_BYTES,
        pos + LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES,
      );
      return { frames, tooLarge: { length, header } };
    }
    if (rest < length) break;
    frames.push(stream.subarray(pos + LENGTH_PREFIX_BYTES, pos + LENGTH_PREFIX_BYTES + length));
    pos += LENGTH_PREFIX_BYTES + length;
  }
  return { frames };
}

/** Feeds `stream` cut at `cuts`, draining after every push; returns frames and the error, if any. */
function decode(stream: Buffer, cuts: readonly number[]) {
  const d = new FrameDecoder({ maxFrameBytes: MAX });
  const frames: Buffer[] = [];
  let error: unknown;
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of [...points, stream.length]) {
    d.push(stream.subarray(prev, p));
    prev = p;
    if (error !== undefined) continue;
    error = outcome(
      () => {
        for (let f = d.next(); f !== undefined; f = d.next()) frames.push(Buffer.from(f));
      },
      (e) => e instanceof ProtocolError,
    );
    // The length of the frame being received is known as soon as its prefix is (budget admission).
    const consumed = frames.reduce((n, f) => n + LENGTH_PREFIX_BYTES + f.length, 0);
    const known = error === undefined && p - consumed >= LENGTH_PREFIX_BYTES;
    assert.equal(d.pendingFrameLength, known ? stream.readUInt32BE(consumed) : undefined);
  }
  return { decoder: d, frames, error };
}

describe('fuzz: FrameDecoder against a reference parser', () => {
  it('well-formed and oversized frames, any split', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.nat(40),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, dropTail, cuts) => {
          const whole = serialize(frames);
          const stream = whole.subarray(0, Math.max(0, whole.length - dropTail));
          const want = expected(stream);
          const got = decode(stream, cuts);
          assert.deepEqual(got.frames, want.frames);
          if (want.tooLarge) {
            assert.ok(
              got.error instanceof FrameTooLargeError,
              `expected FrameTooLargeError, got ${String(got.error)}`,
            );
            assert.equal(got.error.length, want.tooLarge.length);
            assert.deepEqual(got.error.header, want.tooLarge.header);
            assert.throws(() => got.decoder.next(), ProtocolError, 'a failed decoder stays failed');
          } else {
            assert.equal(got.error, undefined);
            const consumed = want.frames.reduce((n, f) => n + LENGTH_PREFIX_BYTES + f.length, 0);
            assert.equal(got.decoder.bufferedBytes, stream.length - consumed);
          }
        },
      ),
      fuzzRuns(1500),
    );
  });

  it('random bytes: only ProtocolError, no frame above the limit, no allocation above it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), fc.array(fc.nat(), { maxLength: 30 }), (a, cuts) => {
        const stream = Buffer.from(a);
        let got: ReturnType<typeof decode> | undefined;
        const largest = largestAllocationDuring(() => {
          got = decode(stream, cuts);
        });
        assert.ok(largest <= MAX, `allocated ${largest} bytes`);
        const want = expected(stream);
        assert.deepEqual(got!.frames, want.frames);
        assert.equal(got!.error instanceof FrameTooLargeError, want.tooLarge !== undefined);
      }),
      fuzzRuns(1500),
    );
  });

  it('a 4 GiB length prefix pushed a byte at a time waits, then fails without allocating', () => {
    const stream = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 2, 0, 1, 0, 0, 0, 9, 1, 2, 3]);
    const largest = largestAllocationDuring(() => {
      const got = decode(stream, [...stream.keys()]);
      assert.ok(got.error instanceof FrameTooLargeError);
      assert.equal(got.error.length, 0xffffffff);
    });
    assert.ok(largest <= LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES, `allocated ${largest} bytes`);
  });
});
