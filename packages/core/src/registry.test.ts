import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { createContainer, TOKENS } from './di.js';
import { ConfigError } from './errors.js';
import type { PointerQueue } from './pointer-queue.js';
import {
  type AdapterContext,
  loadPlugin,
  registerAdapters,
  resolveAdapters,
  type StoragePlugin,
} from './registry.js';
import type { ObjectStorage } from './storage.js';

// The registry is pure wiring: these tests hand it module objects through the importer.
// Real adapters are wired through the same function in the broker and end-to-end tests.
const ctx: AdapterContext = { dataDir: '/tmp/x', log: () => {} };
const fakeStorage = { adapter: 'mem', location: 'here' } as unknown as ObjectStorage;
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
  it('registers the configured adapters under the core tokens, created once', async () => {
    const c = createContainer();
    created = 0;
    await registerAdapters(
      c,
      {
        storage: { adapter: 'barge-storage-mem', bucket: 'b1' },
        pointers: { adapter: 'barge-pointers-mem' },
      },
      ctx,
      importer,
    );
    const a = await resolveAdapters(c);
    const b = await resolveAdapters(c);
    assert.equal(a.storage, fakeStorage);
    assert.equal(a.pointers, fakeQueue);
    assert.equal(b.storage, fakeStorage);
    assert.equal(created, 1);
    assert.equal(c.resolve(TOKENS.storage), fakeStorage);
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
