import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressFrameSync, compressSync, decompressFrameSync } from 'lz4-napi';
import {
  CODEC,
  codecId,
  codecName,
  compress,
  compressAsync,
  decompress,
  inspectLz4Frame,
  lz4CompressFrame,
  UnsupportedCodecError,
} from './codecs.js';
import { CorruptDataError, InvalidInputError } from './errors.js';

const MiB = 1024 * 1024;

/** Compressible but not trivial bytes. */
function sample(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 97 + ((x >>> 16) % 8);
  }
  return b;
}

function assertCorrupt(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CorruptDataError, `expected CorruptDataError, got ${String(e)}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

describe('codec ids', () => {
  it('maps names and ids both ways', () => {
    assert.deepEqual(CODEC, { none: 0, gzip: 1, lz4: 2, zstd: 3, kafka: 4 });
    for (const [name, id] of Object.entries(CODEC)) {
      if (name !== 'kafka') assert.equal(codecId(name), id);
      assert.equal(codecName(id), name);
    }
    // kafka chunks are built from Kafka record batches: it is not a compression setting
    assert.throws(() => codecId('kafka'), InvalidInputError);
  });
  it('rejects unknown names and ids with typed errors', () => {
    assert.throws(() => codecId('brotli'), InvalidInputError);
    assert.throws(() => codecId('toString'), InvalidInputError);
    assert.throws(() => codecName(5), UnsupportedCodecError);
    assert.throws(() => codecName(1.5), UnsupportedCodecError);
    assert.ok(new UnsupportedCodecError(9) instanceof CorruptDataError);
  });
});

describe('compress / decompress', () => {
  for (const name of ['none', 'gzip', 'lz4'] as const) {
    it(`${name}: round trips random and compressible data`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 5000 }),
            fc.nat(200_000).map((n) => sample(n)),
          ),
          (a) => {
            const data = Buffer.from(a);
            const c = compress(name, data);
            assert.deepEqual(decompress(CODEC[name], c, data.length), data);
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it('compressAsync output decodes like compress output', async () => {
    for (const n of [0, 10, 100_000, 5 * MiB]) {
      const data = sample(n, 9);
      for (const name of ['none', 'gzip', 'lz4'] as const) {
        const c = await compressAsync(name, data);
        assert.deepEqual(decompress(CODEC[name], c, n), data);
      }
    }
    await assert.rejects(compressAsync(9 as 0, Buffer.alloc(1)), InvalidInputError);
  });

  it('none returns the input itself', () => {
    const b = Buffer.from('abc');
    assert.equal(compress('none', b), b);
    assert.equal(decompress(CODEC.none, b, 3), b);
  });

  it('rejects a length other than the metadata says', () => {
    const data = sample(10_000);
    for (const name of ['none', 'gzip', 'lz4'] as const) {
      const c = compress(name, data);
      assertCorrupt(
        () => decompress(CODEC[name], c, data.length - 1),
        /decompressed to|metadata says|at most/,
      );
      assertCorrupt(
        () => decompress(CODEC[name], c, data.length + 1),
        /decompressed to|metadata says|at most/,
      );
    }
  });

  it('checks the promised length against the limit before touching the data', () => {
    for (const id of [0, 1, 2, 77]) {
      assertCorrupt(() => decompress(id, Buffer.from('garbage'), 2 ** 32 - 1), /exceeds the limit/);
      assertCorrupt(() => decompress(id, Buffer.from('garbage'), 1000, 999), /exceeds the limit/);
      assertCorrupt(() => decompress(id, Buffer.from('garbage'), -1), /non-negative/);
    }
  });

  it('rejects an unknown codec id with UnsupportedCodecError', () => {
    assert.throws(() => decompress(5, Buffer.alloc(4), 4), UnsupportedCodecError);
  });

  it('turns garbage into CorruptDataError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(1000), (a, n) => {
        for (const id of [CODEC.gzip, CODEC.lz4]) {
          try {
            decompress(id, Buffer.from(a), n);
          } catch (e) {
            assert.ok(e instanceof CorruptDataError, String(e));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gzip: stops a decompression bomb at the promised length', () => {
    const bomb = gzipSync(Buffer.alloc(32 * MiB), { level: 1 });
    assert.ok(bomb.length < MiB);
    const before = process.memoryUsage().arrayBuffers;
    assertCorrupt(() => decompress(CODEC.gzip, bomb, 1000), /gzip chunk does not decompress/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * MiB);
  });
});

describe('lz4 frames', () => {
  it('our frames are standard: lz4-napi frame decoder reads them', () => {
    for (const n of [0, 1, 100, 70_000, 300_000, 5 * MiB + 3]) {
      const data = sample(n, n);
      const f = lz4CompressFrame(data);
      assert.deepEqual(decompressFrameSync(f), data);
      const info = inspectLz4Frame(f);
      assert.equal(info.independent, true);
      assert.equal(info.blocks.length, Math.ceil(n / info.blockMaxSize));
    }
  });

  it('stores incompressible blocks uncompressed', () => {
    const random = randomBytes(200_000);
    const f = lz4CompressFrame(random);
    assert.deepEqual(
      inspectLz4Frame(f).blocks.map((b) => b.stored),
      [true],
    );
    assert.deepEqual(decompress(CODEC.lz4, f, random.length), random);
  });

  it("reads lz4-napi's own frames and frames of short blocks (general decoder)", () => {
    for (const n of [0, 5, 100_000, 2 * MiB]) {
      const data = sample(n, 3);
      assert.deepEqual(decompress(CODEC.lz4, compressFrameSync(data), n), data);
    }
    // Two short independent blocks: not "full", so decoded by the frame decoder.
    const a = sample(1000, 5);
    const b = sample(500, 6);
    const frame = handFrame(0x40, [compressSync(a).subarray(4), compressSync(b).subarray(4)]);
    assert.deepEqual(decompress(CODEC.lz4, frame, 1500), Buffer.concat([a, b]));
  });

  it('rejects frames whose worst-case output is above the limit before decoding', () => {
    // 100 tiny blocks that each expand to 4 MiB: 400 MiB worst case from ~1.6 MiB of input.
    const block = compressSync(Buffer.alloc(4 * MiB)).subarray(4);
    const frame = handFrame(
      0x70,
      Array.from({ length: 100 }, () => block),
    );
    assertCorrupt(() => decompress(CODEC.lz4, frame, 4 * MiB), /could expand to 419430400 bytes/);
    assertCorrupt(
      () => decompress(CODEC.lz4, handFrame(0x70, [block, block]), 4 * MiB, 5 * MiB),
      /could expand/,
    );
  });

  it('rejects malformed frames with CorruptDataError', () => {
    const good = lz4CompressFrame(sample(1000));
    const cases: [string, Buffer][] = [
      ['short', good.subarray(0, 5)],
      ['magic', Buffer.concat([Buffer.from([0, 0, 0, 0]), good.subarray(4)])],
      ['trailing bytes', Buffer.concat([good, Buffer.from([1])])],
      ['truncated', good.subarray(0, good.length - 1)],
      ['two frames', Buffer.concat([good, good])],
    ];
    for (const [, f] of cases) assertCorrupt(() => decompress(CODEC.lz4, f, 1000));
    const badVersion = Buffer.from(good);
    badVersion[4] = 0x20;
    assertCorrupt(() => inspectLz4Frame(badVersion), /frame version/);
    const withDict = Buffer.from(good);
    withDict[4] = 0x61;
    assertCorrupt(() => inspectLz4Frame(withDict), /dictionary/);
    const bigBlock = handFrame(0x40, [Buffer.alloc(70_000)]);
    assertCorrupt(() => inspectLz4Frame(bigBlock), /exceeds the frame's block maximum/);
  });
});

/** An LZ4 frame (FLG 0x60) around raw compressed blocks. */
function handFrame(bd: number, blocks: Buffer[]): Buffer {
  const hc: Record<number, number> = { 64: 0x82, 80: 0xfb, 96: 0x51, 112: 0x73 };
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, bd, hc[bd]!])];
  for (const b of blocks) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}
