import { loadConfigFile } from '@barge/broker';
import { type BrokerConfig, createStorage, type ObjectStorage } from '@barge/core';

/** Loads adapter packages from here: the CLI depends on every built-in adapter. */
export const importer = (specifier: string): Promise<unknown> => import(specifier);

export async function loadCliConfig(
  configFile: string | undefined,
  dataDir: string | undefined,
): Promise<BrokerConfig> {
  const env = { ...process.env };
  if (dataDir !== undefined) env.BARGE_DATA_DIR = dataDir;
  return loadConfigFile(configFile, env);
}

/** The storage adapter named by the config (the embedded default without one). */
export async function openConfiguredStorage(configFile?: string, dataDir?: string): Promise<ObjectStorage> {
  const config = await loadCliConfig(configFile, dataDir);
  return createStorage(config.storage, { dataDir: config.broker.dataDir, log: () => {} }, importer);
}

/** Runs `f` with the configured storage (`--config` / `--data`), closing it afterwards. */
export async function withConfiguredStorage<T>(
  flags: { config?: string; data?: string },
  f: (storage: ObjectStorage) => Promise<T>,
): Promise<T> {
  const storage = await openConfiguredStorage(flags.config, flags.data);
  try {
    return await f(storage);
  } finally {
    await storage.close();
  }
}
