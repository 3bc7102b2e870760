import {
  ANY_WRITE_PARTITION,
  ApiKey,
  type ChunkMeta,
  CODEC,
  type CodecId,
  compress,
  crc32,
  decodeRecords,
  decompress,
  ErrorCode,
  encodeChunk,
  encodeRecords,
  encodeRequest,
  errorCodeName,
  joinParts,
  type RequestTypes,
  validateChunkMeta,
} from '@barge/core';
import { damage, int, open, type Probe, type ProbeContext, pick, randomBytes } from './probe-kit.js';

/**
 * Hostile producers of the live protocol fuzz run (issue 10 finding 1): produce requests whose
 * chunks have a matching CRC-32 and self-consistent metadata but content a reader cannot decode.
 */

/** Error codes that mean "the broker took this request for a broken one" (or is shedding load). */
const REFUSALS: ReadonlySet<number> = new Set([
  ErrorCode.INVALID_REQUEST,
  ErrorCode.CORRUPT_CHUNK,
  ErrorCode.UNSUPPORTED_CODEC,
  ErrorCode.MESSAGE_TOO_LARGE,
  ErrorCode.TOO_MANY_MESSAGES,
  ErrorCode.INVALID_PARTITION,
  ErrorCode.THROTTLED,
]);

const T0 = Date.now();
const ZEROS = Buffer.alloc(8 * 1024 * 1024);
const BOMBS = { gzip: compress(CODEC.gzip, ZEROS, { gzipLevel: 1 }), lz4: compress(CODEC.lz4, ZEROS) };

function chunkOf(
  codec: number,
  bytes: Buffer,
  producerId: number,
  over: Partial<ChunkMeta>,
): { bytes: Buffer; meta: ChunkMeta } {
  return {
    bytes,
    meta: {
      codec,
      length: bytes.length,
      messageCount: 1,
      uncompressedLength: bytes.length,
      crc32: crc32(bytes),
      producerId,
      baseSequence: 0,
      minTimestamp: T0,
      maxTimestamp: T0,
      ...over,
    },
  };
}

/** A chunk whose CRC matches its bytes but whose content is wrong in one of the ways of issue 10. */
function hostileChunk(ctx: ProbeContext): { bytes: Buffer; meta: ChunkMeta; kind: string } {
  const r = ctx.random;
  const pid = ctx.hostileProducerId;
  const messages = Array.from({ length: int(r, 1, 5) }, (_, i) => ({
    key: r() < 0.5 ? null : `k${i}`,
    value: randomBytes(r, int(r, 0, 200)),
    headers: r() < 0.5 ? [] : [{ name: 'h', value: 'v' }],
    timestamp: T0 + i,
  }));
  const recs = encodeRecords(messages, T0);
  const honestMeta = {
    messageCount: messages.length,
    minTimestamp: recs.minTimestamp,
    maxTimestamp: recs.maxTimestamp,
  };
  const codec = pick(r, [CODEC.none, CODEC.gzip, CODEC.lz4] as CodecId[]);
  switch (int(r, 0, 5)) {
    case 0: {
      const garbage = damage(r, recs.bytes);
      const bytes = compress(codec, garbage);
      return {
        ...chunkOf(codec, bytes, pid, { ...honestMeta, uncompressedLength: garbage.length }),
        kind: 'garbage records',
      };
    }
    case 1: {
      const b = Buffer.from(recs.bytes);
      b.writeInt32BE(-int(r, 2, 0x7fffffff), 8); // the first record's key length
      const bytes = compress(codec, b);
      return {
        ...chunkOf(codec, bytes, pid, { ...honestMeta, uncompressedLength: b.length }),
        kind: 'negative key length',
      };
    }
    case 2: {
      const bomb = r() < 0.5 ? CODEC.gzip : CODEC.lz4;
      const bytes = bomb === CODEC.gzip ? BOMBS.gzip : BOMBS.lz4;
      return { ...chunkOf(bomb, bytes, pid, { uncompressedLength: 1024 }), kind: 'decompression bomb' };
    }
    case 3: {
      const bytes = compress(codec, recs.bytes);
      const lie = recs.bytes.length + pick(r, [-1, 1, 100]);
      return {
        ...chunkOf(codec, bytes, pid, { ...honestMeta, uncompressedLength: lie }),
        kind: 'lying size',
      };
    }
    case 4: {
      const bytes = compress(codec, recs.bytes);
      const count = messages.length + pick(r, [-1, 1]);
      return {
        ...chunkOf(codec, bytes, pid, {
          ...honestMeta,
          uncompressedLength: recs.bytes.length,
          messageCount: count,
        }),
        kind: 'lying count',
      };
    }
    default: {
      const bytes = randomBytes(r, int(r, 18, 300));
      return { ...chunkOf(pick(r, [CODEC.none, 7, 200]), bytes, pid, {}), kind: 'random bytes' };
    }
  }
}

/** What a reader would say about the chunk: true if its records decode. */
function readable(c: { bytes: Buffer; meta: ChunkMeta }): boolean {
  try {
    validateChunkMeta(c.meta);
    const recs = decompress(c.meta.codec, c.bytes, c.meta.uncompressedLength, 16 * 1024 * 1024);
    decodeRecords(recs, { ...c.meta, firstMessageIndex: 0 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Produce requests to the well-behaved producer's topic carrying hostile chunks (CRC-consistent
 * garbage records, negative lengths, bombs, lying sizes and counts), alone or next to a valid
 * chunk. The broker must refuse every request holding a chunk a reader could not decode.
 */
export const hostileChunkProbe: Probe = async (ctx) => {
  const r = ctx.random;
  const c = await open(ctx, 'hostile chunk');
  if (!c) return;
  const chunks = Array.from({ length: int(r, 1, 2) }, () => hostileChunk(ctx));
  if (r() < 0.4) {
    const valid = encodeChunk([{ value: 'valid' }], 'none', {
      producerId: ctx.hostileProducerId,
      baseSequence: 100,
    });
    chunks.splice(int(r, 0, chunks.length), 0, { ...valid, kind: 'valid' });
  }
  const acks = pick(r, ['received', 'durable', 'durable', 'none'] as const);
  const req: RequestTypes[typeof ApiKey.Produce] = {
    topic: ctx.goodTopic,
    writePartition: pick(r, [ANY_WRITE_PARTITION, 0, 1]),
    acks,
    producerId: ctx.hostileProducerId,
    timeoutMs: 10_000,
    chunks: chunks.map(({ bytes, meta }) => ({ bytes, meta })),
  };
  const allReadable = chunks.every(readable);
  const kinds = chunks.map((k) => k.kind).join(' + ');
  if (acks === 'none') {
    await c.write(joinParts(encodeRequest(ApiKey.Produce, 1, 1, req)));
    await c.linger(100);
  } else {
    const res = await c.request(ApiKey.Produce, req, 1, 15_000);
    if (res === undefined) ctx.violations.push(`hostile chunk (${kinds}): no response`);
    else if (res.errorCode === 0 && !allReadable) {
      ctx.violations.push(
        `hostile chunk (${kinds}) acked ${acks}: the broker stored a chunk readers cannot decode`,
      );
    } else if (res.errorCode !== 0 && !REFUSALS.has(res.errorCode)) {
      ctx.violations.push(
        `hostile chunk (${kinds}): unexpected ${errorCodeName(res.errorCode)} ${JSON.stringify(res.body)}`,
      );
    }
  }
  ctx.count(`hostile chunk: ${allReadable ? 'readable' : 'unreadable'}, acks ${acks}`);
  c.destroy();
};
