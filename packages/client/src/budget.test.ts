import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBudget } from './budget.js';

describe('ByteBudget', () => {
  it('makes acquirers wait, in order, until released bytes make room', async () => {
    const b = new ByteBudget(100);
    await b.acquire(60);
    const order: string[] = [];
    const p1 = b.acquire(50).then(() => order.push('50'));
    const p2 = b.acquire(10).then(() => order.push('10')); // fits, but waits behind the first (FIFO)
    await Promise.resolve();
    assert.deepEqual(order, []);
    assert.equal(b.waiting, 2);
    b.release(60);
    await Promise.all([p1, p2]);
    assert.deepEqual(order, ['50', '10']);
    assert.equal(b.used, 60);
  });

  it('lets a request larger than the limit through when nothing is held', async () => {
    const b = new ByteBudget(10);
    await b.acquire(1000);
    assert.equal(b.used, 1000);
    let got = false;
    const p = b.acquire(1).then(() => {
      got = true;
    });
    await Promise.resolve();
    assert.equal(got, false);
    b.release(1000);
    await p;
    assert.equal(b.used, 1);
  });

  it('rejectAll fails every waiter', async () => {
    const b = new ByteBudget(1);
    await b.acquire(1);
    const p = b.acquire(1);
    b.rejectAll(new Error('closed'));
    await assert.rejects(p, /closed/);
  });
});
