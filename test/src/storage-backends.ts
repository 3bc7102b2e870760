import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { loadPlugin, type ObjectStorage } from '@barge/core';
import { serviceEnv } from '@barge/testkit';
import { Storage } from '@google-cloud/storage';
import { freshBucket, s3Options } from './kafka-fixtures.js';

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
      const { name: s3Bucket } = await freshBucket('barge-e2e');
      return { adapter: 's3', prefix: 'barge', ...s3Options(s3Bucket) };
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
