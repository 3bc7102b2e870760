import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { describeConnectionFaults, randomId, serviceEnv } from '@barge/testkit';
import { S3Storage, type S3StorageOptions } from './index.js';

const endpoint = serviceEnv('s3');
const bucket = randomId('barge-s3-conn');
const options = (extra: Partial<S3StorageOptions> = {}): S3StorageOptions => ({
  bucket,
  endpoint,
  forcePathStyle: true,
  accessKeyId: 'test',
  secretAccessKey: 'test',
  ...extra,
});

describeConnectionFaults(
  's3: broken connections are transient (real SDK errors through the fault proxy)',
  (url) => new S3Storage(options({ endpoint: url, maxAttempts: 1, requestTimeoutMs: 1000 })),
  {
    target: endpoint,
    backend: 's3',
    timeoutMs: 1000,
    requests: { upload: { method: 'PUT' }, download: { method: 'GET' } },
    key: (name) => name,
    async seed(key, body) {
      const admin = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      admin.destroy();
      const direct = new S3Storage(options());
      await direct.put(key, body);
      await direct.close();
    },
  },
);
