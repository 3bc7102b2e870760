import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchCloseTiming } from './close-timing.js';

describe('BatchCloseTiming', () => {
  it('closes at maxDelayMs before any batch was durable', () => {
    assert.equal(new BatchCloseTiming().closeAfterMs(250), 250);
  });

  it('closes early by the 95th percentile of recent close-to-durable times', () => {
    const t = new BatchCloseTiming(100);
    for (let i = 1; i <= 100; i++) t.recordDurable(i); // 1..100 ms
    assert.equal(t.expectedDurableMs, 96);
    assert.equal(t.closeAfterMs(250), 154);
  });

  it('never closes earlier than half of maxDelayMs', () => {
    const t = new BatchCloseTiming();
    t.recordDurable(900);
    assert.equal(t.closeAfterMs(250), 125);
    assert.equal(t.closeAfterMs(0), 0);
  });

  it('forgets old samples once the window is full', () => {
    const t = new BatchCloseTiming(10);
    for (let i = 0; i < 10; i++) t.recordDurable(200);
    assert.equal(t.closeAfterMs(250), 125);
    for (let i = 0; i < 10; i++) t.recordDurable(20);
    assert.equal(t.expectedDurableMs, 20);
    assert.equal(t.closeAfterMs(250), 230);
  });

  it('ignores values that are not durations', () => {
    const t = new BatchCloseTiming();
    t.recordDurable(Number.NaN);
    t.recordDurable(-5);
    t.recordDurable(Number.POSITIVE_INFINITY);
    assert.equal(t.closeAfterMs(100), 100);
  });
});
