import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApiKey, ConfigError } from '@barge/core';
import { startBrokerFromConfig } from './compose.js';
import { envOverrides, loadConfigFile } from './config-file.js';
import { ok, produceRequest, silent, TestClient } from './test-helpers.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'barge-config-'));
  dirs.push(d);
  return d;
}

describe('loadConfigFile', () => {
  it('gives the embedded default with no file and no overrides', async () => {
    const c = await loadConfigFile(undefined, {});
    assert.equal(c.broker.listen, '127.0.0.1:7070');
    assert.equal(c.broker.dataDir, './barge-data');
    assert.deepEqual(c.storage, { adapter: 'local' });
    assert.deepEqual(c.pointers, { adapter: 'embedded' });
    assert.equal(c.upload.inFlightBytes, 256 * 1024 * 1024);
  });

  it('reads YAML and applies BARGE_* overrides', async () => {
    const d = await tmp();
    const path = join(d, 'barge.yaml');
    await writeFile(
      path,
      [
        'broker: { id: 3, listen: "0.0.0.0:7000" }',
        'storage: { adapter: s3, bucket: b1, region: us-east-1 }',
        'topics:',
        '  - { name: logs, readPartitions: 12, batch: { maxBytes: 4MiB, maxDelayMs: 100 }, compression: lz4 }',
        'upload: { hedgeAfterMs: 500 }',
      ].join('\n'),
    );
    const c = await loadConfigFile(path, {
      BARGE_BROKER_LISTEN: '127.0.0.1:9000',
      BARGE_DATA_DIR: '/var/lib/barge',
      BARGE_STORAGE_BUCKET: 'b2',
      BARGE_UPLOAD_PARALLELISM: '16',
      BARGE_UPLOAD_IN_FLIGHT_BYTES: '64MiB',
      BARGE_LIMITS_MAX_CONNECTIONS: '10',
      BARGE_POINTERS_ADAPTER: 'kafka',
      BARGE_POINTERS_BROKERS: '["k1:9092","k2:9092"]',
      BARGE_TEST_S3_ENDPOINT: 'ignored',
    });
    assert.equal(c.broker.id, 3);
    assert.equal(c.broker.listen, '127.0.0.1:9000');
    assert.equal(c.broker.dataDir, '/var/lib/barge');
    assert.deepEqual(c.storage, { adapter: 's3', bucket: 'b2', region: 'us-east-1' });
    assert.deepEqual(c.pointers, { adapter: 'kafka', brokers: ['k1:9092', 'k2:9092'] });
    assert.equal(c.upload.parallelism, 16);
    assert.equal(c.upload.inFlightBytes, 64 * 1024 * 1024);
    assert.equal(c.upload.hedgeAfterMs, 500);
    assert.equal(c.limits.maxConnections, 10);
    assert.equal(c.topics[0]?.batch.maxBytes, 4 * 1024 * 1024);
  });

  it('switching the storage adapter by env drops the file section of the other adapter', async () => {
    const d = await tmp();
    const path = join(d, 'barge.yaml');
    await writeFile(path, 'storage:\n  adapter: s3\n  bucket: b1\n');
    const c = await loadConfigFile(path, { BARGE_STORAGE_ADAPTER: 'local', BARGE_STORAGE_ROOT: '/data' });
    assert.deepEqual(c.storage, { adapter: 'local', root: '/data' });
  });

  it('errors name the file and the field', async () => {
    const d = await tmp();
    const path = join(d, 'bad.yaml');
    await writeFile(path, 'upload:\n  parallelism: 0\n');
    await assert.rejects(loadConfigFile(path, {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'upload.parallelism');
      assert.match(e.message, /bad\.yaml/);
      return true;
    });
    await assert.rejects(loadConfigFile(undefined, { BARGE_BROKER_LISTEN: 'nope' }), /broker\.listen/);
    await writeFile(path, 'broker: [1, 2\n');
    await assert.rejects(loadConfigFile(path, {}), /not valid YAML/);
    await assert.rejects(loadConfigFile(join(d, 'missing.yaml'), {}), /cannot read config file/);
  });

  it('envOverrides maps names to camelCase keys', () => {
    assert.deepEqual(envOverrides({ BARGE_UPLOAD_HEDGE_AFTER_MS: '250', BARGE_LISTEN: 'h:1', OTHER: 'x' }), {
      upload: { hedgeAfterMs: 250 },
      broker: { listen: 'h:1' },
    });
    assert.deepEqual(
      envOverrides({
        BARGE_SECURITY_ALLOW_ANONYMOUS: 'true',
        BARGE_SECURITY_AUTHENTICATION: '["SCRAM-SHA-512"]',
      }),
      { security: { allowAnonymous: true, authentication: ['SCRAM-SHA-512'] } },
    );
    assert.deepEqual(envOverrides({ BARGE_CLUSTER_ID: 'prod', BARGE_CLUSTER_SESSION_TIMEOUT_MS: '6000' }), {
      cluster: { id: 'prod', sessionTimeoutMs: 6000 },
    });
  });
});

describe('startBrokerFromConfig', () => {
  it('starts the embedded default through the DI container and serves produce requests', async () => {
    const dataDir = await tmp();
    const config = await loadConfigFile(undefined, {
      BARGE_DATA_DIR: dataDir,
      BARGE_BROKER_LISTEN: '127.0.0.1:0',
    });
    const { broker } = await startBrokerFromConfig(
      { ...config, topics: [defaultTopic()] },
      { importer: (s) => import(s), logger: silent },
    );
    try {
      const c = await TestClient.connect(broker.address.port);
      const r = ok(await c.request(ApiKey.Produce, produceRequest('t', ['via DI'])));
      assert.equal(r.offset, 0);
      c.close();
      assert.equal(broker.storage.adapter, 'local');
      assert.equal(broker.storage.location, join(dataDir, 'objects'));
      assert.equal(broker.pointers.adapter, 'embedded');
      assert.ok((await stat(join(dataDir, 'pointers.sqlite'))).isFile());
    } finally {
      await broker.stop();
    }
  });

  it('fails with a ConfigError naming the field for an unknown adapter', async () => {
    const config = await loadConfigFile(undefined, { BARGE_STORAGE_ADAPTER: 'nosuch-adapter-xyz' });
    await assert.rejects(
      startBrokerFromConfig(config, { importer: (s) => import(s), logger: silent }),
      (e: unknown) => e instanceof ConfigError && e.path === 'storage.adapter',
    );
  });
});

function defaultTopic() {
  return {
    name: 't',
    writePartitions: 1,
    readPartitions: 1,
    batch: { maxBytes: 1024 * 1024, maxMessages: 1000, maxDelayMs: 5 },
    compression: 'none' as const,
  };
}
