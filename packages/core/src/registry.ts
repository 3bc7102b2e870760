import { instanceCachingFactory } from 'tsyringe';
import type { z } from 'zod';
import { type AdapterSection, parseWithSchema } from './config.js';
import { type DependencyContainer, TOKENS } from './di.js';
import { ConfigError, errorMessage } from './errors.js';
import type { PointerQueue } from './pointer-queue.js';
import type { ObjectStorage } from './storage.js';

/** The core API version adapters declare compatibility with (`coreApi`). */
export const CORE_API_VERSION = 1;

export interface AdapterContext {
  /** Directory for adapters that keep local files (local storage, embedded pointers). */
  dataDir: string;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

interface PluginBase<S extends z.ZodType> {
  /** The `adapter:` value that selects this plugin. */
  name: string;
  /** Core API versions this plugin was written against. */
  coreApi: readonly number[];
  /** Validates the config section (with `adapter` removed). */
  configSchema: S;
}

export interface StoragePlugin<S extends z.ZodType = z.ZodType> extends PluginBase<S> {
  kind: 'storage';
  create(config: z.output<S>, ctx: AdapterContext): ObjectStorage | Promise<ObjectStorage>;
}

export interface PointerQueuePlugin<S extends z.ZodType = z.ZodType> extends PluginBase<S> {
  kind: 'pointers';
  create(config: z.output<S>, ctx: AdapterContext): PointerQueue | Promise<PointerQueue>;
}

export type BargePlugin = StoragePlugin | PointerQueuePlugin;
export type PluginKind = BargePlugin['kind'];

/** Built-in adapter names and the packages that provide them. */
export const BUILTIN_ADAPTERS = {
  storage: {
    local: '@barge/storage-local',
    s3: '@barge/storage-s3',
    gcs: '@barge/storage-gcs',
    azure: '@barge/storage-azure',
  },
  pointers: {
    embedded: '@barge/pointers-embedded',
    kafka: '@barge/pointers-kafka',
  },
} as const satisfies Record<PluginKind, Record<string, string>>;

export type BuiltinStorageName = keyof typeof BUILTIN_ADAPTERS.storage;
export type BuiltinPointersName = keyof typeof BUILTIN_ADAPTERS.pointers;

/** Loads a module by specifier; pass `(s) => import(s)` from the package that owns the dependencies. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/**
 * Finds the plugin for `section.adapter` (a built-in name or an npm package name), checks its
 * kind and core API, and validates the section against its schema. Errors name the config field.
 */
export async function loadPlugin<K extends PluginKind>(
  kind: K,
  section: AdapterSection,
  importer: ModuleImporter,
  field: string = kind,
): Promise<{ plugin: Extract<BargePlugin, { kind: K }>; config: unknown }> {
  const builtins: Record<string, string> = BUILTIN_ADAPTERS[kind];
  const name = section.adapter;
  const specifier = builtins[name] ?? name;
  let mod: unknown;
  try {
    mod = await importer(specifier);
  } catch (e) {
    const known = Object.keys(builtins).join(', ');
    throw new ConfigError(
      `${field}.adapter: cannot load "${name}" (built-in ${kind} adapters: ${known}; anything else must be an installed npm package exporting a Barge plugin): ${errorMessage(e)}`,
      `${field}.adapter`,
      { cause: e },
    );
  }
  const plugin = findPlugin(mod);
  if (!plugin) {
    throw new ConfigError(
      `${field}.adapter: module "${specifier}" does not export a Barge plugin (export "bargePlugin" or default)`,
      `${field}.adapter`,
    );
  }
  if (plugin.kind !== kind) {
    throw new ConfigError(
      `${field}.adapter: "${name}" is a ${plugin.kind} adapter, not a ${kind} adapter`,
      `${field}.adapter`,
    );
  }
  if (!plugin.coreApi.includes(CORE_API_VERSION)) {
    throw new ConfigError(
      `${field}.adapter: "${name}" supports core API ${plugin.coreApi.join(', ')}, this broker has ${CORE_API_VERSION}`,
      `${field}.adapter`,
    );
  }
  const { adapter: _adapter, ...rest } = section;
  const config = parseWithSchema(plugin.configSchema, rest, field);
  return { plugin: plugin as Extract<BargePlugin, { kind: K }>, config };
}

function findPlugin(mod: unknown): BargePlugin | undefined {
  if (typeof mod !== 'object' || mod === null) return undefined;
  const m = mod as Record<string, unknown>;
  for (const candidate of [m.bargePlugin, m.default]) {
    if (isPlugin(candidate)) return candidate;
  }
  return undefined;
}

function isPlugin(v: unknown): v is BargePlugin {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    (p.kind === 'storage' || p.kind === 'pointers') &&
    typeof p.name === 'string' &&
    typeof p.create === 'function' &&
    Array.isArray(p.coreApi) &&
    typeof p.configSchema === 'object'
  );
}

/**
 * Registers the configured storage and pointer-queue adapters in `container` under
 * `TOKENS.storage` and `TOKENS.pointerQueue`. Instances are created once, on first resolve,
 * by `resolveAdapters`.
 */
export async function registerAdapters(
  container: DependencyContainer,
  sections: { storage: AdapterSection; pointers: AdapterSection },
  ctx: AdapterContext,
  importer: ModuleImporter,
): Promise<void> {
  const storage = await loadPlugin('storage', sections.storage, importer);
  const pointers = await loadPlugin('pointers', sections.pointers, importer);
  const storagePromise = lazy(() => storage.plugin.create(storage.config, ctx));
  const pointersPromise = lazy(() => pointers.plugin.create(pointers.config, ctx));
  container.register(STORAGE_PROMISE, { useFactory: instanceCachingFactory(storagePromise) });
  container.register(POINTERS_PROMISE, { useFactory: instanceCachingFactory(pointersPromise) });
}

const STORAGE_PROMISE = Symbol.for('barge.ObjectStorage.promise');
const POINTERS_PROMISE = Symbol.for('barge.PointerQueue.promise');

function lazy<T>(f: () => T | Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= Promise.resolve().then(f);
    return p;
  };
}

/**
 * Creates (once) the adapters registered by `registerAdapters` and registers the instances
 * under the core tokens, so the rest of the program resolves them synchronously.
 */
export async function resolveAdapters(
  container: DependencyContainer,
): Promise<{ storage: ObjectStorage; pointers: PointerQueue }> {
  const storage = await container.resolve<Promise<ObjectStorage>>(STORAGE_PROMISE);
  const pointers = await container.resolve<Promise<PointerQueue>>(POINTERS_PROMISE);
  if (!container.isRegistered(TOKENS.storage)) container.registerInstance(TOKENS.storage, storage);
  if (!container.isRegistered(TOKENS.pointerQueue)) container.registerInstance(TOKENS.pointerQueue, pointers);
  return { storage, pointers };
}
