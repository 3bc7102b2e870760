/**
 * `storePositions` and `storedPositions` of the `PointerQueue` contract (positions a coordinator
 * outside the queue stores, e.g. the broker's Kafka listener), declared by `describePointerQueue`
 * for every adapter.
 */
import assert from 'node:assert/strict';
import {
  MAX_POSITION_METADATA_BYTES,
  type StoredPosition,
  type TopicCommitPosition,
  type TopicStoredPosition,
} from '@barge/core';
import {
  assertRejectsWithCode,
  type PointerQueueHarness,
  type ResolvedPointerQueueSuiteOptions,
  testPointer,
} from './pointer-queue-suite.js';

type Test = (title: string, fn: (h: PointerQueueHarness) => Promise<void>, skip?: string) => void;

/** Publishes `perPartition` pointers to each read partition (write partition p → read partition p). */
async function fill(h: PointerQueueHarness, topic: string, partitions: number, perPartition: number) {
  for (let s = 0; s < perPartition; s++) {
    await h.publish(
      topic,
      Array.from({ length: partitions }, (_, wp) => testPointer(topic, wp, s)),
    );
  }
}

/** `positions` on `topic` as `storedPositions` returns them. */
function onTopic(topic: string, positions: readonly StoredPosition[]): TopicStoredPosition[] {
  return positions.map(({ messageIndex, metadata, ...p }) => ({
    topic,
    ...p,
    ...(messageIndex ? { messageIndex } : {}),
    metadata: metadata ?? null,
  }));
}

/** The same positions as `describeGroup` reports them (no metadata). */
function asCommitted(positions: readonly TopicStoredPosition[]): TopicCommitPosition[] {
  return positions.map(({ metadata: _m, ...p }) => p);
}

/** Committed positions with `messageIndex` 0 written as absent, for comparisons. */
function normalized(committed: readonly TopicCommitPosition[]): TopicCommitPosition[] {
  return committed.map(({ messageIndex, ...rest }) => (messageIndex ? { ...rest, messageIndex } : rest));
}

const byTopicPartition = (a: TopicStoredPosition, b: TopicStoredPosition) =>
  a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;

/** Exactly `MAX_POSITION_METADATA_BYTES` of UTF-8 that JSON escapes: quotes, backslashes, controls, 2- and 4-byte characters. */
function escapedMetadataAtLimit(): string {
  const unit = 'a"\\\u0001é😀'; // 1 + 1 + 1 + 1 + 2 + 4 bytes
  const s = unit.repeat(Math.floor(MAX_POSITION_METADATA_BYTES / 10));
  return s + 'x'.repeat(MAX_POSITION_METADATA_BYTES - Buffer.byteLength(s));
}

