import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '@barge/broker';
import { ConfigError } from '@barge/core';
import fc from 'fast-check';
import { tempDir } from '../harness.js';

/**
 * Property-based fuzzing of the broker's config-file loader (`barge broker --config FILE` plus
 * `BARGE_*` overrides): random YAML documents, including anchors, aliases to their own ancestors,
 * YAML 1.1 tags and merge keys, and random environment overrides give a config or a
 * `ConfigError` naming the file and the field; never a `TypeError` or another crash.
 */

const SECTIONS = ['broker', 'storage', 'pointers', 'topics', 'upload', 'limits', 'other'];
const KEYS = [
  'id',
  'listen',
  'admin',
  'dataDir',
  'adapter',
  'bucket',
  'name',
  'batch',
  'maxBytes',
  'inFlightBytes',
  'maxFrameBytes',
  'maxConnections',
  'parallelism',
  'writePartitions',
  'compression',
  '__proto__',
  'constructor',
  'x',
];
const SCALARS = [
  '1',
  '-1',
  '0x10',
  '1e400',
  '.inf',
  '.nan',
  '~',
  'null',
  'true',
  'yes',
  "'8 MiB'",
  '8MiB',
  '""',
  '2026-12-02',
  '!!binary aGVsbG8=',
  '!!str 5',
  '!!int "x"',
  '!!float 1',
  '!!set { a, b }',
  '!!omap [ a: 1 ]',
  '!!timestamp 2001-12-14',
  '!custom x',
  '*undefinedAlias',
  '&a 5',
  '*a',
  '&s [ *s ]',
  '&m { k: *m }',
  '"\\u0000"',
  '[]',
  '{}',
  '[1, [2, [3]]]',
  '{ <<: { adapter: s3 }, bucket: b }',
  '127.0.0.1:7070',
  "'127.0.0.1:99999'",
];

/** One YAML document built from known and unknown keys, odd scalars, flow collections and aliases. */
const yamlDoc = fc
  .tuple(
    fc.constantFrom('', '%YAML 1.1\n---\n', '%YAML 1.2\n---\n', '--- ', '---\n'),
    fc.array(
      fc.tuple(
        fc.constantFrom(...SECTIONS),
        fc.oneof(
          fc.constantFrom(...SCALARS),
          fc
            .array(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...SCALARS)), { maxLength: 4 })
            .map((kv) => `{ ${kv.map(([k, v]) => `${k}: ${v}`).join(', ')} }`),
          fc
            .array(
              fc
                .array(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...SCALARS)), { maxLength: 3 })
                .map((kv) => `{ ${kv.map(([k, v]) => `${k}: ${v}`).join(', ')} }`),
              { maxLength: 3 },
            )
            .map((items) => `[ ${items.join(', ')} ]`),
        ),
      ),
      { maxLength: 6 },
    ),
  )
  .map(([head, entries]) => head + entries.map(([k, v]) => `${k}: ${v}`).join('\n'));

const envArb = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'BARGE_DATA_DIR',
      'BARGE_LISTEN',
      'BARGE_ADMIN',
      'BARGE_STORAGE_ADAPTER',
      'BARGE_LIMITS_MAX_CONNECTIONS',
    ),
    fc
      .tuple(
        fc.constantFrom('BROKER', 'STORAGE', 'POINTERS', 'UPLOAD', 'LIMITS', 'TOPICS'),
        fc.constantFrom(...KEYS),
      )
      .map(([s, k]) => `BARGE_${s}_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`),
  ),
  fc.oneof(
    fc.constantFrom('1', '-1', '[1,2]', '{"a":{"b":1}}', '{"adapter":5}', 'null', 'true', ' 7 ', '{'),
    fc.string(),
  ),
  { maxKeys: 3 },
);

describe('fuzz: broker config file loader', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  before(async () => {
    dir = await tempDir('barge-config-fuzz-');
  });
  after(() => dir.remove());

  /** Loads `text` as a config file with `env`; returns normally or fails with a ConfigError naming the field. */
  async function loadedOrConfigError(text: string | Buffer, env: Record<string, string>): Promise<void> {
    const file = join(dir.path, `c${n++}.yaml`);
    await writeFile(file, text);
    try {
      await loadConfigFile(file, env);
    } catch (e) {
      assert.ok(
        e instanceof ConfigError,
        `not a ConfigError for ${JSON.stringify(String(text))}: ${(e as Error)?.stack ?? e}`,
      );
      assert.ok(e.message.includes(file), `"${e.message}" does not name the file`);
      if (e.path) assert.ok(e.message.includes(e.path), `"${e.message}" does not name ${e.path}`);
    }
  }

  const runs = { numRuns: 400, interruptAfterTimeLimit: 4_000 };

  it('random YAML documents and environment overrides', async () => {
    await fc.assert(fc.asyncProperty(yamlDoc, envArb, loadedOrConfigError), runs);
  });

  it('random text and bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
        ),
        (text) => loadedOrConfigError(text, {}),
      ),
      runs,
    );
  });

  it('an alias to its own ancestor is named, not a TypeError', async () => {
    for (const text of [
      'broker: { id: &a [ *a ] }',
      'limits: &l { maxConnections: *l }',
      'topics: &t [ *t ]',
    ]) {
      await loadedOrConfigError(text, {});
      await assert.rejects(loadConfigFile(join(dir.path, `c${n - 1}.yaml`), {}), ConfigError);
    }
  });
});
