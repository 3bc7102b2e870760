import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, PermanentError, TransientError } from '@barge/core';
import { backoffMs, isRetryableFailure, resolveRetry, withRetry } from './retry.js';

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

describe('resolveRetry', () => {
  it("takes kafkajs's names: initialRetryTime, maxRetryTime, multiplier, factor (randomization)", () => {
    const o = resolveRetry({
      retries: 5,
      initialRetryTime: 300,
      maxRetryTime: 30_000,
      multiplier: 3,
      factor: 0.2,
    });
    assert.deepEqual(o, {
      retries: 5,
      initialRetryTime: 300,
      maxRetryTime: 30_000,
      multiplier: 3,
      factor: 0.2,
    });
    // a backoff lies in [base × (1 − factor), base]
    assert.equal(
      backoffMs(1, o, () => 0),
      720,
    );
    assert.equal(
      backoffMs(1, o, () => 1),
      900,
    );
  });

  it('keeps the older names: initialRetryTimeMs, maxRetryTimeMs, and factor >= 1 as the growth', () => {
    assert.deepEqual(resolveRetry({ initialRetryTimeMs: 50, maxRetryTimeMs: 500, factor: 3 }), {
      retries: 10,
      initialRetryTime: 50,
      maxRetryTime: 500,
      multiplier: 3,
      factor: 0.5,
    });
  });

  it('refuses values that make no policy, naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ retries: 1.5 }, /retry.retries must be an integer >= 0/],
      [{ initialRetryTime: 0 }, /retry.initialRetryTime must be a number of ms > 0/],
      [{ initialRetryTime: 100, initialRetryTimeMs: 200 }, /disagree/],
      [{ initialRetryTime: 500, maxRetryTime: 100 }, /retry.maxRetryTime \(100\) must not be below/],
      [{ multiplier: 0.5 }, /retry.multiplier must be a number >= 1/],
      [{ multiplier: 2, factor: 2 }, /retry.factor is the randomization/],
      [{ factor: -1 }, /retry.factor must be/],
    ];
    for (const [o, error] of bad) {
      assert.throws(
        () => resolveRetry(o),
        (e: unknown) => e instanceof ConfigError && error.test(e.message),
      );
    }
  });
});

describe('programming errors are never retried', () => {
  it('TypeError, RangeError and the like fail at the first attempt; other unknown errors are retried', async () => {
    for (const bug of [new TypeError('x is not a function'), new RangeError('offset out of range')]) {
      let calls = 0;
      await assert.rejects(
        withRetry(
          async () => {
            calls++;
            throw bug;
          },
          resolveRetry({ retries: 5 }),
          { sleep: async () => {} },
        ),
        bug,
      );
      assert.equal(calls, 1, bug.name);
      assert.equal(isRetryableFailure(bug), false);
    }
    assert.equal(isRetryableFailure(new Error('socket hang up')), true);
  });
});
