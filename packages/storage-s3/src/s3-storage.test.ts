import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  AuthError,
  ConfigError,
  loadPlugin,
  NotFoundError,
  PreconditionFailedError,
  TransientError,
} from '@barge/core';
import {
  describeObjectStorage,
  describeStorageErrors,
  describeStorageFaults,
  findServicesEnvFile,
  patternBytes as pattern,
  randomId,
  rejectsWith,
  serviceEnv,
} from '@barge/testkit';
import { bargePlugin, createS3Storage, S3Storage, type S3StorageOptions } from './index.js';

const MiB = 1024 * 1024;
const endpoint = serviceEnv('s3');
/** A fresh object each time: the SDK adds bookkeeping fields to credentials objects it is given. */
const creds = () => ({ accessKeyId: 'test', secretAccessKey: 'test' });
const bucket = randomId('barge-s3');

function adminClient(url = endpoint): S3Client {
  return new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: creds() });
}

function options(extra: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return { bucket, endpoint, forcePathStyle: true, ...creds(), ...extra };
}

async function createBucket(client: S3Client, name: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: name }));
}

/** Deletes every object and unfinished multipart upload, then the bucket. */
async function removeBucket(client: S3Client, name: string): Promise<void> {
  for (;;) {
    const out = await client.send(new ListObjectsV2Command({ Bucket: name }));
    const keys = (out.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys, Quiet: true } }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: name }));
}

async function uploadsIn(client: S3Client, name: string, prefix: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: name, Prefix: prefix }));
  return (out.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
}

const admin = adminClient();
let suiteInstances = 0;

/**
 * moto 5.2.1 checks If-Match / If-None-Match in its request handler and stores the object
 * afterwards, with no lock, in a threaded server: two concurrent conditional puts can both pass
 * the check. Amazon S3 makes the check and the write one step.
 */
const MOTO_CONDITIONS_NOT_ATOMIC =
  'moto 5.2.1 checks If-Match/If-None-Match and then stores without a lock (threaded server): concurrent conditional puts can both succeed';
/** moto 5.2.1 honours If-None-Match on CompleteMultipartUpload but ignores If-Match there. */
const MOTO_COMPLETE_IGNORES_IF_MATCH = 'moto 5.2.1 ignores If-Match on CompleteMultipartUpload';

