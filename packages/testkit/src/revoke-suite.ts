/**
 * The revoke phase of the `PointerQueue` contract (`onRevoke`, `revoking`), declared by
 * `describePointerQueue` for every adapter: partitions moving to another member are given up
 * only after their owner committed, so the new owner reads nothing twice.
 */
import assert from 'node:assert/strict';
import type { PointerRecord, PublishedPointer } from '@barge/core';
import {
  type PointerQueueHarness,
  type ResolvedPointerQueueSuiteOptions,
  TestMember,
  testPointer,
} from './pointer-queue-suite.js';

type Test = (title: string, fn: (h: PointerQueueHarness) => Promise<void>) => void;

const sorted = (ps: readonly number[]): number[] => [...ps].sort((x, y) => x - y);

/** Publishes one pointer per read partition (write partition p → read partition p), `rounds` times. */
async function publishRounds(
  h: PointerQueueHarness,
  topic: string,
  partitions: number,
  rounds: number,
  firstSequence: number,
): Promise<PublishedPointer[]> {
  const out: PublishedPointer[] = [];
  for (let s = firstSequence; s < firstSequence + rounds; s++) {
    out.push(
      ...(await h.publish(
        topic,
        Array.from({ length: partitions }, (_, wp) => testPointer(topic, wp, s)),
      )),
    );
  }
  return out;
}

/** Each published position delivered exactly once, across all the records given. */
function assertEachOnce(records: readonly PointerRecord[], published: readonly PublishedPointer[]): void {
  const seen = new Map<string, number>();
  for (const r of records)
    seen.set(`${r.partition}/${r.offset}`, (seen.get(`${r.partition}/${r.offset}`) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(twice, [], 'pointers delivered twice across the rebalance');
  const missing = published.map((p) => `${p.partition}/${p.offset}`).filter((k) => !seen.has(k));
  assert.deepEqual(missing, [], 'pointers never delivered');
}

/** The next offset after the last record of each partition `member` read. */
function nextOffsets(
  member: TestMember,
  partitions: readonly number[],
): { partition: number; offset: number }[] {
  const last = member.offsets();
  return partitions.map((partition) => {
    const offs = last.get(partition);
    assert.ok(offs && offs.length > 0, `${member.name} read nothing from partition ${partition}`);
    return { partition, offset: offs[offs.length - 1]! + 1 };
  });
}

export function revokeTests(test: Test, o: ResolvedPointerQueueSuiteOptions): void {
  const P = o.groupPartitions;

  test('a member commits in its revoke phase; the new owner reads none of it again', async (h) => {
    const topic = await h.topic(P);
    const group = h.group();
    const a = await h.member('a', { group, topic });
    await h.pollUntil([a], () => a.assignment().length === P, 'a to own every partition');
    const first = await publishRounds(h, topic, P, 3, 0);
    await h.pollUntil([a], () => a.records.length >= first.length, 'a to read every pointer');

    const phases: { partitions: number[]; revoking: number[]; assigned: number[]; polled: number[] }[] = [];
    a.consumer.onRevoke(async (partitions) => {
      const polled = await a.consumer.poll({ timeoutMs: 0, maxRecords: 100 });
      phases.push({
        partitions: sorted(partitions),
        revoking: sorted(a.consumer.revoking()),
        assigned: sorted(a.consumer.assignment()),
        polled: polled.map((r) => r.partition),
      });
      // Committed while the partitions are being revoked: accepted.
      await a.consumer.commit(nextOffsets(a, partitions));
    });
    const b = await h.member('b', { group, topic });
    await h.waitForSplit([a, b], P);

    assert.equal(phases.length, 1, 'one revoke phase for a');
    const [phase] = phases as [(typeof phases)[number]];
    assert.deepEqual(phase.partitions, b.assignment(), 'a gave up exactly what b got');
    assert.deepEqual(phase.revoking, phase.partitions, 'revoking() names the partitions during the phase');
    for (const p of phase.partitions)
      assert.ok(phase.assigned.includes(p), `partition ${p} stays assigned to a during its revoke phase`);
    assert.deepEqual(
      phase.polled.filter((p) => phase.partitions.includes(p)),
      [],
      'poll returns nothing of the partitions being revoked',
    );
    assert.deepEqual(sorted(a.consumer.revoking()), [], 'revoking() is empty after the phase');

    const second = await publishRounds(h, topic, P, 2, 3);
    const all = () => [...a.records, ...b.records];
    await h.pollUntil(
      [a, b],
      () => new Set(all().map((r) => `${r.partition}/${r.offset}`)).size >= first.length + second.length,
      'every pointer of both rounds',
    );
    await Promise.all([a.poll(o.emptyPollTimeoutMs), b.poll(o.emptyPollTimeoutMs)]);
    assertEachOnce(all(), [...first, ...second]);
  });

  test('a revoke listener that never settles holds the partitions only for the revoke timeout', async (h) => {
    const topic = await h.topic(P);
    const group = h.group();
    const sessionTimeoutMs = o.sessionTimeoutMs ?? 1_500;
    const a = new TestMember('a', await h.adopt(h.queue.subscribe({ group, topic, sessionTimeoutMs })));
    await h.pollUntil([a], () => a.assignment().length === P, 'a to own every partition');
    let calls = 0;
    a.consumer.onRevoke(() => {
      calls++;
      return new Promise<void>(() => {});
    });
    const b = await h.member('b', { group, topic });
    await h.waitForSplit([a, b], P);
    assert.equal(calls, 1, 'the listener was called once');
    assert.ok(b.assignment().length > 0, 'b owns partitions although the listener never settled');
  });
}
