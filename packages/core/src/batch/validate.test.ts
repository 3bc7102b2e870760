import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressFrameSync, compressSync } from 'lz4-napi';
import { CODEC, type CodecId, compress } from '../codecs.js';
import { crc32 } from '../crc.js';
import { CorruptDataError } from '../errors.js';
import { encodeRecords, type Message } from '../message.js';
import { type ChunkMeta, encodeChunk, validateChunkMeta } from './chunk.js';
import { sampleBatch, sampleChunks } from './fixtures.js';
import { decodeBatch } from './reader.js';
import { RecordWalker } from './record-walker.js';
import { checkChunkContent } from './validate.js';

const MiB = 1024 * 1024;
const T0 = 1_700_000_000_000;

/** A chunk's metadata for `bytes` claiming `records` of `count` messages, with a valid CRC. */
function metaFor(codec: CodecId, bytes: Buffer, count: number, uncompressedLength: number): ChunkMeta {
  return {
    codec,
    length: bytes.length,
    messageCount: count,
    uncompressedLength,
    crc32: crc32(bytes),
    producerId: 1,
    baseSequence: 0,
    minTimestamp: count > 0 ? T0 : 0,
    maxTimestamp: count > 0 ? T0 : 0,
  };
}

/** The validator's verdict: undefined (accepted) or the error. */
async function verdict(bytes: Buffer, meta: ChunkMeta): Promise<unknown> {
  try {
    await checkChunkContent(bytes, meta, 'chunk 0');
    return undefined;
  } catch (e) {
    return e;
  }
}

async function refused(bytes: Buffer, meta: ChunkMeta, pattern: RegExp): Promise<void> {
  const e = await verdict(bytes, meta);
  assert.ok(e instanceof CorruptDataError, `expected CorruptDataError, got ${String(e)}`);
  assert.match(e.message, /^chunk 0: /);
  assert.match(e.message, pattern);
}

/** Whether a reader decodes a batch holding this one chunk. */
function readerAccepts(bytes: Buffer, meta: ChunkMeta): boolean {
  try {
    decodeBatch(sampleBatch([{ bytes, meta }]).object);
    return true;
  } catch (e) {
    assert.ok(e instanceof CorruptDataError, `reader threw ${String(e)}`);
    return false;
  }
}

const messages = (n: number, size: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i % 3 === 0 ? null : `key-${i}`,
    value: Buffer.alloc(size, 97 + (i % 26)),
    headers:
      i % 2
        ? [
            { name: `h${i}`, value: 'v' },
            { name: 'ünï', value: '' },
          ]
        : [],
    timestamp: T0 + i,
  }));

describe('checkChunkContent: valid chunks', () => {
  it('accepts the sample chunks of every codec', async () => {
    for (const c of sampleChunks()) assert.equal(await verdict(c.bytes, c.meta), undefined);
  });

  it('accepts chunks of many records, long values and multi-piece output, of every codec', async () => {
    const cases: [number, number][] = [
      [1, 0],
      [2000, 100],
      [300, 1024],
      [40, 64 * 1024],
      [3, 5 * MiB],
    ];
    for (const codec of ['none', 'gzip', 'lz4'] as const) {
      for (const [n, size] of cases) {
        const c = encodeChunk(messages(n, size), codec);
        assert.equal(await verdict(c.bytes, c.meta), undefined, `${codec} ${n} × ${size} B`);
      }
    }
  });

  it('accepts lz4 frames of another encoder, with and without checksums', async () => {
    const records = encodeRecords(messages(500, 3000), T0).bytes;
    const meta = { ...encodeChunk(messages(500, 3000), 'none').meta, codec: CODEC.lz4 };
    for (const frame of [
      compressFrameSync(records),
      compressFrameSync(records, { contentChecksum: true, blockChecksums: true }),
    ]) {
      const m = { ...meta, length: frame.length, crc32: crc32(frame) };
      assert.ok(readerAccepts(frame, m));
      assert.equal(await verdict(frame, m), undefined);
    }
  });

  it('accepts linked-block lz4 frames, decoding each block with the previous 64 KiB', async () => {
    const ms = messages(400, 700);
    const records = encodeRecords(ms, T0).bytes;
    const frame = linkedFrame(records);
    const meta = {
      ...encodeChunk(ms, 'none').meta,
      codec: CODEC.lz4,
      length: frame.length,
      crc32: crc32(frame),
    };
    assert.ok(readerAccepts(frame, meta));
    assert.equal(await verdict(frame, meta), undefined);
    // The same blocks flagged independent refer to bytes they do not have.
    const independent = Buffer.from(frame);
    independent[4] = 0x60;
    independent[6] = 0x51;
    const m = { ...meta, crc32: crc32(independent) };
    assert.equal(readerAccepts(independent, m), false);
    await refused(independent, m, /lz4 block \d+ does not decompress/);
  });
});

