import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PublishSignal } from './publish-signal.js';

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('PublishSignal', () => {
  it('wakes a waiting fetch when one of its partitions is published, not for another partition', async () => {
    const signal = new PublishSignal();
    const waiting = signal.wait(
      [
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ],
      60_000,
    );
    signal.published('t', 2);
    signal.published('u', 1);
    assert.equal(await settled(waiting), false, 'other partitions do not wake it');
    signal.published('t', 1);
    assert.equal(await settled(waiting), true, 'its own partition wakes it before the timeout');
  });

  it('resolves at the timeout without a publication, and forgets waiters once woken', async () => {
    const signal = new PublishSignal();
    await signal.wait([{ topic: 't', partition: 0 }], 5);
    const again = signal.wait([{ topic: 't', partition: 0 }], 60_000);
    signal.published('t', 0);
    await again;
    // A publication with nobody waiting is a no-op.
    signal.published('t', 0);
  });
});
