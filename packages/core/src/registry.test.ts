import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { createContainer, TOKENS } from './di.js';
import { ConfigError } from './errors.js';
import type { PointerQueue } from './pointer-queue.js';
import { type AdapterContext, loadPlugin, registerAdapters, type StoragePlugin } from './registry.js';
import type { ObjectStorage } from './storage.js';
import { guardStorage } from './storage-guard.js';

// The registry is pure wiring: these tests hand it module objects through the importer.
// Real adapters are wired through the same function in the broker and end-to-end tests.
const ctx: AdapterContext = { dataDir: '/tmp/x', log: () => {} };
// Already guarded, so the registry's guard returns it as is and identity checks hold.
const fakeStorage = guardStorage({
  adapter: 'mem',
  location: 'here',
  capabilities: { etag: true, nestedKeys: true, maxDeleteBatch: 1000 },
} as unknown as ObjectStorage);
const fakeQueue = { adapter: 'memq' } as unknown as PointerQueue;
let created = 0;
const storagePlugin: StoragePlugin = {
  kind: 'storage',
  name: 'mem',
  coreApi: [1],
  configSchema: z.strictObject({ bucket: z.string() }),
  create: (cfg: { bucket: string }) => {
    created++;
    assert.equal(cfg.bucket, 'b1');
    return fakeStorage;
  },
};
const modules: Record<string, unknown> = {
  'barge-storage-mem': { bargePlugin: storagePlugin },
  'barge-pointers-mem': {
    default: {
      kind: 'pointers',
      name: 'memq',
      coreApi: [1],
      configSchema: z.object({}),
      create: () => fakeQueue,
    },
  },
  'not-a-plugin': { something: 1 },
  'old-plugin': { bargePlugin: { ...storagePlugin, coreApi: [0] } },
};
const importer = async (s: string) => {
  if (s in modules) return modules[s];
  throw new Error(`Cannot find package '${s}'`);
};

describe('plugin registry', () => {
  it('creates the configured adapters once and registers them under the core tokens', async () => {
    const c = createContainer();
    created = 0;
    const a = await registerAdapters(
      c,
      {
        storage: { adapter: 'barge-storage-mem', bucket: 'b1' },
        pointers: { adapter: 'barge-pointers-mem' },
      },
      ctx,
      importer,
    );
    assert.equal(a.storage.adapter, fakeStorage.adapter, 'the storage, guarded');
    assert.equal(guardStorage(a.storage), a.storage, 'already guarded');
    assert.equal(a.pointers, fakeQueue);
    assert.equal(created, 1);
    assert.equal(c.resolve(TOKENS.storage), a.storage);
    assert.equal(c.resolve(TOKENS.pointerQueue), fakeQueue);
  });

  it('maps built-in names to their packages', async () => {
    const seen: string[] = [];
    await assert.rejects(
      loadPlugin('storage', { adapter: 's3' }, async (s) => {
        seen.push(s);
        throw new Error('nope');
      }),
    );
    assert.deepEqual(seen, ['@barge/storage-s3']);
  });

  const failures: [string, Record<string, unknown>, RegExp][] = [
    [
      'unknown adapter',
      { adapter: 'nosuch' },
      /storage\.adapter: cannot load "nosuch".*local, s3, gcs, azure/,
    ],
    ['module without plugin', { adapter: 'not-a-plugin' }, /does not export a Barge plugin/],
    ['wrong kind', { adapter: 'barge-pointers-mem' }, /is a pointers adapter, not a storage adapter/],
    ['incompatible core api', { adapter: 'old-plugin', bucket: 'x' }, /supports core API 0/],
    ['bad adapter config', { adapter: 'barge-storage-mem', bucket: 7 }, /storage\.bucket/],
    ['unknown adapter key', { adapter: 'barge-storage-mem', bucket: 'x', bukket: 'y' }, /bukket/],
  ];
  for (const [what, section, pattern] of failures) {
    it(`fails loudly on ${what}`, async () => {
      await assert.rejects(
        loadPlugin('storage', section as { adapter: string }, importer),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
      );
    });
  }
});

