import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBrokerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { parseSize } from './size.js';

describe('parseSize', () => {
  it('parses units', () => {
    assert.equal(parseSize('8MiB'), 8 * 1024 * 1024);
    assert.equal(parseSize('512 KiB'), 512 * 1024);
    assert.equal(parseSize('1.5KB'), 1500);
    assert.equal(parseSize('1000'), 1000);
    assert.equal(parseSize(42), 42);
  });
  it('names the field and the expected form', () => {
    assert.throws(
      () => parseSize('8 parsecs', 'topics[0].batch.maxBytes'),
      (e: unknown) =>
        e instanceof ConfigError && /topics\[0\]\.batch\.maxBytes/.test(e.message) && /MiB/.test(e.message),
    );
    assert.throws(() => parseSize(-1), ConfigError);
  });
});

describe('parseBrokerConfig', () => {
  it('gives the embedded default for an empty config', () => {
    const c = parseBrokerConfig({});
    assert.equal(c.broker.listen, '127.0.0.1:7070');
    assert.equal(c.broker.dataDir, './barge-data');
    assert.deepEqual(c.storage, { adapter: 'local' });
    assert.deepEqual(c.pointers, { adapter: 'embedded' });
    assert.equal(c.upload.inFlightBytes, 256 * 1024 * 1024);
  });

  it('fills topic defaults and parses sizes', () => {
    const c = parseBrokerConfig({
      topics: [
        {
          name: 'logs',
          readPartitions: 12,
          batch: { maxBytes: '8MiB', maxDelayMs: 100 },
          compression: 'lz4',
        },
      ],
    });
    const t = c.topics[0];
    assert.ok(t);
    assert.equal(t.readPartitions, 12);
    assert.equal(t.writePartitions, 1);
    assert.equal(t.batch.maxBytes, 8 * 1024 * 1024);
    assert.equal(t.batch.maxDelayMs, 100);
    assert.equal(t.batch.maxMessages, 100_000);
    assert.equal(t.compression, 'lz4');
  });

  it('keeps adapter-specific keys for the adapter to validate', () => {
    const c = parseBrokerConfig({ storage: { adapter: 's3', bucket: 'b', region: 'eu-west-1' } });
    assert.deepEqual(c.storage, { adapter: 's3', bucket: 'b', region: 'eu-west-1' });
  });

  const bad: [string, unknown, RegExp][] = [
    ['bad listen address', { broker: { listen: 'nope' } }, /broker\.listen.*HOST:PORT.*"nope"/],
    ['unknown top-level key', { brokers: {} }, /brokers/],
    ['bad topic name', { topics: [{ name: 'a b' }] }, /topics\[0\]\.name.*"a b"/],
    ['bad size', { topics: [{ name: 't', batch: { maxBytes: 'lots' } }] }, /topics\[0\]\.batch\.maxBytes/],
    [
      'bad compression',
      { topics: [{ name: 't', compression: 'snappy' }] },
      /topics\[0\]\.compression.*"snappy"/,
    ],
    ['zero partitions', { topics: [{ name: 't', readPartitions: 0 }] }, /topics\[0\]\.readPartitions.*0/],
    ['missing adapter', { storage: {} }, /storage\.adapter/],
    ['duplicate topic', { topics: [{ name: 't' }, { name: 't' }] }, /topics\[1\]\.name: duplicate topic "t"/],
  ];
  for (const [what, input, pattern] of bad) {
    it(`rejects ${what} with an error naming the field`, () => {
      assert.throws(
        () => parseBrokerConfig(input),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
          assert.match(e.message, pattern);
          return true;
        },
      );
    });
  }
});

describe('cluster section', () => {
  const kafka = { adapter: 'kafka', brokers: ['127.0.0.1:9092'] };
  it('fills the cluster defaults', () => {
    const c = parseBrokerConfig({ pointers: kafka, cluster: { id: 'prod-1' } });
    assert.deepEqual(c.cluster, {
      id: 'prod-1',
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      rebalanceTimeoutMs: 10_000,
      drainTimeoutMs: 3000,
    });
    assert.equal(parseBrokerConfig({}).cluster, undefined, 'no cluster unless configured');
    assert.equal(parseBrokerConfig({ pointers: kafka, cluster: { id: 7 } }).cluster?.id, '7');
  });
  it('refuses a cluster on the embedded pointer queue', () => {
    assert.throws(
      () => parseBrokerConfig({ cluster: { id: 'c' } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.path === 'cluster' &&
        /embedded pointer queue serves a single broker/.test(e.message),
    );
  });
  it('refuses a heartbeat interval above a third of the session timeout, and a bad id', () => {
    assert.throws(
      () =>
        parseBrokerConfig({
          pointers: kafka,
          cluster: { id: 'c', sessionTimeoutMs: 3000, heartbeatIntervalMs: 1500 },
        }),
      /cluster.heartbeatIntervalMs: 1500 ms is more than a third of cluster.sessionTimeoutMs/,
    );
    assert.throws(() => parseBrokerConfig({ pointers: kafka, cluster: { id: 'a b' } }), /cluster.id/);
  });
  it('takes a Kafka listener on every broker of a cluster; a non-loopback one still needs allowRemote', () => {
    const c = parseBrokerConfig({
      pointers: kafka,
      cluster: { id: 'c' },
      kafka: { listen: '127.0.0.1:9093', advertise: 'broker-1.internal:9093' },
    });
    assert.equal(c.kafka?.advertise, 'broker-1.internal:9093');
    assert.throws(
      () => parseBrokerConfig({ pointers: kafka, cluster: { id: 'c' }, kafka: { listen: '0.0.0.0:9093' } }),
      (e: unknown) => e instanceof ConfigError && e.path === 'kafka.listen',
    );
    const open = { listen: '0.0.0.0:9093', allowRemote: true };
    assert.equal(
      parseBrokerConfig({ pointers: kafka, cluster: { id: 'c' }, kafka: open }).kafka?.allowRemote,
      true,
    );
  });
  it('takes a Kafka listener beside authentication, on any address then', () => {
    const security = { authentication: ['SCRAM-SHA-512'] };
    const c = parseBrokerConfig({ kafka: { listen: '0.0.0.0:9093' }, security });
    assert.equal(c.kafka?.listen, '0.0.0.0:9093');
    assert.throws(
      () => parseBrokerConfig({ kafka: { listen: '0.0.0.0:9093' } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.path === 'kafka.listen' &&
        /security\.authentication is off/.test(e.message),
    );
  });
});
