import { BlobServiceClient } from '@azure/storage-blob';
import { describeConnectionFaults, randomId, serviceEnv } from '@barge/testkit';
import { AzureStorage, type AzureStorageOptions } from './index.js';

const connectionString = serviceEnv('azure');
const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(connectionString)?.[1] ?? '';
const accountName = /AccountName=([^;]+)/.exec(connectionString)?.[1] ?? '';
const container = randomId('barge-az-conn');
const options = (extra: Partial<AzureStorageOptions> = {}): AzureStorageOptions =>
  ({ container, connectionString, ...extra }) as AzureStorageOptions;

describeConnectionFaults(
  'azure: broken connections are transient (real SDK errors through the fault proxy)',
  (url) =>
    new AzureStorage(
      options({
        connectionString: connectionString.replace(
          /BlobEndpoint=[^;]+/,
          `BlobEndpoint=${url}/${accountName}`,
        ),
        maxTries: 1,
        tryTimeoutMs: 1000,
      }),
    ),
  {
    target: blobEndpoint.replace(/\/[^/]+\/?$/, ''),
    backend: 'azure',
    timeoutMs: 1000,
    requests: { upload: { method: 'PUT' }, download: { method: 'GET' } },
    key: (name) => name,
    // Known gap: the SDK's retry policy sends `tryTimeoutInMs` to the service as `timeout=` and
    // sets no client-side timer, so a request that never gets an answer hangs.
    blackholeTimesOut: false,
    async seed(key, body) {
      await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container).create();
      const direct = new AzureStorage(options());
      await direct.put(key, body);
      await direct.close();
    },
  },
);
