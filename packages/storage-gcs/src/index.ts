import { guardStorage, type StoragePlugin } from '@barge/core';
import { type GcsStorageOptions, gcsConfigSchema } from './config.js';
import { GcsStorage } from './gcs-storage.js';

export { type GcsStorageConfig, type GcsStorageOptions, gcsConfigSchema } from './config.js';
export { mapGcsError } from './errors.js';
export { type GcsPutStats, GcsStorage } from './gcs-storage.js';

/** Creates a GCS adapter; `options` is validated (a `ConfigError` names the bad field). */
export function createGcsStorage(options: GcsStorageOptions): GcsStorage {
  return new GcsStorage(options);
}

/** The plugin the broker loads for `storage: { adapter: gcs, ... }`; `create` returns the storage guarded by core. */
export const bargePlugin: StoragePlugin<typeof gcsConfigSchema> = {
  kind: 'storage',
  name: 'gcs',
  coreApi: [1],
  configSchema: gcsConfigSchema,
  create: (config) => guardStorage(new GcsStorage(config)),
};
