import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { findServicesEnvFile, parseEnvFile, randomId, SERVICE_ENV_VARS, serviceEnv } from './env.js';

const AZURE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5/+==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;';

describe('parseEnvFile', () => {
  it('reads the lines scripts/services.sh writes, quoted or not', () => {
    const text = [
      '# written by services.sh',
      'BARGE_TEST_S3_ENDPOINT=http://127.0.0.1:5055',
      `BARGE_TEST_AZURE_CONNECTION_STRING='${AZURE}'`,
      '',
      'export BARGE_TEST_KAFKA_BROKERS="127.0.0.1:9092,127.0.0.1:9093"',
      'not a variable line',
      'EMPTY=',
    ].join('\n');
    assert.deepEqual(parseEnvFile(text), {
      BARGE_TEST_S3_ENDPOINT: 'http://127.0.0.1:5055',
      BARGE_TEST_AZURE_CONNECTION_STRING: AZURE,
      BARGE_TEST_KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9093',
      EMPTY: '',
    });
  });
});

describe('serviceEnv', () => {
  const saved = new Map<string, string | undefined>();
  const cwd = process.cwd();
  let dir: string;

  before(async () => {
    dir = await realpath(await mkdtemp(path.join(tmpdir(), 'barge-testkit-env-')));
    for (const v of [...Object.values(SERVICE_ENV_VARS), 'BARGE_SERVICES_CACHE'])
      saved.set(v, process.env[v]);
  });
  afterEach(() => {
    process.chdir(cwd);
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const clearEnv = () => {
    for (const v of [...Object.values(SERVICE_ENV_VARS), 'BARGE_SERVICES_CACHE']) delete process.env[v];
  };

  it('prefers process.env', () => {
    clearEnv();
    process.env.BARGE_TEST_GCS_ENDPOINT = 'http://127.0.0.1:4443';
    assert.equal(serviceEnv('gcs'), 'http://127.0.0.1:4443');
  });

  it('falls back to .cache/services/services.env found by walking up from the working directory', async () => {
    clearEnv();
    const repo = path.join(dir, 'repo');
    await mkdir(path.join(repo, '.cache', 'services'), { recursive: true });
    await mkdir(path.join(repo, 'packages', 'x', 'src'), { recursive: true });
    await writeFile(
      path.join(repo, '.cache', 'services', 'services.env'),
      `BARGE_TEST_S3_ENDPOINT=http://127.0.0.1:5055\nBARGE_TEST_AZURE_CONNECTION_STRING='${AZURE}'\n`,
    );
    process.chdir(path.join(repo, 'packages', 'x', 'src'));
    assert.equal(findServicesEnvFile(), path.join(repo, '.cache', 'services', 'services.env'));
    assert.equal(serviceEnv('s3'), 'http://127.0.0.1:5055');
    assert.equal(serviceEnv('azure'), AZURE);
    assert.throws(
      () => serviceEnv('kafka'),
      (e: unknown) =>
        e instanceof Error &&
        e.message.includes('BARGE_TEST_KAFKA_BROKERS') &&
        e.message.includes('run scripts/services.sh start kafka'),
    );
  });

  it('reads $BARGE_SERVICES_CACHE/services.env when set', async () => {
    clearEnv();
    const cache = path.join(dir, 'cache');
    await mkdir(cache, { recursive: true });
    await writeFile(path.join(cache, 'services.env'), 'BARGE_TEST_KAFKA_BROKERS=127.0.0.1:9092\n');
    process.env.BARGE_SERVICES_CACHE = cache;
    process.chdir(dir);
    assert.equal(serviceEnv('kafka'), '127.0.0.1:9092');
  });

  it('throws a clear error when nothing provides the variable', async () => {
    clearEnv();
    const empty = path.join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    process.chdir(empty);
    assert.equal(findServicesEnvFile(), undefined);
    assert.throws(
      () => serviceEnv('s3'),
      /BARGE_TEST_S3_ENDPOINT is not set .*run scripts\/services\.sh start s3/,
    );
    assert.throws(() => serviceEnv('nope' as never), /unknown service "nope"/);
  });
});

describe('randomId', () => {
  it('is unique and safe for bucket, container and topic names', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => randomId('t')));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^t-[0-9a-z]+-[0-9a-f]{12}$/);
    assert.match(randomId(), /^barge-/);
  });
});
