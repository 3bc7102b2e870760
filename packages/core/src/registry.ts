import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { type AdapterSection, parseWithSchema } from './config.js';
import { type DependencyContainer, TOKENS } from './di.js';
import { ConfigError, errorMessage } from './errors.js';
import { lookUpPackage, type PackageLookup, splitPackageSpecifier } from './package-lookup.js';
import type { PointerQueue } from './pointer-queue.js';
import type { ObjectStorage } from './storage.js';
import { guardStorage } from './storage-guard.js';

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
 * Where the package is looked for: see `importPlugin`.
 */
export async function loadPlugin<K extends PluginKind>(
  kind: K,
  section: AdapterSection,
  importer: ModuleImporter,
  field: string = kind,
): Promise<{ plugin: Extract<BargePlugin, { kind: K }>; config: unknown }> {
  const name = section.adapter;
  const { mod, specifier } = await importPlugin(kind, name, importer, field);
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

/**
 * Imports the module `adapter: name` selects:
 * 1. a built-in name (`local`, `s3`, ...): its `@barge/*` package, through `importer` (the
 *    packages installed with the broker);
 * 2. any other package name: from the `node_modules` folders at and above the working directory
 *    (where the operator installed it), as an `import` written in that directory would;
 * 3. then through `importer`, so a plugin installed next to the broker's own packages loads too.
 * A package found in step 2 that fails to load is reported as it is, not looked for elsewhere.
 */
async function importPlugin(
  kind: PluginKind,
  name: string,
  importer: ModuleImporter,
  field: string,
): Promise<{ mod: unknown; specifier: string }> {
  const builtins: Record<string, string> = BUILTIN_ADAPTERS[kind];
  const cannotLoad = (detail: string, cause: unknown) =>
    new ConfigError(`${field}.adapter: cannot load "${name}": ${detail}`, `${field}.adapter`, { cause });
  const builtin = builtins[name];
  if (builtin !== undefined) {
    try {
      return { mod: await importer(builtin), specifier: builtin };
    } catch (e) {
      throw cannotLoad(`the built-in ${kind} adapter ${builtin} did not load: ${errorMessage(e)}`, e);
    }
  }
  let notInWorkingDir = '';
  if (splitPackageSpecifier(name)) {
    const cwd = process.cwd();
    let lookup: PackageLookup;
    try {
      lookup = lookUpPackage(name, cwd);
    } catch (e) {
      throw cannotLoad(errorMessage(e), e);
    }
    if (lookup.found) {
      try {
        return { mod: await import(pathToFileURL(lookup.file).href), specifier: lookup.file };
      } catch (e) {
        throw cannotLoad(`${lookup.file}: ${errorMessage(e)}`, e);
      }
    }
    notInWorkingDir = ` not in ${lookup.searched.join(', ')} (at and above the working directory ${cwd});`;
  }
  try {
    return { mod: await importer(name), specifier: name };
  } catch (e) {
    const known = Object.keys(builtins).join(', ');
    throw cannotLoad(
      `neither a built-in ${kind} adapter (${known}) nor an installed npm package:${notInWorkingDir} not among the broker's own dependencies: ${errorMessage(e)}`,
      e,
    );
  }
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

/** The adapters a broker runs on. */
export interface Adapters {
  /** Guarded (`guardStorage`): the contract's preamble is checked once, in core. */
  storage: ObjectStorage;
  pointers: PointerQueue;
}

/**
 * Creates the configured storage and pointer-queue adapters and registers them in `container`
 * under `TOKENS.storage` and `TOKENS.pointerQueue`. Both plugins are loaded and their config
 * sections validated before either adapter is created; if the pointer queue cannot be created,
 * the storage is closed again.
 */
export async function registerAdapters(
  container: DependencyContainer,
  sections: { storage: AdapterSection; pointers: AdapterSection },
  ctx: AdapterContext,
  importer: ModuleImporter,
): Promise<Adapters> {
  const storagePlugin = await loadPlugin('storage', sections.storage, importer);
  const pointersPlugin = await loadPlugin('pointers', sections.pointers, importer);
  const storage = await createGuarded(storagePlugin, ctx);
  let pointers: PointerQueue;
  try {
    pointers = await pointersPlugin.plugin.create(pointersPlugin.config, ctx);
  } catch (e) {
    await storage.close().catch(() => {});
    throw e;
  }
  container.registerInstance(TOKENS.storage, storage);
  container.registerInstance(TOKENS.pointerQueue, pointers);
  return { storage, pointers };
}

/**
 * Creates the storage adapter a config section selects, guarded (`guardStorage`), without a
 * container: for tools that only read storage (e.g. `barge inspect`).
 */
export async function createStorage(
  section: AdapterSection,
  ctx: AdapterContext,
  importer: ModuleImporter,
): Promise<ObjectStorage> {
  return createGuarded(await loadPlugin('storage', section, importer), ctx);
}

async function createGuarded(
  loaded: { plugin: StoragePlugin; config: unknown },
  ctx: AdapterContext,
): Promise<ObjectStorage> {
  return guardStorage(await loaded.plugin.create(loaded.config, ctx));
}
