import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import {
  ApiKey,
  type BatchPointer,
  type BrokerConfigInput,
  hasErrorCode,
  type PointerQueue,
} from '@barge/core';
import { EmbeddedPointerQueue } from '@barge/pointers-embedded';
import { testPointer } from '@barge/testkit';
import { type Harness, ok, produceRequest, startHarness, waitFor } from '../test-helpers.js';
import { OFFSET_BLOCK } from './offset-ceiling.js';
import { OffsetStamper } from './offset-stamper.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

async function harness(
  topics: BrokerConfigInput['topics'],
  hooks: Parameters<typeof startHarness>[2] = {},
): Promise<Harness> {
  const h = await startHarness(
    { topics, upload: { backoffBaseMs: 5, backoffMaxMs: 20, parallelism: 8 } },
    {},
    hooks,
  );
  harnesses.push(h);
  return h;
}

/** Every pointer of read partition `rp`, in queue order. */
async function pointersOf(queue: PointerQueue, topic: string, rp = 0): Promise<BatchPointer[]> {
  const out: BatchPointer[] = [];
  for (let from = 0; ; ) {
    const page = await queue.readPartition!(topic, rp, from, 1000);
    if (page.length === 0) return out;
    out.push(...page.map((r) => r.pointer));
    from = page.at(-1)!.offset + 1;
  }
}

/** Asserts the pointers' offsets run 0, n1, n1 + n2, … with no gap or reuse, in queue order. */
function assertDense(pointers: readonly BatchPointer[]): void {
  let next = 0;
  for (const p of pointers) {
    assert.equal(
      p.baseOffset,
      next,
      `batch ${p.sequence}: ${JSON.stringify(pointers.map((q) => q.baseOffset))}`,
    );
    next += p.messageCount;
  }
}

const values = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

describe('dense offsets stamped by the partition writer', () => {
  it('stamps 0, n1, n1 + n2, … in publication order', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 5 } }]);
    const c = await h.client();
    for (const [i, n] of [3, 1, 5, 2].entries()) {
      ok(await c.request(ApiKey.Produce, produceRequest('t', values(n, `r${i}`))));
    }
    const ps = await pointersOf(h.pointers, 't');
    assert.deepEqual(
      ps.map((p) => [p.baseOffset, p.messageCount]),
      [
        [0, 3],
        [3, 1],
        [4, 5],
        [9, 2],
      ],
    );
  });

  it('keeps offsets in pointer order with many batches in flight and uploads finishing out of order', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 1, maxMessages: 2 } }]);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let puts = 0;
    h.storage.beforePut = (key) => (key.startsWith('topics/') && puts++ === 0 ? held : undefined);
    const c = await h.client();
    const acks = Array.from({ length: 8 }, (_, i) =>
      c.request(ApiKey.Produce, produceRequest('t', values(1 + (i % 2), `r${i}`))),
    );
    await waitFor(() => puts >= 4, 'later uploads started while the first is held');
    release();
    for (const a of acks) ok(await a);
    const ps = await pointersOf(h.pointers, 't');
    assert.ok(ps.length >= 4, `${ps.length} batches`);
    assert.deepEqual(
      ps.map((p) => p.sequence),
      ps.map((p) => p.sequence).sort((a, b) => a - b),
    );
    assertDense(ps);
    assert.equal(
      ps.reduce((n, p) => n + p.messageCount, 0),
      12,
    );
  });

  it('a retried publication keeps its offsets', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 1 } }]);
    const c = await h.client();
    ok(await c.request(ApiKey.Produce, produceRequest('t', values(2, 'a'))));
    h.pointers.failing = true;
    const pending = c.request(ApiKey.Produce, produceRequest('t', values(3, 'b')));
    await waitFor(() => h.pointers.publishFailures + h.pointers.ensureTopicCalls >= 3, 'failed attempts');
    h.pointers.failing = false;
    ok(await pending);
    ok(await c.request(ApiKey.Produce, produceRequest('t', values(4, 'c'))));
    const ps = await pointersOf(h.pointers, 't');
    assert.deepEqual(
      ps.map((p) => p.baseOffset),
      [0, 2, 5],
    );
  });

  it('continues after a restart on the same data, reusing no offset', async () => {
    const h = await harness([{ name: 't', writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 1 } }]);
    const c = await h.client();
    for (const n of [4, 2]) ok(await c.request(ApiKey.Produce, produceRequest('t', values(n, 'x'))));
    ok(await c.request(ApiKey.Produce, produceRequest('t', values(7, 'y'), { writePartition: 1 })));
    await h.restart();
    const c2 = await h.client();
    for (const n of [3, 1]) ok(await c2.request(ApiKey.Produce, produceRequest('t', values(n, 'z'))));
    ok(await c2.request(ApiKey.Produce, produceRequest('t', values(2, 'w'), { writePartition: 1 })));
    const wp0 = await pointersOf(h.pointers, 't', 0);
    assert.deepEqual(
      wp0.map((p) => p.baseOffset),
      [0, 4, 6, 9],
    );
    const wp1 = await pointersOf(h.pointers, 't', 1);
    assert.deepEqual(
      wp1.map((p) => p.baseOffset),
      [0, 7],
    );
  });

  it('after retention removed every pointer, a restart starts above the durable ceiling, reusing no offset', async () => {
    const h = await harness([{ name: 't', batch: { maxDelayMs: 1 } }]);
    const c = await h.client();
    for (const n of [3, 4]) ok(await c.request(ApiKey.Produce, produceRequest('t', values(n, 'x'))));
    const ceiling = JSON.parse((await h.storage.get('_meta/offsets/t/0.json')).toString()) as {
      ceiling: number;
    };
    assert.equal(ceiling.ceiling, 3 + OFFSET_BLOCK, 'raised before the first offsets were handed out');
    const { high } = await h.pointers.watermarks('t', 0);
    await h.pointers.deleteBefore!('t', 0, high);
    await h.restart();
    const c2 = await h.client();
    ok(await c2.request(ApiKey.Produce, produceRequest('t', values(2, 'y'))));
    const ps = await pointersOf(h.pointers, 't');
    assert.deepEqual(
      ps.map((p) => p.baseOffset),
      [ceiling.ceiling],
    );
  });

  it('an upgraded broker continues after the messages of unstamped pointers', async () => {
    const legacy = [testPointer('t', 0, 0, { messageCount: 5 }), testPointer('t', 0, 1, { messageCount: 6 })];
    const dir = await mkdtemp(join(tmpdir(), 'barge-broker-'));
    const before = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
    await before.ensureTopic('t', 1);
    await before.publish('t', legacy);
    await before.close();
    const h = await harness([{ name: 't', batch: { maxDelayMs: 1 } }], { dir });
    const c = await h.client();
    ok(await c.request(ApiKey.Produce, produceRequest('t', values(2, 'new'))));
    const ps = await pointersOf(h.pointers, 't');
    assert.deepEqual(
      ps.map((p) => p.baseOffset),
      [undefined, undefined, 11],
    );
  });
});

