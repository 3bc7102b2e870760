import assert from 'node:assert/strict';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  BargeError,
  guardStorage,
  InvalidInputError,
  listAll,
  MAX_KEY_BYTES,
  mapLimit,
  NotFoundError,
  type ObjectInfo,
  type ObjectStorage,
  PermanentError,
  type StorageCapabilities,
  validateKey,
} from '@barge/core';
import { describeConditionalPut } from './conditional-put-suite.js';
import { randomId } from './env.js';

/** What the factory passed to `describeObjectStorage` returns. */
export interface StorageTestContext {
  /**
   * A ready instance, guarded or not: the suite tests it through `guardStorage`, as the broker
   * sees it, and closes it when it is done. Its `capabilities` decide which assertions apply.
   */
  storage: ObjectStorage;
  /** Runs after the suite deleted what it wrote and closed `storage`: remove buckets, temp dirs. */
  cleanup?: () => void | Promise<void>;
}

/**
 * Called once when the suite is registered (the instance's capabilities decide which tests are
 * registered) and once more by the lifecycle test, which closes that instance and calls its
 * `cleanup`. Each call may create its own backing store (bucket, temp dir) for its
 * `cleanup` to remove; a shared bucket needs no `cleanup`.
 */
export type StorageTestFactory = () => StorageTestContext | Promise<StorageTestContext>;

/** 64 MiB + 1 byte: the smallest "large object" the suite accepts. */
export const MIN_LARGE_OBJECT_BYTES = 64 * 1024 * 1024 + 1;

export interface ObjectStorageSuiteOptions {
  /**
   * How many keys the bulk-delete test writes and deletes in one `delete` call. Default 1100,
   * which crosses the 1000-keys-per-request limit of S3 `DeleteObjects` and the 1000-key
   * default page of `listPage`. Lower it only for an emulator where 1100 writes are slow.
   */
  bulkDeleteCount?: number;
  /**
   * Size of the large round-trip objects. Default and minimum `MIN_LARGE_OBJECT_BYTES`
   * (64 MiB + 1); raise it to cross a bigger multipart threshold.
   */
  largeObjectBytes?: number;
  /** Number of parallel writers in the concurrency tests. Default 16. */
  parallelism?: number;
  /** Prepended to the random per-run prefix every key lives under. Default `barge-testkit/`. */
  keyPrefix?: string;
  /** Registers adapter-specific tests; they run inside the suite, after the contract groups. */
  additionalTests?: (ctx: ObjectStorageSuiteContext) => void;
  /** Why the concurrent conditional-put tests are skipped: only for a test server that is not atomic. */
  skipConditionalPutRaces?: string;
}

/** Passed to `additionalTests`; use `storage` inside tests and hooks. */
export interface ObjectStorageSuiteContext {
  /** The instance under test, guarded (`guardStorage`). */
  readonly storage: ObjectStorage;
  /** The random per-run prefix, ending in `/`. Everything under it is deleted after the suite. */
  readonly prefix: string;
  /** `<prefix>extra/<name>`: a key that the suite's cleanup removes. */
  key(name: string): string;
  /** `storage.capabilities`. */
  readonly capabilities: StorageCapabilities;
  readonly options: Readonly<
    Required<Omit<ObjectStorageSuiteOptions, 'additionalTests' | 'skipConditionalPutRaces'>>
  >;
}

const KiB = 1024;
const MiB = 1024 * 1024;

/**
 * The `ObjectStorage` contract suite. Every storage adapter runs it from a test file:
 *
 * ```ts
 * describeObjectStorage('local', async () => {
 *   const dir = await mkdtemp(path.join(tmpdir(), 'barge-'));
 *   return { storage: await createLocalStorage({ root: dir }), cleanup: () => rm(dir, { recursive: true }) };
 * });
 * ```
 *
 * Every key is written under a random per-run prefix, and everything under it is deleted after
 * the suite, so runs can share a bucket. The semantics tested are the JSDoc of `ObjectStorage`,
 * through `guardStorage` (what the broker sees); the instance's `capabilities` switch groups of
 * assertions.
 */
