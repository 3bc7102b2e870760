import { guardStorage, type StoragePlugin } from '@barge/core';
import { type S3StorageOptions, s3ConfigSchema } from './config.js';
import { S3Storage } from './s3-storage.js';

export { type S3StorageConfig, type S3StorageOptions, s3ConfigSchema } from './config.js';
export { mapS3Error } from './errors.js';
export { type S3PutStats, S3Storage } from './s3-storage.js';

/** Creates an S3 adapter; `options` is validated (a `ConfigError` names the bad field). */
export function createS3Storage(options: S3StorageOptions): S3Storage {
  return new S3Storage(options);
}

/** The plugin the broker loads for `storage: { adapter: s3, ... }`; `create` returns the storage guarded by core. */
export const bargePlugin: StoragePlugin<typeof s3ConfigSchema> = {
  kind: 'storage',
  name: 's3',
  coreApi: [1],
  configSchema: s3ConfigSchema,
  create: (config) => guardStorage(new S3Storage(config)),
};
