import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, partitionForKey, StickyPartitioner } from './partitioner.js';

describe('murmur2', () => {
  it('matches the Kafka reference values', () => {
    // From Kafka's UtilsTest.testMurmur2.
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, want] of cases) assert.equal(murmur2(Buffer.from(s)), want, s);
  });
});

describe('partitionForKey', () => {
  it('is stable, in range, and the same for a string and its UTF-8 bytes', () => {
    for (let i = 0; i < 200; i++) {
      const k = `key-${i}`;
      const p = partitionForKey(k, 7);
      assert.ok(p >= 0 && p < 7);
      assert.equal(partitionForKey(Buffer.from(k), 7), p);
      assert.equal(partitionForKey(k, 7), p);
    }
  });

  it('spreads keys over every partition', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(partitionForKey(`k${i}`, 8));
    assert.equal(seen.size, 8);
  });
});

describe('StickyPartitioner', () => {
  it('sticks to one partition until its chunk closes, then moves round robin', () => {
    const sp = new StickyPartitioner(() => 0.5);
    const first = sp.partition('t', 4);
    assert.equal(first, 2);
    assert.equal(sp.partition('t', 4), 2);
    sp.chunkClosed('t', 0, 4); // another partition's chunk: no change
    assert.equal(sp.partition('t', 4), 2);
    sp.chunkClosed('t', 2, 4);
    assert.equal(sp.partition('t', 4), 3);
    sp.chunkClosed('t', 3, 4);
    assert.equal(sp.partition('t', 4), 0);
  });

  it('keeps topics apart and re-picks when the partition count shrinks', () => {
    const sp = new StickyPartitioner(() => 0.99);
    assert.equal(sp.partition('a', 10), 9);
    assert.equal(sp.partition('b', 2), 1);
    assert.equal(sp.partition('a', 3), 2);
  });
});
