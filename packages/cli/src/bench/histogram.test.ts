import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from './histogram.js';

describe('LatencyHistogram', () => {
  it('reports percentiles within 1.5% and the exact max', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 10); // 0.1 ms .. 1000 ms, uniform
    const s = h.summary()!;
    const near = (got: number, want: number) =>
      assert.ok(Math.abs(got - want) / want <= 0.015, `${got} is not within 1.5% of ${want}`);
    near(s.p50, 500);
    near(s.p99, 990);
    near(s.p999, 999);
    assert.equal(s.max, 1000);
    assert.equal(h.count, 10_000);
  });

  it('keeps p50 <= p99 <= p99.9 <= max when one value dominates', () => {
    const h = new LatencyHistogram();
    h.record(3.3, 1000);
    h.record(250);
    const s = h.summary()!;
    assert.ok(s.p50 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max, JSON.stringify(s));
    assert.ok(Math.abs(s.p50 - 3.3) < 0.05, `p50 ${s.p50}`);
    assert.equal(s.max, 250);
  });

  it('is empty after reset and merges another histogram', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    assert.equal(a.summary(), null);
    a.record(1);
    b.record(100);
    a.add(b);
    assert.equal(a.count, 2);
    assert.equal(a.summary()!.max, 100);
    a.reset();
    assert.equal(a.summary(), null);
    assert.equal(a.percentile(50), undefined);
  });
});
