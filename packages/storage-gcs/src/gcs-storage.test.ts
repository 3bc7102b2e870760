import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  CorruptDataError,
  loadPlugin,
  NotFoundError,
  PreconditionFailedError,
} from '@barge/core';
import {
  describeObjectStorage,
  describeStorageErrors,
  describeStorageFaults,
  patternBytes as pattern,
  randomId,
  rejectsWith,
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

        it('applies ifNoneMatch and ifMatch (ifGenerationMatch) to a resumable upload', async () => {
          const s = new GcsStorage(options({ resumableThresholdBytes: '1MiB' }));
          try {
            const key = ctx.key('up/conditional-resumable');
            const first = await s.put(key, pattern(MiB + 1, 1), { ifNoneMatch: '*' });
            assert.deepEqual(s.lastPut, { mode: 'resumable' });
            await assert.rejects(
              s.put(key, pattern(MiB + 1, 2), { ifNoneMatch: '*' }),
              PreconditionFailedError,
            );
            const second = await s.put(key, pattern(MiB + 1, 3), { ifMatch: first.version as string });
            await assert.rejects(
              s.put(key, pattern(MiB + 1, 4), { ifMatch: first.version as string }),
              PreconditionFailedError,
            );
            assert.equal((await s.head(key)).version, second.version);
            assert.ok((await s.get(key)).equals(pattern(MiB + 1, 3)));
          } finally {
            await s.close();
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
        describeStorageErrors({
          suite: ctx,
          bucketWord: 'bucket',
          missingBucket: (() => {
            const missing = randomId('barge-gcs-missing');
            return {
              name: missing,
              create: () => new GcsStorage(options({ bucket: missing, maxRetries: 0 })),
            };
          })(),
          largePut: { label: 'put resumable', bytes: 9 * MiB },
          withPrefix: (prefix) => new GcsStorage(options({ prefix })),
        });
      });

      describeStorageFaults(
        'faults (through the fault proxy)',
        (url) => new GcsStorage(options({ apiEndpoint: url, maxRetries: 3, maxRetryDelaySeconds: 1 })),
        {
          suite: ctx,
          target: endpoint,
          backend: 'gcs',
          attempts: 4,
          requests: {
            upload: { method: 'POST', url: /^\/upload\// },
            download: { method: 'GET', url: /alt=media/ },
          },
          giveUp: { op: 'head', match: { method: 'GET' } },
          additionalTests: (f) => {
            it('retries a resumable upload whose session answers 503', async () => {
              f.reset();
              const key = ctx.key('fault/resumable');
              const body = pattern(9 * MiB, 11);
              f.proxy.setFaults({
                match: { method: 'PUT', url: /upload_id=/ },
                times: 1,
                fault: { kind: 'status', status: 503, body: 'gcs' },
              });
              await f.storage.put(key, [body.subarray(0, MiB), body.subarray(MiB)]);
              assert.deepEqual(f.storage.lastPut, { mode: 'resumable' });
              assert.equal(f.proxy.faultsRemaining(), 0);
              assert.ok((await ctx.storage.get(key)).equals(body));
            });

            it('a metadata or listing response cut short times out and is retried (timeoutMs)', async () => {
              f.reset();
              const key = ctx.key('fault/meta');
              await ctx.storage.put(key, Buffer.from('0123456789'));
              const quick = new GcsStorage(
                options({ apiEndpoint: f.proxy.url, timeoutMs: 1500, maxRetryDelaySeconds: 1 }),
              );
              try {
                f.proxy.setFaults({
                  match: { method: 'GET' },
                  times: 1,
                  fault: { kind: 'truncate', afterBytes: 20 },
                });
                assert.equal((await quick.head(key)).size, 10);
                assert.equal(f.proxy.requests({ method: 'GET' }).length, 2, 'the cut response and a retry');
                f.reset();
                f.proxy.setFaults({
                  match: { method: 'GET' },
                  times: 1,
                  fault: { kind: 'truncate', afterBytes: 20 },
                });
                assert.deepEqual(
                  (await quick.listPage(key)).objects.map((o) => o.key),
                  [key],
                );
                assert.equal(f.proxy.requests({ method: 'GET' }).length, 2);
              } finally {
                await quick.close();
              }
            });

            it('a full read whose bytes do not match x-goog-hash is a CorruptDataError, never data', async () => {
              f.reset();
              const key = ctx.key('fault/corrupt');
              await ctx.storage.put(key, Buffer.from('the real bytes'));
              const good = Buffer.from('the real bytes');
              const crc = new FastCrc32c();
              crc.update(good);
              f.proxy.setFaults({
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
              await rejectsWith(f.storage.get(key), CorruptDataError, 'get with bytes that fail CRC32C');
              assert.deepEqual(await f.storage.get(key), good, 'the next read is checked and returned');
            });
          },
        },
      );
    },
  },
);
