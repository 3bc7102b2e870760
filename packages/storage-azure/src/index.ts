import { guardStorage, type StoragePlugin } from '@barge/core';
import { AzureStorage } from './azure-storage.js';
import { type AzureStorageOptions, azureConfigSchema } from './config.js';

export { type AzurePutStats, AzureStorage } from './azure-storage.js';
export {
  type AzureAuthMode,
  type AzureStorageConfig,
  type AzureStorageOptions,
  authModeOf,
  azureConfigSchema,
} from './config.js';
export { mapAzureError } from './errors.js';

/** Creates an Azure Blob adapter; `options` is validated (a `ConfigError` names the bad field). */
export function createAzureStorage(options: AzureStorageOptions): AzureStorage {
  return new AzureStorage(options);
}

/** The plugin the broker loads for `storage: { adapter: azure, ... }`; `create` returns the storage guarded by core. */
export const bargePlugin: StoragePlugin<typeof azureConfigSchema> = {
  kind: 'storage',
  name: 'azure',
  coreApi: [1],
  configSchema: azureConfigSchema,
  create: (config) => guardStorage(new AzureStorage(config)),
};