describeObjectStorage(
  's3 (moto)',
  async () => {
    const first = suiteInstances++ === 0;
    if (first) await createBucket(admin, bucket);
    return {
      storage: new S3Storage(options()),
      ...(first ? { cleanup: () => removeBucket(admin, bucket) } : {}),
    };
  },
  {
    skipConditionalPutRaces: MOTO_CONDITIONS_NOT_ATOMIC,
    additionalTests: (ctx) => {
      describe('config and plugin', () => {
        it('exports a storage plugin named s3 for core API 1 that the registry loads and validates', async () => {
          assert.equal(bargePlugin.kind, 'storage');
          assert.equal(bargePlugin.name, 's3');
          assert.deepEqual([...bargePlugin.coreApi], [1]);
          const loaded = await loadPlugin(
            'storage',
            { adapter: 's3', bucket: 'b', partSize: '6MiB' },
            (s) => import(s),
          );
          assert.equal(loaded.plugin, bargePlugin);
          const config = loaded.config as {
            bucket: string;
            partSize: number;
            region: string;
            hashPrefix: boolean;
          };
          assert.equal(config.bucket, 'b');
          assert.equal(config.partSize, 6 * MiB);
          assert.equal(config.region, 'us-east-1');
          assert.equal(config.hashPrefix, false);
        });

        it('rejects bad config with a ConfigError naming the field', () => {
          const cases: [unknown, string][] = [
            [{}, 'storage.bucket'],
            [{ bucket: 'b', partSize: '1MiB' }, 'storage.partSize'],
            [{ bucket: 'b', accessKeyId: 'x' }, 'storage.secretAccessKey'],
            [{ bucket: 'b', endpoint: 'not a url' }, 'storage.endpoint'],
            [{ bucket: 'b', prefix: 'a//b' }, 'storage.prefix'],
            [{ bucket: 'b', partConcurrency: 0 }, 'storage.partConcurrency'],
            [{ bucket: 'b', bukket: 'typo' }, 'storage'],
          ];
          for (const [input, field] of cases) {
            assert.throws(
              () => createS3Storage(input as S3StorageOptions),
              (e: unknown) => e instanceof ConfigError && e.message.includes(field),
              `${JSON.stringify(input)} should name ${field}`,
            );
          }
        });
      });

      describe('layout', () => {
        it('stores keys under the configured prefix', async () => {
          const s = new S3Storage(options({ prefix: '/tenant-a/' }));
          try {
            const key = ctx.key('layout/plain');
            await s.put(key, Buffer.from('x'));
            const out = await admin.send(
              new ListObjectsV2Command({ Bucket: bucket, Prefix: `tenant-a/${key}` }),
            );
            assert.deepEqual(
              (out.Contents ?? []).map((o) => o.Key),
              [`tenant-a/${key}`],
            );
            assert.deepEqual(
              (await s.listPage(ctx.key('layout/'))).objects.map((o) => o.key),
              [key],
            );
            // The unprefixed instance does not see it under the bare key.
            await rejectsWith(ctx.storage.head(key), NotFoundError, 'head without the prefix');
            await s.delete([key]);
            assert.deepEqual((await s.listPage(ctx.key('layout/'))).objects, []);
          } finally {
            await s.close();
          }
        });

        it('hashPrefix: stores <prefix>/<2 hex>/<key> and lists merged in UTF-8 order across hash prefixes', async () => {
          const s = new S3Storage(options({ prefix: 'hp', hashPrefix: true }));
          try {
            const base = ctx.key('hashed/');
            const names = ['a', 'b', 'c/1', 'c/2', 'd', 'e\u00e9', 'e\uffff', 'e\u{1F600}', 'f-1', 'f/1'];
            for (let i = 0; i < 14; i++) names.push(`n${String(i).padStart(3, '0')}`);
            const keys = names
              .map((n) => base + n)
              .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
            await Promise.all(keys.map((k) => s.put(k, Buffer.from(k))));
            const raw = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'hp/' }));
            const stored = (raw.Contents ?? []).map((o) => o.Key as string).filter((k) => k.includes(base));
            assert.equal(stored.length, keys.length, 'every key stored once');
            const hashes = new Set<string>();
            for (const k of stored) {
              const m = /^hp\/([0-9a-f]{2})\/(.*)$/.exec(k);
              assert.ok(m, `stored key ${k} has the layout hp/<hh>/<key>`);
              assert.equal(m[1], s.storedKey(m[2] as string).slice(3, 5), 'the hash is SHA-256 of the key');
              hashes.add(m[1] as string);
            }
            assert.ok(hashes.size > 8, `keys spread over many hash prefixes (${hashes.size})`);
            // Listing merges the 256 hash prefixes back into key order, with paging and startAfter.
            const all: string[] = [];
            let startAfter: string | undefined;
            for (let page = 0; page < 100; page++) {
              const p = await s.listPage(base, { limit: 9, ...(startAfter ? { startAfter } : {}) });
              assert.ok(p.objects.length <= 9);
              all.push(...p.objects.map((o) => o.key));
              if (!p.nextStartAfter) break;
              startAfter = p.nextStartAfter;
            }
            assert.deepEqual(all, keys, 'pages of 9 give every key once, in UTF-8 order');
            const after = await s.listPage(base, { startAfter: `${base}e\uffff` });
            assert.deepEqual(
              after.objects.map((o) => o.key),
              keys.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from(`${base}e\uffff`)) > 0),
            );
            assert.deepEqual(await s.get(`${base}c/2`), Buffer.from(`${base}c/2`));
            assert.deepEqual(await s.getRange(`${base}c/2`, base.length, 3), Buffer.from('c/2'));
            assert.equal((await s.head(`${base}d`)).size, `${base}d`.length);
            await s.delete(keys);
            assert.deepEqual((await s.listPage(base)).objects, []);
            await rejectsWith(s.get(`${base}a`), NotFoundError, 'get after delete (hashPrefix)');
          } finally {
            await s.close();
          }
        });
      });

      describe('multipart', () => {
        it("a multipart put with ifNoneMatch: '*' fails with PreconditionFailedError on an existing key and leaves no upload", async () => {
          const s = new S3Storage(options({ multipartThresholdBytes: '6MiB', partSize: '5MiB' }));
          try {
            const key = ctx.key('mp/create-once');
            const first = await s.put(key, pattern(6 * MiB), { ifNoneMatch: '*' });
            assert.deepEqual(s.lastPut, { mode: 'multipart', parts: 2 });
            await assert.rejects(s.put(key, pattern(7 * MiB), { ifNoneMatch: '*' }), PreconditionFailedError);
            assert.equal((await s.head(key)).version, first.version);
            assert.deepEqual(await uploadsIn(admin, bucket, key), []);
          } finally {
            await s.close();
          }
        });

        it('a multipart put with a stale ifMatch fails with PreconditionFailedError', {
          skip: MOTO_COMPLETE_IGNORES_IF_MATCH,
        }, async () => {
          const s = new S3Storage(options({ multipartThresholdBytes: '6MiB', partSize: '5MiB' }));
          try {
            const key = ctx.key('mp/stale-if-match');
            const stale = (await s.put(key, Buffer.from('one'))).version as string;
            await s.put(key, Buffer.from('two'));
            await assert.rejects(s.put(key, pattern(6 * MiB), { ifMatch: stale }), PreconditionFailedError);
          } finally {
            await s.close();
          }
        });

        it('uploads a body of uneven buffers in parts (parts spanning buffers), and leaves no upload behind', async () => {
          const s = new S3Storage(
            options({ multipartThresholdBytes: '6MiB', partSize: '5MiB', partConcurrency: 3 }),
          );
          try {
            const key = ctx.key('mp/uneven');
            const body = pattern(17 * MiB + 3);
            const cuts = [1, 3 * MiB, 5 * MiB - 1, 5 * MiB + 2, 9 * MiB, 17 * MiB + 3];
            const parts = cuts.slice(1).map((end, i) => body.subarray(cuts[i], end));
            parts.unshift(body.subarray(0, 1));
            assert.equal(Buffer.concat(parts).length, body.length, 'test setup');
            const r = await s.put(key, parts);
            assert.equal(r.size, body.length);
            assert.deepEqual(s.lastPut, { mode: 'multipart', parts: 4 });
            assert.match(r.etag ?? '', /-4$/, 'a multipart ETag of 4 parts');
            assert.ok((await s.get(key)).equals(body), 'round trip');
            assert.ok(
              (await s.getRange(key, 5 * MiB - 10, 20)).equals(body.subarray(5 * MiB - 10, 5 * MiB + 10)),
            );
            assert.deepEqual(await uploadsIn(admin, bucket, key), []);
          } finally {
            await s.close();
          }
        });

        it('uses one PutObject below the threshold', async () => {
          const s = new S3Storage(options({ multipartThresholdBytes: '6MiB', partSize: '5MiB' }));
          try {
            const key = ctx.key('mp/small');
            const body = pattern(6 * MiB - 1);
            await s.put(key, [body.subarray(0, 100), body.subarray(100)]);
            assert.deepEqual(s.lastPut, { mode: 'single', parts: 1 });
            assert.ok((await s.get(key)).equals(body));
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
            const missing = randomId('barge-s3-missing');
            return { name: missing, create: () => new S3Storage(options({ bucket: missing })) };
          })(),
          largePut: { label: 'put multipart', bytes: 17 * MiB },
          withPrefix: (prefix) => new S3Storage(options({ prefix, hashPrefix: true })),
        });
      });

      describeStorageFaults(
        'faults (through the fault proxy)',
        (url) =>
          new S3Storage(
            options({ endpoint: url, maxAttempts: 4, multipartThresholdBytes: '6MiB', partSize: '5MiB' }),
          ),
        {
          suite: ctx,
          target: endpoint,
          backend: 's3',
          attempts: 4,
          requests: { upload: { method: 'PUT' }, download: { method: 'GET' } },
          additionalTests: (f) => {
            it('a failed multipart upload is aborted: no parts or uploads are left behind', async () => {
              f.reset();
              const { proxy, storage: s } = f;
              const key = ctx.key('fault/multipart');
              proxy.setFaults({
                match: { method: 'PUT', url: /partNumber=2(&|$)/ },
                fault: { kind: 'status', status: 500, body: 's3', code: 'InternalError' },
              });
              const body = [pattern(7 * MiB), pattern(6 * MiB, 9)];
              await rejectsWith(s.put(key, body), TransientError, 'multipart put with a failing part');
              const parts = proxy.requests({ method: 'PUT', url: /partNumber=/ });
              assert.ok(parts.length >= 4, `part 2 was retried (${parts.length} part requests)`);
              const aborts = proxy.requests({ method: 'DELETE', url: /uploadId=/ });
              assert.equal(aborts.length, 1, 'one AbortMultipartUpload');
              assert.deepEqual(await uploadsIn(admin, bucket, key), [], 'ListMultipartUploads is empty');
              await rejectsWith(ctx.storage.head(key), NotFoundError, 'no object was created');
              // The same upload works once the fault is gone.
              f.reset();
              await s.put(key, body);
              assert.ok((await ctx.storage.get(key)).equals(Buffer.concat(body)));
              assert.deepEqual(await uploadsIn(admin, bucket, key), []);
            });
          },
        },
      );
    },
  },
);

