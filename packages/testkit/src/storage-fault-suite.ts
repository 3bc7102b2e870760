import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AuthError,
  guardStorage,
  InvalidInputError,
  NotFoundError,
  type ObjectStorage,
  PermanentError,
  TransientError,
} from '@barge/core';
import { type FaultProxy, type RequestMatcher, startFaultProxy } from './fault-proxy.js';
import type { ObjectStorageSuiteContext } from './object-storage-suite.js';

/** The error document style of the backend, as the fault proxy writes it (`ErrorBodyStyle`). */
export type StorageFaultBackend = 's3' | 'gcs' | 'azure';

/** Which proxied requests carry an object's bytes. */
export interface StorageFaultRequests {
  /** The request(s) a small single-request `put` sends, e.g. S3 `{ method: 'PUT' }`. */
  upload: RequestMatcher;
  /** The request a `get`/`getRange` downloads the bytes with, e.g. GCS `{ method: 'GET', url: /alt=media/ }`. */
  download: RequestMatcher;
}

/** An error status the proxy answers with, which the adapter must map to `AuthError` without retrying. */
export interface StorageAuthFault {
  status: number;
  code?: string;
  message?: string;
  /** What the `AuthError` message must match. */
  expect: RegExp;
}

/** What the adapter-specific fault tests registered by `additionalTests` get. */
export interface StorageFaultContext<S extends ObjectStorage> {
  /** The proxy in front of the service (available inside tests and hooks). */
  readonly proxy: FaultProxy;
  /** The instance under test, talking to the service through `proxy`. */
  readonly storage: S;
  /** The suite's context: `key()` and the direct (unproxied) `storage` to check results with. */
  readonly suite: ObjectStorageSuiteContext;
  /** Clears the proxy's faults and request log. */
  reset(): void;
}

export interface StorageFaultSuiteOptions<S extends ObjectStorage> {
  /** The `describeObjectStorage` context the suite runs in (from `additionalTests`). */
  suite: ObjectStorageSuiteContext;
  /** `http://host:port` of the service: the fault proxy forwards there. */
  target: string;
  /** Error document style of the injected 5xx/401/403 answers. */
  backend: StorageFaultBackend;
  /**
   * How many requests one operation makes at most against a server that keeps failing: the
   * instance the factory returns must be configured for it (e.g. S3 `maxAttempts: 4`).
   */
  attempts: number;
  requests: StorageFaultRequests;
  /** The operation and requests of the "gives up after `attempts`" test. Default `get` and `download`. */
  giveUp?: { op: 'get' | 'head'; match: RequestMatcher };
  /** The answers that must become `AuthError`. Default: the backend's usual credential errors. */
  authFaults?: readonly StorageAuthFault[];
  /** Registers adapter-specific fault tests inside the suite, after the shared ones. */
  additionalTests?: (ctx: StorageFaultContext<S>) => void;
}

const DEFAULT_AUTH_FAULTS: Record<StorageFaultBackend, readonly StorageAuthFault[]> = {
  s3: [
    {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
      expect: /InvalidAccessKeyId/,
    },
  ],
  gcs: [401, 403].map((status) => ({
    status,
    message: 'Anonymous caller does not have storage.objects.get access',
    expect: new RegExp(String(status)),
  })),
  azure: [{ status: 403, code: 'AuthenticationFailed', expect: /AuthenticationFailed/ }],
};

/**
 * Fault-injection tests every cloud storage adapter shares, run through `startFaultProxy`:
 * 5xx answers are retried, retries stop after `attempts` with a `TransientError`, connection
 * resets are retried, a body cut short is a `TransientError` (never data), and credential errors
 * are an `AuthError` without retrying. Call it from `describeObjectStorage`'s `additionalTests`:
 *
 * ```ts
 * describeStorageFaults('faults (through the fault proxy)', (url) => new S3Storage({ ...opts, endpoint: url, maxAttempts: 4 }), {
 *   suite: ctx, target: endpoint, backend: 's3', attempts: 4,
 *   requests: { upload: { method: 'PUT' }, download: { method: 'GET' } },
 * });
 * ```
 */
