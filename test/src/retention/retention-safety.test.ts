import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { batchKey, hedgeKey, orphanMetaKey, RetentionSweeper } from '@barge/broker';
import type { BatchPointer, ObjectStorage, PointerQueue, TopicConfig } from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { testPointer } from '@barge/testkit';
import fc from 'fast-check';
import { pino } from 'pino';
import { tempDir } from '../harness.js';
import { openStorage, prepareStorage, STORAGE_BACKENDS } from '../storage-backends.js';

/**
 * "The sweeper never deletes an object a live pointer can reach", as a property against the real
 * stores and the real embedded queue: random runs of produce (published at once, later, never,
 * hedged, given up with a marker), clock advances, the queue's own retention (the Kafka case,
 * where the sweeper cannot read pointers) and sweeps; after every sweep each pointer left in the
 * queue, and each object whose pointer may still be published, must still be there.
 */

const GRACE_MS = 20_000;
/** Publication is modelled as finishing this long before the grace period ends (S3 times are whole seconds). */
const MARGIN_MS = 2_000;
const WRITE_PARTITIONS = 2;

type Publish = 'now' | 'later' | 'never' | 'hedge' | 'marker';
type Action =
  | { kind: 'produce'; writePartition: number; publish: Publish }
  | { kind: 'publishPending' }
  | { kind: 'advance'; ms: number }
  | { kind: 'queueRetention'; partition: number; count: number }
  | { kind: 'sweep' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('produce' as const),
      writePartition: fc.nat(WRITE_PARTITIONS - 1),
      publish: fc.constantFrom<Publish>('now', 'now', 'later', 'never', 'hedge', 'marker'),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'publishPending' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 15_000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('queueRetention' as const),
      partition: fc.nat(1),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

const scenarioArb = fc.record({
  readPartitions: fc.integer({ min: 1, max: 2 }),
  /** Whether the sweeper may read the queue (embedded) or must rely on watermarks (Kafka). */
  readable: fc.boolean(),
  retention: fc.option(
    fc.record({
      ms: fc.option(fc.integer({ min: 1, max: 40_000 }), { nil: undefined }),
      bytes: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  actions: fc.array(actionArb, { minLength: 5, maxLength: 25 }),
});

interface Pending {
  key: string;
  pointer: BatchPointer;
  putAt: number;
}

/** A queue as the sweeper sees Kafka: no reads without a group, no trimming by the broker. */
function watermarksOnly(q: EmbeddedPointerQueue): PointerQueue {
  return {
    adapter: 'kafka-like',
    location: q.location,
    ensureTopic: (t, n) => q.ensureTopic(t, n),
    partitions: (t) => q.partitions(t),
    publish: (t, p) => q.publish(t, p),
    offsetForTimestamp: (t, p, ts) => q.offsetForTimestamp(t, p, ts),
    watermarks: (t, p) => q.watermarks(t, p),
    subscribe: (o) => q.subscribe(o),
    listGroups: (t) => q.listGroups(t),
    describeGroup: (g) => q.describeGroup(g),
    resetOffsets: (g, t, p) => q.resetOffsets(g, t, p),
    storePositions: (g, t, p) => q.storePositions(g, t, p),
    storedPositions: (g, t) => q.storedPositions(g, t),
    close: () => q.close(),
  };
}

for (const backend of STORAGE_BACKENDS) {
  describe(`retention safety property (${backend} storage)`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let storage: ObjectStorage;
    let run = 0;

    before(async () => {
      dir = await tempDir('barge-retention-');
      storage = await openStorage(await prepareStorage(backend, dir.path), dir.path);
    });
    after(async () => {
      await storage?.close();
      await dir?.remove();
    });

    it('after every sweep, every pointer left in the queue and every publishable object still has its object', async () => {
      let deleted = 0;
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          const topic: TopicConfig = {
            name: `p${run++}`,
            writePartitions: WRITE_PARTITIONS,
            readPartitions: s.readPartitions,
            batch: { maxBytes: 1 << 20, maxMessages: 1000, maxDelayMs: 10 },
            compression: 'none',
            ...(s.retention ? { retention: s.retention } : {}),
          };
          const embedded = new EmbeddedPointerQueue({ path: join(dir.path, `${topic.name}.sqlite`) });
          await embedded.ensureTopic(topic.name, s.readPartitions);
          const queue = s.readable ? embedded : watermarksOnly(embedded);
          let offset = 0;
          const now = () => Date.now() + offset;
          const sweeper = new RetentionSweeper({
            storage,
            pointers: queue,
            topics: () => [topic],
            sweeps: () => true,
            settings: { intervalMs: 3_600_000, orphanGraceMs: GRACE_MS, clockSkewMs: 0 },
            pointerRetryBudgetMs: 0,
            metrics: { retained() {}, collected() {}, orphans() {} },
            log: pino({ level: 'silent' }),
            now,
          });
          const sequences = [0, 0];
          let pending: Pending[] = [];
          const put = async (key: string, size: number) => {
            const putAt = Date.now();
            await storage.put(key, Buffer.alloc(size, 1));
            return putAt;
          };
          const pointerFor = (wp: number, seq: number, key: string, size: number) =>
            testPointer(topic.name, wp, seq, {
              storage: { adapter: storage.adapter, location: storage.location, key },
              objectSize: size,
              headerLength: 1,
              createdAt: now(),
            });
          const publishable = (p: Pending) => now() - p.putAt <= GRACE_MS - MARGIN_MS;
          try {
            // Every run ends long after its last put, with a sweep: something is deletable by then.
            const finale: Action[] = [{ kind: 'advance', ms: 3 * GRACE_MS }, { kind: 'sweep' }];
            for (const a of [...s.actions, ...finale]) {
              if (a.kind === 'produce') {
                const seq = sequences[a.writePartition]!++;
                const key = batchKey(topic.name, a.writePartition, seq, 1);
                const size = 10 + (seq % 50);
                const putAt = await put(key, size);
                const pointer = pointerFor(a.writePartition, seq, key, size);
                if (a.publish === 'now') await embedded.publish(topic.name, [pointer]);
                else if (a.publish === 'later') pending.push({ key, pointer, putAt });
                else if (a.publish === 'marker') await storage.put(orphanMetaKey(key), Buffer.from('{}'));
                else if (a.publish === 'hedge') {
                  const winner = hedgeKey(key, 1);
                  await put(winner, size);
                  await embedded.publish(topic.name, [pointerFor(a.writePartition, seq, winner, size)]);
                }
              } else if (a.kind === 'publishPending') {
                // Publish what may still be published; the rest is given up (a marker, as the broker does).
                for (const p of pending) {
                  if (publishable(p)) await embedded.publish(topic.name, [p.pointer]);
                  else await storage.put(orphanMetaKey(p.key), Buffer.from('{}'));
                }
                pending = [];
              } else if (a.kind === 'advance') {
                offset += a.ms;
              } else if (a.kind === 'queueRetention') {
                const partition = a.partition % s.readPartitions;
                const { low } = await embedded.watermarks(topic.name, partition);
                await embedded.deleteBefore(topic.name, partition, low + a.count);
              } else {
                const sweep = await sweeper.sweepTopic(topic);
                deleted += sweep.retentionDeleted.length + sweep.orphansDeleted.length;
                for (let rp = 0; rp < s.readPartitions; rp++) {
                  const { low } = await embedded.watermarks(topic.name, rp);
                  for (const r of await embedded.readPartition(topic.name, rp, low, 10_000)) {
                    await storage.head(r.pointer.storage.key).catch(() => {
                      assert.fail(`live pointer ${rp}@${r.offset} lost its object ${r.pointer.storage.key}`);
                    });
                  }
                }
                for (const p of pending.filter(publishable)) {
                  await storage.head(p.key).catch(() => {
                    assert.fail(`object ${p.key} was deleted while its pointer could still be published`);
                  });
                }
              }
            }
          } finally {
            await embedded.close();
          }
        }),
        { numRuns: backend === 'local' ? 40 : 12, endOnFailure: true },
      );
      assert.ok(deleted > 0, 'the runs deleted nothing: the property was not exercised');
    });
  });
}
