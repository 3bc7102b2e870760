import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerMetrics } from '../metrics.js';
import { QuotaManager } from './quota-manager.js';
import { RateWindow } from './rate.js';

const MiB = 1024 * 1024;
const window = { samples: 5, sampleMs: 1000 };

describe('RateWindow', () => {
  it('measures bytes over the time the samples span, at least one sample window', () => {
    const r = new RateWindow(window);
    r.record(MiB, 0);
    assert.equal(r.rate(10), MiB, 'a first request is measured over one whole sample window');
    r.record(MiB, 1500);
    assert.equal(r.rate(2000), MiB);
    assert.equal(r.rate(4000), (2 * MiB * 1000) / 4000);
  });

  it('forgets samples older than the window', () => {
    const r = new RateWindow(window);
    r.record(10 * MiB, 0);
    r.record(MiB, 4500);
    assert.ok(r.rate(4999) > 2 * MiB);
    assert.equal(r.rate(5000), MiB, 'the sample at 0 expired at 5000; 1 MiB over one window');
    assert.equal(r.idle(9500), true);
  });

  it('throttles for the time that brings the rate back to the quota (bytes / quota − span)', () => {
    const r = new RateWindow(window);
    r.record(MiB, 0);
    assert.equal(r.throttleMs(MiB, 0), 0, 'at the quota: no throttle');
    r.record(2 * MiB, 200);
    // 3 MiB over max(200 ms, 1 s): 3 s are needed at 1 MiB/s, 1 s has passed (the floor).
    assert.equal(r.throttleMs(MiB, 200), 2000);
    // After waiting that long, the rate is the quota and the next request is throttled by its own size.
    assert.equal(r.rate(3000), MiB);
    r.record(MiB / 2, 3000);
    assert.equal(r.throttleMs(MiB, 3000), 500);
  });

  it('a sender that waits each throttle time is held at the quota', () => {
    const r = new RateWindow(window);
    let now = 0;
    let sent = 0;
    while (now < 20_000) {
      r.record(256 * 1024, now);
      sent += 256 * 1024;
      now += Math.max(1, r.throttleMs(MiB, now));
    }
    const achieved = (sent * 1000) / now;
    assert.ok(achieved <= MiB * 1.1 && achieved >= MiB * 0.9, `achieved ${achieved} B/s`);
  });

  it('never throttles for longer than the whole window', () => {
    const r = new RateWindow(window);
    r.record(1000 * MiB, 0);
    assert.equal(r.throttleMs(MiB, 0), 5000);
  });
});

describe('QuotaManager', () => {
  const config = {
    default: { produceBytesPerSec: MiB, connections: 2 },
    principals: { alice: { connections: 1, topics: 3 }, bob: {} },
  };

  it("takes a principal's own keys first, the default's for the rest, and names where each comes from", () => {
    const q = new QuotaManager(config, new BrokerMetrics(), window);
    const alice = q.quotaOf('alice');
    assert.deepEqual(alice.limits, { produceBytesPerSec: MiB, connections: 1, topics: 3 });
    assert.equal(alice.where('connections'), 'security.quotas.principals["alice"].connections');
    assert.equal(alice.where('produceBytesPerSec'), 'security.quotas.default.produceBytesPerSec');
    assert.deepEqual(q.quotaOf('carol').limits, config.default);
    assert.deepEqual(q.quotaOf('toString').limits, config.default, 'no prototype keys');
  });

  it('counts connections per principal, refuses past the quota, and frees them on close', () => {
    const q = new QuotaManager(config, new BrokerMetrics(), window);
    const [a1, a2, b1, b2, b3] = [{}, {}, {}, {}, {}];
    assert.equal(q.admitConnection(a1, 'alice'), undefined);
    assert.equal(q.admitConnection(a1, 'alice'), undefined, 'a connection counts once');
    assert.equal(
      q.admitConnection(a2, 'alice'),
      'principal "alice" has 1 connections to this broker, its quota (security.quotas.principals["alice"].connections: 1)',
    );
    assert.equal(q.admitConnection(b1, 'bob'), undefined);
    assert.equal(q.admitConnection(b2, 'bob'), undefined);
    assert.match(q.admitConnection(b3, 'bob') ?? '', /quota \(security\.quotas\.default\.connections: 2\)/);
    q.closed(a1);
    q.closed(a2); // never counted: nothing to free
    assert.equal(q.admitConnection(a2, 'alice'), undefined);
  });

  it('records byte rates per principal and kind, only where a quota applies', async () => {
    let now = 0;
    const metrics = new BrokerMetrics();
    const q = new QuotaManager(config, metrics, window, () => now);
    assert.equal(q.record('alice', 'produce', MiB), 0);
    assert.equal(q.record('carol', 'produce', 3 * MiB), 2000, "carol's rate is her own");
    assert.equal(q.record('alice', 'read', 100 * MiB), 0, 'no read quota');
    now = 100;
    assert.equal(q.record('alice', 'produce', MiB), 1000);
    const throttled = (await metrics.quotaThrottleMs.get()).values;
    assert.deepEqual(
      throttled.map((v) => [v.labels.principal, v.labels.kind, v.value]),
      [
        ['carol', 'produce', 2000],
        ['alice', 'produce', 1000],
      ],
    );
  });
});

describe('QuotaManager charges', () => {
  it('throttles on the bytes charged before serving, and settles to the bytes carried', async () => {
    const metrics = new BrokerMetrics();
    const config = { default: { readBytesPerSec: MiB }, principals: {} };
    const q = new QuotaManager(config, metrics, window, () => 0);
    const first = q.charge('carol', 'read', MiB);
    const second = q.charge('carol', 'read', MiB);
    assert.equal(first.throttleMs, 0);
    assert.equal(second.throttleMs, 1000, 'charged before either was served');
    second.settle(0); // served nothing (a missing object): given back
    second.settle(MiB); // settles once
    first.settle(MiB);
    assert.equal(q.charge('carol', 'read', 0).throttleMs, 0, 'back at the quota');
    assert.equal((await metrics.quotaBytes.get()).values[0]?.value, MiB);
    assert.equal(q.charge('alice', 'produce', 10 * MiB).throttleMs, 0, 'no produce quota');
  });

  it('a refund never takes a sample below 0', () => {
    const r = new RateWindow(window);
    r.record(MiB, 0);
    r.refund(2 * MiB, 10);
    assert.equal(r.rate(10), 0);
    r.record(MiB, 20);
    assert.equal(r.rate(20), MiB);
  });
});
