import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchBuilder,
  type BatchPointer,
  type CodecName,
  encodeChunk,
  type Message,
  type ObjectStorage,
  type PointerQueue,
} from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { createLocalStorage } from '@barge/storage-local';

/** A temp directory removed by `cleanup`. */
export async function tempDir(
  prefix = 'barge-client-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function randomName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Real local storage and a real embedded pointer queue in a temp dir. */
export async function localParts(): Promise<{
  dir: string;
  storage: ObjectStorage;
  queue: EmbeddedPointerQueue;
  close: () => Promise<void>;
}> {
  const { dir, cleanup } = await tempDir();
  const storage = await createLocalStorage({ root: join(dir, 'objects') });
  const queue = new EmbeddedPointerQueue({ path: join(dir, 'pointers.db') });
  return {
    dir,
    storage,
    queue,
    close: async () => {
      await queue.close();
      await storage.close();
      await cleanup();
    },
  };
}

export interface ChunkSpec {
  producerId: number;
  baseSequence: number;
  messages: Message[];
  codec?: CodecName;
}

/**
 * Writes one batch the way a broker does (core encoders, one object, then its pointer): a
 * stand-in broker for consumer tests that need exact control over batch contents.
 */
export async function publishBatch(
  storage: ObjectStorage,
  queue: PointerQueue,
  topic: string,
  writePartition: number,
  sequence: number,
  chunks: ChunkSpec[],
): Promise<{ pointer: BatchPointer; partition: number; offset: number }> {
  const builder = new BatchBuilder({ topic, writePartition, sequence, brokerId: 1 });
  for (const c of chunks) {
    const enc = encodeChunk(c.messages, c.codec ?? 'none', {
      producerId: c.producerId,
      baseSequence: c.baseSequence,
    });
    builder.add(enc.bytes, enc.meta);
  }
  const batch = builder.build();
  const key = `topics/${topic}/${writePartition}/${sequence}`;
  await storage.put(key, batch.body);
  const pointer: BatchPointer = {
    v: 1,
    topic,
    writePartition,
    sequence,
    brokerId: 1,
    storage: { adapter: storage.adapter, location: storage.location, key },
    objectSize: batch.objectSize,
    headerLength: batch.headerLength,
    messageCount: batch.messageCount,
    chunkCount: batch.chunkCount,
    firstTimestamp: batch.minTimestamp,
    lastTimestamp: batch.maxTimestamp,
    createdAt: batch.createdAt,
    headerCrc: batch.headerCrc,
  };
  const [published] = await queue.publish(topic, [pointer]);
  return { pointer, partition: published!.partition, offset: published!.offset };
}

/** `n` simple messages `${prefix}-${i}` with keys `k${i}`. */
export function messages(prefix: string, n: number, start = 0): Message[] {
  return Array.from({ length: n }, (_, j) => ({ key: `k${start + j}`, value: `${prefix}-${start + j}` }));
}

/** Resolves once `cond()` holds, checking every few milliseconds (no deadline: the test runner's timeout applies). */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; !cond(); i++) {
    await new Promise((r) => setTimeout(r, 10));
    if (i > 0 && i % 1000 === 0) process.stderr.write(`still waiting for ${what}\n`);
  }
}

/** Waits until `Date.now()` has moved past `t`, so later appends get later timestamps. */
export async function clockPast(t: number): Promise<void> {
  while (Date.now() <= t) await new Promise((r) => setTimeout(r, 2));
}
