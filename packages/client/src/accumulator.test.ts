import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Accumulator, type ClosedChunk, type Scheduler } from './accumulator.js';

/** A scheduler whose timers fire only when the test says so. */
function manualScheduler(): { scheduler: Scheduler; fire: () => void; pending: () => number } {
  const timers = new Set<() => void>();
  return {
    scheduler: (fn) => {
      const entry = () => fn();
      timers.add(entry);
      return () => timers.delete(entry);
    },
    fire: () => {
      const all = [...timers];
      timers.clear();
      for (const t of all) t();
    },
    pending: () => timers.size,
  };
}

function setup(maxChunkBytes = 100, maxChunkMessages = 1000) {
  const clock = manualScheduler();
  const closed: ClosedChunk<string, string>[] = [];
  const acc = new Accumulator<string, string>({
    maxChunkBytes,
    maxChunkMessages,
    lingerMs: 10,
    onClose: (c) => closed.push(c),
    scheduler: clock.scheduler,
  });
  return { acc, closed, clock };
}

describe('Accumulator', () => {
  it('closes a chunk before the message that would overflow it', () => {
    const { acc, closed } = setup(100);
    acc.append('p0', 'a', 40);
    acc.append('p0', 'b', 40);
    assert.equal(closed.length, 0);
    acc.append('p0', 'c', 40);
    assert.deepEqual(
      closed.map((c) => [c.messages, c.bytes, c.reason]),
      [[['a', 'b'], 80, 'size']],
    );
    assert.equal(acc.bufferedBytes, 40);
  });

  it('closes at once when a message fills the chunk exactly or alone exceeds it', () => {
    const { acc, closed } = setup(100);
    acc.append('p0', 'a', 60);
    acc.append('p0', 'b', 40);
    acc.append('p0', 'huge', 500);
    assert.deepEqual(
      closed.map((c) => c.messages),
      [['a', 'b'], ['huge']],
    );
    assert.equal(acc.bufferedBytes, 0);
  });

  it('closes on the message count', () => {
    const { acc, closed } = setup(1000, 3);
    for (const m of ['a', 'b', 'c', 'd']) acc.append('p0', m, 1);
    assert.deepEqual(
      closed.map((c) => [c.messages, c.reason]),
      [[['a', 'b', 'c'], 'count']],
    );
  });

  it('closes on linger, one timer per open chunk, and cancels the timer of a chunk closed early', () => {
    const { acc, closed, clock } = setup(100);
    acc.append('p0', 'a', 10);
    acc.append('p0', 'b', 10);
    acc.append('p1', 'c', 10);
    assert.equal(clock.pending(), 2);
    acc.flush('p1');
    assert.equal(clock.pending(), 1);
    clock.fire();
    assert.deepEqual(
      closed.map((c) => [c.key, c.messages, c.reason]),
      [
        ['p1', ['c'], 'flush'],
        ['p0', ['a', 'b'], 'linger'],
      ],
    );
  });

  it('a stale linger timer does not close the next chunk of the same key', () => {
    const closed: ClosedChunk<string, string>[] = [];
    const timers: (() => void)[] = [];
    const acc = new Accumulator<string, string>({
      maxChunkBytes: 100,
      maxChunkMessages: 1000,
      lingerMs: 10,
      onClose: (c) => closed.push(c),
      // cancel does nothing: the timer fires anyway, as a racing setTimeout could
      scheduler: (fn) => {
        timers.push(fn);
        return () => {};
      },
    });
    acc.append('p0', 'a', 100); // closes at once by size
    acc.append('p0', 'b', 10);
    timers[0]!(); // first chunk's timer
    assert.deepEqual(
      closed.map((c) => c.messages),
      [['a']],
    );
    timers[1]!();
    assert.deepEqual(
      closed.map((c) => c.messages),
      [['a'], ['b']],
    );
  });

  it('flush closes every key in order and ignores empty ones', () => {
    const { acc, closed } = setup();
    acc.append('x', '1', 1);
    acc.append('y', '2', 1);
    acc.flush();
    acc.flush();
    assert.deepEqual(
      closed.map((c) => [c.key, c.messages]),
      [
        ['x', ['1']],
        ['y', ['2']],
      ],
    );
    assert.deepEqual(acc.openKeys(), []);
  });
});
