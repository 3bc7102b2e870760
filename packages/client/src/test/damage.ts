import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BatchBuilder,
  type BatchPointer,
  batchPointer,
  CODEC,
  crc32,
  type EncodedChunk,
  encodeChunk,
  type Message,
  type ObjectStorage,
  type PointerQueue,
} from '@barge/core';

/**
 * A chunk whose metadata, counts and CRC-32 agree but whose records are garbage (every length
 * field is -1): what a hostile or broken producer can send, and what a broker that does not
 * parse records stores next to honest producers' chunks.
 */
export function hostileChunk(messageCount = 2, producerId = 666): EncodedChunk {
  const bytes = Buffer.alloc(64, 0xff);
  const now = Date.now();
  return {
    bytes,
    meta: {
      codec: CODEC.none,
      length: bytes.length,
      messageCount,
      uncompressedLength: bytes.length,
      crc32: crc32(bytes),
      producerId,
      baseSequence: 0,
      minTimestamp: now,
      maxTimestamp: now,
    },
  };
}

/** An honest chunk of `n` messages `${prefix}-${i}`. */
export function honestChunk(
  prefix: string,
  n: number,
  producerId: number,
  codec: 'none' | 'gzip' | 'lz4' = 'none',
) {
  const messages: Message[] = Array.from({ length: n }, (_, i) => ({
    key: `k${i}`,
    value: `${prefix}-${i}`,
  }));
  return encodeChunk(messages, codec, { producerId, baseSequence: 0 });
}

/**
 * Stores `chunks` as one batch object (as a broker would, without looking inside them) under a
 * key no broker uses, and publishes its pointer. Returns the pointer and where it was published.
 */
export async function publishChunks(
  storage: ObjectStorage,
  queue: PointerQueue,
  topic: string,
  sequence: number,
  chunks: readonly EncodedChunk[],
): Promise<{ pointer: BatchPointer; partition: number; offset: number }> {
  const builder = new BatchBuilder({ topic, writePartition: 0, sequence, brokerId: 99 });
  for (const c of chunks) builder.add(c.bytes, c.meta);
  const batch = builder.build();
  const key = `topics/${topic}/0/test-${sequence}`;
  await storage.put(key, batch.body);
  const pointer = batchPointer(batch, { adapter: storage.adapter, location: storage.location, key });
  const [published] = await queue.publish(topic, [pointer]);
  return { pointer, partition: published!.partition, offset: published!.offset };
}

/** Flips one byte of a stored object in local storage under `root`, `from` bytes before its end. */
export async function flipStoredByte(root: string, key: string, from = 3): Promise<void> {
  const f = await open(join(root, ...key.split('/')), 'r+');
  try {
    const { size } = await f.stat();
    const b = Buffer.alloc(1);
    await f.read(b, 0, 1, size - from);
    b[0] = b[0]! ^ 0xff;
    await f.write(b, 0, 1, size - from);
  } finally {
    await f.close();
  }
}
