import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadWindow } from './read-window.js';

/** Requests the test answers by hand, with or without a throttle time. */
function manual() {
  const sent: { answer: (throttleTimeMs: number) => void }[] = [];
  const send = () =>
    new Promise<{ throttleTimeMs: number }>((resolve) => {
      sent.push({ answer: (throttleTimeMs) => resolve({ throttleTimeMs }) });
    });
  return { sent, send };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ReadWindow', () => {
  it('starts small, grows with unthrottled responses, goes one at a time after a throttled one', async () => {
    const w = new ReadWindow(200, 80);
    const { sent, send } = manual();
    const all = Array.from({ length: 9 }, () => w.run(40, send));
    await tick();
    assert.equal(sent.length, 2, 'the window starts at 80 bytes: two reads of 40');
    sent[0]!.answer(0);
    await tick();
    assert.equal(w.limit, 120);
    assert.equal(sent.length, 4, '120 bytes: three in flight');
    sent[1]!.answer(250);
    await tick();
    assert.equal(w.throttled, true);
    assert.equal(w.limit, 80, 'back to the start');
    assert.equal(sent.length, 4, 'throttled: nothing more while reads are in flight');
    sent[2]!.answer(100);
    sent[3]!.answer(100);
    await tick();
    assert.equal(sent.length, 5, 'throttled: one at a time');
    sent[4]!.answer(0);
    await tick();
    assert.equal(w.throttled, false);
    assert.equal(sent.length, 8, 'unthrottled: together again, in a window of 120 bytes');
    for (const s of sent.slice(5)) s.answer(0);
    await tick();
    assert.equal(w.limit, 200, 'grown to the most');
    sent[8]!.answer(0);
    assert.equal((await Promise.all(all)).length, 9);
  });

  it('always lets one read through, however large', async () => {
    const w = new ReadWindow(10);
    assert.deepEqual(await w.run(1000, async () => ({ throttleTimeMs: 0 })), { throttleTimeMs: 0 });
  });
});