describe('plugin resolution from the working directory', () => {
  // Throwaway packages in a temp dir outside the repository, so nothing resolves from the
  // repository's node_modules by accident. The broker runs with its working directory here.
  const root = mkdtempSync(path.join(tmpdir(), 'barge-plugin-lookup-'));
  const cwd = path.join(root, 'project', 'conf');
  mkdirSync(cwd, { recursive: true });
  after(() => rmSync(root, { recursive: true, force: true }));

  const pluginSource = (name: string) => `export const bargePlugin = {
    kind: 'storage', name: ${JSON.stringify(name)}, coreApi: [1],
    configSchema: { safeParse: (v) => ({ success: true, data: v }) },
    create: () => { throw new Error('not created in this test'); },
  };\n`;
  const writePackage = (name: string, manifest: Record<string, unknown>, files: Record<string, string>) => {
    const dir = path.join(root, 'project', 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...manifest }));
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  };
  // ESM only: `require` conditions find nothing, so resolution must match `import`.
  writePackage(
    '@acme/barge-storage-esm',
    { type: 'module', exports: { '.': { types: './index.d.ts', require: null, import: './plugin.js' } } },
    { 'plugin.js': pluginSource('esm-from-cwd') },
  );
  writePackage(
    'barge-storage-both',
    { type: 'module', main: 'main.js' },
    { 'main.js': pluginSource('both-cwd') },
  );
  writePackage(
    'barge-storage-broken',
    { type: 'module', exports: './index.js' },
    { 'index.js': 'throw new Error("broken on purpose");\n' },
  );
  writePackage('barge-storage-cjs-only', { exports: { require: './index.cjs' } }, { 'index.cjs': '' });

  const importerSaw: string[] = [];
  const fallbackImporter = async (s: string) => {
    importerSaw.push(s);
    if (s === 'barge-storage-both')
      return { bargePlugin: { ...storagePlugin, name: 'both-importer', configSchema: z.object({}) } };
    throw new Error(`Cannot find package '${s}' imported from the broker`);
  };
  const fromWorkingDir = async <T>(f: () => Promise<T>): Promise<T> => {
    const before = process.cwd();
    process.chdir(cwd);
    try {
      return await f();
    } finally {
      process.chdir(before);
    }
  };

  it('loads an ESM-only scoped package from node_modules above the working directory', async () => {
    importerSaw.length = 0;
    const { plugin } = await fromWorkingDir(() =>
      loadPlugin('storage', { adapter: '@acme/barge-storage-esm' }, fallbackImporter),
    );
    assert.equal(plugin.name, 'esm-from-cwd');
    assert.deepEqual(importerSaw, []);
  });

  it("prefers the working directory to the broker's own dependencies", async () => {
    const { plugin } = await fromWorkingDir(() =>
      loadPlugin('storage', { adapter: 'barge-storage-both' }, fallbackImporter),
    );
    assert.equal(plugin.name, 'both-cwd');
  });

  it('falls back to the importer when the working directory does not have the package', async () => {
    const { plugin } = await loadPlugin('storage', { adapter: 'barge-storage-both' }, fallbackImporter);
    assert.equal(plugin.name, 'both-importer');
  });

  it('names every place it looked when the package is nowhere', async () => {
    await assert.rejects(
      fromWorkingDir(() => loadPlugin('storage', { adapter: 'barge-storage-nowhere' }, fallbackImporter)),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.path, 'storage.adapter');
        for (const folder of [
          path.join(cwd, 'node_modules'),
          path.join(root, 'project', 'node_modules'),
          path.join(root, 'node_modules'),
          `${path.parse(root).root}node_modules`,
        ]) {
          assert.ok(e.message.includes(folder), `${folder} missing from: ${e.message}`);
        }
        assert.match(
          e.message,
          /not among the broker's own dependencies: Cannot find package 'barge-storage-nowhere'/,
        );
        assert.match(e.message, /local, s3, gcs, azure/);
        return true;
      },
    );
  });

  it('reports a package that is found but fails to load, without looking elsewhere', async () => {
    importerSaw.length = 0;
    await assert.rejects(
      fromWorkingDir(() => loadPlugin('storage', { adapter: 'barge-storage-broken' }, fallbackImporter)),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(path.join('barge-storage-broken', 'index.js')) &&
        /broken on purpose/.test(e.message),
    );
    assert.deepEqual(importerSaw, []);
  });

  it('reports a package that exports nothing to import', async () => {
    await assert.rejects(
      fromWorkingDir(() => loadPlugin('storage', { adapter: 'barge-storage-cjs-only' }, fallbackImporter)),
      (e: unknown) => e instanceof ConfigError && /has no entry for "barge-storage-cjs-only"/.test(e.message),
    );
  });
});