export function describeStorageFaults<S extends ObjectStorage>(
  name: string,
  factory: (proxyUrl: string) => S | Promise<S>,
  options: StorageFaultSuiteOptions<S>,
): void {
  const { suite, backend, attempts, requests } = options;
  const giveUp = options.giveUp ?? { op: 'get', match: requests.download };
  const authFaults = options.authFaults ?? DEFAULT_AUTH_FAULTS[backend];

  describe(name, () => {
    let proxy: FaultProxy | undefined;
    let storage: S | undefined;
    before(async () => {
      proxy = await startFaultProxy({ target: options.target });
      storage = await factory(proxy.url);
    });
    after(async () => {
      await storage?.close();
      await proxy?.close();
    });
    const ctx: StorageFaultContext<S> = {
      get proxy() {
        if (!proxy) throw new Error('describeStorageFaults: proxy is only available inside tests and hooks');
        return proxy;
      },
      get storage() {
        if (!storage)
          throw new Error('describeStorageFaults: storage is only available inside tests and hooks');
        return storage;
      },
      suite,
      reset() {
        ctx.proxy.clearFaults();
        ctx.proxy.clearRequests();
      },
    };

    it('retries 500 and 503 answers: put and get succeed, and the proxy saw the extra requests', async () => {
      ctx.reset();
      const { proxy: p, storage: s } = ctx;
      const key = suite.key('fault/5xx');
      const body = patternBytes(1000);
      p.setFaults([
        { match: requests.upload, times: 1, fault: { kind: 'status', status: 500, body: backend } },
        { match: requests.upload, times: 1, fault: { kind: 'status', status: 503, body: backend } },
      ]);
      await s.put(key, [body.subarray(0, 10), body.subarray(10)]);
      assert.equal(p.requests(requests.upload).length, 3, 'two failed uploads and one that went through');
      assert.ok((await suite.storage.get(key)).equals(body), 'the retried upload stored the whole body');
      p.setFaults({
        match: requests.download,
        times: 2,
        fault: { kind: 'status', status: 503, body: backend },
      });
      assert.ok((await s.get(key)).equals(body));
      assert.equal(p.requests(requests.download).length, 3);
      assert.equal(p.faultsRemaining(), 0);
    });

    it(`gives up after ${attempts} attempts with a TransientError`, async () => {
      ctx.reset();
      const { proxy: p, storage: s } = ctx;
      p.setFaults({ match: giveUp.match, fault: { kind: 'status', status: 503, body: backend } });
      const key = suite.key('fault/5xx');
      const e = await rejectsWith(
        giveUp.op === 'get' ? s.get(key) : s.head(key),
        TransientError,
        `${giveUp.op} against a server that keeps failing`,
      );
      assert.equal(e.retryable, true);
      assert.equal(p.requests(giveUp.match).length, attempts, `attempts = ${attempts}`);
    });

    it('retries connection resets before and after the server handled the request', async () => {
      ctx.reset();
      const { proxy: p, storage: s } = ctx;
      const key = suite.key('fault/reset');
      const body = patternBytes(5000, 7);
      p.setFaults([
        { match: requests.upload, times: 1, fault: { kind: 'reset', phase: 'request' } },
        { match: requests.upload, times: 1, fault: { kind: 'reset', phase: 'response' } },
      ]);
      await s.put(key, body);
      assert.equal(p.requests(requests.upload).length, 3);
      assert.ok((await suite.storage.get(key)).equals(body), 'the retried upload stored the whole body');
      p.setFaults({ match: requests.download, times: 1, fault: { kind: 'reset', phase: 'response' } });
      assert.ok((await s.getRange(key, 100, 50)).equals(body.subarray(100, 150)));
      assert.equal(p.requests(requests.download).length, 2);
    });

    it('a body cut short once (full Content-Length, fewer bytes, or a reset) is a TransientError, never data', async () => {
      ctx.reset();
      const { proxy: p, storage: s } = ctx;
      const key = suite.key('fault/truncated');
      const body = patternBytes(100_000, 3);
      await suite.storage.put(key, body);
      for (const [what, read] of [
        ['get', () => s.get(key)],
        ['getRange', () => s.getRange(key, 50, 5000)],
      ] as const) {
        for (const [how, fault] of [
          ['truncated after 1000 bytes', { kind: 'truncate', afterBytes: 1000 }],
          ['truncated after 10 bytes', { kind: 'truncate', afterBytes: 10 }],
          ['reset in the body', { kind: 'reset', phase: 'body', afterBytes: 500 }],
        ] as const) {
          ctx.reset();
          p.setFaults({ match: requests.download, times: 1, fault });
          await rejectsWith(read(), TransientError, `${what} with a body ${how}`);
          assert.equal(p.faultsRemaining(), 0, `${what} ${how}: the fault was applied`);
          assert.equal(p.requests(requests.download).length, 1, `${what} ${how}: one request, no retry`);
        }
      }
      ctx.reset();
      assert.ok((await s.get(key)).equals(body), 'without faults the read works');
      assert.ok((await s.getRange(key, 50, 5000)).equals(body.subarray(50, 5050)));
    });

    it('maps credential errors to AuthError without retrying', async () => {
      for (const f of authFaults) {
        ctx.reset();
        const { proxy: p, storage: s } = ctx;
        p.setFaults({
          fault: {
            kind: 'status',
            status: f.status,
            body: backend,
            ...(f.code === undefined ? {} : { code: f.code }),
            ...(f.message === undefined ? {} : { message: f.message }),
          },
        });
        const e = await rejectsWith(
          s.get(suite.key('fault/auth')),
          AuthError,
          `get answered with ${f.status}`,
        );
        assert.match(e.message, f.expect);
        assert.equal(p.requests().length, 1, 'not retried');
      }
      ctx.reset();
    });

    options.additionalTests?.(ctx);
  });
}

