import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  BatchBuilder,
  type BatchPointer,
  batchPointer,
  type EncodedChunk,
  encodeChunk,
  encodeKafkaBatch,
  kafkaChunkFromRecords,
  type ObjectStorage,
} from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { LocalStorage } from '@barge/storage-local';
import {
  DEFAULT_RECOVERY_BOUNDS,
  type ProducerRecoveryBounds,
  recoverProducers,
} from './producer-recovery.js';

const NOW = 1_800_000_000_000;

interface Fixture {
  storage: ObjectStorage;
  queue: EmbeddedPointerQueue;
  /** Next Kafka offset and batch sequence of write partition 0. */
  next: { offset: number; sequence: number };
}

async function fixture(t: TestContext): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'barge-producer-recovery-'));
  const storage = new LocalStorage({ root: join(dir, 'objects') });
  const queue = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
  t.after(async () => {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  });
  await queue.ensureTopic('t', 1);
  return { storage, queue, next: { offset: 0, sequence: 0 } };
}

/** A kafka chunk of `records` records from an idempotent producer. */
function kafkaChunk(
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  records = 1,
): EncodedChunk {
  const messages = Array.from({ length: records }, (_, i) => ({
    value: `p${producerId}-s${baseSequence + i}`,
  }));
  const made = kafkaChunkFromRecords(
    encodeKafkaBatch(messages, { producerId, producerEpoch, baseSequence, compression: 'gzip' }),
  );
  return { bytes: made.bytes, meta: made.meta };
}

/** Stores one Barge batch of `chunks` and publishes its pointer, stamped as the partition's writer would. */
async function storeBatch(
  f: Fixture,
  chunks: readonly EncodedChunk[],
  createdAt = NOW,
): Promise<BatchPointer> {
  const builder = new BatchBuilder({ topic: 't', writePartition: 0, sequence: f.next.sequence, brokerId: 1 });
  for (const c of chunks) builder.add(c.bytes, c.meta);
  const encoded = builder.build(createdAt);
  const key = `topics/t/0/${f.next.sequence}`;
  await f.storage.put(key, encoded.body);
  const pointer = {
    ...batchPointer(encoded, { adapter: f.storage.adapter, location: f.storage.location, key }),
    baseOffset: f.next.offset,
  };
  f.next.sequence++;
  f.next.offset += pointer.messageCount;
  await f.queue.publish('t', [pointer]);
  return pointer;
}

function recover(f: Fixture, bounds: Partial<ProducerRecoveryBounds> = {}) {
  return recoverProducers(
    { queue: f.queue, storage: f.storage, fencedIn: async () => {}, now: () => NOW },
    { ...DEFAULT_RECOVERY_BOUNDS, ...bounds },
    't',
    0,
  );
}

describe('recoverProducers: idempotent producers from recent batch headers', () => {
  it('finds each producer`s epoch and last 5 batches with their Kafka offsets', async (t) => {
    const f = await fixture(t);
    // Offsets: chunk order within a batch, batches in pointer order.
    await storeBatch(f, [
      kafkaChunk(7, 0, 0, 3),
      encodeChunk([{ value: 'barge' }], 'none', { producerId: 8 }),
    ]); // 0-2, 3
    await storeBatch(f, [kafkaChunk(9, 1, 40, 2), kafkaChunk(7, 0, 3, 2)]); // 4-5, 6-7
    for (let i = 0; i < 5; i++) await storeBatch(f, [kafkaChunk(7, 0, 5 + i)]); // 8..12
    await storeBatch(f, [kafkaChunk(-1, -1, -1, 2)]); // not idempotent: 13-14
    const found = await recover(f);
    assert.deepEqual(found, [
      { producerId: 9, producerEpoch: 1, batches: [{ firstSeq: 40, lastSeq: 41, offset: 4n }] },
      {
        producerId: 7,
        producerEpoch: 0,
        batches: [5, 6, 7, 8, 9].map((s, i) => ({ firstSeq: s, lastSeq: s, offset: BigInt(8 + i) })),
      },
    ]);
  });

  it('keeps only the newest epoch`s batches', async (t) => {
    const f = await fixture(t);
    await storeBatch(f, [kafkaChunk(7, 0, 0, 2)]);
    await storeBatch(f, [kafkaChunk(7, 0, 2, 2)]);
    await storeBatch(f, [kafkaChunk(7, 1, 0, 1)]);
    assert.deepEqual(await recover(f), [
      { producerId: 7, producerEpoch: 1, batches: [{ firstSeq: 0, lastSeq: 0, offset: 4n }] },
    ]);
  });

  it('reads within its bounds: pointers, age and producers', async (t) => {
    const f = await fixture(t);
    await storeBatch(f, [kafkaChunk(1, 0, 0)], NOW - 20 * 60_000); // too old
    await storeBatch(f, [kafkaChunk(2, 0, 0)], NOW - 60_000);
    await storeBatch(f, [kafkaChunk(3, 0, 0)]);
    await storeBatch(f, [kafkaChunk(4, 0, 0), kafkaChunk(5, 0, 0)]);
    const ids = (found: Awaited<ReturnType<typeof recover>>) => found.map((p) => p.producerId);
    assert.deepEqual(ids(await recover(f)), [2, 3, 4, 5]);
    assert.deepEqual(ids(await recover(f, { maxPointers: 2 })), [3, 4, 5]);
    assert.deepEqual(ids(await recover(f, { maxProducers: 3 })), [3, 4, 5]);
    assert.deepEqual(ids(await recover(f, { maxAgeMs: 1 })), [3, 4, 5]);
  });

  it('skips a batch whose object is gone, and a republished pointer', async (t) => {
    const f = await fixture(t);
    const gone = await storeBatch(f, [kafkaChunk(1, 0, 0)]);
    const kept = await storeBatch(f, [kafkaChunk(2, 0, 0)]);
    await f.queue.publish('t', [kept]); // a publication retried after it had landed
    await f.storage.delete([gone.storage.key]);
    assert.deepEqual(await recover(f), [
      { producerId: 2, producerEpoch: 0, batches: [{ firstSeq: 0, lastSeq: 0, offset: 1n }] },
    ]);
  });

  it('waits for the fence before reading the tail', async (t) => {
    const f = await fixture(t);
    let open: () => void = () => {};
    const fence = new Promise<void>((r) => (open = r));
    const found = recoverProducers(
      { queue: f.queue, storage: f.storage, fencedIn: () => fence, now: () => NOW },
      DEFAULT_RECOVERY_BOUNDS,
      't',
      0,
    );
    await storeBatch(f, [kafkaChunk(3, 0, 0)]); // published by the previous owner before it was fenced
    open();
    assert.deepEqual(
      (await found).map((p) => p.producerId),
      [3],
    );
  });
});