/** An LZ4 frame of linked 64 KiB blocks (FLG 0x40, BD 0x40; 0xc0 is its descriptor checksum). */
function linkedFrame(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0])];
  for (let off = 0; off < data.length; off += 64 * 1024) {
    const slice = data.subarray(off, off + 64 * 1024);
    const dict = off > 0 ? data.subarray(Math.max(0, off - 64 * 1024), off) : undefined;
    const block = compressSync(slice, dict).subarray(4);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(block.length);
    parts.push(size, block);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

describe('checkChunkContent: hostile chunks with a correct CRC', () => {
  it('refuses garbage records whose counts fit the length', async () => {
    const garbage = Buffer.alloc(200, 0x41);
    await refused(garbage, metaFor(CODEC.none, garbage, 3, 200), /message 0: timestamp \d+ is outside/);
    const zeros = Buffer.alloc(18 * 4 + 7);
    await refused(
      zeros,
      { ...metaFor(CODEC.none, zeros, 4, zeros.length), minTimestamp: 0, maxTimestamp: 0 },
      /7 bytes follow the last message/,
    );
  });

  it('refuses negative and oversized key, value and header lengths', async () => {
    const good = encodeRecords(
      [{ key: 'k', value: 'value', headers: [{ name: 'n', value: 'hv' }], timestamp: T0 }],
      T0,
    ).bytes;
    const at = { key: 8, value: 13, headerValue: 8 + 4 + 1 + 4 + 5 + 2 + 2 + 1 };
    const cases: [string, number, number, RegExp][] = [
      ['negative key', at.key, -5, /message 0: key length -5 is negative/],
      ['oversized key', at.key, 0x7fffffff, /message 0: key of 2147483653 bytes runs past the end/],
      ['key past the end by one', at.key, good.length, /message 0: key of \d+ bytes runs past the end/],
      ['negative value', at.value, -2, /message 0: value length -2 is negative/],
      ['oversized value', at.value, 1000, /message 0: value of 1002 bytes runs past the end/],
      ['negative header value', at.headerValue, -1, /message 0: header value length -1 is negative/],
      ['oversized header value', at.headerValue, 3, /message 0: header value of 3 bytes runs past/],
      ['short value', at.value, 4, /message 0: header value of 2 bytes runs past|1 bytes follow|header name/],
    ];
    for (const [what, offset, v, pattern] of cases) {
      const b = Buffer.from(good);
      b.writeInt32BE(v, offset);
      for (const codec of [CODEC.none, CODEC.gzip, CODEC.lz4] as const) {
        const bytes = compress(codec, b);
        await refused(bytes, metaFor(codec, bytes, 1, b.length), pattern).catch((e: Error) => {
          e.message = `${what}, codec ${codec}: ${e.message}`;
          throw e;
        });
      }
    }
  });

  it('refuses a header name that is not UTF-8, and a record count that does not match', async () => {
    const b = encodeRecords([{ value: 'v', headers: [{ name: 'ab', value: '' }], timestamp: T0 }], T0).bytes;
    const bad = Buffer.from(b);
    bad[8 + 4 + 4 + 1 + 2 + 2] = 0xff;
    await refused(bad, metaFor(CODEC.none, bad, 1, bad.length), /message 0: header name is not valid UTF-8/);
    const two = Buffer.concat([b, b]);
    await refused(two, metaFor(CODEC.none, two, 1, two.length), /\d+ bytes follow the last message/);
    await refused(two, metaFor(CODEC.none, two, 3, two.length), /message 2: record of 18 bytes runs past/);
  });

  it('refuses gzip bombs: output longer than declared, decompressed into pieces of the declared size', async () => {
    const records = encodeRecords(messages(1, 10), T0).bytes;
    const bomb = gzipSync(Buffer.concat([records, Buffer.alloc(50 * MiB)]));
    const meta = metaFor(CODEC.gzip, bomb, 1, records.length);
    const largest = await largestAllocationDuring(() => verdict(bomb, meta));
    await refused(
      bomb,
      meta,
      /records are longer than|more than the \d+ bytes the metadata declares|bytes follow/,
    );
    // zlib's smallest output buffer is 64 bytes
    assert.ok(largest <= Math.max(records.length + 1, 64), `allocated ${largest} bytes at once`);
    // Declared larger than what it holds.
    const honest = gzipSync(records);
    await refused(
      honest,
      metaFor(CODEC.gzip, honest, 1, records.length + 100),
      /gzip data decompresses to \d+ bytes; the metadata declares \d+|runs past/,
    );
  });

  it("refuses a gzip chunk whose declared size is above the readers' limit, before decompressing", async () => {
    const bomb = gzipSync(Buffer.alloc(1000));
    await refused(
      bomb,
      metaFor(CODEC.gzip, bomb, 1, 300 * MiB),
      /uncompressed length 314572800 exceeds the limit of 268435456 bytes/,
    );
  });

  it('refuses lz4 bombs whose declared size lies', async () => {
    const records = encodeRecords(messages(1, 10), T0).bytes;
    const big = compress(CODEC.lz4, Buffer.concat([records, Buffer.alloc(3 * MiB)]));
    await refused(
      big,
      metaFor(CODEC.lz4, big, 1, records.length),
      /lz4 block 0 does not decompress into the 28 bytes the declared length leaves/,
    );
    // 70 one-literal blocks of up to 4 MiB each: could expand to 280 MiB, above the limit.
    const blocks = Array.from({ length: 70 }, () => Buffer.from([2, 0, 0, 0, 0x10, 0x61]));
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73]),
      ...blocks,
      Buffer.alloc(4),
    ]);
    await refused(
      frame,
      metaFor(CODEC.lz4, frame, 1, 70),
      /could expand to 293601280 bytes, above the limit/,
    );
    // Declaring the right size of a long frame but fewer bytes: each block gets only the room left.
    const linked = compressFrameSync(Buffer.concat([records, Buffer.alloc(MiB)]));
    await refused(
      linked,
      metaFor(CODEC.lz4, linked, 1, records.length + 1000),
      /lz4 block \d+ does not decompress into the \d+ bytes|bytes follow/,
    );
    // Frames with checksums are decoded whole: refused unless at most one block past the claim.
    const oneBlock = compressFrameSync(Buffer.concat([records, Buffer.alloc(MiB)]), {
      contentChecksum: true,
    });
    await refused(
      oneBlock,
      metaFor(CODEC.lz4, oneBlock, 1, records.length),
      /lz4 data decompresses to more than the 28 bytes/,
    );
    const threeBlocks = compressFrameSync(Buffer.concat([records, Buffer.alloc(9 * MiB)]), {
      contentChecksum: true,
    });
    await refused(
      threeBlocks,
      metaFor(CODEC.lz4, threeBlocks, 1, records.length),
      /lz4 frame with checksums can expand to 12582912 bytes, a block or more past the 28/,
    );
    // A raw block (not a frame).
    const block = compressSync(records);
    await refused(block, metaFor(CODEC.lz4, block, 1, records.length), /not a valid LZ4 frame/);
  });

  it('refuses truncated compressed data', async () => {
    const c = encodeChunk(messages(50, 300), 'gzip');
    const l = encodeChunk(messages(50, 300), 'lz4');
    for (const { bytes, meta } of [c, l]) {
      for (const cut of [1, 10, bytes.length >> 1, bytes.length - 1]) {
        const t = bytes.subarray(0, cut);
        await refused(
          t,
          { ...meta, length: t.length, crc32: crc32(t) },
          /decompress|truncated|LZ4 frame|shorter/,
        );
      }
    }
  });
});

