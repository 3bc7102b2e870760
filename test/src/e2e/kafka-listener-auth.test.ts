import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import {
  decodeResponseHeader,
  decodeSaslAuthenticateResponse,
  encodeRequestHeader,
  encodeSaslAuthenticateRequest,
  KafkaReader,
  KafkaWriter,
  type SaslAuthenticateResponse,
} from '@barge/kafka-protocol';
import { issueTestCertificate, makeTestCertificates, type TestCertificates } from '@barge/testkit';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir, waitFor } from '../harness.js';
import { javaTool, kafkaLibs } from '../java-kafka-tools.js';

/**
 * Authentication, TLS and ACLs on the broker's Kafka listener, with the broker as its own process
 * and users and ACLs made with `barge users` and `barge acls`: kafkajs with SCRAM-SHA-256/512 and
 * PLAIN over TLS, a client certificate (mtls), a wrong password, principals without the ACLs they
 * need, and Kafka's Java console tools over SASL_SSL.
 */

const TOPIC = 'secured';
const GROUP = 'g-alice';
const PASSWORDS = { alice: 'alice-pw-1', bob: 'bob-pw-2', dave: 'dave-pw-3' } as const;
type User = keyof typeof PASSWORDS;

describe('Kafka listener: SASL over TLS, mTLS and ACLs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let certs: TestCertificates;
  let broker: BrokerProcess;
  let bootstrap: string;

  const cli = async (args: string[], stdin?: string) => {
    const r = await runCli([...args, '--config', config], stdin === undefined ? {} : { stdin });
    assert.equal(r.code, 0, `barge ${args.join(' ')}: ${r.stderr}`);
  };
  const client = (extra: Partial<KafkaConfig>) =>
    new Kafka({
      brokers: [bootstrap],
      clientId: 'e2e-auth',
      logLevel: process.env.KJS_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
      connectionTimeout: 5_000,
      retry: { retries: 2 },
      ssl: { ca: [certs.ca.cert] },
      ...extra,
    });
  const sasl = (user: User, mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain' = 'scram-sha-256') =>
    client({ sasl: { mechanism, username: user, password: PASSWORDS[user] } as SASLOptions });

  before(async () => {
    dir = await tempDir('barge-e2e-kafka-auth-');
    certs = await makeTestCertificates(join(dir.path, 'certs'), { clients: ['carol'] });
    bootstrap = `127.0.0.1:${await freePort()}`;
    config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        `kafka: { listen: "${bootstrap}", groupInitialRebalanceDelayMs: 100 }`,
        'topics:',
        `  - { name: ${TOPIC}, writePartitions: 2, readPartitions: 2, batch: { maxDelayMs: 5 } }`,
        'security:',
        '  tls:',
        `    cert: ${JSON.stringify(certs.server.certFile)}`,
        `    key: ${JSON.stringify(certs.server.keyFile)}`,
        `    ca: ${JSON.stringify(certs.ca.certFile)}`,
        '    clientAuth: request',
        '  authentication: [SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, mtls]',
        '  refreshMs: 300',
        '',
      ].join('\n'),
    );
    for (const user of Object.keys(PASSWORDS) as User[]) {
      await cli(['users', 'add', user], `${PASSWORDS[user]}\n`);
    }
    const acl = (principal: string, operation: string, ...resource: string[]) =>
      cli(['acls', 'add', '--principal', principal, '--operation', operation, ...resource]);
    await acl('alice', 'write', '--topic', TOPIC);
    await acl('alice', 'read', '--topic', TOPIC);
    await acl('alice', 'read', '--group', GROUP);
    await acl('bob', 'read', '--topic', TOPIC); // may see and read the topic, not write it
    await acl('carol', 'describe', '--topic', TOPIC);
    broker = await startBroker(['--config', config], { BARGE_LOG_LEVEL: 'info' });
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('SCRAM-SHA-256 over TLS produces (idempotent); SCRAM-SHA-512 consumes with a group that commits', async () => {
    const producer = sasl('alice').producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 2 },
    });
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      messages: [
        { value: 'm0', partition: 0 },
        { value: 'm1', partition: 1 },
        { value: 'm2', partition: 0 },
      ],
    });
    await producer.disconnect();

    const kafka = sasl('alice', 'scram-sha-512');
    const consumer = kafka.consumer({ groupId: GROUP, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push(`${partition}/${message.offset}=${message.value?.toString()}`);
          if (seen.length === 3) resolve();
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(seen.sort(), ['0/0=m0', '0/1=m2', '1/0=m1']);
    const admin = kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    await admin.disconnect();
    assert.deepEqual(committed[0]?.partitions.map((p) => [p.partition, p.offset]).sort(), [
      [0, '2'],
      [1, '1'],
    ]);
  });

  it('PLAIN over TLS authenticates against the same users', async () => {
    const admin = sasl('alice', 'plain').admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    assert.deepEqual(topics, [TOPIC]);
  });

  it('a wrong password is a clear authentication failure', async () => {
    const kafka = client({ sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'wrong' } });
    const admin = kafka.admin();
    await assert.rejects(admin.connect(), (e: Error) => {
      assert.equal(e.name, 'KafkaJSSASLAuthenticationError', String(e));
      assert.match(e.message, /authentication failed for user "alice" with SCRAM-SHA-256/);
      return true;
    });
    await admin.disconnect();
  });

  it('a mechanism the broker does not enable is refused UNSUPPORTED_SASL_MECHANISM', async () => {
    const admin = client({
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 'token' }) },
    }).admin();
    await assert.rejects(admin.connect(), (e: Error) => {
      assert.equal(findType(e), 'UNSUPPORTED_SASL_MECHANISM', String(e));
      return true;
    });
    await admin.disconnect();
    // The broker's log reaches this process through a pipe, maybe after the client's answer.
    const refused =
      /mechanism \\"OAUTHBEARER\\" is not enabled on this broker; enabled: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN/;
    await waitFor('the refusal in the broker log', () => refused.test(broker.logs()), 10_000);
  });

  it('SaslAuthenticate before SaslHandshake is ILLEGAL_SASL_STATE, then the connection is closed', async () => {
    const res = await saslAuthenticateFirst(bootstrap, certs.ca.cert);
    assert.equal(res.errorCode, 34);
    assert.match(String(res.errorMessage), /SaslAuthenticate without a SaslHandshake first/);
  });

  it('a principal without write gets TOPIC_AUTHORIZATION_FAILED on produce', async () => {
    const producer = sasl('bob').producer();
    await producer.connect();
    await assert.rejects(
      producer.send({ topic: TOPIC, messages: [{ value: 'nope', partition: 0 }] }),
      (e: Error) => {
        assert.match(
          `${e.name} ${e.message} ${String((e as { cause?: unknown }).cause)}`,
          /authoriz/i,
          String(e),
        );
        assert.equal(findType(e), 'TOPIC_AUTHORIZATION_FAILED', String(e));
        return true;
      },
    );
    await producer.disconnect();
  });

  it('a principal without ACLs does not see the topic, is refused it by name, and may not use the group', async () => {
    const admin = sasl('dave').admin();
    await admin.connect();
    try {
      assert.deepEqual(await admin.listTopics(), []);
      await assert.rejects(admin.fetchTopicMetadata({ topics: [TOPIC] }), (e: Error) => {
        assert.equal(findType(e), 'TOPIC_AUTHORIZATION_FAILED', String(e));
        return true;
      });
      // kafkajs reports a refused FindCoordinator as "not found"; the broker says why.
      await assert.rejects(admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }));
      assert.match(
        broker.logs(),
        /"principal":"dave","api":"FindCoordinator","operation":"describe","resource":"group \\"g-alice\\"","msg":"authorization denied"/,
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('a client certificate authenticates as its CN (mtls), under its own ACLs', async () => {
    const carol = certs.clients.carol!;
    const admin = client({ ssl: { ca: [certs.ca.cert], cert: carol.cert, key: carol.key } }).admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    await admin.disconnect();
    assert.equal(meta.topics[0]?.partitions.length, 2);
  });

  it('a client that does not authenticate, or does not use TLS, is disconnected', async () => {
    for (const kafka of [client({}), client({ ssl: false })]) {
      const admin = kafka.admin();
      await assert.rejects(admin.listTopics());
      await admin.disconnect();
    }
    assert.match(
      broker.logs(),
      /Metadata before authentication: authenticate \(SaslHandshake, SaslAuthenticate\) first/,
    );
  });

  it("Kafka's Java console producer and consumer over SASL_SSL with SCRAM-SHA-512", async (t) => {
    const libs = kafkaLibs();
    if (!libs) {
      t.skip('no Kafka jars in the services cache: run scripts/services.sh install kafka');
      return;
    }
    const props = join(dir.path, 'client.properties');
    await writeFile(
      props,
      [
        'security.protocol=SASL_SSL',
        'sasl.mechanism=SCRAM-SHA-512',
        `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${PASSWORDS.alice}";`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${certs.ca.certFile}`,
        '',
      ].join('\n'),
    );
    await javaTool(
      libs,
      'org.apache.kafka.tools.ConsoleProducer',
      ['--bootstrap-server', bootstrap, '--topic', TOPIC, '--producer.config', props],
      'j1\nj2\n',
    );
    const out = await javaTool(libs, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      TOPIC,
      '--group',
      GROUP,
      '--consumer.config',
      props,
      '--from-beginning',
      '--max-messages',
      '2',
    ]);
    // The group committed past m0..m2: it reads only what the Java producer sent.
    assert.deepEqual(out.trim().split('\n').sort(), ['j1', 'j2']);
  });

  it('SIGHUP swaps the Kafka listener certificate too (the broker TlsContext)', async () => {
    assert.equal(await servedFingerprint(bootstrap, certs.ca.cert), certs.server.fingerprint256);
    const next = await issueTestCertificate(certs.ca, join(dir.path, 'certs'), {
      name: 'server',
      cn: 'localhost',
      use: 'server',
    });
    broker.child.kill('SIGHUP');
    await waitFor('the reload', () => /TLS certificate reloaded/.test(broker.logs()), 10_000);
    assert.equal(await servedFingerprint(bootstrap, certs.ca.cert), next.fingerprint256);
    const admin = sasl('alice').admin();
    await admin.connect();
    assert.deepEqual(await admin.listTopics(), [TOPIC]);
    await admin.disconnect();
  });
});

/**
 * Sends one SaslAuthenticate v1 over TLS without a SaslHandshake first; resolves with the answer
 * once the broker closed the connection.
 */
async function saslAuthenticateFirst(address: string, ca: string): Promise<SaslAuthenticateResponse> {
  const [host, port] = address.split(':');
  const socket = tls.connect({ host, port: Number(port), ca });
  const w = new KafkaWriter();
  w.startFrame();
  encodeRequestHeader(w, 1, { requestApiKey: 36, requestApiVersion: 1, correlationId: 7, clientId: 'raw' });
  encodeSaslAuthenticateRequest(w, 1, { authBytes: Buffer.from('n,,n=alice,r=abc') });
  w.endFrame();
  socket.write(w.toBuffer());
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => socket.once('close', () => resolve()).once('error', reject));
  const r = new KafkaReader(Buffer.concat(chunks).subarray(4));
  assert.equal(decodeResponseHeader(r, 0).correlationId, 7);
  return decodeSaslAuthenticateResponse(r, 1);
}

/** The fingerprint of the certificate a TLS listener serves. */
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

/** The kafkajs error type (`TOPIC_AUTHORIZATION_FAILED`, ...) of `e` or of an error it wraps. */
function findType(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && depth < 5; depth++) {
    const x = cur as { type?: string; cause?: unknown; originalError?: unknown };
    if (typeof x.type === 'string') return x.type;
    cur = x.cause ?? x.originalError;
  }
  return undefined;
}
