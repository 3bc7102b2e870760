import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { Admin, BrokerConnection, Consumer, Producer, TlsHandshakeError } from '@barge/client';
import { ApiKey, ErrorCode } from '@barge/core';
import {
  issueTestCertificate,
  makeTestCertificates,
  type TestCertificate,
  type TestCertificates,
} from '@barge/testkit';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir, waitFor } from '../harness.js';

const TOPIC = 'secured';

/** The SHA-256 fingerprint of the certificate a new TLS connection to `address` is served. */
async function servedFingerprint(address: string, ca: string): Promise<string> {
  const [host, port] = address.split(':');
  const socket = tls.connect({ host, port: Number(port), ca });
  try {
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

/** A promise's rejection (fails the test when it resolves), and how long it took. */
async function rejection(p: Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const started = Date.now();
  try {
    await p;
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started };
  }
  assert.fail('expected a rejection');
}

async function writeConfig(
  path: string,
  dataDir: string,
  server: TestCertificate,
  extra: string[] = [],
  admin?: number,
): Promise<void> {
  await writeFile(
    path,
    [
      `broker: { dataDir: ${JSON.stringify(dataDir)}${admin ? `, admin: "127.0.0.1:${admin}"` : ''} }`,
      'security:',
      '  tls:',
      `    cert: ${JSON.stringify(server.certFile)}`,
      `    key: ${JSON.stringify(server.keyFile)}`,
      ...extra,
      'topics:',
      `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 20 } }`,
      '',
    ].join('\n'),
  );
}

describe('TLS on the client listener and the admin endpoint', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: TestCertificates;
  let other: TestCertificates;
  let live: TestCertificate;
  let broker: BrokerProcess;
  let adminPort: number;
  let ca: string;

  before(async () => {
    dir = await tempDir('barge-tls-');
    certs = await makeTestCertificates(join(dir.path, 'certs'), { clients: ['alice'] });
    other = await makeTestCertificates(join(dir.path, 'other'), { clients: ['mallory'], caName: 'Other CA' });
    ca = certs.ca.cert;
    // The files the broker serves, replaced in place by the reload test.
    live = await issueTestCertificate(certs.ca, join(dir.path, 'live'), {
      name: 'server',
      cn: 'localhost',
      use: 'server',
    });
    adminPort = await freePort();
    const config = join(dir.path, 'barge.yaml');
    await writeConfig(config, join(dir.path, 'data'), live, [], adminPort);
    broker = await startBroker(['--config', config], { BARGE_LOG_LEVEL: 'info' });
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('a TLS client produces, and a group consumer reads it back through the broker', async () => {
    const producer = new Producer({ brokers: [broker.address], tls: { ca } });
    await producer.connect();
    const sent = Array.from({ length: 40 }, (_, i) => `m${i}`);
    await producer.send({ topic: TOPIC, messages: sent.map((value) => ({ value })) });
    await producer.disconnect();

    const consumer = new Consumer({
      brokers: [broker.address],
      groupId: 'tls-readers',
      fromBeginning: true,
      tls: { ca },
    });
    const received: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: TOPIC });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value.toString());
        },
      });
      await waitFor('every message consumed', () => received.length >= sent.length, 30_000);
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual([...received].sort(), [...sent].sort());
  });

  it('a client without TLS fails at once with an error saying TLS is required, and writes nothing', async () => {
    const plain = new Admin({ brokers: [broker.address] });
    const { error, ms } = await rejection(plain.createTopic({ name: 'plain-topic' }));
    assert.match(error.message, /requires TLS/);
    assert.equal((error as { errorCode?: number }).errorCode, ErrorCode.INVALID_REQUEST);
    assert.ok(ms < 3000, `took ${ms} ms`);
    await plain.disconnect();

    const producer = new Producer({ brokers: [broker.address], retry: { retries: 0 } });
    const refused = await rejection(
      producer.connect().then(() => producer.send({ topic: TOPIC, messages: [{ value: 'x' }] })),
    );
    assert.match(refused.error.message, /requires TLS/);
    await producer.disconnect().catch(() => {});

    const cli = await runCli(['topics', 'create', 'cli-plain', '--broker', broker.address], {
      timeoutMs: 30_000,
    });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /requires TLS: connect with TLS/);

    const admin = new Admin({ brokers: [broker.address], tls: { ca } });
    const names = (await admin.listTopics()).map((t) => t.name);
    assert.deepEqual(names, [TOPIC]);
    await admin.disconnect();
    assert.match(broker.logs(), /connection refused: the client did not start a TLS handshake/);
  });

  it('a client that does not trust the CA is refused with a TLS error that is not retried', async () => {
    for (const option of [true, { ca: other.ca.cert }]) {
      const admin = new Admin({ brokers: [broker.address], tls: option });
      const { error, ms } = await rejection(admin.connect());
      assert.ok(error instanceof TlsHandshakeError, `${error.name}: ${error.message}`);
      assert.equal((error as TlsHandshakeError).retryable, false);
      assert.match(error.message, /^TLS handshake with 127\.0\.0\.1:\d+ failed: .*certificate/);
      assert.ok(ms < 3000, `took ${ms} ms`);
      await admin.disconnect();
    }
    const cli = await runCli(['topics', 'list', '--broker', broker.address, '--tls'], { timeoutMs: 30_000 });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /TLS handshake with 127\.0\.0\.1:\d+ failed/);
    const trusted = await runCli([
      'topics',
      'list',
      '--broker',
      broker.address,
      '--tls-ca',
      certs.ca.certFile,
    ]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout.toString(), new RegExp(TOPIC));
    const fromEnv = await runCli(['topics', 'list', '--broker', broker.address], {
      env: { BARGE_TLS_CA: certs.ca.certFile },
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    const insecure = await runCli(['topics', 'list', '--broker', broker.address, '--tls-insecure']);
    assert.equal(insecure.code, 0, insecure.stderr);
  });

  it('serves /health over HTTPS with the broker certificate', async () => {
    const https = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      httpsGet({ host: '127.0.0.1', port: adminPort, path: '/health', ca }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject);
    });
    assert.equal(https.status, 200);
    assert.deepEqual(JSON.parse(https.body), { status: 'ok' });
    const plain = await new Promise<string>((resolve) => {
      httpGet({ host: '127.0.0.1', port: adminPort, path: '/health' }, (res) =>
        resolve(`answered ${res.statusCode}`),
      ).on('error', (e) => resolve(e.message));
    });
    assert.doesNotMatch(plain, /answered/);
  });

  it('SIGHUP swaps the certificate for new connections while open ones keep working; a bad file keeps it', async () => {
    const open = new BrokerConnection(broker.address, { clientId: 'old', tls: { ca } });
    await open.connect();
    let openClosed = false;
    open.onClose(() => {
      openClosed = true;
    });
    assert.equal(await servedFingerprint(broker.address, ca), live.fingerprint256);

    const next = await issueTestCertificate(certs.ca, join(dir.path, 'live'), {
      name: 'server',
      cn: 'localhost',
      use: 'server',
    });
    assert.notEqual(next.fingerprint256, live.fingerprint256);
    broker.child.kill('SIGHUP');
    await waitFor('the reload', () => /TLS certificate reloaded/.test(broker.logs()), 10_000);
    assert.equal(await servedFingerprint(broker.address, ca), next.fingerprint256);
    assert.equal(await servedFingerprint(`127.0.0.1:${adminPort}`, ca), next.fingerprint256);
    const topics = await open.request(ApiKey.ListTopics, {});
    assert.deepEqual(
      topics.topics.map((t) => t.name),
      [TOPIC],
    );
    assert.equal(openClosed, false, 'the open connection was closed by the reload');

    await writeFile(live.certFile, 'not a certificate\n');
    broker.child.kill('SIGHUP');
    await waitFor(
      'the failed reload',
      () => /TLS reload failed; keeping the current certificate/.test(broker.logs()),
      10_000,
    );
    assert.equal(await servedFingerprint(broker.address, ca), next.fingerprint256);
    await open.request(ApiKey.ListTopics, {});
    assert.equal(openClosed, false);
    await open.close();

    const logs = broker.logs();
    assert.ok(logs.includes(live.certFile), 'the reload logs name the files');
    assert.ok(!logs.includes('BEGIN') && !logs.includes('PRIVATE KEY'), 'a log line holds PEM contents');
    assert.equal(broker.child.exitCode, null, 'SIGHUP ended the broker');
  });
});