export function describeObjectStorage(
  name: string,
  factory: StorageTestFactory,
  options: ObjectStorageSuiteOptions = {},
): void {
  const bulkDeleteCount = positiveInt(options.bulkDeleteCount ?? 1100, 'bulkDeleteCount');
  const parallelism = positiveInt(options.parallelism ?? 16, 'parallelism');
  const largeObjectBytes = positiveInt(
    options.largeObjectBytes ?? MIN_LARGE_OBJECT_BYTES,
    'largeObjectBytes',
  );
  if (largeObjectBytes < MIN_LARGE_OBJECT_BYTES) {
    throw new RangeError(
      `describeObjectStorage: largeObjectBytes must be at least ${MIN_LARGE_OBJECT_BYTES}`,
    );
  }
  const keyPrefix = options.keyPrefix ?? 'barge-testkit/';
  const runId = randomId('run');
  const run = `${keyPrefix}${runId}/`;
  validateKey(`${run}x`);

  let context: StorageTestContext | undefined;
  const storageOf = (): ObjectStorage => {
    if (!context) throw new Error('describeObjectStorage: storage is only available inside tests and hooks');
    return context.storage;
  };

  // Async, so that the instance exists before the tests are registered: its capabilities decide
  // which ones are. node:test builds the suite before it runs any of it.
  describe(`ObjectStorage contract: ${name}`, async () => {
    context = await created(factory);
    const caps = context.storage.capabilities;
    const suiteContext: ObjectStorageSuiteContext = {
      get storage() {
        return storageOf();
      },
      prefix: run,
      key: (k: string) => `${run}extra/${k}`,
      capabilities: caps,
      options: { bulkDeleteCount, parallelism, largeObjectBytes, keyPrefix },
    };

    after(async () => {
      if (!context) return;
      const { storage, cleanup } = context;
      try {
        const leftovers: string[] = [];
        for await (const o of listAll(storage, run)) leftovers.push(o.key);
        await storage.delete(leftovers);
        const remaining = await collectKeys(storage, run);
        assert.deepEqual(remaining, [], `cleanup: keys left under ${run} after deleting them`);
      } finally {
        try {
          await storage.close();
        } finally {
          await cleanup?.();
        }
      }
    });

    const s = storageOf;
    const base = (group: string) => `${run}${group}/`;

    describe('identity', () => {
      it('exposes a non-empty adapter name and location', () => {
        assert.equal(typeof s().adapter, 'string');
        assert.ok(s().adapter.length > 0, 'adapter must not be empty');
        assert.equal(typeof s().location, 'string');
        assert.ok(s().location.length > 0, 'location must not be empty');
      });
    });

    describe('round trip', () => {
      const b = base('roundtrip');
      const sizes: [string, number][] = [
        ['an empty object', 0],
        ['a 1-byte object', 1],
        ['a 1000-byte object', 1000],
        ['a 256 KiB + 7 byte object', 256 * KiB + 7],
        ['a 5 MiB + 1 byte object', 5 * MiB + 1],
      ];
      for (const [label, size] of sizes) {
        it(`stores and returns ${label} given as one Buffer`, async () => {
          const key = `${b}single-${size}`;
          const body = randomBuffer(size);
          const r = await s().put(key, body);
          assert.equal(r.size, size, 'put result size');
          await assertObject(s(), key, body);
        });
        it(`stores and returns ${label} given as Buffer[] parts (with an empty part)`, async () => {
          const key = `${b}parts-${size}`;
          const body = randomBuffer(size);
          const parts = splitParts(body, [0, 1, Math.floor(size / 3), 0, Math.floor(size / 2)]);
          const r = await s().put(key, parts);
          assert.equal(r.size, size, 'put result size');
          await assertObject(s(), key, body);
        });
      }

      it('stores an empty object given as an empty array', async () => {
        const key = `${b}empty-array`;
        const r = await s().put(key, []);
        assert.equal(r.size, 0, 'put result size');
        await assertObject(s(), key, Buffer.alloc(0));
        const listed = await s().listPage(key);
        assert.deepEqual(
          listed.objects.map((o) => [o.key, o.size]),
          [[key, 0]],
        );
      });

      const large = `${largeObjectBytes} bytes (${(largeObjectBytes / MiB).toFixed(2)} MiB)`;
      it(`stores and returns a random object of ${large} given as one Buffer (sha-256)`, async () => {
        const key = `${b}large-single`;
        const body = randomBuffer(largeObjectBytes);
        const r = await s().put(key, body);
        assert.equal(r.size, largeObjectBytes, 'put result size');
        await assertLargeObject(s(), key, body);
        await s().delete([key]);
        await assertRejects(() => s().head(key), NotFoundError, 'head after deleting the large object');
      });

      it(`stores and returns a random object of ${large} given as several Buffer parts (sha-256)`, async () => {
        const key = `${b}large-parts`;
        const body = randomBuffer(largeObjectBytes);
        // Uneven parts, an empty one, and boundaries off every power of two.
        const parts = splitParts(body, [1, 0, 5 * MiB + 3, 16 * MiB - 1, 7, 20 * MiB + 13]);
        assert.ok(parts.length >= 6, 'test setup: several parts');
        const r = await s().put(key, parts);
        assert.equal(r.size, largeObjectBytes, 'put result size');
        await assertLargeObject(s(), key, body);
        // A range spanning the 1st/2nd non-empty part boundary.
        const boundary = 1 + 5 * MiB + 3;
        assertBytes(
          await s().getRange(key, boundary - 100, 200),
          body.subarray(boundary - 100, boundary + 100),
          'getRange across a part boundary',
        );
        await s().delete([key]);
        await assertRejects(() => s().get(key), NotFoundError, 'get after deleting the large object');
      });

      it("keeps the bytes it was given: changing the caller's buffers after put does not change the object", async () => {
        const single = randomBuffer(4096);
        const inParts = randomBuffer(4096);
        const originals = [Buffer.from(single), Buffer.from(inParts)];
        await s().put(`${b}copied-single`, single);
        await s().put(`${b}copied-parts`, splitParts(inParts, [100, 1000]));
        single.fill(0);
        inParts.fill(0);
        await assertObject(s(), `${b}copied-single`, originals[0] as Buffer);
        await assertObject(s(), `${b}copied-parts`, originals[1] as Buffer);
      });

      it('returns a buffer the caller owns: changing it does not change the object', async () => {
        const key = `${b}owned`;
        const body = randomBuffer(4096);
        await s().put(key, body);
        const first = await s().get(key);
        first.fill(1);
        const range = await s().getRange(key, 0, 100);
        range.fill(2);
        await assertObject(s(), key, body);
      });

      it('round-trips keys with spaces, URL-reserved characters, percent signs and non-ASCII exactly', async () => {
        const kb = `${b}chars/`;
        const names = specialKeyNames();
        const keys = names.map((n) => kb + n);
        for (const k of keys) validateKey(k);
        await mapLimit(keys, parallelism, async (k) => {
          await s().put(k, Buffer.from(`content of ${k}`));
        });
        for (const k of keys) {
          assertBytes(await s().get(k), Buffer.from(`content of ${k}`), `get ${JSON.stringify(k)}`);
          const info = await s().head(k);
          assert.equal(info.key, k, `head(${JSON.stringify(k)}).key`);
          assert.equal(info.size, Buffer.byteLength(`content of ${k}`), `head(${JSON.stringify(k)}).size`);
        }
        const listed = await collectKeys(s(), kb);
        assert.deepEqual(listed, sortUtf8(keys), 'listing returns every key exactly, in UTF-8 byte order');
        // NFC and NFD forms are different keys: no normalisation.
        assertBytes(await s().get(`${kb}norm-\u00e9`), Buffer.from(`content of ${kb}norm-\u00e9`), 'NFC key');
        assertBytes(
          await s().get(`${kb}norm-e\u0301`),
          Buffer.from(`content of ${kb}norm-e\u0301`),
          'NFD key',
        );
      });

      it(`accepts a key of exactly ${MAX_KEY_BYTES} UTF-8 bytes (multi-byte characters)`, async () => {
        const key = keyOfBytes(`${b}long/`, MAX_KEY_BYTES);
        assert.equal(Buffer.byteLength(key), MAX_KEY_BYTES, 'test setup: key length');
        assert.ok(key.length < MAX_KEY_BYTES, 'test setup: fewer characters than bytes');
        const body = randomBuffer(33);
        await s().put(key, body);
        await assertObject(s(), key, body);
        assert.deepEqual(await collectKeys(s(), `${b}long/`), [key]);
        await s().delete([key]);
        await assertRejects(() => s().head(key), NotFoundError, 'head of the long key after delete');
      });
    });

    describe('getRange', () => {
      const b = base('range');
      const size = 1000;
      const key = `${b}obj`;
      const emptyKey = `${b}empty`;
      const body = randomBuffer(size);
      let ready: Promise<void> | undefined;
      const setup = () => {
        ready ??= (async () => {
          await s().put(key, body);
          await s().put(emptyKey, Buffer.alloc(0));
        })();
        return ready;
      };
      const cases: [string, number, number, number, number][] = [
        // label, offset, length, expected start, expected end
        ['offset 0, length 0 → empty', 0, 0, 0, 0],
        ['offset 0, length 1 → first byte', 0, 1, 0, 1],
        ['offset 0, length = size → whole object', 0, size, 0, size],
        ['offset 0, length past the end → whole object', 0, size + 1000, 0, size],
        ['offset 0, length MAX_SAFE_INTEGER → whole object', 0, Number.MAX_SAFE_INTEGER, 0, size],
        ['last byte, length 1', size - 1, 1, size - 1, size],
        ['last byte, length 10 → truncated to 1 byte', size - 1, 10, size - 1, size],
        ['middle range', 123, 456, 123, 579],
        ['from the middle exactly to the end', 10, size - 10, 10, size],
        ['from the middle running past the end → truncated', 900, 500, 900, size],
        ['zero length in the middle → empty', 500, 0, 500, 500],
        ['starting exactly at the end → empty', size, 1, size, size],
        ['starting exactly at the end, length 0 → empty', size, 0, size, size],
        ['starting past the end → empty', size + 1, 5, size, size],
        ['starting far past the end → empty', size * 1_000_000, 10, size, size],
      ];
      for (const [label, offset, length, start, end] of cases) {
        it(label, async () => {
          await setup();
          const got = await s().getRange(key, offset, length);
          assertBytes(got, body.subarray(start, end), `getRange(${offset}, ${length})`);
        });
      }

      it('reads every range of an empty object as empty', async () => {
        await setup();
        for (const [offset, length] of [
          [0, 0],
          [0, 1],
          [0, 100],
          [1, 1],
        ] as const) {
          assertBytes(
            await s().getRange(emptyKey, offset, length),
            Buffer.alloc(0),
            `getRange(${offset}, ${length})`,
          );
        }
      });

      it('reads consecutive ranges that add up to the object', async () => {
        await setup();
        const pieces: Buffer[] = [];
        for (let off = 0; off < size; off += 77) pieces.push(await s().getRange(key, off, 77));
        assertBytes(Buffer.concat(pieces), body, 'concatenated ranges');
      });

      it('rejects a negative or non-integer offset or length with InvalidInputError, on existing and missing keys', async () => {
        await setup();
        const bad: [number, number][] = [
          [-1, 1],
          [0, -1],
          [-5, -5],
          [Number.NaN, 1],
          [0, Number.NaN],
          [1.5, 1],
          [0, 2.5],
        ];
        for (const k of [key, `${b}missing`]) {
          for (const [offset, length] of bad) {
            await assertRejects(
              () => s().getRange(k, offset, length),
              InvalidInputError,
              `getRange(${JSON.stringify(k)}, ${offset}, ${length})`,
            );
          }
        }
      });
    });

    describe('missing objects', () => {
      const b = base('missing');
      it('get of a missing key rejects with NotFoundError naming the key', async () => {
        const key = `${b}nothing-here`;
        const e = await assertRejects(() => s().get(key), NotFoundError, 'get of a missing key');
        assertNamesKey(e, key);
      });

      it('getRange of a missing key rejects with NotFoundError, also for length 0 and offsets past any end', async () => {
        const key = `${b}nothing-here`;
        for (const [offset, length] of [
          [0, 10],
          [0, 0],
          [10, 10],
          [1_000_000, 1],
        ] as const) {
          const e = await assertRejects(
            () => s().getRange(key, offset, length),
            NotFoundError,
            `getRange(missing, ${offset}, ${length})`,
          );
          assertNamesKey(e, key);
        }
      });

      it('head of a missing key rejects with NotFoundError naming the key', async () => {
        const key = `${b}nothing-here`;
        const e = await assertRejects(() => s().head(key), NotFoundError, 'head of a missing key');
        assertNamesKey(e, key);
      });

      it('a key that is only a prefix of other keys ("a directory") is not an object', async () => {
        const dir = `${b}dir`;
        const child = `${dir}/child`;
        await s().put(child, Buffer.from('child'));
        await assertRejects(() => s().get(dir), NotFoundError, 'get of a "directory"');
        await assertRejects(() => s().getRange(dir, 0, 1), NotFoundError, 'getRange of a "directory"');
        await assertRejects(() => s().head(dir), NotFoundError, 'head of a "directory"');
        await s().delete([dir]);
        assertBytes(
          await s().get(child),
          Buffer.from('child'),
          'the child after deleting its "directory" key',
        );
        assert.deepEqual(await collectKeys(s(), dir), [child]);
      });

      it('a key below an existing object is not an object', async () => {
        const file = `${b}file`;
        const below = `${file}/child`;
        await s().put(file, Buffer.from('file'));
        await assertRejects(() => s().get(below), NotFoundError, 'get below an object');
        await assertRejects(() => s().getRange(below, 0, 1), NotFoundError, 'getRange below an object');
        await assertRejects(() => s().head(below), NotFoundError, 'head below an object');
        assert.deepEqual(await collectKeys(s(), `${file}/`), [], 'listing below an object');
        await s().delete([below]);
        assertBytes(await s().get(file), Buffer.from('file'), 'the object after deleting a key below it');
      });

      it('a deleted object is gone for get, getRange, head and listPage', async () => {
        const key = `${b}deleted`;
        await s().put(key, Buffer.from('soon gone'));
        assert.deepEqual(await collectKeys(s(), key), [key]);
        await s().delete([key]);
        await assertRejects(() => s().get(key), NotFoundError, 'get after delete');
        await assertRejects(() => s().getRange(key, 0, 1), NotFoundError, 'getRange after delete');
        await assertRejects(() => s().head(key), NotFoundError, 'head after delete');
        const page = await s().listPage(key);
        assert.deepEqual(page.objects, [], 'listPage after delete');
        assert.equal(page.nextStartAfter, undefined, 'nextStartAfter after delete');
      });
    });

    describe('head', () => {
      const b = base('head');
      it('reports the key, the size and a plausible lastModified', async () => {
        for (const size of [0, 1, 12345]) {
          const key = `${b}sized-${size}`;
          await s().put(key, randomBuffer(size));
          const info = await s().head(key);
          assert.equal(info.key, key, 'head().key');
          assert.equal(info.size, size, 'head().size');
          assertPlausibleDate(info.lastModified, `head(${key}).lastModified`);
        }
      });

      it('put, head and listPage report the same etag, and new content changes it', {
        skip: caps.etag ? false : 'capabilities.etag is false',
      }, async () => {
        const key = `${b}etag`;
        const first = await s().put(key, Buffer.from('first version'));
        assert.equal(typeof first.etag, 'string', 'put().etag');
        assert.ok((first.etag ?? '').length > 0, 'put().etag is not empty');
        const h1 = await s().head(key);
        assert.equal(h1.etag, first.etag, 'head().etag equals put().etag');
        const listed = (await s().listPage(key)).objects.find((o) => o.key === key);
        assert.ok(listed, 'listPage finds the key');
        if (listed.etag !== undefined)
          assert.equal(listed.etag, first.etag, 'listPage etag equals put().etag');
        const second = await s().put(key, Buffer.from('second version, longer'));
        assert.equal(typeof second.etag, 'string', 'put().etag after overwrite');
        assert.notEqual(second.etag, first.etag, 'the etag changes with the content');
        assert.equal((await s().head(key)).etag, second.etag, 'head().etag after overwrite');
      });
    });

    describe('listPage', () => {
      it('lists in ascending UTF-8 byte order across case, punctuation, "/", directories and non-BMP characters', async () => {
        const b = base('order');
        const keys = orderedKeyNames(caps.nestedKeys).map((n) => b + n);
        assert.deepEqual(sortUtf8(keys), keys, 'test setup: the expected order is the UTF-8 byte order');
        await mapLimit(shuffle(keys), parallelism, (k) => s().put(k, Buffer.from(k)));
        assert.deepEqual(await collectKeys(s(), b), keys, 'listAll order');
        const page = await s().listPage(b);
        assert.deepEqual(
          page.objects.map((o) => o.key),
          keys,
          'one page with the default limit',
        );
        assert.deepEqual(await collectKeys(s(), b, 1), keys, 'pages of one key');
        assert.deepEqual(await collectKeys(s(), b, 3), keys, 'pages of three keys');
      });

      it('startAfter: lists strictly after any string, whether or not it is a key', async () => {
        const b = base('after');
        const names = orderedKeyNames(caps.nestedKeys);
        const keys = names.map((n) => b + n);
        await mapLimit(keys, parallelism, (k) => s().put(k, Buffer.from(k)));
        for (let i = 0; i < keys.length; i++) {
          const got = (await s().listPage(b, { startAfter: keys[i] })).objects.map((o) => o.key);
          assert.deepEqual(got, keys.slice(i + 1), `startAfter ${JSON.stringify(keys[i])}`);
        }
        const probes = [
          '',
          b,
          `${run}a`,
          `${b}k`,
          `${b}k/`,
          `${b}k/1.d`,
          `${b}k/1.d/z`,
          `${b}k/2`,
          `${b}k/2/`,
          `${b}k/2/x/`,
          `${b}k/3`,
          `${b}kB`,
          `${b}k\u00ff`,
          // U+FFFF sorts after every surrogate in UTF-16 but before U+10000 in UTF-8.
          `${b}k\uffff`,
          `${b}k\u{1F5FF}`,
          `${b}k\u{1F600}`,
          `${b}zzz`,
          `${run}zzz`,
        ];
        for (const startAfter of probes) {
          const page = await s().listPage(b, { startAfter });
          const expected = keys.filter((k) => compareUtf8(k, startAfter) > 0);
          assert.deepEqual(
            page.objects.map((o) => o.key),
            expected,
            `startAfter ${JSON.stringify(startAfter)}`,
          );
          if (expected.length === 0)
            assert.equal(page.nextStartAfter, undefined, 'no nextStartAfter past the end');
        }
        assert.deepEqual(
          (await s().listPage(b, { startAfter: `${b}k\uffff` })).objects.map((o) => o.key),
          [`${b}k\u{10000}`, `${b}k\u{1F600}`],
          'startAfter U+FFFF: the non-BMP keys follow (UTF-16 order would drop them)',
        );
        for (const limit of [1, 2, 5]) {
          const got = await collectKeys(s(), b, limit, keys[2]);
          assert.deepEqual(got, keys.slice(3), `pages of ${limit} after ${JSON.stringify(keys[2])}`);
        }
      });

      it('filters by prefix, including prefixes that are strict string prefixes of other keys', async () => {
        const b = base('pfx');
        const names = [
          'AB',
          'a',
          'a_c',
          'aa',
          'ab',
          'ab%',
          'ab-d',
          'ab.e/f',
          'ab0',
          'abZ',
          'abc',
          'abd/c',
          'ac',
          'b/ab',
        ];
        const keys = names.map((n) => b + n);
        const siblings = [`${run}pfx-sibling/ab`, `${run}pfx2`, `${run}pfx.x`, `${run}pf`];
        await mapLimit([...keys, ...siblings], parallelism, (k) => s().put(k, Buffer.from(k)));
        const expect = (prefix: string, expected: string[]) => async () => {
          assert.deepEqual(sortUtf8(expected), expected, 'test setup: expected keys are sorted');
          assert.deepEqual(await collectKeys(s(), prefix), expected, `prefix ${JSON.stringify(prefix)}`);
          assert.deepEqual(
            await collectKeys(s(), prefix, 2),
            expected,
            `prefix ${JSON.stringify(prefix)}, limit 2`,
          );
        };
        const k = (...ns: string[]) => ns.map((n) => b + n);
        await expect(b, sortUtf8(keys))();
        await expect(`${b}ab`, k('ab', 'ab%', 'ab-d', 'ab.e/f', 'ab0', 'abZ', 'abc', 'abd/c'))();
        await expect(
          `${b}a`,
          k('a', 'a_c', 'aa', 'ab', 'ab%', 'ab-d', 'ab.e/f', 'ab0', 'abZ', 'abc', 'abd/c', 'ac'),
        )();
        await expect(`${b}a_`, k('a_c'))();
        await expect(`${b}ab%`, k('ab%'))();
        await expect(`${b}ab.`, k('ab.e/f'))();
        await expect(`${b}ab.e/`, k('ab.e/f'))();
        await expect(`${b}ab.e/f`, k('ab.e/f'))();
        await expect(`${b}ab.e/f/`, [])();
        await expect(`${b}abd`, k('abd/c'))();
        await expect(`${b}abd/`, k('abd/c'))();
        await expect(`${b}b/`, k('b/ab'))();
        await expect(`${b}A`, k('AB'))();
        await expect(`${b}ab/`, [])();
        await expect(`${b}x`, [])();
        await expect(`${b}nothing/`, [])();
        await expect(`${run}pfx`, sortUtf8([...keys, `${run}pfx-sibling/ab`, `${run}pfx2`, `${run}pfx.x`]))();
        await expect(`${run}pf`, sortUtf8([...keys, ...siblings]))();
      });

      it('returns no objects and no nextStartAfter for a prefix with no keys', async () => {
        for (const prefix of [
          `${run}no-such-prefix/`,
          `${run}no-such-prefix`,
          `${run}no/such/deep/prefix/`,
        ]) {
          const page = await s().listPage(prefix, { limit: 10 });
          assert.deepEqual(page.objects, [], `objects for ${prefix}`);
          assert.equal(page.nextStartAfter, undefined, `nextStartAfter for ${prefix}`);
        }
      });

      it('pages with limit: each key exactly once, no page over the limit, nextStartAfter chaining to the end', async () => {
        const b = base('pages');
        const shapes = ['x', 'x-', 'x/', 'x.', 'y/z/'];
        const keys = sortUtf8(
          Array.from({ length: 25 }, (_, i) => `${b}${shapes[i % shapes.length]}${pad(i, 3)}`),
        );
        await mapLimit(keys, parallelism, (k) => s().put(k, Buffer.from(k)));
        for (const limit of [1, 2, 7, 24, 25, 26, 1000]) {
          const pages = await collectPages(s(), b, limit);
          const all = pages.flatMap((p) => p.objects.map((o) => o.key));
          assert.deepEqual(all, keys, `limit ${limit}: every key exactly once, in order`);
          pages.forEach((p, i) => {
            assert.ok(p.objects.length <= limit, `limit ${limit}: page ${i} has ${p.objects.length} objects`);
          });
          if (limit < keys.length) {
            assert.ok(
              pages.length >= Math.ceil(keys.length / limit),
              `limit ${limit}: at least ceil(n/limit) pages`,
            );
            assert.notEqual(
              pages[0]?.nextStartAfter,
              undefined,
              `limit ${limit}: more keys follow the first page, so it has nextStartAfter`,
            );
          }
        }
      });

      it('reports the size of every listed object', async () => {
        const b = base('sizes');
        const sizes = [0, 1, 2, 1000, 65_537];
        const keys = sizes.map((n) => `${b}${pad(n, 6)}`);
        await mapLimit(keys, parallelism, (k, i) => s().put(k, randomBuffer(sizes[i] ?? 0)));
        const objects = await collectObjects(s(), b);
        assert.deepEqual(
          objects.map((o) => [o.key, o.size]),
          keys.map((k, i) => [k, sizes[i]]),
        );
        for (const o of objects) {
          if (o.lastModified !== undefined) assertPlausibleDate(o.lastModified, `${o.key} lastModified`);
        }
      });

      it('listAll walks every page', async () => {
        const b = base('listall');
        const keys = Array.from({ length: 12 }, (_, i) => `${b}${i % 2 ? 'odd/' : ''}${pad(i, 2)}`);
        await mapLimit(keys, parallelism, (k) => s().put(k, Buffer.from('x')));
        const got: string[] = [];
        for await (const o of listAll(s(), b, { limit: 5 })) got.push(o.key);
        assert.deepEqual(got, sortUtf8(keys));
      });

      it('rejects invalid prefixes with InvalidInputError', async () => {
        for (const prefix of ['/abs', '../', `${run}a//`, `${run}../x`, `${run}a/./`, `${run}x\u0000`]) {
          await assertRejects(
            () => s().listPage(prefix),
            InvalidInputError,
            `listPage(${JSON.stringify(prefix)})`,
          );
        }
      });

      it('an empty prefix lists in order within the limit', async () => {
        await s().put(`${run}empty-prefix-probe`, Buffer.from('x'));
        const page = await s().listPage('', { limit: 5 });
        assert.ok(page.objects.length <= 5, 'page over the limit');
        const keys = page.objects.map((o) => o.key);
        assert.deepEqual(keys, sortUtf8(keys), 'order');
        assert.ok(keys.length > 0, 'the store holds at least the probe key');
        const next = await s().listPage('', { startAfter: `${run}empty-prefix-probd`, limit: 1 });
        assert.deepEqual(
          next.objects.map((o) => o.key),
          [`${run}empty-prefix-probe`],
          'the probe key, found with an empty prefix, startAfter and limit 1',
        );
      });
    });

    describe('nested keys', () => {
      const b = base('nested');
      if (caps.nestedKeys) {
        it('a key and keys below it coexist and are listed key first', async () => {
          const keys = [`${b}n`, `${b}n-a`, `${b}n/a`, `${b}n/a/b`, `${b}n0`];
          await mapLimit(keys, parallelism, (k) => s().put(k, Buffer.from(k)));
          assert.deepEqual(await collectKeys(s(), b), keys);
          assert.deepEqual(await collectKeys(s(), `${b}n/`), [`${b}n/a`, `${b}n/a/b`]);
          for (const k of keys) assertBytes(await s().get(k), Buffer.from(k), k);
          await s().delete([`${b}n`, `${b}n/a`]);
          assert.deepEqual(await collectKeys(s(), b), [`${b}n-a`, `${b}n/a/b`, `${b}n0`]);
        });
      } else {
        it('a put conflicting with keys below it rejects with PermanentError and changes nothing', async () => {
          const child = `${b}dir/child`;
          await s().put(child, Buffer.from('child'));
          await assertRejects(
            () => s().put(`${b}dir`, Buffer.from('x')),
            PermanentError,
            'put of a "directory" key',
          );
          assertBytes(await s().get(child), Buffer.from('child'), 'the child after the rejected put');
          assert.deepEqual(await collectKeys(s(), `${b}dir`), [child]);
          await s().delete([child]);
          await s().put(`${b}dir`, Buffer.from('now a key'));
          assertBytes(
            await s().get(`${b}dir`),
            Buffer.from('now a key'),
            'the key after its children were deleted',
          );
        });
        it('a put below an existing key rejects with PermanentError and changes nothing', async () => {
          const file = `${b}file`;
          await s().put(file, Buffer.from('file'));
          for (const below of [`${file}/child`, `${file}/deeper/child`]) {
            await assertRejects(() => s().put(below, Buffer.from('x')), PermanentError, `put of ${below}`);
          }
          assertBytes(await s().get(file), Buffer.from('file'), 'the key after the rejected put');
          assert.deepEqual(await collectKeys(s(), file), [file]);
          await s().delete([file]);
          await s().put(`${file}/child`, Buffer.from('child'));
          assertBytes(
            await s().get(`${file}/child`),
            Buffer.from('child'),
            'the child once its parent key was deleted',
          );
        });
      }
    });

    describe('concurrency', () => {
      const b = base('concurrent');
      const count = parallelism * 4;
      it(`stores ${count} different keys written in parallel`, async () => {
        const entries = Array.from({ length: count }, (_, i) => ({
          key: `${b}many/${i % 3 === 0 ? `d${i % 5}/` : ''}${pad(i, 4)}`,
          body: randomBuffer((i * 997) % (64 * KiB)),
        }));
        const results = await Promise.all(
          entries.map((e, i) => s().put(e.key, i % 2 ? e.body : splitParts(e.body, [7, 1000]))),
        );
        results.forEach((r, i) => {
          assert.equal(r.size, entries[i]?.body.length, `put result size of ${entries[i]?.key}`);
        });
        await mapLimit(entries, parallelism, async (e) => {
          assertBytes(await s().get(e.key), e.body, e.key);
        });
        const listed = await collectObjects(s(), `${b}many/`);
        assert.deepEqual(
          listed.map((o) => [o.key, o.size]),
          sortUtf8(entries.map((e) => e.key)).map((k) => [k, entries.find((e) => e.key === k)?.body.length]),
        );
      });

      it(`same key, ${parallelism} parallel writers: the object is exactly one of the bodies, and readers only ever see whole objects`, async () => {
        const key = `${b}same`;
        const initial = randomBuffer(100 * KiB);
        await s().put(key, initial);
        const bodies = Array.from({ length: parallelism }, (_, i) => randomBuffer(256 * KiB + i * 4099));
        const known = new Map<string, number>([[sha256(initial), initial.length]]);
        bodies.forEach((body, i) => {
          known.set(sha256(body), i);
        });
        const sizes = new Set([initial.length, ...bodies.map((body) => body.length)]);
        let done = false;
        const seen: string[] = [];
        const reader = async () => {
          do {
            const got = await s().get(key);
            assert.ok(known.has(sha256(got)), `a reader saw ${got.length} bytes that match no written body`);
            seen.push(sha256(got));
            const info = await s().head(key);
            assert.ok(sizes.has(info.size), `head saw size ${info.size}, which no writer wrote`);
            const head = await s().getRange(key, 0, 64);
            assert.ok(
              [initial, ...bodies].some((body) => body.subarray(0, 64).equals(head)),
              'getRange saw a prefix that matches no written body',
            );
          } while (!done);
        };
        const readers = Promise.all(Array.from({ length: 4 }, () => reader()));
        readers.catch(() => {}); // awaited below; this only avoids an unhandled-rejection report meanwhile
        const writers = bodies.map((body, i) =>
          s().put(key, i % 2 ? body : splitParts(body, [1, 4096, 65_536])),
        );
        try {
          await Promise.all(writers);
        } finally {
          done = true;
        }
        await readers;
        assert.ok(seen.length >= 4, 'every reader read at least once');
        const final = await s().get(key);
        const winner = known.get(sha256(final));
        assert.ok(
          typeof winner === 'number' && bodies[winner]?.equals(final),
          `final object (${final.length} bytes) is not exactly one of the written bodies`,
        );
        assert.equal((await s().head(key)).size, final.length, 'head size of the final object');
        const listed = await collectObjects(s(), key);
        assert.deepEqual(
          listed.map((o) => [o.key, o.size]),
          [[key, final.length]],
          'listed once, with the final size',
        );
      });
    });

    describe('overwrite', () => {
      const b = base('overwrite');
      it('replaces a large object with a small one, leaving no trailing bytes', async () => {
        const key = `${b}shrink`;
        await s().put(key, randomBuffer(2 * MiB));
        const small = Buffer.from('small');
        const r = await s().put(key, small);
        assert.equal(r.size, small.length);
        await assertObject(s(), key, small);
        assertBytes(await s().getRange(key, 0, 1000), small, 'getRange past the new end');
        assertBytes(
          await s().getRange(key, 10, 10),
          Buffer.alloc(0),
          'getRange past the new end, beyond old data',
        );
      });

      it('replaces a small object with a large one', async () => {
        const key = `${b}grow`;
        await s().put(key, Buffer.from('tiny'));
        const big = randomBuffer(3 * MiB + 5);
        await s().put(key, splitParts(big, [MiB, MiB]));
        await assertObject(s(), key, big);
      });

      it('replaces content with an empty object', async () => {
        const key = `${b}empty`;
        await s().put(key, randomBuffer(1000));
        await s().put(key, Buffer.alloc(0));
        await assertObject(s(), key, Buffer.alloc(0));
        assert.deepEqual(
          (await collectObjects(s(), key)).map((o) => [o.key, o.size]),
          [[key, 0]],
        );
      });
    });

    describe('delete', () => {
      const b = base('delete');
      it('ignores missing keys and an empty list', async () => {
        const ib = `${b}ignore/`;
        const keep = `${ib}keep`;
        await s().put(keep, Buffer.from('keep'));
        await s().delete([]);
        await s().delete([`${ib}missing-1`, `${ib}missing/deep/2`, `${ib}kee`, `${ib}keep/below`]);
        assertBytes(await s().get(keep), Buffer.from('keep'), 'an unrelated object');
        assert.deepEqual(await collectKeys(s(), ib), [keep]);
      });

      it('deletes only the given keys', async () => {
        const keys = ['a', 'b', 'c', 'c/d', 'e'].map((n) => `${b}only/${n}`);
        const existing = caps.nestedKeys ? keys : keys.filter((k) => !k.endsWith('/c'));
        await mapLimit(existing, parallelism, (k) => s().put(k, Buffer.from(k)));
        await s().delete([`${b}only/a`, `${b}only/c/d`]);
        const left = existing.filter((k) => !k.endsWith('/a') && !k.endsWith('/c/d'));
        assert.deepEqual(await collectKeys(s(), `${b}only/`), left);
        for (const k of left) assertBytes(await s().get(k), Buffer.from(k), k);
      });

      it('is idempotent: deleting twice, and duplicates in one call', async () => {
        const key = `${b}twice`;
        await s().put(key, Buffer.from('x'));
        await s().delete([key, key]);
        await assertRejects(() => s().head(key), NotFoundError, 'head after delete');
        await s().delete([key]);
        await assertRejects(() => s().get(key), NotFoundError, 'get after a second delete');
      });

      it(`deletes ${bulkDeleteCount} keys (plus missing ones) in one call`, async () => {
        const bb = `${b}bulk/`;
        const keys = Array.from({ length: bulkDeleteCount }, (_, i) => `${bb}${i % 3}/${pad(i, 6)}`);
        await mapLimit(keys, parallelism, (k, i) =>
          s().put(k, i % 2 ? Buffer.alloc(0) : Buffer.from([i & 255])),
        );
        const first = await s().listPage(bb);
        assert.ok(
          first.objects.length > 0 && first.objects.length <= 1000,
          'default page size is at most 1000',
        );
        if (bulkDeleteCount > 1000) {
          assert.notEqual(first.nextStartAfter, undefined, 'more keys than one default page: nextStartAfter');
        }
        assert.deepEqual(await collectKeys(s(), bb), sortUtf8(keys), 'every key was written');
        await s().delete([...shuffle(keys), `${bb}missing`, `${bb}0/missing`]);
        assert.deepEqual(await collectKeys(s(), bb), [], 'nothing left after the bulk delete');
        for (const k of [keys[0], keys[Math.floor(keys.length / 2)], keys[keys.length - 1]]) {
          await assertRejects(
            () => s().head(k as string),
            NotFoundError,
            `head of ${k} after the bulk delete`,
          );
        }
      });

      it('rejects the whole call with InvalidInputError when any key is invalid, deleting nothing', async () => {
        const key = `${b}survivor`;
        await s().put(key, Buffer.from('alive'));
        await assertRejects(
          () => s().delete([key, `${b}a//b`]),
          InvalidInputError,
          'delete([valid, invalid])',
        );
        await assertRejects(
          () => s().delete([`../${runId}`, key]),
          InvalidInputError,
          'delete([invalid, valid])',
        );
        assertBytes(await s().get(key), Buffer.from('alive'), 'the valid key was not deleted');
      });
    });

    describe('invalid keys', () => {
      for (const [label, key] of invalidKeys(run, runId)) {
        it(`rejects ${label} in put, get, getRange, head and delete with InvalidInputError`, async () => {
          const what = (op: string) => `${op}(${label})`;
          await assertRejects(() => s().put(key, Buffer.from('x')), InvalidInputError, what('put'));
          await assertRejects(() => s().put(key, [Buffer.from('x')]), InvalidInputError, what('put parts'));
          await assertRejects(() => s().get(key), InvalidInputError, what('get'));
          await assertRejects(() => s().getRange(key, 0, 1), InvalidInputError, what('getRange'));
          await assertRejects(() => s().head(key), InvalidInputError, what('head'));
          await assertRejects(() => s().delete([key]), InvalidInputError, what('delete'));
        });
      }
    });

    describe('abort', () => {
      const b = base('abort');
      it('put with an already aborted signal rejects and creates nothing', async () => {
        const key = `${b}never`;
        const ac = new AbortController();
        ac.abort();
        await assertRejects(
          () => s().put(key, Buffer.from('x'), { signal: ac.signal }),
          Error,
          'aborted put',
        );
        await assertRejects(() => s().head(key), NotFoundError, 'head after an aborted put');
        assert.deepEqual(await collectKeys(s(), key), [], 'listing after an aborted put');
      });

      it('put with an already aborted signal leaves an existing object unchanged', async () => {
        const key = `${b}existing`;
        const body = randomBuffer(1000);
        await s().put(key, body);
        const ac = new AbortController();
        ac.abort();
        await assertRejects(
          () => s().put(key, randomBuffer(500), { signal: ac.signal }),
          Error,
          'aborted overwrite',
        );
        await assertObject(s(), key, body);
      });

      it('put aborted while writing either completes or leaves the old object, and nothing else', async () => {
        const key = `${b}mid/obj`;
        const old = randomBuffer(1000);
        await s().put(key, old);
        const body = randomBuffer(16 * MiB);
        const ac = new AbortController();
        const p = s().put(
          key,
          splitParts(
            body,
            Array.from({ length: 15 }, () => MiB),
          ),
          { signal: ac.signal },
        );
        setImmediate(() => ac.abort());
        const outcome = await p.then(
          () => 'completed' as const,
          () => 'aborted' as const,
        );
        await assertObject(s(), key, outcome === 'completed' ? body : old);
        assert.deepEqual(await collectKeys(s(), `${b}mid/`), [key], 'no other keys appeared');
      });
    });

    describe('lifecycle', () => {
      it('close() is idempotent, sequentially and concurrently', async () => {
        const own = await created(factory);
        try {
          const key = `${run}lifecycle/probe`;
          await own.storage.put(key, Buffer.from('probe'));
          assertBytes(
            await own.storage.get(key),
            Buffer.from('probe'),
            'a second instance on the same store',
          );
          await own.storage.delete([key]);
          assert.equal(await own.storage.close(), undefined);
          assert.equal(await own.storage.close(), undefined);
          assert.deepEqual(await Promise.all([own.storage.close(), own.storage.close()]), [
            undefined,
            undefined,
          ]);
        } finally {
          await own.storage.close();
          await own.cleanup?.();
        }
      });
    });

    describeConditionalPut(
      s,
      base('conditional'),
      caps.conditionalPut === true,
      options.skipConditionalPutRaces,
    );

    if (options.additionalTests) {
      describe('adapter-specific', () => {
        options.additionalTests?.(suiteContext);
      });
    }
  });
}