describe('checkChunkContent agrees with the readers', () => {
  // Chunks a reader rejects must be refused (else the broker acks a poisoned batch); chunks a
  // reader accepts must be accepted (else honest producers are refused).
  const base = messages(6, 20);
  const records = encodeRecords(base, T0).bytes;
  const baseMeta = encodeChunk(base, 'none').meta;

  it('on damaged records and lying lengths, for every codec', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(CODEC.none, CODEC.gzip, CODEC.lz4),
        fc.array(fc.tuple(fc.nat(records.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.integer({ min: -40, max: 40 }),
        fc.integer({ min: -2, max: 2 }),
        async (codec, edits, lengthDelta, countDelta) => {
          const r = Buffer.from(records);
          for (const [at, v] of edits) r[at] = v;
          const bytes = compress(codec, r);
          const meta: ChunkMeta = {
            ...baseMeta,
            codec,
            length: bytes.length,
            crc32: crc32(bytes),
            messageCount: Math.max(0, baseMeta.messageCount + countDelta),
            uncompressedLength: codec === CODEC.none ? bytes.length : Math.max(0, r.length + lengthDelta),
          };
          try {
            validateChunkMeta(meta);
          } catch {
            return; // the broker refuses these before looking at the content
          }
          const e = await verdict(bytes, meta);
          assert.ok(e === undefined || e instanceof CorruptDataError, String(e));
          assert.equal(e === undefined, readerAccepts(bytes, meta), `validator said ${String(e)}`);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('on damaged compressed bytes', async () => {
    const chunks = [encodeChunk(base, 'gzip'), encodeChunk(base, 'lz4')];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(1),
        fc.array(fc.tuple(fc.nat(10_000), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.nat(50),
        async (which, edits, cut) => {
          const c = chunks[which]!;
          const b = Buffer.from(c.bytes.subarray(0, Math.max(1, c.bytes.length - cut)));
          for (const [at, v] of edits) b[at % b.length] = v;
          const meta = { ...c.meta, length: b.length, crc32: crc32(b) };
          const e = await verdict(b, meta);
          assert.ok(e === undefined || e instanceof CorruptDataError, String(e));
          assert.equal(e === undefined, readerAccepts(b, meta), `validator said ${String(e)}`);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

/** Largest single buffer requested through Buffer's allocators while `fn`'s promise runs. */
async function largestAllocationDuring(fn: () => Promise<unknown>): Promise<number> {
  const B = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow', (n: number) => Buffer>;
  const saved = { alloc: B.alloc, allocUnsafe: B.allocUnsafe, allocUnsafeSlow: B.allocUnsafeSlow };
  let largest = 0;
  for (const k of Object.keys(saved) as (keyof typeof saved)[]) {
    const orig = saved[k];
    B[k] = (n: number, ...r: unknown[]) => {
      if (n > largest) largest = n;
      return (orig as (...a: unknown[]) => Buffer).call(Buffer, n, ...r);
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(B, saved);
  }
  return largest;
}

describe('RecordWalker: pieces', () => {
  const base = messages(7, 9);
  const records = encodeRecords(base, T0).bytes;
  const meta = encodeChunk(base, 'none').meta;

  /** The walker's verdict on `r` pushed in pieces cut at `cuts`: undefined or the error message. */
  function walk(r: Buffer, cuts: number[]): string | undefined {
    try {
      const w = new RecordWalker(meta);
      let from = 0;
      for (const at of [...cuts.filter((c) => c > 0 && c < r.length).sort((a, b) => a - b), r.length]) {
        w.push(r.subarray(from, at));
        from = at;
      }
      w.end();
      return undefined;
    } catch (e) {
      assert.ok(e instanceof CorruptDataError, String(e));
      return e.message;
    }
  }

  it('accepts the records cut anywhere, down to one byte per piece', () => {
    for (let size = 1; size <= records.length; size++) {
      const cuts = Array.from({ length: Math.ceil(records.length / size) }, (_, k) => k * size);
      assert.equal(walk(records, cuts), undefined, `pieces of ${size} bytes`);
    }
  });

  it('gives the same verdict, with the same message, however damaged records are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(records.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.array(fc.nat(records.length), { maxLength: 12 }),
        (edits, cuts) => {
          const r = Buffer.from(records);
          for (const [at, v] of edits) r[at] = v;
          assert.equal(walk(r, cuts), walk(r, []));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
