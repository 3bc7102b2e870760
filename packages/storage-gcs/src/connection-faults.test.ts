import { describeConnectionFaults, randomId, serviceEnv } from '@barge/testkit';
import { Storage } from '@google-cloud/storage';
import { GcsStorage, type GcsStorageOptions } from './index.js';

// @google-cloud/storage sends everything to STORAGE_EMULATOR_HOST when it is set.
delete process.env.STORAGE_EMULATOR_HOST;

const endpoint = serviceEnv('gcs');
const projectId = 'barge-test';
const bucket = randomId('barge-gcs-conn');
const options = (extra: Partial<GcsStorageOptions> = {}): GcsStorageOptions => ({
  bucket,
  apiEndpoint: endpoint,
  projectId,
  ...extra,
});

describeConnectionFaults(
  'gcs: broken connections are transient (real SDK errors through the fault proxy)',
  (url) => new GcsStorage(options({ apiEndpoint: url, maxRetries: 0, timeoutMs: 1000 })),
  {
    target: endpoint,
    backend: 'gcs',
    timeoutMs: 1000,
    requests: {
      upload: { method: 'POST', url: /^\/upload\// },
      download: { method: 'GET', url: /alt=media/ },
    },
    key: (name) => name,
    async seed(key, body) {
      await new Storage({ apiEndpoint: endpoint, projectId }).createBucket(bucket);
      const direct = new GcsStorage(options());
      await direct.put(key, body);
      await direct.close();
    },
  },
);