// ---------------------------------------------------------------------------------- test data

/** Key names under one directory whose UTF-8 byte order differs from UTF-16, case-insensitive and directory-walk order. Already sorted. */
function orderedKeyNames(nestedKeys: boolean): string[] {
  const names = [
    ...(nestedKeys ? ['k'] : []),
    'k x',
    'k!',
    'k-1',
    'k.1',
    'k/1',
    'k/1-x',
    'k/1.d/y',
    ...(nestedKeys ? ['k/2'] : []),
    'k/2-x',
    'k/2/x',
    'k/2x',
    'k0',
    'kA',
    'kZ',
    'k_1',
    'ka',
    'kz',
    'k~1',
    'k\u00e9',
    'k\ue000',
    'k\uff5e',
    'k\u{10000}',
    'k\u{1F600}',
  ];
  return names;
}

function specialKeyNames(): string[] {
  return [
    'space in name',
    'dir with space/file with space',
    'plus+sign',
    'percent%20encoded',
    'percent%2Fslash',
    'percent%',
    '%2e%2e/%2e%2e/escape-attempt',
    'question?mark',
    'hash#tag',
    'amp&eq=1',
    'semi;colon:at@',
    "bang!star*quote'(paren)",
    'tilde~',
    'brackets[x]{y}',
    'angle<x>',
    'dquote"x',
    'pipe|caret^grave`',
    'comma,dollar$',
    '.hidden',
    '..double-dot-prefix',
    '.../three-dots',
    'dots.in.name',
    'unicode-\u00e9-\u00fc-\u00df',
    'cjk-\u65e5\u672c\u8a9e',
    'emoji-\u{1F600}',
    'norm-\u00e9',
    'norm-e\u0301',
    'UPPER',
    'upper',
  ];
}

