import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiKey, decodeResponseBody, encodeResponse } from '@barge/core';
import { type Harness, ok, produceRequest, startHarness } from '../test-helpers.js';

const KiB = 1024;
const VALUE = 'x'.repeat(64 * KiB);

describe('produce quota (in process)', () => {
  const harnesses: Harness[] = [];
  after(async () => {
    for (const h of harnesses) await h.dispose();
  });
  const harness = async (quotas: object) => {
    const h = await startHarness({ topics: [{ name: 't' }], security: { quotas } });
    harnesses.push(h);
    return h;
  };

  /** Pipelines 16 produce requests of 64 KiB (v1: no throttle time in the responses); ms until all are answered. */
  const burst = async (h: Harness) => {
    const c = await h.client();
    const started = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 16 }, () =>
        c.request(ApiKey.Produce, produceRequest('t', [VALUE], { acks: 'received' })),
      ),
    );
    for (const r of replies) ok(r);
    return Date.now() - started;
  };

  it('holds back a v1 client that cannot see the throttle time: its connection is not read meanwhile', async () => {
    const open = await burst(await harness({}));
    const limited = await harness({ principals: { ANONYMOUS: { produceBytesPerSec: 512 * KiB } } });
    const held = await burst(limited);
    // 1 MiB at 512 KiB/s, the first second's worth let through: about 1 s.
    assert.ok(held >= 800, `held ${held} ms`);
    assert.ok(open < held / 2, `without a quota ${open} ms, with ${held} ms`);
    const throttled = (await limited.broker.metrics.quotaThrottleMs.get()).values;
    assert.equal(throttled[0]?.labels.principal, 'ANONYMOUS');
    assert.ok((throttled[0]?.value ?? 0) > 0);
  });

  it('Produce v2 responses carry throttleTimeMs; v1 responses encode the same body without it', () => {
    const body = {
      writePartition: 0,
      sequence: -1,
      firstChunkIndex: 0,
      firstMessageIndex: 0,
      readPartition: -1,
      offset: -1,
      throttleTimeMs: 750,
    };
    const frame = (v: number) => Buffer.concat(encodeResponse(ApiKey.Produce, v, 1, body)).subarray(10);
    assert.equal(decodeResponseBody(ApiKey.Produce, 2, frame(2)).throttleTimeMs, 750);
    assert.equal(decodeResponseBody(ApiKey.Produce, 1, frame(1)).throttleTimeMs, undefined);
    assert.equal(frame(2).length, frame(1).length + 4);
  });
});

describe('read quota (in process)', () => {
  it('charges pipelined ReadObjects as they are taken in: reads sent together wait their turn', async () => {
    const h = await startHarness({
      security: { quotas: { principals: { ANONYMOUS: { readBytesPerSec: 1024 * KiB } } } },
    });
    try {
      const key = 'topics/t/0/object';
      await h.storage.put(key, Buffer.alloc(2048 * KiB, 7));
      const c = await h.client();
      const started = Date.now();
      // 2 MiB in 8 reads sent at once: the first second's 1 MiB passes, the rest is held back.
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          c.request(ApiKey.ReadObject, { key, offset: i * 256 * KiB, length: 256 * KiB }),
        ),
      );
      const held = Date.now() - started;
      for (const r of replies) assert.equal(ok(r).data.length, 256 * KiB);
      // Charged after reading (as before), all eight were answered together in a few ms.
      assert.ok(held >= 1000, `held ${held} ms`);
      const bytes = (await h.broker.metrics.quotaBytes.get()).values;
      assert.equal(bytes[0]?.value, 2048 * KiB, 'the bytes carried are counted once');
    } finally {
      await h.dispose();
    }
  });
});
