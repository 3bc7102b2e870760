import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@barge/core';
import { InFlightWindow } from './in-flight-window.js';
import { resolveProducerOptions } from './options.js';

const adaptive = (min = 16, max = 1024) => ({ adaptive: { min, max } });

/**
 * Drives a window like a producer with an endless backlog of `bytes`-sized requests against a
 * broker that answers every request `latencyMs` after it was sent, for `rounds` ack waves.
 * Returns the limit after each wave, and `drain` to ack what is left in flight.
 */
function saturate(w: InFlightWindow, latencyMs: number, rounds: number, bytes = 1) {
  let now = 0;
  let wave: number[] = [];
  const limits: number[] = [];
  const fill = () => {
    while (w.admits(bytes)) {
      w.started(bytes, now);
      wave.push(now);
    }
  };
  fill();
  for (let r = 0; r < rounds; r++) {
    now += latencyMs;
    const acking = wave;
    wave = [];
    for (const sentAt of acking) {
      w.acked(bytes, sentAt, now);
      fill();
    }
    limits.push(w.maxRequests);
  }
  return {
    limits,
    /** Acks every request in flight, one latency later; returns the time. */
    drain(): number {
      now += latencyMs;
      for (const sentAt of wave.splice(0)) w.acked(bytes, sentAt, now);
      return now;
    },
  };
}

describe('InFlightWindow', () => {
  it('with a fixed limit admits exactly that many requests, whatever it measures', () => {
    const w = new InFlightWindow({ maxBytes: 1e9, requests: { fixed: 4 } });
    assert.deepEqual(saturate(w, 100, 5).limits, [4, 4, 4, 4, 4]);
    assert.equal(w.requestsInFlight, 4);
  });

  it('doubles an adaptive limit every ack latency while the limit binds, up to its max', () => {
    const w = new InFlightWindow({ maxBytes: 1e9, requests: adaptive(16, 200) });
    assert.equal(w.maxRequests, 16);
    assert.deepEqual(saturate(w, 100, 6).limits, [32, 64, 128, 200, 200, 200]);
    assert.equal(w.ackLatencyMs, 100);
  });

  it('sizes an adaptive limit to twice the requests in flight on average (ack rate × latency)', () => {
    const w = new InFlightWindow({ maxBytes: 1e9, requests: adaptive(4, 1024) });
    // 30 requests in flight all the time (one sent every 10 ms, each acked 300 ms later): far below the limit at first.
    let now = 0;
    const sent: number[] = [];
    for (; now < 3000; now += 10) {
      while (sent.length > 0 && now - sent[0]! >= 300) w.acked(1, sent.shift()!, now);
      // Below the limit the application, not the window, sets the pace.
      if (w.admits(1)) {
        w.started(1, now);
        sent.push(now);
      }
    }
    assert.equal(w.ackLatencyMs, 300);
    assert.ok(w.maxRequests >= 60 && w.maxRequests <= 62, `limit ${w.maxRequests}, want about 2 × 30`);
  });

  it('falls back to its minimum when the application sends little', () => {
    const w = new InFlightWindow({ maxBytes: 1e9, requests: adaptive(16, 1024) });
    const run = saturate(w, 50, 4);
    assert.equal(w.maxRequests, 256);
    let now = run.drain() + 10_000;
    // One request at a time.
    for (let i = 0; i < 10; i++) {
      w.started(1, now);
      now += 50;
      w.acked(1, now - 50, now);
    }
    assert.equal(w.maxRequests, 16);
  });

  it('halves an adaptive limit when a request fails, not below its minimum', () => {
    const w = new InFlightWindow({ maxBytes: 1e9, requests: adaptive(16, 1024) });
    saturate(w, 50, 3);
    assert.equal(w.maxRequests, 128);
    w.failed(1, 1000);
    assert.equal(w.maxRequests, 64);
    for (let i = 0; i < 5; i++) w.failed(1, 1000);
    assert.equal(w.maxRequests, 16);
    const fixed = new InFlightWindow({ maxBytes: 1e9, requests: { fixed: 8 } });
    fixed.started(1, 0);
    fixed.failed(1, 10);
    assert.equal(fixed.maxRequests, 8);
  });

  it('keeps the bytes in flight within its byte budget, whatever the request limit', () => {
    const w = new InFlightWindow({ maxBytes: 1000, requests: adaptive(16, 1024) });
    saturate(w, 20, 10, 300);
    assert.equal(w.requestsInFlight, 3);
    assert.equal(w.bytesInFlight, 900);
    assert.equal(w.roomBytes, 100);
    assert.equal(w.admits(100), true);
    assert.equal(w.admits(101), false);
    // The request limit grows only to twice what the bytes allow, never without bound.
    assert.ok(w.maxRequests <= 16, `limit ${w.maxRequests}`);
  });

  it('lets one request larger than the byte budget go when nothing else is in flight', () => {
    const w = new InFlightWindow({ maxBytes: 1000, requests: { fixed: 4 } });
    assert.equal(w.admits(5000), true);
    w.started(5000, 0);
    assert.equal(w.hasRoom, false);
    assert.equal(w.admits(1), false);
    w.acked(5000, 0, 10);
    assert.equal(w.hasRoom, true);
    assert.equal(w.bytesInFlight, 0);
  });

  it('measures the average by time, so acks that arrive together do not shrink the limit', () => {
    const w = new InFlightWindow({ maxBytes: 1e9, requests: adaptive(16, 1024) });
    // Like a batching broker: the acks of a whole wave arrive in the same millisecond.
    assert.deepEqual(saturate(w, 250, 2).limits, [32, 64]);
  });
});

describe('producer options of the in-flight window', () => {
  const MiB = 1024 * 1024;
  const resolve = (o: object) => resolveProducerOptions({ brokers: ['127.0.0.1:1'], ...o }).inFlight;

  it('adapts the requests by default and keeps a quarter of the buffer out of flight', () => {
    assert.deepEqual(resolve({}), { maxBytes: 48 * MiB, requests: { adaptive: { min: 16, max: 1024 } } });
    assert.equal(resolve({ bufferBytes: 8 * MiB }).maxBytes, 6 * MiB);
  });

  it('takes maxInFlight as a fixed request limit and maxInFlightBytes as given', () => {
    assert.deepEqual(resolve({ maxInFlight: 4, maxInFlightBytes: 1000 }), {
      maxBytes: 1000,
      requests: { fixed: 4 },
    });
    assert.throws(() => resolve({ maxInFlightBytes: 0 }), ConfigError);
    assert.throws(() => resolve({ maxInFlight: 1.5 }), ConfigError);
  });
});
