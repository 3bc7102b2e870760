import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasErrorCode, type ObjectStorage, PermanentError, PreconditionFailedError } from '@barge/core';

/** Concurrent writers in the race tests. */
const RACERS = 8;
/** Increments each writer makes in the compare-and-swap counter test. */
const INCREMENTS_PER_RACER = 5;

/**
 * The conditional-put part of the `ObjectStorage` contract (`ifNoneMatch: '*'`, `ifMatch`),
 * registered by `describeObjectStorage`. With `capabilities.conditionalPut` the adapter must
 * pass all of it against the real store; without, the guard must refuse conditional puts.
 * `s` is the guarded instance, `base` a key prefix of its own; `skipRaces`, the reason for
 * skipping the two concurrency tests (a test server whose conditions are checked, but not
 * atomically with the write).
 */
export function describeConditionalPut(
  s: () => ObjectStorage,
  base: string,
  supported: boolean,
  skipRaces?: string,
): void {
  const races = skipRaces === undefined ? {} : { skip: skipRaces };
  describe('conditional put', () => {
    if (!supported) {
      it('refuses conditional puts with PermanentError (capabilities.conditionalPut is not true)', async () => {
        const key = `${base}unsupported`;
        await assert.rejects(s().put(key, Buffer.from('x'), { ifNoneMatch: '*' }), PermanentError);
        await assert.rejects(s().head(key), (e) => hasErrorCode(e, 'NOT_FOUND'));
      });
      return;
    }

    it("ifNoneMatch: '*' creates once; the second attempt fails with PreconditionFailedError and changes nothing", async () => {
      const key = `${base}create-once`;
      const first = await s().put(key, Buffer.from('first'), { ifNoneMatch: '*' });
      assertVersion(first.version, 'put result');
      assert.equal((await s().head(key)).version, first.version, 'head returns the version put returned');
      await assertPreconditionFailed(s().put(key, Buffer.from('second'), { ifNoneMatch: '*' }), key);
      assert.equal((await s().get(key)).toString(), 'first');
      assert.equal((await s().head(key)).version, first.version, 'version unchanged after the refused put');
    });

    it('ifMatch replaces with the current version, and fails with a stale one or on a missing object', async () => {
      const key = `${base}replace-if-match`;
      const v1 = (await s().put(key, Buffer.from('one'))).version;
      assertVersion(v1, 'unconditional put result');
      const v2 = (await s().put(key, Buffer.from('two'), { ifMatch: v1 as string })).version;
      assertVersion(v2, 'conditional put result');
      assert.notEqual(v2, v1, 'a write changes the version');
      assert.equal((await s().get(key)).toString(), 'two');
      await assertPreconditionFailed(s().put(key, Buffer.from('three'), { ifMatch: v1 as string }), key);
      assert.equal((await s().get(key)).toString(), 'two', 'a stale ifMatch writes nothing');
      const v3 = (await s().put(key, Buffer.from('three'), { ifMatch: v2 as string })).version;
      assert.equal((await s().head(key)).version, v3);
      const missing = `${base}replace-if-match-missing`;
      await assertPreconditionFailed(s().put(missing, Buffer.from('x'), { ifMatch: v3 as string }), missing);
      await assert.rejects(s().head(missing), (e) => hasErrorCode(e, 'NOT_FOUND'));
    });

    it(`of ${RACERS} concurrent ifNoneMatch puts on one key exactly one wins`, races, async () => {
      const key = `${base}create-race`;
      const results = await Promise.allSettled(
        Array.from({ length: RACERS }, (_, i) =>
          s().put(key, Buffer.from(`writer-${i}`), { ifNoneMatch: '*' }),
        ),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(winners.length, 1, `exactly one winner, got ${winners.length}`);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof PreconditionFailedError, String(r.reason));
      }
      assert.equal((await s().get(key)).toString(), `writer-${winners[0]}`);
    });

    it(`${RACERS} concurrent compare-and-swap increments of one counter lose no update`, races, async () => {
      const key = `${base}counter`;
      await s().put(key, Buffer.from('0'), { ifNoneMatch: '*' });
      let conflicts = 0;
      const increment = async (): Promise<void> => {
        for (;;) {
          // head, then get: if the object changed in between, the ifMatch below fails.
          const { version } = await s().head(key);
          const value = Number((await s().get(key)).toString());
          try {
            await s().put(key, Buffer.from(String(value + 1)), { ifMatch: version as string });
            return;
          } catch (e) {
            if (!(e instanceof PreconditionFailedError)) throw e;
            conflicts++;
          }
        }
      };
      await Promise.all(
        Array.from({ length: RACERS }, async () => {
          for (let i = 0; i < INCREMENTS_PER_RACER; i++) await increment();
        }),
      );
      assert.equal(Number((await s().get(key)).toString()), RACERS * INCREMENTS_PER_RACER);
      assert.ok(conflicts > 0, 'the writers raced (at least one compare-and-swap was refused)');
    });
  });
}

function assertVersion(v: unknown, what: string): void {
  assert.equal(typeof v, 'string', `${what}: version is a string`);
  assert.ok((v as string).length > 0, `${what}: version is not empty`);
}

async function assertPreconditionFailed(p: Promise<unknown>, key: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PreconditionFailedError, `expected PreconditionFailedError, got ${String(e)}`);
    assert.equal(e.code, 'PRECONDITION_FAILED');
    assert.equal(e.retryable, false);
    assert.equal(e.key, key);
    assert.ok(e.message.includes(key), `message names the key: ${e.message}`);
    return true;
  });
}