/** How `describeStorageErrors` gets instances configured for one test. */
export interface StorageErrorSuiteOptions<S extends ObjectStorage> {
  /** The `describeObjectStorage` context the suite runs in (from `additionalTests`). */
  suite: ObjectStorageSuiteContext;
  /** What the store calls a bucket, in test names and messages: `bucket`, `container`. */
  bucketWord: string;
  /** An instance on a bucket that does not exist; the error messages must name `name`. */
  missingBucket: { name: string; create: () => S };
  /** A `put` large enough for the adapter's multipart/resumable/block path: label and size. */
  largePut: { label: string; bytes: number };
  /** An instance that stores keys under `prefix` (plus whatever else the adapter adds to stored names). */
  withPrefix: (prefix: string) => S;
  /** The longest stored name the backend accepts, in bytes. Default 1024. */
  maxStoredNameBytes?: number;
}

/**
 * Registers (in the current `describe`) the error-mapping tests every cloud storage adapter
 * shares: a missing bucket is a `PermanentError`
 * naming it, a key too long once the prefix is added is an `InvalidInputError`, and a missing
 * key is a `NotFoundError` naming the key, also under a prefix. Instances are tested through
 * `guardStorage`, as the broker sees them.
 */
export function describeStorageErrors<S extends ObjectStorage>(options: StorageErrorSuiteOptions<S>): void {
  const { suite, bucketWord } = options;
  const maxStoredNameBytes = options.maxStoredNameBytes ?? 1024;
  it(`a missing ${bucketWord} is a PermanentError naming the ${bucketWord}, for every operation`, async () => {
    const { name: missing, create } = options.missingBucket;
    const s = guardStorage(create());
    try {
      const ops: [string, () => Promise<unknown>][] = [
        ['put', () => s.put('k', Buffer.from('x'))],
        [options.largePut.label, () => s.put('k', Buffer.alloc(options.largePut.bytes))],
        ['get', () => s.get('k')],
        ['getRange', () => s.getRange('k', 0, 10)],
        ['head', () => s.head('k')],
        ['listPage', () => s.listPage('')],
        ['delete', () => s.delete(['k'])],
      ];
      for (const [op, f] of ops) {
        const e = await rejectsWith(f(), PermanentError, op);
        assert.ok(e.message.includes(missing), `${op}: message names the ${bucketWord}: ${e.message}`);
      }
    } finally {
      await s.close();
    }
  });

  it('a key that is too long for the store once the prefix is added is an InvalidInputError', async () => {
    const s = guardStorage(options.withPrefix('tenant'));
    try {
      const base = suite.key('long/');
      const key = base + 'x'.repeat(maxStoredNameBytes - base.length);
      for (const [op, f] of [
        ['put', () => s.put(key, Buffer.from('x'))],
        ['get', () => s.get(key)],
        ['head', () => s.head(key)],
        ['delete', () => s.delete([key])],
      ] as const) {
        const e = await rejectsWith(f(), InvalidInputError, op);
        assert.match(e.message, /prefix/);
      }
      assert.deepEqual((await suite.storage.listPage(base)).objects, [], 'nothing was written');
    } finally {
      await s.close();
    }
  });

  it('a missing key is a NotFoundError naming the key, also with a prefix', async () => {
    const s = guardStorage(options.withPrefix('p'));
    try {
      for (const key of [suite.key('nothing'), suite.key('nothing-\ue000')]) {
        for (const [op, f] of [
          ['get', () => s.get(key)],
          ['getRange', () => s.getRange(key, 5, 5)],
          ['head', () => s.head(key)],
        ] as const) {
          const e = await rejectsWith(f(), NotFoundError, op);
          assert.ok(e.message.includes(key), `${op} names the key: ${e.message}`);
        }
      }
    } finally {
      await s.close();
    }
  });
}

/** Awaits `p` and asserts it rejects with an instance of `cls`; returns the error. */
export async function rejectsWith<E extends Error>(
  p: Promise<unknown>,
  cls: abstract new (...args: never[]) => E,
  what: string,
): Promise<E> {
  try {
    const v = await p;
    assert.fail(`${what}: expected ${cls.name}, resolved with ${String(v)}`);
  } catch (e) {
    if (!(e instanceof cls)) {
      assert.fail(
        `${what}: expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
      );
    }
    return e;
  }
}

/** `n` bytes of a deterministic pattern (different per `seed`). */
export function patternBytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