function invalidKeys(run: string, runId: string): [string, string][] {
  return [
    ['an empty key', ''],
    ['a leading "../"', `../${runId}`],
    ['a ".." segment in the middle', `${run}a/../b`],
    ['".." alone', '..'],
    ['"." alone', '.'],
    ['a "." segment', `${run}a/./b`],
    ['a leading "./"', `./${runId}`],
    ['a trailing "/.."', `${run}a/..`],
    ['an absolute path', `/${run}abs`],
    ['"//"', `${run}a//b`],
    ['a trailing "/"', `${run}dir/`],
    ['a backslash', `${run}a\\b`],
    ['"..\\"', `${run}..\\x`],
    ['a NUL character', `${run}a\u0000b`],
    ['a newline', `${run}a\nb`],
    ['a carriage return', `${run}a\rb`],
    ['a tab', `${run}a\tb`],
    ['a 0x1f control character', `${run}a\u001fb`],
    ['a DEL character', `${run}a\u007fb`],
    [`${MAX_KEY_BYTES + 1} ASCII bytes`, run + 'x'.repeat(MAX_KEY_BYTES + 1 - run.length)],
    [
      `${MAX_KEY_BYTES + 2} bytes in ${(MAX_KEY_BYTES + 2) / 2} two-byte characters`,
      '\u00e9'.repeat((MAX_KEY_BYTES + 2) / 2),
    ],
    ['a number', 42 as unknown as string],
    ['undefined', undefined as unknown as string],
  ];
}

