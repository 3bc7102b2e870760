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

  it('grows a binding adaptive limit before the first ack, once MIN_ROUND_MS has passed', () => {
    const w = new InFlightWindow<string>({ maxBytes: 1e9, requests: adaptive(16, 1024) });
    assert.equal(w.growthDueAt, undefined, 'nothing in flight: nothing to grow');
    for (let i = 0; i < 16; i++) {
      assert.equal(w.mayStart('a', 1, 0), true);
      w.started(1, 0);
    }
    assert.equal(w.growthDueAt, 10);
    assert.equal(w.mayStart('a', 1, 9), false);
    assert.equal(w.maxRequests, 16);
    assert.equal(w.mayStart('a', 1, 10), true, 'no ack came back, the limit grows anyway');
    assert.equal(w.maxRequests, 32);
    for (let i = 0; i < 16; i++) w.started(1, 20);
    // Over the round [10, 30]: 16 in flight, then 32 from 20 on: 24 on average.
    assert.equal(w.mayStart('a', 1, 30), true);
    assert.equal(w.maxRequests, 48);
  });

  it('after acks, grows a binding limit only once a round of the ack latency has passed', () => {
    const w = new InFlightWindow<string>({ maxBytes: 1e9, requests: adaptive(16, 1024) });
    const run = saturate(w, 100, 2);
    assert.deepEqual(run.limits, [32, 64]);
    // The round started at the last ack (200); 64 in flight since then.
    assert.equal(w.growthDueAt, 300);
    assert.equal(w.mayStart('a', 1, 299), false);
    assert.equal(w.mayStart('a', 1, 300), true);
    assert.equal(w.maxRequests, 128);
    const fixed = new InFlightWindow<string>({ maxBytes: 1e9, requests: { fixed: 1 } });
    fixed.started(1, 0);
    assert.equal(fixed.growthDueAt, undefined);
    assert.equal(fixed.mayStart('a', 1, 1000), false);
    assert.equal(fixed.maxRequests, 1);
  });

  it('starts nothing past a sender waiting for room, so newer small requests cannot starve a large one', () => {
    // Like the producer: a partition with small requests and an endless backlog, asked first at
    // every event, and a request three times the byte budget that can only go alone.
    const small = 2_000;
    const big = 300_000;
    const w = new InFlightWindow<string>({ maxBytes: 100_000, requests: adaptive(16, 1024) });
    const smallSentAt: number[] = [];
    let bigStartedAt: number | undefined;
    let smallStartedWhileBigWaited = 0;
    const pump = (now: number) => {
      while (w.mayStart('small', small, now)) {
        w.started(small, now);
        smallSentAt.push(now);
        if (now >= 200 && bigStartedAt === undefined) smallStartedWhileBigWaited++;
      }
      if (now >= 200 && bigStartedAt === undefined && w.mayStart('big', big, now)) {
        w.started(big, now);
        bigStartedAt = now;
      }
    };
    // A send every 2 ms before any ack: the limit grows past 16 and the bytes bind.
    for (let now = 0; now < 200; now += 2) pump(now);
    assert.ok(w.maxRequests > 16, `limit ${w.maxRequests}`);
    assert.equal(w.bytesInFlight, 100_000);
    // The large request comes at 200; from 300 on, the acks come one at a time, each followed by a
    // pump, for twice as long as the 50 requests in flight take to drain.
    pump(200);
    for (let now = 300; now < 400 && bigStartedAt === undefined; now++) {
      w.acked(small, smallSentAt.shift()!, now);
      pump(now);
    }
    assert.notEqual(bigStartedAt, undefined, 'the large request never started');
    // Only the small request that waited for room before it went first.
    assert.equal(smallStartedWhileBigWaited, 1);
    assert.equal(w.requestsInFlight, 1);
    assert.equal(w.mayStart('small', small, bigStartedAt!), false, 'it goes alone');
  });

  it('makes a sender with a backlog wait for room for a share of the budget, not for its first chunk', () => {
    // A budget of 16,000 bytes: a share is 1,000.
    const w = new InFlightWindow<string>({ maxBytes: 16_000, requests: adaptive(64, 1024) });
    assert.equal(w.wantedBytes(100, 300), 300, 'a small backlog goes whole, as soon as it fits');
    assert.equal(w.wantedBytes(100, 50_000), 1_000, 'a large one waits for a share');
    assert.equal(w.wantedBytes(3_000, 50_000), 3_000, 'never less than its first chunk');
    for (let i = 0; i < 31; i++) w.started(500, 0);
    assert.equal(w.roomBytes, 500);
    assert.equal(
      w.mayStart('a', w.wantedBytes(100, 50_000), 1),
      false,
      'room for its first chunk, not a share',
    );
    w.acked(500, 0, 2);
    assert.equal(w.mayStart('a', w.wantedBytes(100, 50_000), 2), true);
  });

  it('lets a sender that leaves the line stop holding back the others', () => {
    const w = new InFlightWindow<string>({ maxBytes: 1000, requests: { fixed: 4 } });
    w.started(600, 0);
    assert.equal(w.mayStart('a', 500, 0), false);
    assert.equal(w.mayStart('b', 100, 0), false, 'it fits, but a waits before it');
    assert.deepEqual([...w.waiting], ['a', 'b']);
    w.leaveLine('a');
    assert.equal(w.mayStart('b', 100, 0), true);
    assert.deepEqual([...w.waiting], []);
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
