import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '@barge/core';
import { type FaultProxy, patternBytes, randomId, serviceEnv, startFaultProxy } from '@barge/testkit';
import { Storage } from '@google-cloud/storage';
import { GcsStorage, type GcsStorageOptions } from './index.js';

delete process.env.STORAGE_EMULATOR_HOST;

// fake-gcs-server does not implement CMEK, so these tests check the requests the adapter sends
// (through the testkit's recording proxy): the upload requests carry `kmsKeyName`, as the JSON
// API expects (simple uploads and the start of a resumable session).
const endpoint = serviceEnv('gcs');
const projectId = 'barge-test';
const bucket = randomId('barge-cmek');
const KEY = 'projects/barge-test/locations/europe-west1/keyRings/barge/cryptoKeys/objects';
const admin = new Storage({ apiEndpoint: endpoint, projectId });

describe('gcs (fake-gcs-server): kmsKeyName (CMEK) on uploads', () => {
  let proxy: FaultProxy;
  before(async () => {
    await admin.createBucket(bucket);
    proxy = await startFaultProxy({ target: endpoint });
  });
  after(async () => {
    await proxy.close();
    await admin.bucket(bucket).deleteFiles({ force: true });
    await admin.bucket(bucket).delete();
  });

  const storage = (extra: Partial<GcsStorageOptions>) =>
    new GcsStorage({ bucket, apiEndpoint: proxy.url, projectId, resumableThresholdBytes: '1MiB', ...extra });

  /** The `kmsKeyName` query parameters of the upload requests of one put. */
  const uploadKeys = async (s: GcsStorage, body: Buffer): Promise<(string | null)[]> => {
    proxy.clearRequests();
    const key = randomId('o');
    await s.put(key, body);
    assert.ok((await s.get(key)).equals(body));
    const uploads = proxy.requests({ method: 'POST', path: /^\/upload\/storage\/v1\/b\// });
    assert.ok(uploads.length > 0, 'no upload request went through the proxy');
    return uploads.map((r) => new URL(r.url, proxy.url).searchParams.get('kmsKeyName'));
  };

  it('without kmsKeyName no key is named (control)', async () => {
    assert.deepEqual(await uploadKeys(storage({}), Buffer.from('plain')), [null]);
  });

  it('a simple upload names the key', async () => {
    const s = storage({ kmsKeyName: KEY });
    assert.deepEqual(await uploadKeys(s, Buffer.from('cmek')), [KEY]);
    assert.equal(s.lastPut?.mode, 'simple');
  });

  it('a resumable upload names the key when it starts the session', async () => {
    const s = storage({ kmsKeyName: KEY });
    assert.deepEqual(await uploadKeys(s, patternBytes(2 * 1024 * 1024)), [KEY]);
    assert.equal(s.lastPut?.mode, 'resumable');
  });

  it('config: a kmsKeyName that is not a Cloud KMS key name is refused', () => {
    assert.throws(
      () => storage({ kmsKeyName: 'my-key' }),
      (e: unknown) => e instanceof ConfigError && /storage\.kmsKeyName: expected "projects\//.test(e.message),
    );
  });
});