/** `prefix` followed by `/`-separated segments of at most 200 bytes with 2-byte characters, `bytes` long in total. */
function keyOfBytes(prefix: string, bytes: number): string {
  let key = prefix;
  let rem = bytes - Buffer.byteLength(key);
  let first = true;
  while (rem > 0) {
    if (!first) {
      key += '/';
      rem -= 1;
    }
    first = false;
    let len = Math.min(200, rem);
    if (rem - len === 1) len -= 1;
    key += '\u00e9'.repeat(Math.floor(len / 2)) + (len % 2 ? 'a' : '');
    rem -= len;
  }
  validateKey(key);
  return key;
}

// ---------------------------------------------------------------------------------- helpers

/** The factory's context, checked, with its storage guarded. */
async function created(factory: StorageTestFactory): Promise<StorageTestContext> {
  const context = await factory();
  assert.ok(context && typeof context === 'object', 'the factory must return { storage, cleanup? }');
  assert.ok(context.storage, 'the factory must return { storage }');
  return { ...context, storage: guardStorage(context.storage) };
}

function positiveInt(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`describeObjectStorage: ${field} must be a positive integer, got ${v}`);
  }
  return v;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function randomBuffer(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  if (size > 0) randomFillSync(b);
  return b;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Parts of `body` with the given sizes (capped at what is left), then the rest. */
function splitParts(body: Buffer, sizes: readonly number[]): Buffer[] {
  const parts: Buffer[] = [];
  let off = 0;
  for (const size of sizes) {
    const end = Math.min(body.length, off + size);
    parts.push(body.subarray(off, end));
    off = end;
  }
  parts.push(body.subarray(off));
  return parts;
}

/** Orders strings by their UTF-8 bytes (= code points), the order `listPage` must return keys in. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sortUtf8(keys: readonly string[]): string[] {
  return [...keys].sort(compareUtf8);
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomBytes(4).readUInt32LE() % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface Page {
  objects: ObjectInfo[];
  nextStartAfter?: string;
}

/** Follows `nextStartAfter` to the end, checking order and progress between pages. */
async function collectPages(
  storage: ObjectStorage,
  prefix: string,
  limit?: number,
  startAfter?: string,
): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor = startAfter;
  let previousLast: string | undefined = startAfter;
  for (let i = 0; ; i++) {
    assert.ok(i < 100_000, `listPage(${prefix}) never ended`);
    const page = await storage.listPage(
      prefix,
      limit === undefined ? { startAfter: cursor } : { startAfter: cursor, limit },
    );
    assert.ok(Array.isArray(page.objects), 'listPage().objects is an array');
    for (const o of page.objects) {
      assert.equal(typeof o.key, 'string', 'listed key');
      assert.ok(
        o.key.startsWith(prefix),
        `listed key ${JSON.stringify(o.key)} does not start with ${JSON.stringify(prefix)}`,
      );
      assert.ok(Number.isSafeInteger(o.size) && o.size >= 0, `listed size of ${o.key}: ${o.size}`);
      if (previousLast !== undefined) {
        assert.ok(
          compareUtf8(previousLast, o.key) < 0,
          `listing out of order or repeated: ${JSON.stringify(o.key)} after ${JSON.stringify(previousLast)}`,
        );
      }
      previousLast = o.key;
    }
    pages.push(page);
    if (page.nextStartAfter === undefined) return pages;
    const last = page.objects.at(-1)?.key;
    if (last !== undefined) {
      assert.ok(
        compareUtf8(page.nextStartAfter, last) >= 0,
        `nextStartAfter ${JSON.stringify(page.nextStartAfter)} is before the page's last key ${JSON.stringify(last)}`,
      );
    }
    if (cursor !== undefined) {
      assert.ok(
        compareUtf8(page.nextStartAfter, cursor) > 0,
        `nextStartAfter ${JSON.stringify(page.nextStartAfter)} does not advance past ${JSON.stringify(cursor)}`,
      );
    }
    cursor = page.nextStartAfter;
  }
}

