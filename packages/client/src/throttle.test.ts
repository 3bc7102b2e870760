import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKey } from '@barge/core';
import type { InstrumentationEvent, RequestEventPayload, ThrottleEventPayload } from './instrumentation.js';
import { Producer } from './producer.js';
import { startBroker, type TestBroker } from './test/broker.js';

const KiB = 1024;

/** A broker's produce quota (security.quotas): the client waits out the throttle time its responses carry. */
describe('quota throttle time', () => {
  let tb: TestBroker;
  before(async () => {
    tb = await startBroker({
      topics: [{ name: 't', batch: { maxDelayMs: 10 } }],
      security: { quotas: { principals: { ANONYMOUS: { produceBytesPerSec: 256 * KiB } } } },
    });
  });
  after(async () => {
    await tb.close();
  });

  it('reports it (producer.network.throttle) and sends nothing more to that broker until it passed', async () => {
    const producer = new Producer({ brokers: [tb.address] });
    const throttles: InstrumentationEvent<ThrottleEventPayload>[] = [];
    const produces: RequestEventPayload[] = [];
    producer.on(producer.events.THROTTLE, (e) => throttles.push(e));
    producer.on(producer.events.REQUEST, (e) => {
      if (e.payload.apiKey === ApiKey.Produce) produces.push(e.payload);
    });
    await producer.connect();
    try {
      const value = 'v'.repeat(64 * KiB);
      // 512 KiB at 256 KiB/s, the first second's worth let through: about 1 s to wait.
      await producer.send({ topic: 't', messages: Array.from({ length: 8 }, () => ({ value })) });
      assert.equal(throttles.length, 1);
      const { payload, timestamp } = throttles[0]!;
      assert.equal(payload.apiName, 'Produce');
      assert.equal(payload.broker, tb.address);
      assert.ok(
        payload.throttleTimeMs >= 800 && payload.throttleTimeMs <= 1100,
        `${payload.throttleTimeMs} ms`,
      );
      await producer.send({ topic: 't', messages: [{ value: 'after' }] });
      const next = produces[1]!;
      // The second request was written only once the throttle time had passed (the broker's
      // pause alone would delay its answer, not its sending).
      assert.ok(
        next.sentAt >= timestamp + payload.throttleTimeMs - 20,
        `sent ${next.sentAt - timestamp} ms after the throttled response`,
      );
    } finally {
      await producer.disconnect();
    }
  });
});
