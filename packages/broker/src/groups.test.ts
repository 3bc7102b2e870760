import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiKey, ErrorCode } from '@barge/core';
import { type Harness, ok, produceRequest, startHarness, type TestClient, waitFor } from './test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

const TOPIC = { name: 'g', writePartitions: 4, readPartitions: 4, batch: { maxDelayMs: 5 } };

async function harness(): Promise<Harness> {
  const h = await startHarness({ topics: [TOPIC] });
  harnesses.push(h);
  return h;
}

async function produceAll(c: TestClient): Promise<void> {
  for (let wp = 0; wp < 4; wp++) {
    ok(await c.request(ApiKey.Produce, produceRequest('g', [`wp${wp}`], { writePartition: wp })));
  }
}

async function join(c: TestClient, group: string, sessionTimeoutMs = 10_000) {
  return ok(
    await c.request(ApiKey.JoinGroup, {
      group,
      topic: 'g',
      sessionTimeoutMs,
      fromBeginning: true,
      clientId: 'test',
    }),
  );
}

async function fetchAll(c: TestClient, memberId: string) {
  const out = [];
  for (;;) {
    const r = ok(await c.request(ApiKey.FetchPointers, { memberId, maxRecords: 100, maxWaitMs: 0 }));
    if (r.records.length === 0) return out;
    out.push(...r.records);
  }
}