async function collectObjects(storage: ObjectStorage, prefix: string, limit?: number, startAfter?: string) {
  return (await collectPages(storage, prefix, limit, startAfter)).flatMap((p) => p.objects);
}

async function collectKeys(storage: ObjectStorage, prefix: string, limit?: number, startAfter?: string) {
  return (await collectObjects(storage, prefix, limit, startAfter)).map((o) => o.key);
}

function describeValue(v: unknown): string {
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  if (v instanceof Error) return `${v.constructor.name}: ${v.message}`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    return String(v);
  }
}

function describeError(e: unknown): string {
  if (e instanceof BargeError) return `${e.constructor.name} (code ${e.code}): ${e.message}`;
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}`;
  return `a thrown non-Error value ${describeValue(e)}`;
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/**
 * Calls `fn` and requires a rejected promise (not a synchronous throw, not a resolution) with an
 * instance of `cls`; for core error classes also checks `code` and `retryable`.
 */
async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: ErrorClass<E>,
  what: string,
): Promise<E> {
  let promise: Promise<unknown>;
  try {
    promise = fn();
  } catch (e) {
    assert.fail(`${what}: threw synchronously (${describeError(e)}) instead of returning a rejected promise`);
  }
  assert.ok(promise instanceof Promise, `${what}: did not return a promise`);
  let value: unknown;
  try {
    value = await promise;
  } catch (e) {
    if (!(e instanceof cls)) assert.fail(`${what}: expected ${cls.name}, got ${describeError(e)}`);
    if (e instanceof BargeError) {
      const expectedCode = (cls as unknown as { code?: unknown }).code;
      if (typeof expectedCode === 'string') assert.equal(e.code, expectedCode, `${what}: error code`);
      assert.equal(e.name, e.constructor.name, `${what}: error name`);
      assert.ok(e.message.length > 0, `${what}: error message is empty`);
      if (e instanceof NotFoundError || e instanceof InvalidInputError || e instanceof PermanentError) {
        assert.equal(e.retryable, false, `${what}: retryable`);
      }
    }
    return e;
  }
  return assert.fail(`${what}: expected ${cls.name}, but it resolved with ${describeValue(value)}`);
}

function assertNamesKey(e: Error, key: string): void {
  assert.ok(
    e.message.includes(key) || e.message.includes(JSON.stringify(key)),
    `the error message should name the key ${JSON.stringify(key)}: ${e.message}`,
  );
}

function assertBytes(actual: unknown, expected: Buffer, what: string): void {
  assert.ok(Buffer.isBuffer(actual), `${what}: expected a Buffer, got ${describeValue(actual)}`);
  if (actual.length !== expected.length) {
    assert.fail(`${what}: got ${actual.length} bytes, expected ${expected.length}`);
  }
  if (!actual.equals(expected)) {
    let i = 0;
    while (i < actual.length && actual[i] === expected[i]) i++;
    assert.fail(`${what}: ${actual.length} bytes as expected, but they differ from byte ${i} on`);
  }
}

function assertPlausibleDate(d: unknown, what: string): void {
  assert.ok(d instanceof Date, `${what}: expected a Date, got ${describeValue(d)}`);
  assert.ok(!Number.isNaN(d.getTime()), `${what}: invalid Date`);
  const day = 24 * 60 * 60 * 1000;
  assert.ok(
    Math.abs(d.getTime() - Date.now()) < day,
    `${what}: ${d.toISOString()} is not within a day of now`,
  );
}

/** get, head, getRange(0, size) and the listing entry all agree with `body`. */
async function assertObject(storage: ObjectStorage, key: string, body: Buffer): Promise<void> {
  assertBytes(await storage.get(key), body, `get(${JSON.stringify(key)})`);
  const info = await storage.head(key);
  assert.equal(info.key, key, 'head().key');
  assert.equal(info.size, body.length, 'head().size');
  assertBytes(await storage.getRange(key, 0, body.length), body, 'getRange(0, size)');
  const listed = (await storage.listPage(key)).objects.find((o) => o.key === key);
  assert.ok(listed, `listPage(${JSON.stringify(key)}) finds the key`);
  assert.equal(listed.size, body.length, 'listed size');
}

async function assertLargeObject(storage: ObjectStorage, key: string, body: Buffer): Promise<void> {
  const got = await storage.get(key);
  assert.ok(Buffer.isBuffer(got), 'get() returns a Buffer');
  assert.equal(got.length, body.length, 'size of the large object');
  assert.equal(sha256(got), sha256(body), 'sha-256 of the large object');
  assert.equal((await storage.head(key)).size, body.length, 'head().size of the large object');
  const n = body.length;
  assertBytes(await storage.getRange(key, n - 1, 1), body.subarray(n - 1), 'last byte');
  assertBytes(await storage.getRange(key, n - 1, 100), body.subarray(n - 1), 'last byte, range past the end');
  assertBytes(await storage.getRange(key, n, 1), Buffer.alloc(0), 'range at the end');
  const mid = Math.floor(n / 2) - 12_345;
  assertBytes(await storage.getRange(key, mid, MiB + 1), body.subarray(mid, mid + MiB + 1), 'a middle MiB');
  assertBytes(await storage.getRange(key, 0, 10), body.subarray(0, 10), 'first bytes');
}