/**
 * Authentication against a private moto server with IAM enforcement switched on (the shared one
 * accepts any key, and switching it server-wide would break concurrent tests).
 */
describe('s3 (moto with IAM auth enforced): credentials errors are AuthError', () => {
  let moto: ChildProcess | undefined;
  let url = '';
  let user = { id: '', secret: '' };
  const authBucket = randomId('barge-s3-auth');

  before(async () => {
    const python = findMotoPython();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    moto = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitFor(`${url}/moto-api/`, 30_000);
    await createBucket(adminClient(url), authBucket);
    await iam(url, { Action: 'CreateUser', UserName: 'barge' });
    await iam(url, {
      Action: 'PutUserPolicy',
      UserName: 'barge',
      PolicyName: 'barge-s3',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: ['*'] }],
      }),
    });
    const key = await iam(url, { Action: 'CreateAccessKey', UserName: 'barge' });
    user = {
      id: /<AccessKeyId>([^<]+)</.exec(key)?.[1] ?? '',
      secret: /<SecretAccessKey>([^<]+)</.exec(key)?.[1] ?? '',
    };
    assert.ok(user.id && user.secret, 'moto created an access key');
    await iam(url, { Action: 'CreateUser', UserName: 'nobody' });
    const other = await iam(url, { Action: 'CreateAccessKey', UserName: 'nobody' });
    nobody = {
      id: /<AccessKeyId>([^<]+)</.exec(other)?.[1] ?? '',
      secret: /<SecretAccessKey>([^<]+)</.exec(other)?.[1] ?? '',
    };
    // From now on every request must be signed by a known key with a policy that allows it.
    const r = await fetch(`${url}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    assert.equal(r.status, 200);
  });
  let nobody = { id: '', secret: '' };

  after(async () => {
    if (moto && moto.exitCode === null) {
      moto.kill('SIGTERM');
      await new Promise((resolve) => moto?.once('exit', resolve));
    }
  });

  const storage = (id: string, secret: string) =>
    new S3Storage({
      bucket: authBucket,
      endpoint: url,
      forcePathStyle: true,
      accessKeyId: id,
      secretAccessKey: secret,
    });

  it('valid credentials with an allowing policy work (control)', async () => {
    const s = storage(user.id, user.secret);
    try {
      await s.put('probe', Buffer.from('ok'));
      assert.deepEqual(await s.get('probe'), Buffer.from('ok'));
    } finally {
      await s.close();
    }
  });

  it('an unknown access key is an AuthError (InvalidAccessKeyId)', async () => {
    const s = storage('AKIAUNKNOWNUNKNOWN00', 'x'.repeat(40));
    try {
      const e = await rejectsWith(s.get('probe'), AuthError, 'unknown key');
      assert.match(e.message, /InvalidAccessKeyId|InvalidClientTokenId/);
      await rejectsWith(s.put('probe2', Buffer.from('x')), AuthError, 'unknown key, put');
    } finally {
      await s.close();
    }
  });

  it('a wrong secret is an AuthError (SignatureDoesNotMatch)', async () => {
    const s = storage(user.id, `${user.secret.slice(0, -4)}AAAA`);
    try {
      const e = await rejectsWith(s.head('probe'), AuthError, 'wrong secret');
      assert.ok(e.retryable === false);
    } finally {
      await s.close();
    }
  });

  it('a key without permission is an AuthError (AccessDenied)', async () => {
    const s = storage(nobody.id, nobody.secret);
    try {
      const e = await rejectsWith(s.get('probe'), AuthError, 'no policy');
      assert.match(e.message, /AccessDenied|403/);
    } finally {
      await s.close();
    }
  });
});

/** The Python that has moto, found as `scripts/services.sh` finds it. */
function findMotoPython(): string {
  const candidates = ['python3'];
  const envFile = findServicesEnvFile();
  if (envFile) candidates.push(path.join(path.dirname(envFile), 'moto-venv', 'bin', 'python'));
  for (const py of candidates) {
    if (py !== 'python3' && !existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import moto.server'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  throw new Error(`moto is not importable by ${candidates.join(' or ')}: run scripts/services.sh install s3`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An IAM query-API call to moto (auth is not enforced yet when these run). */
async function iam(url: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ ...params, Version: '2010-05-08' });
  const r = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=${randomBytes(32).toString('hex')}`,
    },
    body,
  });
  const text = await r.text();
  assert.equal(r.status, 200, `IAM ${params.Action}: ${text}`);
  return text;
}
