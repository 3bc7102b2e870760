import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import { encodeChunk } from './chunk.js';
import { SAMPLE_TARGET, sampleChunks } from './fixtures.js';
import { BatchBuilder } from './header.js';
import { checkChunkContent } from './validate.js';
import { checkChunkPartsContent } from './validate-parts.js';

/** A chunk's bytes cut into pieces of `size` bytes (the last shorter), each its own buffer. */
function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(Buffer.from(bytes.subarray(i, i + size)));
  return out;
}

async function outcome(run: () => Promise<void> | undefined): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe('chunks held as pieces', () => {
  it('BatchBuilder.addParts builds the same object as add', () => {
    const chunks = sampleChunks();
    const whole = new BatchBuilder(SAMPLE_TARGET);
    const cut = new BatchBuilder(SAMPLE_TARGET);
    chunks.forEach((c, i) => {
      whole.add(c.bytes, c.meta);
      cut.addParts(pieces(c.bytes, i + 1), c.meta);
    });
    const a = whole.build(1);
    const b = cut.build(1);
    assert.deepEqual(Buffer.concat(b.body), Buffer.concat(a.body));
    assert.equal(b.objectSize, a.objectSize);
    assert.equal(b.chunkCount, chunks.length);
  });

  it('BatchBuilder.addParts refuses pieces that do not add up to meta.length', () => {
    const [c] = sampleChunks();
    const b = new BatchBuilder(SAMPLE_TARGET);
    assert.throws(() => b.addParts(pieces(c!.bytes, 4).slice(1), c!.meta), InvalidInputError);
  });

  it('checkChunkPartsContent agrees with checkChunkContent, for sound and damaged chunks, however cut', async () => {
    const messages = Array.from({ length: 12 }, (_, i) => ({
      key: i % 2 ? `k${i}` : null,
      value: `v${i}`.repeat(i),
      headers: [{ name: `h${i}`, value: 'x' }],
      timestamp: 100 + i,
    }));
    const chunks = [...sampleChunks(), encodeChunk(messages, 'none', { producerId: 1, baseSequence: 0 })];
    const failures = new Set<string>();
    for (const c of chunks) {
      const damaged = Buffer.from(c.bytes);
      if (damaged.length > 10) damaged.writeUInt32BE(0x7fffffff, 8);
      for (const bytes of [c.bytes, damaged]) {
        const want = await outcome(() => checkChunkContent(bytes, c.meta, 'chunk 0'));
        if (want !== 'ok') failures.add(want.split(':')[0]!);
        for (const size of [1, 3, 7, 64, bytes.length || 1]) {
          const got = await outcome(() => checkChunkPartsContent(pieces(bytes, size), c.meta, 'chunk 0'));
          assert.equal(got, want, `codec ${c.meta.codec}, pieces of ${size}`);
        }
      }
    }
    assert.ok(failures.has('CorruptDataError'), 'the damaged chunks are refused');
    const none = chunks.at(-1)!;
    const lie = { ...none.meta, messageCount: none.meta.messageCount + 1 };
    await assert.rejects(async () => checkChunkPartsContent(pieces(none.bytes, 5), lie), CorruptDataError);
  });
});