describe('mutual TLS (clientAuth: require)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: TestCertificates;
  let other: TestCertificates;
  let broker: BrokerProcess;

  before(async () => {
    dir = await tempDir('barge-mtls-');
    certs = await makeTestCertificates(join(dir.path, 'certs'), { clients: ['alice'] });
    other = await makeTestCertificates(join(dir.path, 'other'), { clients: ['mallory'], caName: 'Other CA' });
    const config = join(dir.path, 'barge.yaml');
    await writeConfig(config, join(dir.path, 'data'), certs.server, [
      `    ca: ${JSON.stringify(certs.ca.certFile)}`,
      '    clientAuth: require',
    ]);
    broker = await startBroker(['--config', config]);
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
    const bare = new Admin({ brokers: [broker.address], tls: { ca: certs.ca.cert } });
    const { error } = await rejection(bare.connect());
    assert.ok(error instanceof TlsHandshakeError, `${error.name}: ${error.message}`);
    assert.match(error.message, /the broker requires a client certificate/);
    await bare.disconnect();

    const mallory = other.clients.mallory!;
    const stranger = new Admin({
      brokers: [broker.address],
      tls: { ca: certs.ca.cert, cert: mallory.cert, key: mallory.key },
      connectionTimeout: 1000,
    });
    const refused = await rejection(stranger.connect());
    assert.match(refused.error.message, /does the broker trust the client certificate\?/);
    await stranger.disconnect();
    assert.match(broker.logs(), /client certificate not trusted/);

    const cli = await runCli(['topics', 'list', '--broker', broker.address, '--tls-ca', certs.ca.certFile]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /requires a client certificate/);
  });

  it('serves a client with a certificate the CA signed, from the client and the CLI', async () => {
    const alice = certs.clients.alice!;
    const admin = new Admin({
      brokers: [broker.address],
      tls: { ca: certs.ca.cert, cert: alice.cert, key: alice.key },
    });
    assert.deepEqual(
      (await admin.listTopics()).map((t) => t.name),
      [TOPIC],
    );
    await admin.disconnect();
    const cli = await runCli([
      'topics',
      'list',
      '--broker',
      broker.address,
      '--tls-ca',
      certs.ca.certFile,
      '--tls-cert',
      alice.certFile,
      '--tls-key',
      alice.keyFile,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
  });
});

describe('a TLS client and a broker without TLS', () => {
  it('fails with a handshake error that asks whether the listener uses TLS', async () => {
    const dir = await tempDir('barge-tls-plain-');
    const broker = await startBroker(['--data', join(dir.path, 'data')]);
    try {
      const admin = new Admin({ brokers: [broker.address], tls: true, connectionTimeout: 1000 });
      const { error } = await rejection(admin.connect());
      assert.match(
        error.message,
        /TLS handshake failed: wrong version number \(is TLS on at the broker's listener\?/,
      );
      await admin.disconnect();
    } finally {
      await broker.stop();
      await dir.remove();
    }
  });

  it('SIGHUP leaves a broker without TLS running', async () => {
    const dir = await tempDir('barge-tls-hup-');
    const broker = await startBroker(['--data', join(dir.path, 'data')], { BARGE_LOG_LEVEL: 'info' });
    try {
      broker.child.kill('SIGHUP');
      await waitFor('the SIGHUP log line', () => /SIGHUP: TLS is off/.test(broker.logs()), 10_000);
      const admin = new Admin({ brokers: [broker.address] });
      assert.deepEqual(await admin.listTopics(), []);
      await admin.disconnect();
      assert.equal(broker.child.exitCode, null);
    } finally {
      await broker.stop();
      await dir.remove();
    }
  });
});

describe('TLS configuration errors', () => {
  it('a missing certificate file stops the broker at start with the field and the path', async () => {
    const dir = await tempDir('barge-tls-bad-');
    try {
      const certs = await makeTestCertificates(join(dir.path, 'certs'));
      const missing = join(dir.path, 'nope.crt');
      const config = join(dir.path, 'barge.yaml');
      await writeConfig(config, join(dir.path, 'data'), { ...certs.server, certFile: missing });
      const run = await runCli(['broker', '--config', config, '--listen', '127.0.0.1:0'], {
        timeoutMs: 30_000,
      });
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /security\.tls\.cert: cannot read .*nope\.crt: no such file or directory/);
    } finally {
      await dir.remove();
    }
  });
});
