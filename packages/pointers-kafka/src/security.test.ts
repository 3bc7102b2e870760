import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthError, ConfigError } from '@barge/core';
import { mapKafkaError } from './errors.js';
import { parseKafkaPointersConfig } from './options.js';
import { resolveSasl, resolveSsl } from './security.js';

const SECRET = 's3cr3t-Pa55';

/** The ConfigError a config section is refused with. */
function refusal(section: unknown): ConfigError {
  try {
    parseKafkaPointersConfig(section);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  return assert.fail('the config was accepted');
}

describe('pointers-kafka: sasl and ssl settings', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'barge-kafka-security-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const scram = { mechanism: 'scram-sha-512', username: 'barge' } as const;

  it('takes exactly one of password, passwordFile, passwordEnv', () => {
    const both = refusal({ brokers: ['k:1'], sasl: { ...scram, password: SECRET, passwordEnv: 'PW' } });
    assert.match(
      both.message,
      /pointers\.sasl\.password: set exactly one of password, passwordFile, passwordEnv/,
    );
    assert.ok(!both.message.includes(SECRET), both.message);
    const none = refusal({ brokers: ['k:1'], sasl: scram });
    assert.match(none.message, /set exactly one of/);
    parseKafkaPointersConfig({ brokers: ['k:1'], sasl: { ...scram, passwordFile: '/run/secrets/kafka' } });
  });

  it('never echoes a secret in a validation error (a YAML number as password, an unknown key beside it)', () => {
    const numeric = refusal({ brokers: ['k:1'], sasl: { ...scram, password: 867530912 } });
    assert.match(numeric.message, /pointers\.sasl\.password/);
    assert.ok(!numeric.message.includes('867530912'), numeric.message);
    const aws = refusal({
      brokers: ['k:1'],
      sasl: { mechanism: 'aws', authorizationIdentity: 'id', accessKeyId: 'AK', secretAccessKey: 7 },
    });
    assert.ok(!aws.message.includes('(got 7)'), aws.message);
    const pem = refusal({ brokers: ['k:1'], ssl: { ca: 1, key: 'PRIVATE KEY PEM' } });
    assert.match(pem.message, /"key":"\[redacted\]"/);
    assert.ok(!pem.message.includes('PRIVATE KEY PEM'), pem.message);
  });

  it('refuses ca with caFile, cert with certFile, key with keyFile', () => {
    for (const [inline, file] of [
      ['ca', 'caFile'],
      ['cert', 'certFile'],
      ['key', 'keyFile'],
    ] as const) {
      const e = refusal({ brokers: ['k:1'], ssl: { [inline]: 'PEM', [file]: '/x.pem' } });
      assert.match(e.message, new RegExp(`pointers\\.ssl\\.${file}: set ${inline} or ${file}, not both`));
    }
  });

  it('reads passwordFile (without its trailing newline) and the PEM files when a client is made', async () => {
    const pw = path.join(dir, 'pw');
    const ca = path.join(dir, 'ca.pem');
    await writeFile(pw, `${SECRET}\n`);
    await writeFile(ca, 'CA PEM');
    assert.deepEqual(resolveSasl({ ...scram, passwordFile: pw }), { ...scram, password: SECRET });
    assert.deepEqual(resolveSsl({ caFile: ca, servername: 'k' }), { ca: 'CA PEM', servername: 'k' });
    assert.deepEqual(resolveSasl({ ...scram, passwordEnv: 'PW' }, 'pointers', { PW: SECRET }), {
      ...scram,
      password: SECRET,
    });
    assert.equal(resolveSsl(true), true);
  });

  it('a missing file or variable is a ConfigError naming the key and file, not a secret', () => {
    const missing = path.join(dir, 'nope');
    assert.throws(
      () => resolveSasl({ ...scram, passwordFile: missing }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.path === 'pointers.sasl.passwordFile' &&
        e.message.includes(`cannot read the password file ${missing}`),
    );
    assert.throws(
      () => resolveSsl({ keyFile: missing }),
      (e: unknown) => e instanceof ConfigError && e.path === 'pointers.ssl.keyFile',
    );
    assert.throws(
      () => resolveSasl({ ...scram, passwordEnv: 'BARGE_TEST_UNSET_VARIABLE' }, 'pointers', {}),
      /pointers\.sasl\.passwordEnv: the environment variable BARGE_TEST_UNSET_VARIABLE is not set/,
    );
  });

  it('maps a kafkajs SASL failure to AuthError naming user and mechanism, and TLS failures to AuthError', () => {
    const sasl = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: bad'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    const e = mapKafkaError(sasl, 'connect', { sasl: { ...scram, password: SECRET } });
    assert.ok(e instanceof AuthError);
    assert.equal(
      e.message,
      'connect: Kafka refused SASL authentication (user "barge", mechanism scram-sha-512): SASL SCRAM SHA512 authentication failed: bad',
    );
    const tls = Object.assign(new Error('Connection error: certificate has expired'), {
      name: 'KafkaJSConnectionError',
      code: 'CERT_HAS_EXPIRED',
      retriable: true,
    });
    const t = mapKafkaError(tls, 'connect');
    assert.ok(t instanceof AuthError, t.message);
    assert.equal(t.retryable, false);
    assert.match(t.message, /TLS with Kafka failed \(CERT_HAS_EXPIRED\)/);
  });
});
