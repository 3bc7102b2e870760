import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError, NotFoundError, PermanentError } from './errors.js';
import type { ListOptions, ObjectStorage, PutOptions, StorageCapabilities } from './storage.js';
import { GUARDED_STORAGE, guardStorage } from './storage-guard.js';

type Call = [op: string, ...args: unknown[]];

/** An adapter that records its calls and checks nothing: whatever it receives came through the guard. */
class RecordingStorage implements ObjectStorage {
  readonly adapter = 'rec';
  readonly location = 'mem';
  readonly calls: Call[] = [];
  readonly objects = new Map<string, Buffer>();

  constructor(readonly capabilities: StorageCapabilities = caps(1000)) {}

  async put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions) {
    this.calls.push(['put', key, body, options]);
    this.objects.set(key, Buffer.concat(Buffer.isBuffer(body) ? [body] : body));
    return { size: this.objects.get(key)?.length ?? 0 };
  }
  async get(key: string) {
    this.calls.push(['get', key]);
    return this.find(key);
  }
  async getRange(key: string, offset: number, length: number) {
    this.calls.push(['getRange', key, offset, length]);
    return this.find(key).subarray(offset, offset + length);
  }
  async head(key: string) {
    this.calls.push(['head', key]);
    return { key, size: this.find(key).length };
  }
  async delete(keys: readonly string[]) {
    this.calls.push(['delete', keys]);
    for (const k of keys) this.objects.delete(k);
  }
  async listPage(prefix: string, options?: ListOptions) {
    this.calls.push(['listPage', prefix, options]);
    return { objects: [] };
  }
  async close() {
    this.calls.push(['close']);
  }
  private find(key: string): Buffer {
    const b = this.objects.get(key);
    if (!b) throw new NotFoundError(`object ${JSON.stringify(key)} not found`);
    return b;
  }
}

function caps(maxDeleteBatch: number): StorageCapabilities {
  return { etag: true, nestedKeys: true, maxDeleteBatch };
}

function guarded(capabilities?: StorageCapabilities): { inner: RecordingStorage; s: ObjectStorage } {
  const inner = new RecordingStorage(capabilities);
  return { inner, s: guardStorage(inner) };
}