describe('consumer groups through the broker', () => {
  it('members split the read partitions; commits survive a broker restart', async () => {
    const h = await harness();
    let c = await h.client();
    await produceAll(c);
    const a = await join(c, 'g1');
    const b = await join(c, 'g1');
    const aState = ok(await c.request(ApiKey.Heartbeat, { memberId: a.memberId }));
    assert.equal(a.readPartitions, 4);
    assert.deepEqual([...aState.assignment, ...b.assignment].sort(), [0, 1, 2, 3]);
    assert.equal(aState.assignment.length, 2);
    const ra = await fetchAll(c, a.memberId);
    const rb = await fetchAll(c, b.memberId);
    assert.equal(ra.length + rb.length, 4);
    assert.ok(ra.every((r) => aState.assignment.includes(r.partition)));
    assert.deepEqual([...ra, ...rb].map((r) => r.pointer.writePartition).sort(), [0, 1, 2, 3]);
    // Commit A's records (next offset, mid-batch message index) and B's.
    ok(
      await c.request(ApiKey.CommitOffsets, {
        memberId: a.memberId,
        positions: ra.map((r) => ({ partition: r.partition, offset: r.offset + 1, messageIndex: 0 })),
      }),
    );
    ok(
      await c.request(ApiKey.CommitOffsets, {
        memberId: b.memberId,
        positions: rb.map((r) => ({ partition: r.partition, offset: r.offset, messageIndex: 1 })),
      }),
    );
    // Committing a partition the member does not own is a rebalance error.
    const foreign = b.assignment[0]!;
    const bad = await c.request(ApiKey.CommitOffsets, {
      memberId: a.memberId,
      positions: [{ partition: foreign, offset: 0, messageIndex: 0 }],
    });
    assert.equal(bad.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    await h.restart();
    c = await h.client();
    const m = await join(c, 'g1');
    assert.deepEqual([...m.assignment].sort(), [0, 1, 2, 3]);
    const committed = ok(
      await c.request(ApiKey.FetchCommitted, { memberId: m.memberId, partitions: [0, 1, 2, 3] }),
    );
    for (const p of committed.positions) {
      const fromA = ra.find((r) => r.partition === p.partition);
      const expected = fromA ? { offset: 1, messageIndex: 0 } : { offset: 0, messageIndex: 1 };
      assert.deepEqual(p.committed, expected, `partition ${p.partition}`);
    }
    // Resumes from the committed offsets: only B's (uncommitted-past) records come again.
    const again = await fetchAll(c, m.memberId);
    assert.deepEqual(again.map((r) => r.partition).sort(), rb.map((r) => r.partition).sort());
  });

  it('rebalances when a member joins, leaves, disconnects or misses its session timeout', async () => {
    const h = await harness();
    const ca = await h.client();
    const cb = await h.client();
    const a = await join(ca, 'g2');
    assert.deepEqual(a.assignment, [0, 1, 2, 3]);
    const b = await join(cb, 'g2');
    let hb = ok(await ca.request(ApiKey.Heartbeat, { memberId: a.memberId }));
    assert.ok(hb.generation > a.generation, 'generation advances at a rebalance');
    assert.equal(hb.assignment.length, 2);
    // LeaveGroup gives everything back to A.
    ok(await cb.request(ApiKey.LeaveGroup, { memberId: b.memberId }));
    hb = ok(await ca.request(ApiKey.Heartbeat, { memberId: a.memberId }));
    assert.deepEqual(hb.assignment, [0, 1, 2, 3]);
    assert.equal(
      (await cb.request(ApiKey.Heartbeat, { memberId: b.memberId })).errorCode,
      ErrorCode.UNKNOWN_MEMBER,
    );
    // A member that closes its connection leaves.
    const cc = await h.client();
    await join(cc, 'g2');
    hb = ok(await ca.request(ApiKey.Heartbeat, { memberId: a.memberId }));
    assert.equal(hb.assignment.length, 2);
    cc.close();
    await waitFor(async () => {
      const s = ok(await ca.request(ApiKey.Heartbeat, { memberId: a.memberId }));
      return s.assignment.length === 4;
    }, 'the disconnected member to leave');
    // A member that stops heartbeating is removed after its session timeout.
    const cd = await h.client();
    const d = await join(cd, 'g2', 300);
    hb = ok(await ca.request(ApiKey.Heartbeat, { memberId: a.memberId }));
    assert.equal(hb.assignment.length, 2);
    await waitFor(async () => {
      const s = ok(await ca.request(ApiKey.Heartbeat, { memberId: a.memberId }));
      return s.assignment.length === 4;
    }, 'the silent member to time out');
    const late = await cd.request(ApiKey.FetchPointers, {
      memberId: d.memberId,
      maxRecords: 1,
      maxWaitMs: 0,
    });
    assert.equal(late.errorCode, ErrorCode.UNKNOWN_MEMBER);
  });

  it('FetchPointers long-polls until a pointer arrives; Seek, Watermarks and OffsetForTimestamp work', async () => {
    const h = await harness();
    const c = await h.client();
    const p = await h.client();
    const m = await join(c, 'g3');
    const polling = c.request(ApiKey.FetchPointers, {
      memberId: m.memberId,
      maxRecords: 10,
      maxWaitMs: 20_000,
    });
    ok(await p.request(ApiKey.Produce, produceRequest('g', ['late'], { writePartition: 2 })));
    const got = ok(await polling);
    assert.equal(got.records.length, 1);
    assert.equal(got.records[0]!.partition, 2);
    assert.equal(got.records[0]!.pointer.writePartition, 2);
    const wm = ok(await c.request(ApiKey.Watermarks, { topic: 'g', partition: 2 }));
    assert.deepEqual(wm, { low: 0, high: 1 });
    const o = ok(await c.request(ApiKey.OffsetForTimestamp, { topic: 'g', partition: 2, timestamp: 0 }));
    assert.equal(o.offset, 0);
    assert.equal(
      (await c.request(ApiKey.Watermarks, { topic: 'g', partition: 9 })).errorCode,
      ErrorCode.INVALID_PARTITION,
    );
    ok(await c.request(ApiKey.Seek, { memberId: m.memberId, partition: 2, offset: 0 }));
    const again = ok(
      await c.request(ApiKey.FetchPointers, { memberId: m.memberId, maxRecords: 10, maxWaitMs: 0 }),
    );
    assert.deepEqual(
      again.records.map((r) => [r.partition, r.offset]),
      [[2, 0]],
    );
    assert.equal(
      (
        await c.request(ApiKey.JoinGroup, {
          group: '',
          topic: 'g',
          sessionTimeoutMs: 0,
          fromBeginning: true,
          clientId: '',
        })
      ).errorCode,
      ErrorCode.INVALID_GROUP,
    );
    assert.equal(
      (
        await c.request(ApiKey.JoinGroup, {
          group: 'x',
          topic: 'nope',
          sessionTimeoutMs: 0,
          fromBeginning: true,
          clientId: '',
        })
      ).errorCode,
      ErrorCode.UNKNOWN_TOPIC,
    );
  });
});
