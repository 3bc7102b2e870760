import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
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
  patternBytes as pattern,
  randomId,
  rejectsWith,
  serviceEnv,
  startFaultProxy,
} from '@barge/testkit';
import { AzureStorage, type AzureStorageOptions, bargePlugin, createAzureStorage } from './index.js';
import { decodeBlobName, encodeBlobName } from './util.js';

const MiB = 1024 * 1024;
const connectionString = serviceEnv('azure');
const parsed = parseConnectionString(connectionString);
const container = randomId('barge-az');
const admin = BlobServiceClient.fromConnectionString(connectionString);

function options(extra: Partial<AzureStorageOptions> = {}): AzureStorageOptions {
  return {
    container,
    connectionString,
    retryDelayMs: 50,
    maxRetryDelayMs: 500,
    ...extra,
  } as AzureStorageOptions;
}

/** The same account through `url` (a fault proxy in front of Azurite). */
function viaProxy(url: string): string {
  return connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${url}/${parsed.accountName}`);
}

describe('azure blob name encoding', () => {
  it('round-trips and turns UTF-8 order into UTF-16 order', () => {
    const keys = [
      'a',
      'a\u00e9',
      'a\ud7fe',
      'a\ud7ff',
      'a\ud7ffz',
      'a\ue000',
      'a\uff5e',
      'a\ufffd',
      'a\uffff',
      'a\u{10000}',
      'a\u{1F600}',
      'b',
    ];
    const utf8 = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(utf8, keys, 'test setup: keys are in UTF-8 order');
    const encoded = keys.map(encodeBlobName);
    assert.deepEqual(
      [...encoded].sort(),
      encoded,
      'encoded names in UTF-16 (JavaScript) order keep the UTF-8 order of the keys',
    );
    assert.deepEqual(encoded.map(decodeBlobName), keys, 'decoding gives the keys back');
    assert.equal(
      encodeBlobName('topics/logs/0/0000000000000001-1-abc'),
      'topics/logs/0/0000000000000001-1-abc',
      'ASCII unchanged',
    );
    assert.ok(encodeBlobName('x\ue000y').startsWith(encodeBlobName('x')), 'prefixes stay prefixes');
  });
});

let suiteInstances = 0;

describeObjectStorage(
  'azure (Azurite)',
  async () => {
    const first = suiteInstances++ === 0;
    if (first) await admin.getContainerClient(container).create();
    return {
      storage: new AzureStorage(options()),
      ...(first ? { cleanup: async () => void (await admin.getContainerClient(container).delete()) } : {}),
    };
  },
  {
    additionalTests: (ctx) => {
      describe('config and plugin', () => {
        it('exports a storage plugin named azure for core API 1 that the registry loads and validates', async () => {
          assert.equal(bargePlugin.kind, 'storage');
          assert.equal(bargePlugin.name, 'azure');
          assert.deepEqual([...bargePlugin.coreApi], [1]);
          const loaded = await loadPlugin(
            'storage',
            {
              adapter: 'azure',
              container: 'barge',
              connectionString: 'UseDevelopmentStorage=true',
              blockSize: '4MiB',
            },
            (s) => import(s),
          );
          assert.equal(loaded.plugin, bargePlugin);
          const config = loaded.config as { container: string; blockSize: number; maxSingleShotSize: number };
          assert.equal(config.container, 'barge');
          assert.equal(config.blockSize, 4 * MiB);
          assert.equal(config.maxSingleShotSize, 16 * MiB);
        });

        it('requires exactly one way to authenticate, naming the fields', () => {
          const url = 'https://acct.blob.core.windows.net';
          const cases: [unknown, RegExp][] = [
            [{ container: 'c-1' }, /storage\.connectionString: no credentials given: give exactly one of/],
            [{ container: 'c-1', accountUrl: url }, /accountUrl is given but no credential/],
            [{ container: 'c-1', sasToken: 'sv=1' }, /storage\.accountUrl: required with sasToken/],
            [
              { container: 'c-1', accountUrl: url, accountKey: 'k' },
              /storage\.accountName: accountName and accountKey must be given together/,
            ],
            [
              { container: 'c-1', connectionString: 'x', sasToken: 'sv=1' },
              /several credentials given \(connectionString, sasToken\)/,
            ],
            [
              { container: 'c-1', accountUrl: url, sasToken: 's', useDefaultAzureCredential: true },
              /several credentials given/,
            ],
            [
              { container: 'c-1', connectionString: 'x', accountUrl: url },
              /storage\.accountUrl: not allowed with connectionString/,
            ],
            [{ container: 'Bad_Name', connectionString: 'x' }, /storage\.container/],
            [{ container: 'c-1', connectionString: 'x', blockSize: '5000MiB' }, /storage\.blockSize/],
          ];
          for (const [input, pattern] of cases) {
            assert.throws(
              () => createAzureStorage(input as AzureStorageOptions),
              (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
              `${JSON.stringify(input)} should match ${pattern}`,
            );
          }
          for (const ok of [
            { container: 'c-1', connectionString: 'UseDevelopmentStorage=true' },
            { container: 'c-1', accountUrl: url, sasToken: '?sv=2020&sig=x' },
            {
              container: 'c-1',
              accountUrl: url,
              accountName: 'acct',
              accountKey: Buffer.from('k').toString('base64'),
            },
            { container: 'c-1', accountUrl: url, useDefaultAzureCredential: true },
          ]) {
            assert.ok(
              createAzureStorage(ok as AzureStorageOptions) instanceof AzureStorage,
              JSON.stringify(ok),
            );
          }
        });

        it('works with accountUrl + accountName + accountKey and with accountUrl + sasToken', async () => {
          const key = ctx.key('auth/modes');
          await ctx.storage.put(key, Buffer.from('via connection string'));
          const shared = new AzureStorage({
            container,
            accountUrl: parsed.blobEndpoint,
            accountName: parsed.accountName,
            accountKey: parsed.accountKey,
          });
          const sas = generateAccountSASQueryParameters(
            {
              expiresOn: new Date(Date.now() + 3600_000),
              permissions: AccountSASPermissions.parse('rwdlac'),
              resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
              services: AccountSASServices.parse('b').toString(),
            },
            new StorageSharedKeyCredential(parsed.accountName, parsed.accountKey),
          ).toString();
          const viaSas = new AzureStorage({
            container,
            accountUrl: parsed.blobEndpoint,
            sasToken: `?${sas}`,
          });
          try {
            assert.deepEqual(await shared.get(key), Buffer.from('via connection string'));
            assert.deepEqual(await viaSas.get(key), Buffer.from('via connection string'));
            await viaSas.put(key, Buffer.from('via sas'));
            assert.deepEqual(await shared.get(key), Buffer.from('via sas'));
          } finally {
            await shared.close();
            await viaSas.close();
          }
        });
      });

      describe('uploads and layout', () => {
        it('applies ifNoneMatch and ifMatch to a block upload (Put Block List)', async () => {
          const s = new AzureStorage(options({ maxSingleShotSize: '1MiB', blockSize: '1MiB' }));
          try {
            const key = ctx.key('up/conditional-blocks');
            const first = await s.put(key, pattern(2 * MiB, 1), { ifNoneMatch: '*' });
            assert.deepEqual(s.lastPut, { mode: 'blocks', blocks: 2 });
            await assert.rejects(
              s.put(key, pattern(2 * MiB, 2), { ifNoneMatch: '*' }),
              PreconditionFailedError,
            );
            const second = await s.put(key, pattern(2 * MiB, 3), { ifMatch: first.version as string });
            await assert.rejects(
              s.put(key, pattern(2 * MiB, 4), { ifMatch: first.version as string }),
              PreconditionFailedError,
            );
            assert.equal((await s.head(key)).version, second.version);
            assert.ok((await s.get(key)).equals(pattern(2 * MiB, 3)));
          } finally {
            await s.close();
          }
        });

        it('stages blocks above maxSingleShotSize (slices across buffers) and commits them in one list', async () => {
          const proxy = await startFaultProxy({ target: parsed.blobEndpoint.replace(/\/[^/]+$/, '') });
          const s = new AzureStorage(
            options({
              connectionString: viaProxy(proxy.url),
              maxSingleShotSize: '4MiB',
              blockSize: '3MiB',
              concurrency: 3,
            }),
          );
          try {
            const key = ctx.key('up/blocks');
            const body = pattern(10 * MiB + 5, 3);
            const parts = [
              body.subarray(0, 1),
              body.subarray(1, 4 * MiB),
              body.subarray(4 * MiB, 4 * MiB),
              body.subarray(4 * MiB),
            ];
            const r = await s.put(key, parts);
            assert.equal(r.size, body.length);
            assert.deepEqual(s.lastPut, { mode: 'blocks', blocks: 4 });
            assert.equal(
              proxy.requests({ method: 'PUT', url: /comp=block(&|$)/ }).length,
              4,
              'four Put Block',
            );
            assert.equal(
              proxy.requests({ method: 'PUT', url: /comp=blocklist/ }).length,
              1,
              'one Put Block List',
            );
            assert.ok((await ctx.storage.get(key)).equals(body));
            const small = pattern(4 * MiB, 9);
            await s.put(ctx.key('up/single'), [small.subarray(0, 10), small.subarray(10)]);
            assert.deepEqual(s.lastPut, { mode: 'single', blocks: 1 });
            assert.ok((await ctx.storage.get(ctx.key('up/single'))).equals(small));
          } finally {
            await s.close();
            await proxy.close();
          }
        });

        it('stores keys under the configured prefix, and escapes only keys Azure would list out of order', async () => {
          const s = new AzureStorage(options({ prefix: 'tenant-a' }));
          try {
            const key = ctx.key('layout/plain');
            const odd = ctx.key('layout/odd-\uff5e');
            await s.put(key, Buffer.from('x'));
            await s.put(odd, Buffer.from('y'));
            const names: string[] = [];
            for await (const b of admin
              .getContainerClient(container)
              .listBlobsFlat({ prefix: `tenant-a/${ctx.key('layout/')}` })) {
              names.push(b.name);
            }
            assert.deepEqual(names.sort(), [`tenant-a/${key}`, `tenant-a/${encodeBlobName(odd)}`].sort());
            assert.deepEqual(
              (await s.listPage(ctx.key('layout/'))).objects.map((o) => o.key),
              [odd, key],
            );
            await rejectsWith(ctx.storage.head(key), NotFoundError, 'head without the prefix');
            await s.delete([key, odd]);
            assert.deepEqual((await s.listPage(ctx.key('layout/'))).objects, []);
          } finally {
            await s.close();
          }
        });
      });

      describe('errors', () => {
        describeStorageErrors({
          suite: ctx,
          bucketWord: 'container',
          missingBucket: (() => {
            const missing = randomId('barge-az-missing');
            return { name: missing, create: () => new AzureStorage(options({ container: missing })) };
          })(),
          largePut: { label: 'put blocks', bytes: 17 * MiB },
          withPrefix: (prefix) => new AzureStorage(options({ prefix })),
        });

        it('a wrong account key is an AuthError (Azurite checks the signature)', async () => {
          const s = new AzureStorage({
            container,
            accountUrl: parsed.blobEndpoint,
            accountName: parsed.accountName,
            accountKey: Buffer.alloc(64, 7).toString('base64'),
            maxTries: 1,
          });
          try {
            for (const [op, f] of [
              ['get', () => s.get(ctx.key('auth/x'))],
              ['put', () => s.put(ctx.key('auth/x'), Buffer.from('x'))],
              ['listPage', () => s.listPage(ctx.key('auth/'))],
            ] as const) {
              const e = await rejectsWith(f(), AuthError, op);
              assert.match(e.message, /403|Authorization|Authentication/);
            }
          } finally {
            await s.close();
          }
        });
      });

      describeStorageFaults(
        'faults (through the fault proxy)',
        (url) =>
          new AzureStorage(
            options({
              connectionString: viaProxy(url),
              maxTries: 4,
              maxSingleShotSize: '4MiB',
              blockSize: '4MiB',
            }),
          ),
        {
          suite: ctx,
          target: parsed.blobEndpoint.replace(/\/[^/]+$/, ''),
          backend: 'azure',
          attempts: 4,
          requests: { upload: { method: 'PUT' }, download: { method: 'GET' } },
          giveUp: { op: 'head', match: { method: 'HEAD' } },
          additionalTests: (f) => {
            it('retries a failed block of a block upload', async () => {
              f.reset();
              const key = ctx.key('fault/blocks');
              const body = pattern(9 * MiB, 5);
              f.proxy.setFaults({
                match: { method: 'PUT', url: /comp=block(&|$)/ },
                times: 2,
                fault: { kind: 'status', status: 503, body: 'azure' },
              });
              await f.storage.put(key, [body.subarray(0, 5 * MiB + 1), body.subarray(5 * MiB + 1)]);
              assert.deepEqual(f.storage.lastPut, { mode: 'blocks', blocks: 3 });
              assert.equal(
                f.proxy.requests({ method: 'PUT', url: /comp=block(&|$)/ }).length,
                5,
                '3 blocks + 2 retries',
              );
              assert.ok((await ctx.storage.get(key)).equals(body));
            });

            it('a body cut short on every attempt is a TransientError, never data', async () => {
              const key = ctx.key('fault/truncated-every');
              const body = pattern(100_000, 3);
              await ctx.storage.put(key, body);
              for (const [what, read] of [
                ['get', () => f.storage.get(key)],
                ['getRange', () => f.storage.getRange(key, 50, 5000)],
              ] as const) {
                f.reset();
                f.proxy.setFaults({ match: { method: 'GET' }, fault: { kind: 'truncate', afterBytes: 100 } });
                await rejectsWith(read(), TransientError, `${what} with truncated bodies`);
                f.reset();
                f.proxy.setFaults({
                  match: { method: 'GET' },
                  fault: { kind: 'reset', phase: 'body', afterBytes: 50 },
                });
                await rejectsWith(read(), TransientError, `${what} with resets in the body`);
              }
              f.reset();
              assert.ok((await f.storage.get(key)).equals(body), 'without faults the read works');
            });
          },
        },
      );
    },
  },
);

function parseConnectionString(cs: string): {
  accountName: string;
  accountKey: string;
  blobEndpoint: string;
} {
  const fields = Object.fromEntries(
    cs
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
  );
  const accountName = fields.AccountName ?? '';
  const accountKey = fields.AccountKey ?? '';
  const blobEndpoint = (fields.BlobEndpoint ?? '').replace(/\/+$/, '');
  assert.ok(
    accountName && accountKey && blobEndpoint,
    'the Azurite connection string has AccountName, AccountKey and BlobEndpoint',
  );
  return { accountName, accountKey, blobEndpoint };
}