describe('guardStorage', () => {
  it('passes adapter, location and capabilities through', () => {
    const { inner, s } = guarded();
    assert.equal(s.adapter, 'rec');
    assert.equal(s.location, 'mem');
    assert.equal(s.capabilities, inner.capabilities);
  });

  it('returns a guarded storage as is, also one guarded by another copy of core', () => {
    const { s } = guarded();
    assert.equal(guardStorage(s), s);
    const foreign = Object.assign(new RecordingStorage(), { [Symbol.for('barge.storage.guarded')]: true });
    assert.equal(guardStorage(foreign), foreign);
    assert.equal((s as unknown as Record<symbol, unknown>)[GUARDED_STORAGE], true);
  });

  it('refuses an adapter without well-formed capabilities', () => {
    for (const capabilities of [
      undefined,
      {},
      { etag: true, nestedKeys: true },
      { etag: 'yes', nestedKeys: true, maxDeleteBatch: 1 },
      { etag: true, nestedKeys: true, maxDeleteBatch: 0 },
      { etag: true, nestedKeys: true, maxDeleteBatch: 2.5 },
    ]) {
      const adapter = Object.assign(new RecordingStorage(), { capabilities });
      assert.throws(
        () => guardStorage(adapter as unknown as ObjectStorage),
        (e: unknown) => e instanceof InvalidInputError && /"rec" must declare capabilities/.test(e.message),
        JSON.stringify(capabilities),
      );
    }
    guardStorage(new RecordingStorage(caps(Number.POSITIVE_INFINITY)));
  });

  it('rejects invalid keys in every operation with the message of validateKey, calling nothing', async () => {
    const { inner, s } = guarded();
    for (const [key, message] of [
      ['', /must not be empty/],
      ['a//b', /must not contain "\/\/"/],
      ['../x', /"\." or "\.\." segments/],
      [42, /must be a string, got number/],
    ] as const) {
      const k = key as string;
      for (const op of [
        () => s.put(k, Buffer.from('x')),
        () => s.get(k),
        () => s.getRange(k, 0, 1),
        () => s.head(k),
        () => s.delete(['ok', k]),
      ]) {
        await assert.rejects(op(), (e: unknown) => e instanceof InvalidInputError && message.test(e.message));
      }
    }
    assert.deepEqual(inner.calls, []);
  });

  it('rejects invalid prefixes, list options, ranges, bodies and key lists', async () => {
    const { inner, s } = guarded();
    const rejects = (p: Promise<unknown>, message: RegExp) =>
      assert.rejects(p, (e: unknown) => e instanceof InvalidInputError && message.test(e.message));
    await rejects(s.listPage('a//'), /must not contain/);
    await rejects(s.listPage('p/', { limit: 0 }), /limit must be a positive integer, got 0/);
    await rejects(s.listPage('p/', { limit: 1.5 }), /limit must be a positive integer/);
    await rejects(
      s.listPage('p/', { startAfter: 5 as unknown as string }),
      /startAfter must be a string, got number/,
    );
    await rejects(s.getRange('k', -1, 1), /offset must be a non-negative integer, got -1/);
    await rejects(s.getRange('k', 0, Number.NaN), /length must be a non-negative integer, got NaN/);
    await rejects(s.put('k', 'text' as unknown as Buffer), /body must be a Buffer or an array of Buffers/);
    await rejects(s.put('k', [Buffer.from('a'), 'b' as unknown as Buffer]), /body part 1 is not a Buffer/);
    await rejects(s.delete('k' as unknown as string[]), /keys must be an array/);
    assert.deepEqual(inner.calls, []);
  });

  it('passes bodies and options through without copying them', async () => {
    const { inner, s } = guarded();
    const one = Buffer.from('one');
    const parts = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('b')];
    const options = { contentType: 'x/y' };
    await s.put('k1', one, options);
    await s.put('k2', parts);
    const listOptions = { limit: 5, startAfter: 'p/a' };
    await s.listPage('p/', listOptions);
    await s.listPage('');
    assert.equal(inner.calls[0]?.[2], one);
    assert.equal(inner.calls[0]?.[3], options);
    assert.equal(inner.calls[1]?.[2], parts);
    assert.equal(inner.calls[2]?.[2], listOptions);
    assert.deepEqual(inner.calls[3], ['listPage', '', undefined]);
  });

  it('answers a zero-length range with head: empty for an object, NotFoundError for a missing one', async () => {
    const { inner, s } = guarded();
    await s.put('k', Buffer.from('abc'));
    inner.calls.length = 0;
    assert.deepEqual(await s.getRange('k', 0, 0), Buffer.alloc(0));
    assert.deepEqual(await s.getRange('k', 99, 0), Buffer.alloc(0));
    await assert.rejects(s.getRange('missing', 0, 0), NotFoundError);
    assert.deepEqual(await s.getRange('k', 1, 5), Buffer.from('bc'));
    assert.deepEqual(
      inner.calls.map((c) => c[0]),
      ['head', 'head', 'head', 'getRange'],
    );
  });

  it('delete: [] and duplicates never reach the adapter; big deletes are split by maxDeleteBatch', async () => {
    const { inner, s } = guarded(caps(1000));
    await s.delete([]);
    assert.deepEqual(inner.calls, []);
    await s.delete(['a', 'b', 'a']);
    assert.deepEqual(inner.calls, [['delete', ['a', 'b']]]);
    inner.calls.length = 0;
    const keys = Array.from({ length: 2500 }, (_, i) => `k/${i}`);
    await s.delete([...keys, 'k/0']);
    const batches = inner.calls.map((c) => c[1] as string[]);
    assert.deepEqual(
      batches.map((b) => b.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(batches.flat().sort(), [...keys].sort());

    const unlimited = guarded(caps(Number.POSITIVE_INFINITY));
    await unlimited.s.delete(keys);
    assert.equal(unlimited.inner.calls.length, 1);
  });

  it('turns a synchronous throw of the adapter into a rejected promise', async () => {
    const inner = new RecordingStorage();
    inner.get = () => {
      throw new Error('sync');
    };
    const p = guardStorage(inner).get('k');
    assert.ok(p instanceof Promise);
    await assert.rejects(p, /sync/);
  });

  it('close() closes the adapter once, however often and concurrently it is called; later calls reject', async () => {
    const { inner, s } = guarded();
    assert.deepEqual(await Promise.all([s.close(), s.close()]), [undefined, undefined]);
    assert.equal(await s.close(), undefined);
    assert.deepEqual(inner.calls, [['close']]);
    for (const op of [
      () => s.put('k', Buffer.from('x')),
      () => s.get('k'),
      () => s.getRange('k', 0, 0),
      () => s.head('k'),
      () => s.delete([]),
      () => s.listPage(''),
    ]) {
      await assert.rejects(
        op(),
        (e: unknown) => e instanceof PermanentError && e.message === 'rec storage "mem" is closed',
      );
    }
    assert.deepEqual(inner.calls, [['close']]);
  });
});

describe('guardStorage: conditional puts', () => {
  it('refuses them with PermanentError when the adapter lacks capabilities.conditionalPut, calling nothing', async () => {
    for (const options of [{ ifNoneMatch: '*' as const }, { ifMatch: 'v1' }]) {
      const { inner, s } = guarded();
      await assert.rejects(s.put('k', Buffer.from('x'), options), (e: unknown) => {
        assert.ok(e instanceof PermanentError);
        assert.match(e.message, /does not support conditional puts \(capabilities\.conditionalPut\)/);
        return true;
      });
      assert.deepEqual(inner.calls, []);
    }
  });

  it('passes them on with the capability, and rejects malformed conditions with InvalidInputError', async () => {
    const { inner, s } = guarded({ ...caps(1000), conditionalPut: true });
    await s.put('k', Buffer.from('x'), { ifNoneMatch: '*' });
    await s.put('k', Buffer.from('y'), { ifMatch: 'v1' });
    assert.deepEqual(
      inner.calls.map((c) => c[3]),
      [{ ifNoneMatch: '*' }, { ifMatch: 'v1' }],
    );
    const bad = [{ ifNoneMatch: '*' as const, ifMatch: 'v1' }, { ifNoneMatch: 'v1' as '*' }, { ifMatch: '' }];
    for (const options of bad) {
      await assert.rejects(s.put('k', Buffer.from('z'), options), InvalidInputError, JSON.stringify(options));
    }
    assert.equal(inner.calls.length, 2);
  });

  it('rejects a non-boolean conditionalPut capability', () => {
    const inner = new RecordingStorage({ ...caps(1000), conditionalPut: 'yes' as unknown as boolean });
    assert.throws(() => guardStorage(inner), InvalidInputError);
  });
});
