import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiKey } from '@barge/core';
import { type Harness, ok, produceRequest, startHarness, waitFor } from './test-helpers.js';

const closedBy = async (h: Harness, reason: string) =>
  (await h.broker.metrics.connectionsClosed.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
const frameBytes = async (h: Harness) =>
  (await h.broker.metrics.frameBufferBytes.get()).values[0]?.value ?? 0;

describe('connection limits (in process)', () => {
  const harnesses: Harness[] = [];
  after(async () => {
    for (const h of harnesses) await h.dispose();
  });
  const harness = async (limits: Record<string, number>) => {
    const h = await startHarness({ topics: [{ name: 't' }], limits });
    harnesses.push(h);
    return h;
  };

  it('counts idle and slow connections it closes, by reason', async () => {
    const h = await harness({ idleTimeoutMs: 300, requestReadTimeoutMs: 300 });
    const idle = await h.client();
    const slow = await h.client();
    slow.raw(Buffer.from([0, 0, 0, 100, 0]));
    await Promise.all([idle.whenClosed(), slow.whenClosed()]);
    assert.equal(await closedBy(h, 'idle'), 1);
    assert.equal(await closedBy(h, 'read_timeout'), 1);
    const good = await h.client();
    ok(await good.request(ApiKey.Produce, produceRequest('t', ['a'])));
  });

  it('does not close a connection as idle while its produce request waits for a durable ack', async () => {
    const h = await startHarness({
      topics: [{ name: 'slow', batch: { maxDelayMs: 1000 } }],
      limits: { idleTimeoutMs: 300 },
    });
    harnesses.push(h);
    const c = await h.client();
    let closed = false;
    void c.whenClosed().then(() => {
      closed = true;
    });
    // The batch closes 1 s after the chunk arrived: the ack comes well after the idle timeout.
    ok(await c.request(ApiKey.Produce, produceRequest('slow', ['a'])));
    assert.equal(closed, false);
    assert.equal(await closedBy(h, 'idle'), 0);
  });

  it('reserves a large frame in the frame budget until it is complete, and shows it in a gauge', async () => {
    const h = await harness({ frameBufferBytes: 1024 * 1024 });
    const big = await h.client();
    const length = 600 * 1024;
    const frame = Buffer.alloc(4 + length);
    frame.writeUInt32BE(length, 0);
    frame.writeUInt16BE(ApiKey.Produce, 4);
    frame.writeUInt16BE(1, 6);
    big.raw(frame.subarray(0, 1000));
    await waitFor(async () => (await frameBytes(h)) === length, 'the first frame reserved');
    // A second large frame does not fit beside the first: its connection waits, unread.
    const second = await h.client();
    second.raw(frame.subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await frameBytes(h), length);
    // Completing the first (a malformed produce, answered) hands the budget to the second.
    const reply = big.raw(frame.subarray(1000), 0, ApiKey.Produce);
    assert.notEqual((await reply)?.errorCode, 0);
    await waitFor(async () => (await frameBytes(h)) === length, 'the second frame reserved');
    second.close();
    await waitFor(async () => (await frameBytes(h)) === 0, 'the budget released on close');
    const good = await h.client();
    ok(await good.request(ApiKey.Produce, produceRequest('t', ['a'])));
  });
});
