import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CommitTarget, GroupCommitter } from './committer.js';

/**
 * A commit target that records transactions and lets the test finish each fsync by hand. Writes
 * are an in-memory log; a transaction that throws keeps none of its writes, a savepoint that
 * throws keeps none of its own.
 */
class FakeTarget implements CommitTarget {
  readonly log: string[] = [];
  readonly transactions: number[] = [];
  readonly syncs: { resolve: () => void; reject: (e: Error) => void; upTo: number }[] = [];
  failCommit = false;
  active = false;
  /** The next savepoint that throws also ends the transaction, as SQLite does after SQLITE_FULL. */
  abortOnError = false;

  inTransaction(): boolean {
    return this.active;
  }

  transaction(fn: () => void): void {
    const before = this.log.length;
    this.active = true;
    try {
      fn();
    } catch (e) {
      this.log.length = before;
      throw e;
    } finally {
      this.active = false;
    }
    if (this.failCommit) {
      this.log.length = before;
      throw new Error('commit failed');
    }
    this.transactions.push(this.log.length - before);
  }

  savepoint<T>(fn: () => T): T {
    const before = this.log.length;
    try {
      return fn();
    } catch (e) {
      this.log.length = before;
      if (this.abortOnError) this.active = false;
      throw e;
    }
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.syncs.push({ resolve, reject, upTo: this.log.length }));
  }

  /** Finishes fsync number `i` (in start order), with `error` if given. */
  finishSync(i: number, error?: Error): void {
    const s = this.syncs[i]!;
    if (error) s.reject(error);
    else s.resolve();
  }
}

/** Two turns of the event loop: the committer's own setImmediate, scheduled in a callback, has run. */
const turn = async () => {
  for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r));
};

function track<T>(p: Promise<T>): { settled: () => 'pending' | 'resolved' | 'rejected'; p: Promise<T> } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  return { settled: () => state, p };
}

describe('GroupCommitter', () => {
  it('commits the writes that queue up during an fsync in one transaction, resolved after its own fsync', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    const first = track(c.enqueue(() => target.log.push('a')));
    await turn();
    assert.deepEqual(target.transactions, [1]);
    assert.equal(target.syncs.length, 1);
    // While the first fsync runs, three more arrive: no transaction yet.
    const rest = ['b', 'c', 'd'].map((x) => track(c.enqueue(() => target.log.push(x))));
    await turn();
    assert.deepEqual(target.transactions, [1], 'nothing committed while the fsync runs');
    assert.equal(first.settled(), 'pending', 'not durable before its fsync');
    target.finishSync(0);
    await turn();
    assert.equal(first.settled(), 'resolved');
    assert.deepEqual(target.transactions, [1, 3], 'the three share one transaction');
    assert.deepEqual(target.log, ['a', 'b', 'c', 'd'], 'in the order they were queued');
    assert.equal(target.syncs.length, 2);
    assert.equal(target.syncs[1]!.upTo, 4, 'the second fsync starts after their commit');
    assert.deepEqual(
      rest.map((r) => r.settled()),
      ['pending', 'pending', 'pending'],
    );
    target.finishSync(1);
    await turn();
    assert.deepEqual(
      rest.map((r) => r.settled()),
      ['resolved', 'resolved', 'resolved'],
    );
  });

  it('rejects only the write that threw; the rest of its group commits', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    const a = track(c.enqueue(() => target.log.push('a')));
    const bad = track(
      c.enqueue(() => {
        target.log.push('half');
        throw new Error('bad write');
      }),
    );
    const b = track(c.enqueue(() => target.log.push('b')));
    await turn();
    assert.deepEqual(target.log, ['a', 'b'], 'the failed write rolled back to its savepoint');
    assert.equal(bad.settled(), 'rejected');
    target.finishSync(0);
    await turn();
    assert.equal(a.settled(), 'resolved');
    assert.equal(b.settled(), 'resolved');
  });

  it('rejects every write of a group whose commit fails, and goes on with the next group', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    target.failCommit = true;
    const group = [
      track(c.enqueue(() => target.log.push('a'))),
      track(c.enqueue(() => target.log.push('b'))),
    ];
    await turn();
    assert.deepEqual(
      group.map((g) => g.settled()),
      ['rejected', 'rejected'],
    );
    assert.equal(target.syncs.length, 0, 'nothing to make durable');
    target.failCommit = false;
    const next = track(c.enqueue(() => target.log.push('c')));
    await turn();
    target.finishSync(0);
    await turn();
    assert.equal(next.settled(), 'resolved');
    assert.deepEqual(target.log, ['c']);
  });

  it('fails the whole group when a write makes SQLite roll back the transaction', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    target.abortOnError = true;
    const a = track(c.enqueue(() => target.log.push('a')));
    const full = track(
      c.enqueue(() => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      }),
    );
    const b = track(c.enqueue(() => target.log.push('b')));
    await turn();
    assert.deepEqual(
      [a, full, b].map((x) => x.settled()),
      ['rejected', 'rejected', 'rejected'],
    );
    await assert.rejects(b.p, /disk is full/);
    assert.deepEqual(target.log, [], 'nothing committed');
    assert.equal(target.syncs.length, 0);
  });

  it('rejects every write of a group whose fsync fails, and refuses writes from then on', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    const group = [
      track(c.enqueue(() => target.log.push('a'))),
      track(c.enqueue(() => target.log.push('b'))),
    ];
    await turn();
    const waiting = track(c.enqueue(() => target.log.push('c')));
    const direct = track(c.durable());
    target.finishSync(0, Object.assign(new Error('EIO'), { code: 'EIO' }));
    await turn();
    assert.deepEqual(
      [...group, waiting, direct].map((g) => g.settled()),
      ['rejected', 'rejected', 'rejected', 'rejected'],
      'none of them is reported durable',
    );
    await assert.rejects(
      c.enqueue(() => 0),
      (e: unknown) => (e as { code?: string }).code === 'PERMANENT',
    );
    await assert.rejects(c.durable(), /fsync of the write-ahead log failed \(EIO\)/);
  });

  it('durable() waits for an fsync that starts after the call, shared by the callers meanwhile', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    const first = track(c.durable());
    const second = track(c.durable());
    const third = track(c.durable());
    assert.equal(target.syncs.length, 1, 'the first starts an fsync at once');
    target.finishSync(0);
    await turn();
    assert.equal(first.settled(), 'resolved');
    assert.equal(second.settled(), 'pending', 'the running fsync may predate the call');
    assert.equal(target.syncs.length, 2, 'one next fsync for both');
    target.finishSync(1);
    await turn();
    assert.equal(second.settled(), 'resolved');
    assert.equal(third.settled(), 'resolved');
  });

  it('settle() waits for queued writes and the fsync that makes them durable', async () => {
    const target = new FakeTarget();
    const c = new GroupCommitter(target);
    const w = track(c.enqueue(() => target.log.push('a')));
    const settled = track(c.settle());
    await turn();
    assert.equal(settled.settled(), 'pending');
    target.finishSync(0);
    await settled.p;
    assert.equal(w.settled(), 'resolved');
  });
});
