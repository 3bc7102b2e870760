import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AuthError,
  ConfigError,
  CorruptDataError,
  InvalidInputError,
  loadPlugin,
  NotFoundError,
  PermanentError,
  TransientError,
} from '@barge/core';
import {
  describeObjectStorage,
  type FaultProxy,
  randomId,
  serviceEnv,
  startFaultProxy,
} from '@barge/testkit';
import { Storage } from '@google-cloud/storage';
import { FastCrc32c } from './crc32c.js';
import { bargePlugin, createGcsStorage, GcsStorage, type GcsStorageOptions } from './index.js';

// @google-cloud/storage sends everything to STORAGE_EMULATOR_HOST when it is set, even with an
// explicit apiEndpoint, and then fails; the tests must talk to apiEndpoint only.
delete process.env.STORAGE_EMULATOR_HOST;

const MiB = 1024 * 1024;
const endpoint = serviceEnv('gcs');
const projectId = 'barge-test';
const bucket = randomId('barge-gcs');
const admin = new Storage({ apiEndpoint: endpoint, projectId });

function options(extra: Partial<GcsStorageOptions> = {}): GcsStorageOptions {
  return { bucket, apiEndpoint: endpoint, projectId, ...extra };
}

async function rejectsWith<E extends Error>(
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

const pattern = (n: number, seed = 1): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

let suiteInstances = 0;

describeObjectStorage(
  'gcs (fake-gcs-server)',
  async () => {
    const first = suiteInstances++ === 0;
    if (first) await admin.createBucket(bucket);
    return {
      storage: new GcsStorage(options()),
      ...(first
        ? {
            cleanup: async () => {
              await admin.bucket(bucket).deleteFiles({ force: true });
              await admin.bucket(bucket).delete();
            },
          }
        : {}),
    };
  },
  {
    additionalTests: (ctx) => {
      describe('config and plugin', () => {
        it('exports a storage plugin named gcs for core API 1 that the registry loads and validates', async () => {
          assert.equal(bargePlugin.kind, 'storage');
          assert.equal(bargePlugin.name, 'gcs');
          assert.deepEqual([...bargePlugin.coreApi], [1]);
          const loaded = await loadPlugin(
            'storage',
            { adapter: 'gcs', bucket: 'my-bucket', resumableThresholdBytes: '4MiB' },
            (s) => import(s),
          );
          assert.equal(loaded.plugin, bargePlugin);
          const config = loaded.config as {
            bucket: string;
            resumableThresholdBytes: number;
            validation: boolean;
          };
          assert.equal(config.bucket, 'my-bucket');
          assert.equal(config.resumableThresholdBytes, 4 * MiB);
          assert.equal(config.validation, true);
        });

        it('rejects bad config with a ConfigError naming the field', () => {
          const cases: [unknown, string][] = [
            [{}, 'storage.bucket'],
            [{ bucket: 'Bad_Bucket!' }, 'storage.bucket'],
            [{ bucket: 'b-1', apiEndpoint: 'nope' }, 'storage.apiEndpoint'],
            [{ bucket: 'b-1', resumableChunkSize: 1000 }, 'storage.resumableChunkSize'],
            [{ bucket: 'b-1', credentials: { client_email: 'x' } }, 'storage.credentials.private_key'],
            [{ bucket: 'b-1', prefix: '../x' }, 'storage.prefix'],
            [{ bucket: 'b-1', region: 'x' }, 'storage'],
          ];
          for (const [input, field] of cases) {
            assert.throws(
              () => createGcsStorage(input as GcsStorageOptions),
              (e: unknown) => e instanceof ConfigError && e.message.includes(field),
              `${JSON.stringify(input)} should name ${field}`,
            );
          }
        });
      });

      describe('uploads', () => {
        it('uses a simple upload below resumableThresholdBytes and a resumable session above it', async () => {
          const proxy = await startFaultProxy({ target: endpoint });
          const s = new GcsStorage(options({ apiEndpoint: proxy.url, resumableThresholdBytes: '1MiB' }));
          try {
            const small = pattern(MiB - 1);
            await s.put(ctx.key('up/small'), [small.subarray(0, 10), small.subarray(10)]);
            assert.deepEqual(s.lastPut, { mode: 'simple' });
            const big = pattern(9 * MiB + 5, 3);
            await s.put(ctx.key('up/big'), [
              big.subarray(0, 3 * MiB),
              big.subarray(3 * MiB, 3 * MiB),
              big.subarray(3 * MiB),
            ]);
            assert.deepEqual(s.lastPut, { mode: 'resumable' });
            const uploads = proxy
              .requests({ url: /^\/upload\// })
              .map((r) => `${r.method} ${/uploadType=(\w+)/.exec(r.url)?.[1]}`);
            assert.ok(
              uploads.includes('POST multipart'),
              `a simple (multipart) upload: ${uploads.join(', ')}`,
            );
            assert.ok(uploads.includes('POST resumable'), `a resumable session: ${uploads.join(', ')}`);
            assert.ok((await ctx.storage.get(ctx.key('up/small'))).equals(small));
            assert.ok((await ctx.storage.get(ctx.key('up/big'))).equals(big));
          } finally {
            await s.close();
            await proxy.close();
          }
        });

        it('uploads resumable in chunks when resumableChunkSize is set', async () => {
          const s = new GcsStorage(options({ resumableThresholdBytes: '1MiB', resumableChunkSize: '1MiB' }));
          try {
            const body = pattern(3 * MiB + 77, 5);
            await s.put(ctx.key('up/chunked'), [body.subarray(0, 100), body.subarray(100)]);
            assert.deepEqual(s.lastPut, { mode: 'resumable' });
            assert.ok((await s.get(ctx.key('up/chunked'))).equals(body));
          } finally {
            await s.close();
          }
        });

        it('stores keys under the configured prefix', async () => {
          const s = new GcsStorage(options({ prefix: 'tenant-a' }));
          try {
            const key = ctx.key('layout/plain');
            await s.put(key, Buffer.from('x'));
            const [files] = await admin.bucket(bucket).getFiles({ prefix: `tenant-a/${key}` });
            assert.deepEqual(
              files.map((f) => f.name),
              [`tenant-a/${key}`],
            );
            assert.deepEqual(
              (await s.listPage(ctx.key('layout/'))).objects.map((o) => o.key),
              [key],
            );
            await rejectsWith(ctx.storage.head(key), NotFoundError, 'head without the prefix');
            await s.delete([key]);
            assert.deepEqual((await s.listPage(ctx.key('layout/'))).objects, []);
          } finally {
            await s.close();
          }
        });
      });

      describe('errors', () => {
        it('a missing bucket is a PermanentError naming the bucket, for every operation', async () => {
          const missing = randomId('barge-gcs-missing');
          const s = new GcsStorage(options({ bucket: missing, maxRetries: 0 }));
          try {
            const ops: [string, () => Promise<unknown>][] = [
              ['put', () => s.put('k', Buffer.from('x'))],
              ['put resumable', () => s.put('k', Buffer.alloc(9 * MiB))],
              ['get', () => s.get('k')],
              ['getRange', () => s.getRange('k', 0, 10)],
              ['head', () => s.head('k')],
              ['listPage', () => s.listPage('')],
              ['delete', () => s.delete(['k'])],
            ];
            for (const [op, f] of ops) {
              const e = await rejectsWith(f(), PermanentError, op);
              assert.ok(e.message.includes(missing), `${op}: message names the bucket: ${e.message}`);
            }
          } finally {
            await s.close();
          }
        });

        it('a key that is too long for the store once the prefix is added is an InvalidInputError', async () => {
          const s = new GcsStorage(options({ prefix: 'tenant' }));
          try {
            const base = ctx.key('long/');
            const key = base + 'x'.repeat(1024 - base.length);
            for (const [op, f] of [
              ['put', () => s.put(key, Buffer.from('x'))],
              ['get', () => s.get(key)],
              ['head', () => s.head(key)],
              ['delete', () => s.delete([key])],
            ] as const) {
              const e = await rejectsWith(f(), InvalidInputError, op);
              assert.match(e.message, /prefix/);
            }
            assert.deepEqual((await ctx.storage.listPage(base)).objects, [], 'nothing was written');
          } finally {
            await s.close();
          }
        });

        it('a missing key is a NotFoundError naming the key, also with a prefix', async () => {
          const s = new GcsStorage(options({ prefix: 'p' }));
          try {
            const key = ctx.key('nothing');
            for (const [op, f] of [
              ['get', () => s.get(key)],
              ['getRange', () => s.getRange(key, 5, 5)],
              ['head', () => s.head(key)],
            ] as const) {
              const e = await rejectsWith(f(), NotFoundError, op);
              assert.ok(e.message.includes(key), `${op} names the key: ${e.message}`);
            }
          } finally {
            await s.close();
          }
        });
      });

      describe('faults (through the fault proxy)', () => {
        let proxy: FaultProxy;
        let s: GcsStorage;
        before(async () => {
          proxy = await startFaultProxy({ target: endpoint });
          s = new GcsStorage(options({ apiEndpoint: proxy.url, maxRetries: 3, maxRetryDelaySeconds: 1 }));
        });
        after(async () => {
          await s?.close();
          await proxy?.close();
        });
        const reset = () => {
          proxy.clearFaults();
          proxy.clearRequests();
        };

        it('retries 500 and 503 answers: put and get succeed, and the proxy saw the extra requests', async () => {
          reset();
          const key = ctx.key('fault/5xx');
          const body = pattern(1000);
          proxy.setFaults([
            {
              match: { method: 'POST', url: /^\/upload\// },
              times: 1,
              fault: { kind: 'status', status: 500, body: 'gcs' },
            },
            {
              match: { method: 'POST', url: /^\/upload\// },
              times: 1,
              fault: { kind: 'status', status: 503, body: 'gcs' },
            },
          ]);
          await s.put(key, [body.subarray(0, 10), body.subarray(10)]);
          assert.equal(proxy.requests({ method: 'POST', url: /^\/upload\// }).length, 3);
          assert.ok((await ctx.storage.get(key)).equals(body), 'the retried upload stored the whole body');
          proxy.setFaults({
            match: { method: 'GET', url: /alt=media/ },
            times: 2,
            fault: { kind: 'status', status: 503, body: 'gcs' },
          });
          assert.ok((await s.get(key)).equals(body));
          assert.equal(proxy.requests({ method: 'GET', url: /alt=media/ }).length, 3);
          assert.equal(proxy.faultsRemaining(), 0);
        });

        it('retries a resumable upload whose session answers 503', async () => {
          reset();
          const key = ctx.key('fault/resumable');
          const body = pattern(9 * MiB, 11);
          proxy.setFaults({
            match: { method: 'PUT', url: /upload_id=/ },
            times: 1,
            fault: { kind: 'status', status: 503, body: 'gcs' },
          });
          await s.put(key, [body.subarray(0, MiB), body.subarray(MiB)]);
          assert.deepEqual(s.lastPut, { mode: 'resumable' });
          assert.equal(proxy.faultsRemaining(), 0);
          assert.ok((await ctx.storage.get(key)).equals(body));
        });

        it('gives up after maxRetries with a TransientError', async () => {
          reset();
          proxy.setFaults({ match: { method: 'GET' }, fault: { kind: 'status', status: 503, body: 'gcs' } });
          const e = await rejectsWith(
            s.head(ctx.key('fault/5xx')),
            TransientError,
            'head against a failing server',
          );
          assert.equal(e.retryable, true);
          assert.equal(proxy.requests({ method: 'GET' }).length, 4, '1 + maxRetries (3)');
        });

        it('retries connection resets before and after the server handled the request', async () => {
          reset();
          const key = ctx.key('fault/reset');
          const body = pattern(5000, 7);
          proxy.setFaults([
            { match: { method: 'POST' }, times: 1, fault: { kind: 'reset', phase: 'request' } },
            { match: { method: 'POST' }, times: 1, fault: { kind: 'reset', phase: 'response' } },
          ]);
          await s.put(key, body);
          assert.equal(proxy.requests({ method: 'POST' }).length, 3);
          proxy.setFaults({
            match: { method: 'GET' },
            times: 1,
            fault: { kind: 'reset', phase: 'response' },
          });
          assert.ok((await s.getRange(key, 100, 50)).equals(body.subarray(100, 150)));
          assert.equal(proxy.requests({ method: 'GET' }).length, 2);
        });

        it('a truncated body (full Content-Length, fewer bytes) is a TransientError, never data', async () => {
          reset();
          const key = ctx.key('fault/truncated');
          const body = pattern(100_000, 3);
          await ctx.storage.put(key, body);
          for (const [what, read] of [
            ['get', () => s.get(key)],
            ['getRange', () => s.getRange(key, 50, 5000)],
          ] as const) {
            proxy.setFaults({
              match: { method: 'GET' },
              times: 1,
              fault: { kind: 'truncate', afterBytes: 1000 },
            });
            await rejectsWith(read(), TransientError, `${what} with a truncated body`);
            proxy.setFaults({
              match: { method: 'GET' },
              times: 1,
              fault: { kind: 'reset', phase: 'body', afterBytes: 500 },
            });
            await rejectsWith(read(), TransientError, `${what} with a reset in the body`);
          }
          assert.ok((await s.get(key)).equals(body), 'without faults the read works');
        });

        it('a metadata or listing response cut short times out and is retried (timeoutMs)', async () => {
          reset();
          const key = ctx.key('fault/meta');
          await ctx.storage.put(key, Buffer.from('0123456789'));
          const quick = new GcsStorage(
            options({ apiEndpoint: proxy.url, timeoutMs: 1500, maxRetryDelaySeconds: 1 }),
          );
          try {
            proxy.setFaults({
              match: { method: 'GET' },
              times: 1,
              fault: { kind: 'truncate', afterBytes: 20 },
            });
            assert.equal((await quick.head(key)).size, 10);
            assert.equal(proxy.requests({ method: 'GET' }).length, 2, 'the cut response and a retry');
            reset();
            proxy.setFaults({
              match: { method: 'GET' },
              times: 1,
              fault: { kind: 'truncate', afterBytes: 20 },
            });
            assert.deepEqual(
              (await quick.listPage(key)).objects.map((o) => o.key),
              [key],
            );
            assert.equal(proxy.requests({ method: 'GET' }).length, 2);
          } finally {
            await quick.close();
          }
        });

        it('a full read whose bytes do not match x-goog-hash is a CorruptDataError, never data', async () => {
          reset();
          const key = ctx.key('fault/corrupt');
          await ctx.storage.put(key, Buffer.from('the real bytes'));
          const good = Buffer.from('the real bytes');
          const crc = new FastCrc32c();
          crc.update(good);
          proxy.setFaults({
            match: { method: 'GET', url: /alt=media/ },
            times: 1,
            fault: {
              kind: 'status',
              status: 200,
              body: { contentType: 'application/octet-stream', data: Buffer.from('the fake bytes') },
              headers: {
                'x-goog-hash': `crc32c=${crc.toString()}`,
                'x-goog-stored-content-encoding': 'identity',
              },
            },
          });
          await rejectsWith(s.get(key), CorruptDataError, 'get with bytes that fail CRC32C');
          assert.deepEqual(await s.get(key), good, 'the next read is checked and returned');
        });

        it('maps 401 and 403 answers to AuthError without retrying (the emulator does not check credentials)', async () => {
          for (const status of [401, 403]) {
            reset();
            proxy.setFaults({
              fault: {
                kind: 'status',
                status,
                body: 'gcs',
                message: 'Anonymous caller does not have storage.objects.get access',
              },
            });
            const e = await rejectsWith(
              s.get(ctx.key('fault/auth')),
              AuthError,
              `get answered with ${status}`,
            );
            assert.match(e.message, new RegExp(String(status)));
            assert.equal(proxy.requests().length, 1, 'not retried');
          }
          reset();
        });
      });
    },
  },
);
