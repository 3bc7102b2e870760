import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiKey, ErrorCode } from '@barge/core';
import {
  type Harness,
  ok,
  produceRequest,
  readAllPointers,
  readBatchValues,
  startHarness,
  waitFor,
} from './test-helpers.js';

const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

async function harness(pointerUnavailableAfterMs: number): Promise<Harness> {
  const h = await startHarness(
    {
      topics: [{ name: 't', batch: { maxDelayMs: 5 } }],
      upload: { backoffBaseMs: 5, backoffMaxMs: 50, pointerUnavailableAfterMs },
    },
    {},
  );
  harnesses.push(h);
  return h;
}

describe('produce: a failing pointer queue is named to durable producers within upload.pointerUnavailableAfterMs', () => {
  it('held durable acks, and later ones, get POINTER_QUEUE_UNAVAILABLE naming the cause; the batches are published once the queue recovers', async () => {
    const h = await harness(300);
    const c = await h.client();
    h.pointers.failing = true;
    const started = Date.now();
    const held = await c.request(ApiKey.Produce, produceRequest('t', ['a']));
    const heldMs = Date.now() - started;
    assert.equal(held.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE);
    assert.match(
      held.message,
      /^pointer queue unreachable \(test\); pointer publication on t\/0 has failed for/,
    );
    assert.match(held.message, /may still be published, so a resend may store them twice/);
    assert.ok(heldMs >= 250 && heldMs < 3000, `answered after pointerUnavailableAfterMs (${heldMs} ms)`);

    // A request arriving during the outage waits pointerUnavailableAfterMs of its own, not more.
    const laterStarted = Date.now();
    const later = await c.request(ApiKey.Produce, produceRequest('t', ['b'], {}, 1));
    const laterMs = Date.now() - laterStarted;
    assert.equal(later.errorCode, ErrorCode.POINTER_QUEUE_UNAVAILABLE);
    assert.ok(laterMs >= 250 && laterMs < 3000, `answered after its own wait (${laterMs} ms)`);

    // acks=received during the outage, then recovery: everything taken is published, in order.
    ok(await c.request(ApiKey.Produce, produceRequest('t', ['c'], { acks: 'received' }, 2)));
    h.pointers.failing = false;
    const after = ok(await c.request(ApiKey.Produce, produceRequest('t', ['d'], {}, 3)));
    assert.ok(after.offset >= 0);
    await h.broker.whenIdle();
    const ptrs = await readAllPointers(h.pointers, 't');
    const values = (await Promise.all(ptrs.map((p) => readBatchValues(h.storage, p.pointer)))).flat();
    assert.deepEqual(values, ['a', 'b', 'c', 'd'], 'nothing taken was dropped');
  });

  it('a publication that recovers within pointerUnavailableAfterMs still acks durable, with no error', async () => {
    const h = await harness(5000);
    const c = await h.client();
    h.pointers.failing = true;
    const reply = c.request(ApiKey.Produce, produceRequest('t', ['held']));
    await waitFor(() => h.pointers.publishFailures >= 3, 'publish retries');
    h.pointers.failing = false;
    const r = ok(await reply);
    assert.equal(r.offset, 0);
  });
});
