import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DedupTracker, type StreamId } from './dedup.js';

const s = (producerId: number, writePartition = 0, topic = 't'): StreamId => ({
  topic,
  writePartition,
  producerId,
});

/** How the delivery loop asks: `isDuplicate` then `delivered`, or `accept` (both, remembering the last stream). */
let via: 'isDuplicate+delivered' | 'accept' = 'isDuplicate+delivered';

/** Delivers `seqs` in order through the tracker; returns the ones that were not duplicates. */
function run(d: DedupTracker, scope: string, stream: StreamId, seqs: number[]): number[] {
  const out: number[] = [];
  for (const q of seqs) {
    if (via === 'accept') {
      if (d.accept(scope, { ...stream }, q)) out.push(q);
      continue;
    }
    if (d.isDuplicate(scope, stream, q)) continue;
    d.delivered(scope, stream, q);
    out.push(q);
  }
  return out;
}

for (const mode of ['isDuplicate+delivered', 'accept'] as const)
  describe(`DedupTracker (${mode})`, () => {
    before(() => {
      via = mode;
    });

    it('skips a re-sent chunk (sequences at or below the highest delivered) and counts it', () => {
      const d = new DedupTracker();
      const got = run(d, 'p0', s(1), [0, 1, 2, 3, 4, 2, 3, 4, 5, 6]);
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6]);
      assert.equal(d.skipped, 3);
    });

    it('keeps producers, write partitions and topics apart', () => {
      const d = new DedupTracker();
      assert.deepEqual(run(d, 'p0', s(1), [0, 1]), [0, 1]);
      assert.deepEqual(run(d, 'p0', s(2), [0, 1]), [0, 1]);
      assert.deepEqual(run(d, 'p0', s(1, 1), [0, 1]), [0, 1]);
      assert.deepEqual(run(d, 'p0', s(1, 0, 'u'), [0, 1]), [0, 1]);
      assert.equal(d.skipped, 0);
    });

    it('delivers a retried chunk that lands after a later one (no loss), and skips its second copy', () => {
      const d = new DedupTracker();
      // chunk 10-12 landed before the retry of 5-9, then a duplicate of both arrives
      const got = run(d, 'p0', s(1), [0, 1, 2, 3, 4, 10, 11, 12, 5, 6, 7, 8, 9, 5, 6, 10, 13]);
      assert.deepEqual(got, [0, 1, 2, 3, 4, 10, 11, 12, 5, 6, 7, 8, 9, 13]);
      assert.equal(d.skipped, 3);
    });

    it('starts from any sequence (a consumer resuming mid-stream)', () => {
      const d = new DedupTracker();
      assert.deepEqual(run(d, 'p0', s(1), [500, 501, 500, 502]), [500, 501, 502]);
    });

    it('forget(scope) makes earlier sequences deliverable again (used after a seek)', () => {
      const d = new DedupTracker();
      run(d, 'p0', s(1), [0, 1, 2]);
      run(d, 'p1', s(1, 1), [0, 1, 2]);
      d.forget('p0');
      assert.deepEqual(run(d, 'p0', s(1), [0, 1, 2]), [0, 1, 2]);
      assert.deepEqual(run(d, 'p1', s(1, 1), [2]), []);
    });

    it('bounds ranges per stream by forgetting the oldest range (never skipping undelivered data)', () => {
      const d = new DedupTracker({ maxRangesPerStream: 2 });
      run(d, 'p0', s(1), [0, 10, 20]); // three ranges → [0] forgotten
      assert.deepEqual(run(d, 'p0', s(1), [0, 10, 20, 5]), [0, 5]);
    });

    it('bounds the number of streams, evicting the least recently used', () => {
      const d = new DedupTracker({ maxStreams: 2 });
      run(d, 'p0', s(1), [0]);
      run(d, 'p0', s(2), [0]);
      run(d, 'p0', s(1), [1]); // stream 1 is now the most recent
      run(d, 'p0', s(3), [0]); // evicts stream 2
      assert.equal(d.size, 2);
      assert.deepEqual(run(d, 'p0', s(1), [1]), []);
      assert.deepEqual(run(d, 'p0', s(2), [0]), [0]);
    });

    it('counts skipped duplicates, within one stream and across streams in turn', () => {
      const d = new DedupTracker();
      assert.deepEqual(run(d, 'p0', s(1), [0, 1, 2]), [0, 1, 2]);
      assert.deepEqual(run(d, 'p0', s(2), [0, 1]), [0, 1]);
      assert.deepEqual(run(d, 'p0', s(1), [1, 2, 3]), [3]);
      assert.deepEqual(run(d, 'p1', s(1), [1]), [1]); // another partition is another scope
      assert.equal(d.skipped, 2);
    });
  });
