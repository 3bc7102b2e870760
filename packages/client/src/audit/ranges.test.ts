import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atDepth, countOf, formatRanges, intersect, type SeqRange, subtract, union } from './ranges.js';

const r = (first: number, last = first): SeqRange => ({ first, last });

describe('sequence ranges', () => {
  it('union sorts and merges overlapping and touching ranges', () => {
    assert.deepEqual(union([r(10, 12), r(0, 4), r(5, 6), r(3, 5), r(20)]), [r(0, 6), r(10, 12), r(20)]);
    assert.deepEqual(union([]), []);
  });

  it('atDepth 2 is what is covered more than once', () => {
    assert.deepEqual(atDepth([r(0, 9), r(5, 14), r(20, 29), r(20, 21), r(29)], 2), [
      r(5, 9),
      r(20, 21),
      r(29),
    ]);
    assert.deepEqual(atDepth([r(0, 4), r(5, 9)], 2), []);
    assert.deepEqual(atDepth([r(3), r(3), r(3)], 3), [r(3)]);
  });

  it('subtract leaves what is not in the second set', () => {
    assert.deepEqual(subtract([r(0, 99)], [r(10, 19), r(50, 59)]), [r(0, 9), r(20, 49), r(60, 99)]);
    assert.deepEqual(subtract([r(0, 9), r(20, 29)], [r(5, 24)]), [r(0, 4), r(25, 29)]);
    assert.deepEqual(subtract([r(0, 9)], [r(0, 9)]), []);
    assert.deepEqual(subtract([r(0, 9)], []), [r(0, 9)]);
    assert.deepEqual(subtract([r(5, 9)], [r(0, 2), r(12, 20)]), [r(5, 9)]);
  });

  it('intersect keeps what is in both', () => {
    assert.deepEqual(intersect([r(0, 9), r(20, 29)], [r(5, 24)]), [r(5, 9), r(20, 24)]);
  });

  it('counts and formats compactly', () => {
    assert.equal(countOf([r(12, 40), r(77)]), 30);
    assert.equal(formatRanges([r(12, 40), r(77)]), '12-40, 77');
    assert.equal(formatRanges([]), '-');
  });
});
