import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PointerSource } from '@barge/client';
import type { PointerRecord } from '@barge/core';
import { CatchUp } from './catch-up.js';
import { TailWatch } from './tail-watch.js';

// Only the bookkeeping is exercised here (fetching, fetched, sought and interrupted are called
// directly); the e2e test cluster-consume-end runs it against a cluster's transactional pointers.
const unused = {} as PointerSource;

function record(partition: number, offset: number): PointerRecord {
  return { partition, offset, timestamp: 0, pointer: {} as PointerRecord['pointer'] };
}

describe('TailWatch: where fetches found the pointers of a partition to end', () => {
  function watch() {
    let now = 0;
    const w = new TailWatch(unused, { quietMs: 3000, now: () => now });
    const fetch = (records: PointerRecord[], ms: number, assigned = [0, 1]) => {
      const started = w.fetching(1000, assigned);
      now += ms;
      w.fetched(started, assigned, records);
    };
    const advance = (ms: number) => {
      now += ms;
    };
    return { w, fetch, advance };
  }

  it('is the offset after the last pointer fetched, once fetches found nothing for the quiet time', () => {
    const { w, fetch } = watch();
    fetch([record(0, 0), record(0, 2), record(1, 0)], 10);
    fetch([record(0, 4)], 10);
    assert.equal(w.tail(0), undefined);
    fetch([], 1000);
    fetch([], 1000);
    assert.equal(w.tail(0), undefined, 'quiet for 2 s only');
    fetch([], 1000);
    assert.equal(w.tail(0), 5);
    assert.equal(w.tail(1), 1, 'partition 1 was quiet since its pointer at 0');
    w.interrupted();
    assert.equal(w.tail(0), undefined);
    fetch([], 3000);
    assert.equal(w.tail(0), 5, 'a rebalance keeps the pointers fetched before it');
  });

  it('starts the quiet time again at every pointer, seek and rebalance', () => {
    const { w, fetch } = watch();
    fetch([], 2500);
    fetch([record(0, 7)], 10);
    fetch([], 2500);
    assert.equal(w.tail(0), undefined, 'a pointer came in between');
    fetch([], 1000);
    assert.equal(w.tail(0), 8);
    w.sought(0);
    assert.equal(w.tail(0), undefined);
    fetch([], 3000);
    assert.equal(w.tail(0), 0, 'nothing fetched since the seek');
    w.interrupted();
    assert.equal(w.tail(1), undefined);
  });

  it('ignores the silence of a fetch begun before a seek, and of partitions not being read', () => {
    const { w, fetch, advance } = watch();
    const started = w.fetching(1000, [0]);
    w.sought(0);
    advance(1000);
    w.fetched(started, [0], []);
    fetch([], 2999, [0]);
    assert.equal(w.tail(0), undefined, 'the fetch from before the seek does not count');
    fetch([], 3000, [1]);
    assert.equal(w.tail(0), undefined, 'partition 0 was not read (revoking)');
  });

  it('counts the pointers of a fetch begun before a seek: the consumer must get past them', () => {
    const { w, fetch, advance } = watch();
    const started = w.fetching(1000, [0]);
    w.sought(0);
    advance(10);
    w.fetched(started, [0], [record(0, 9)]);
    fetch([], 3000, [0]);
    assert.equal(w.tail(0), 10);
  });

  it('starts the quiet time again at an empty answer that came before the wait was over', () => {
    const { w, fetch } = watch();
    fetch([], 2000);
    fetch([], 10);
    fetch([], 2000);
    assert.equal(w.tail(0), undefined, 'the early answer broke the run');
    fetch([], 1000);
    assert.equal(w.tail(0), 0);
  });
});

describe('CatchUp: every owned partition read up to its end', () => {
  it('takes the high watermark as the end, or the tail fetches found below it', () => {
    const c = new CatchUp(
      new Map([
        [0, 6],
        [1, 6],
      ]),
    );
    assert.equal(
      c.reached(() => 6),
      false,
      'no assignment yet',
    );
    c.assigned([0, 1]);
    assert.equal(
      c.reached(() => 6),
      true,
    );
    const at = new Map([
      [0, 5],
      [1, 6],
    ]);
    assert.equal(
      c.reached((p) => at.get(p)),
      false,
      'partition 0 is below its high watermark',
    );
    assert.equal(
      c.reached(
        (p) => at.get(p),
        (p) => (p === 0 ? 5 : undefined),
      ),
      true,
      'partition 0 is at the tail its fetches found',
    );
    assert.equal(
      c.reached(
        (p) => at.get(p),
        () => 6,
      ),
      false,
      'partition 0 has not processed the last pointer fetched (5)',
    );
  });

  it('counts a partition without a position from its start', () => {
    const c = new CatchUp(new Map([[0, 6]]));
    c.assigned([0]);
    assert.equal(
      c.reached(
        () => undefined,
        () => 0,
      ),
      false,
      'start unknown',
    );
    c.startsAt(0, 5);
    assert.equal(
      c.reached(
        () => undefined,
        () => 0,
      ),
      true,
    );
  });
});