describe('OffsetStamper ownership periods', () => {
  async function queueFor(t: TestContext): Promise<EmbeddedPointerQueue> {
    const dir = await mkdtemp(join(tmpdir(), 'barge-stamper-'));
    const queue = new EmbeddedPointerQueue({ path: join(dir, 'pointers.sqlite') });
    t.after(async () => {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    });
    await queue.ensureTopic('t', 1);
    return queue;
  }

  it('reads the tail once per period, only after fencing in, and discards a recovery the period outlived', async (t) => {
    const queue = await queueFor(t);
    let fencedIn = 0;
    let gate: Promise<void> = Promise.resolve();
    const stamper = new OffsetStamper(queue, async () => {
      fencedIn++;
      await gate;
    });
    assert.deepEqual(await stamper.reserve('t', 0, [2, 3]), [0, 2]);
    assert.deepEqual(await stamper.reserve('t', 0, [1]), [5]);
    assert.equal(fencedIn, 1, 'one recovery in the period');

    // Handed over: another owner publishes offsets 6..13 (this broker never published 5).
    stamper.forget('t', 0);
    await queue.publish('t', [testPointer('t', 0, 9, { messageCount: 8, baseOffset: 6 })]);
    let open: () => void = () => {};
    gate = new Promise((r) => {
      open = r;
    });
    const taken = stamper.reserve('t', 0, [1]);
    await waitFor(() => fencedIn === 2, 'fencing in');
    stamper.forget('t', 0); // the period ends while its recovery waits for the fence
    open();
    await assert.rejects(taken, (e: unknown) => hasErrorCode(e, 'TRANSIENT'));

    gate = Promise.resolve();
    assert.deepEqual(await stamper.reserve('t', 0, [4]), [14], 'continues after the other owner');
    assert.equal(stamper.peek('t', 0), 18);
  });
});
