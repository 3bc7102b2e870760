import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError, TransientError } from '@barge/core';
import { backoffMs, resolveRetry, withRetry } from './retry.js';

describe('backoffMs', () => {
  const o = resolveRetry({ initialRetryTimeMs: 100, maxRetryTimeMs: 1000, factor: 2 });
  it('grows exponentially up to the cap, with half of it jitter', () => {
    assert.equal(
      backoffMs(0, o, () => 0),
      50,
    );
    assert.equal(
      backoffMs(0, o, () => 1),
      100,
    );
    assert.equal(
      backoffMs(3, o, () => 1),
      800,
    );
    assert.equal(
      backoffMs(4, o, () => 1),
      1000,
    );
    assert.equal(
      backoffMs(20, o, () => 0),
      500,
    );
  });
});

describe('withRetry', () => {
  const noSleep = async () => {};
  it('retries retryable errors and returns the first success', async () => {
    const delays: number[] = [];
    let calls = 0;
    const v = await withRetry(
      async ({ attempt }) => {
        calls++;
        if (attempt < 2) throw new TransientError('flaky');
        return 'ok';
      },
      resolveRetry({ retries: 5 }),
      { sleep: noSleep, onRetry: (_e, _r, d) => delays.push(d), random: () => 1 },
    );
    assert.equal(v, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(delays, [100, 200]);
  });

  it('does not retry a permanent error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw new PermanentError('no');
        },
        resolveRetry({ retries: 5 }),
        { sleep: noSleep },
      ),
      PermanentError,
    );
    assert.equal(calls, 1);
  });

  it('gives up after `retries` retries with the last error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw new TransientError(`attempt ${calls}`);
        },
        resolveRetry({ retries: 2 }),
        { sleep: noSleep },
      ),
      /attempt 3/,
    );
    assert.equal(calls, 3);
  });
});
