import path from 'node:path';
import { guardStorage, type StoragePlugin } from '@barge/core';
import { z } from 'zod';
import { createLocalStorage } from './local-storage.js';

/** The `storage:` config section of `adapter: local` (with `adapter` removed). */
export const localStorageConfigSchema = z.strictObject({
  /** Root directory of the objects. Default `<broker.dataDir>/objects`. */
  root: z.string().min(1, 'expected a directory path').optional(),
});

export type LocalStorageConfig = z.output<typeof localStorageConfigSchema>;

/** Selected by `storage: { adapter: local }`; `create` returns the storage guarded by core. */
export const bargePlugin: StoragePlugin<typeof localStorageConfigSchema> = {
  kind: 'storage',
  name: 'local',
  coreApi: [1],
  configSchema: localStorageConfigSchema,
  create: async (config, ctx) =>
    guardStorage(await createLocalStorage({ root: config.root ?? path.join(ctx.dataDir, 'objects') })),
};
