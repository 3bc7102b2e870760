import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { loadPlugin, type ObjectStorage } from '@barge/core';
import { serviceEnv } from '@barge/testkit';
import { Storage } from '@google-cloud/storage';

export type StorageBackendName = 'local' | 's3' | 'gcs' | 'azure';
export const STORAGE_BACKENDS: readonly StorageBackendName[] = ['local', 's3', 'gcs', 'azure'];

/**
 * A fresh bucket or container (a directory under `localDir` for local) on the test services, and
 * the `storage:` config section that uses it.
 */
export async function prepareStorage(
  name: StorageBackendName,
  localDir?: string,
): Promise<Record<string, unknown>> {
  const bucket = `barge-e2e-${randomBytes(4).toString('hex')}`;
  switch (name) {
    case 'local':
      if (localDir === undefined) throw new Error('prepareStorage: local storage needs a directory');
      return { adapter: 'local', root: join(localDir, bucket) };
    case 's3': {
      const endpoint = serviceEnv('s3');
      const s3 = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      s3.destroy();
      return {
        adapter: 's3',
        bucket,
        prefix: 'barge',
        endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        accessKeyId: 'test',
        secretAccessKey: 'test',
      };
    }
    case 'gcs': {
      const apiEndpoint = serviceEnv('gcs');
      await new Storage({ apiEndpoint, projectId: 'test' }).createBucket(bucket);
      return { adapter: 'gcs', bucket, prefix: 'barge', apiEndpoint, projectId: 'test' };
    }
    case 'azure': {
      const connectionString = serviceEnv('azure');
      await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(bucket).create();
      return { adapter: 'azure', container: bucket, prefix: 'barge', connectionString };
    }
  }
}

/** Opens the storage a `storage:` section names, as the broker does. */
export async function openStorage(section: Record<string, unknown>, dataDir: string): Promise<ObjectStorage> {
  const { plugin, config } = await loadPlugin('storage', section as { adapter: string }, (s) => import(s));
  return plugin.create(config, { dataDir, log: () => {} });
}