export function storedPositionTests(
  test: Test,
  o: ResolvedPointerQueueSuiteOptions,
  noReopen?: string,
): void {
  const N = o.readPartitions;

  test('storePositions then storedPositions: offsets, message indexes and metadata (null, empty, text)', async (h) => {
    const topic = await h.topic(N);
    const other = await h.topic(N);
    await fill(h, topic, N, 3);
    await fill(h, other, N, 1);
    const group = h.group();
    assert.deepEqual(await h.queue.storedPositions(group), [], 'a group nobody used has none');
    assert.deepEqual(await h.queue.storedPositions(group, topic), []);

    const mine: StoredPosition[] = [
      { partition: 0, offset: 1, messageIndex: 2, metadata: 'client {"x":1}\n' },
      { partition: 1, offset: 3, metadata: '' },
      { partition: 2, offset: 0, messageIndex: 0, metadata: null },
    ];
    await h.queue.storePositions(group, topic, mine);
    await h.queue.storePositions(group, other, [{ partition: 1, offset: 1 }]);
    const expected = onTopic(topic, mine);
    assert.deepEqual(await h.queue.storedPositions(group, topic), expected, 'read back on the topic');
    const everywhere = [...expected, ...onTopic(other, [{ partition: 1, offset: 1 }])].sort(byTopicPartition);
    assert.deepEqual(await h.queue.storedPositions(group), everywhere, 'read back on every topic');

    const d = await h.queue.describeGroup(group);
    assert.equal(d.status, 'empty');
    assert.deepEqual(d.members, []);
    assert.deepEqual(normalized(d.committed), asCommitted(everywhere), 'describeGroup shows them');
    const listed = (await h.queue.listGroups(topic)).find((g) => g.group === group);
    assert.deepEqual(listed?.topics, [other, topic].sort(), 'listGroups lists the group');

    assert.deepEqual(await h.queue.storedPositions(h.group(), topic), [], 'another group has none');
    await assertRejectsWithCode(
      h.queue.storedPositions(group, `${topic}-missing`),
      'NOT_FOUND',
      'storedPositions on an unknown topic',
    );
  });

  test('storePositions overwrites only the partitions given; metadata of any content round-trips', async (h) => {
    const topic = await h.topic(N);
    await fill(h, topic, N, 3);
    const group = h.group();
    await h.queue.storePositions(group, topic, [
      { partition: 0, offset: 1, messageIndex: 2, metadata: 'a' },
      { partition: 1, offset: 2, metadata: 'b' },
    ]);
    // No messageIndex and no metadata: both cleared, partition 1 untouched.
    await h.queue.storePositions(group, topic, [{ partition: 0, offset: 3 }]);
    assert.deepEqual(
      await h.queue.storedPositions(group, topic),
      onTopic(topic, [
        { partition: 0, offset: 3 },
        { partition: 1, offset: 2, metadata: 'b' },
      ]),
    );
    const escaped = escapedMetadataAtLimit();
    const controls = '\u0000\u0001\u001f'.repeat(MAX_POSITION_METADATA_BYTES / 4);
    const again: StoredPosition[] = [
      { partition: 1, offset: 2, messageIndex: 1, metadata: escaped },
      { partition: 2, offset: 0, metadata: controls },
    ];
    await h.queue.storePositions(group, topic, again);
    await h.queue.storePositions(group, topic, again); // idempotent
    assert.deepEqual(
      await h.queue.storedPositions(group, topic),
      onTopic(topic, [{ partition: 0, offset: 3 }, ...again]),
      'metadata at the limit, full of characters JSON escapes, comes back unchanged',
    );
  });

  test('storePositions checks every position before writing any', async (h) => {
    const topic = await h.topic(N);
    await fill(h, topic, N, 2);
    const group = h.group();
    const bad: [string, string, unknown][] = [
      ['a partition the topic does not have', 'NOT_FOUND', { partition: N, offset: 0 }],
      ['a negative partition', 'INVALID_INPUT', { partition: -1, offset: 0 }],
      ['an offset past the high watermark', 'INVALID_INPUT', { partition: 1, offset: 3 }],
      ['a negative offset', 'INVALID_INPUT', { partition: 1, offset: -1 }],
      ['a fractional offset', 'INVALID_INPUT', { partition: 1, offset: 0.5 }],
      ['a negative messageIndex', 'INVALID_INPUT', { partition: 1, offset: 0, messageIndex: -1 }],
      ['a messageIndex at the high watermark', 'INVALID_INPUT', { partition: 1, offset: 2, messageIndex: 1 }],
      [
        'metadata over the limit',
        'INVALID_INPUT',
        { partition: 1, offset: 0, metadata: `${'é'.repeat(MAX_POSITION_METADATA_BYTES / 2)}x` },
      ],
      ['metadata that is not a string', 'INVALID_INPUT', { partition: 1, offset: 0, metadata: 42 }],
      ['a partition given twice', 'INVALID_INPUT', { partition: 0, offset: 2 }],
    ];
    for (const [what, code, position] of bad) {
      // The first position is valid: nothing of the call may be written.
      const positions = [{ partition: 0, offset: 1, metadata: 'first' }, position] as StoredPosition[];
      await assertRejectsWithCode(h.queue.storePositions(group, topic, positions), code, what);
    }
    await assertRejectsWithCode(
      h.queue.storePositions(group, `${topic}-missing`, []),
      'NOT_FOUND',
      'an unknown topic',
    );
    await assertRejectsWithCode(
      h.queue.storePositions(group, `${topic}-missing`, [{ partition: 0, offset: 0 }]),
      'NOT_FOUND',
      'an unknown topic',
    );
    await h.queue.storePositions(group, topic, []);
    assert.deepEqual(await h.queue.storedPositions(group), [], 'nothing was written');
    // At the high watermark without a message index is the end of the partition: accepted.
    await h.queue.storePositions(group, topic, [{ partition: 1, offset: 2, messageIndex: 0 }]);
    assert.deepEqual(
      await h.queue.storedPositions(group, topic),
      onTopic(topic, [{ partition: 1, offset: 2 }]),
    );
  });

  test('storePositions refuses a group with members; a later member starts at the stored position', async (h) => {
    const topic = await h.topic(N);
    await fill(h, topic, N, 4);
    const group = h.group();
    const first = await h.member('first', { group, topic });
    await h.pollUntil([first], () => first.consumer.assignment().length === N, 'the whole assignment');
    await assertRejectsWithCode(
      h.queue.storePositions(group, topic, [{ partition: 0, offset: 0 }]),
      'GROUP_NOT_EMPTY',
      'storePositions with a member in the group',
    );
    await first.consumer.close();

    const high1 = (await h.queue.watermarks(topic, 1)).high;
    const stored: StoredPosition[] = [
      { partition: 0, offset: 2, messageIndex: 3, metadata: 'kafka-client' },
      { partition: 1, offset: high1 },
    ];
    // Kafka's coordinator learns of the leave in a moment.
    const deadline = Date.now() + o.waitTimeoutMs;
    for (;;) {
      try {
        await h.queue.storePositions(group, topic, stored);
        break;
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'GROUP_NOT_EMPTY' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, o.pollTimeoutMs));
      }
    }

    const second = await h.member('second', { group, topic });
    const committed = await second.consumer.committed([0, 1]);
    assert.equal(committed[0]?.offset, 2, 'partition 0: the stored offset');
    assert.equal(committed[0]?.messageIndex, 3, 'partition 0: the stored messageIndex');
    assert.equal(committed[1]?.offset, high1, 'partition 1: the stored offset');
    assert.equal(committed[1]?.messageIndex ?? 0, 0, 'partition 1: no messageIndex');
    assert.deepEqual(
      await h.queue.storedPositions(group, topic),
      onTopic(topic, stored),
      'a member joining leaves the stored positions as they were, metadata included',
    );
    const p0 = () => second.records.filter((r) => r.partition === 0);
    await h.pollUntil([second], () => p0().length >= 2, 'partition 0 from the stored offset');
    assert.deepEqual(
      p0().map((r) => r.offset),
      [2, 3],
      'partition 0 is read from offset 2',
    );
    assert.ok(!second.records.some((r) => r.partition === 1), 'partition 1 is at its end');

    // A member's commit replaces the position, and the client's string with it.
    await second.consumer.commit([{ partition: 0, offset: 4 }]);
    const after = (await h.queue.storedPositions(group, topic)).find((p) => p.partition === 0);
    assert.deepEqual(after, { topic, partition: 0, offset: 4, metadata: null });
  });

  test(
    'stored positions and their metadata survive a reopen',
    async (h) => {
      const topic = await h.topic(N);
      await fill(h, topic, N, 2);
      const group = h.group();
      const positions: StoredPosition[] = [
        { partition: 0, offset: 1, messageIndex: 5, metadata: 'before the restart' },
        { partition: 1, offset: 2, metadata: '' },
      ];
      await h.queue.storePositions(group, topic, positions);
      const q = await h.reopen();
      assert.deepEqual(await q.storedPositions(group, topic), onTopic(topic, positions));
    },
    noReopen,
  );
}
