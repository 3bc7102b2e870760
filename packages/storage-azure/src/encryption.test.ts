import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { ConfigError } from '@barge/core';
import { type FaultProxy, patternBytes, randomId, serviceEnv, startFaultProxy } from '@barge/testkit';
import { AzureStorage, type AzureStorageOptions } from './index.js';

// Azurite does not implement encryption scopes, so these tests check the requests the adapter
// sends (through the testkit's recording proxy): every write request carries
// `x-ms-encryption-scope` (Put Blob, and Put Block + Put Block List for block uploads).
const connectionString = serviceEnv('azure');
const container = randomId('barge-scope');
const SCOPE = 'barge-objects';
const admin = BlobServiceClient.fromConnectionString(connectionString);

describe('azure (Azurite): encryptionScope on uploads', () => {
  let proxy: FaultProxy;
  before(async () => {
    await admin.getContainerClient(container).create();
    proxy = await startFaultProxy({ target: new URL(admin.url).origin });
  });
  after(async () => {
    await proxy.close();
    await admin.getContainerClient(container).delete();
  });

  const storage = (extra: Partial<AzureStorageOptions>) => {
    const via = connectionString.replace(/BlobEndpoint=([^;]+)/, (_m, url: string) => {
      const u = new URL(url);
      return `BlobEndpoint=${proxy.url}${u.pathname}`;
    });
    const base = { container, connectionString: via, maxSingleShotSize: '1MiB', blockSize: '1MiB' };
    return new AzureStorage({ ...base, ...extra } as AzureStorageOptions);
  };

  /** `x-ms-encryption-scope` of each write request of one put, as `<comp or blob>=<scope>`. */
  const writeScopes = async (s: AzureStorage, body: Buffer): Promise<string[]> => {
    proxy.clearRequests();
    const key = randomId('o');
    await s.put(key, body);
    assert.ok((await s.get(key)).equals(body));
    return proxy.requests({ method: 'PUT' }).map((r) => {
      const comp = new URL(r.url, proxy.url).searchParams.get('comp') ?? 'blob';
      return `${comp}=${r.headers['x-ms-encryption-scope'] ?? '(none)'}`;
    });
  };

  it('without encryptionScope no scope is sent (control)', async () => {
    assert.deepEqual(await writeScopes(storage({}), Buffer.from('plain')), ['blob=(none)']);
  });

  it('Put Blob carries the scope', async () => {
    const s = storage({ encryptionScope: SCOPE });
    assert.deepEqual(await writeScopes(s, Buffer.from('scoped')), [`blob=${SCOPE}`]);
    assert.equal(s.lastPut?.mode, 'single');
  });

  it('a block upload carries it on every Put Block and on Put Block List', async () => {
    const s = storage({ encryptionScope: SCOPE });
    const scopes = await writeScopes(s, patternBytes(3 * 1024 * 1024));
    assert.equal(s.lastPut?.mode, 'blocks');
    assert.deepEqual(scopes.sort(), [...Array(3).fill(`block=${SCOPE}`), `blocklist=${SCOPE}`]);
  });

  it('config: an encryption scope name with other characters is refused', () => {
    assert.throws(
      () => storage({ encryptionScope: 'my scope' }),
      (e: unknown) => e instanceof ConfigError && /storage\.encryptionScope: expected 3-63/.test(e.message),
    );
  });
});
