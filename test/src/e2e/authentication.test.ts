import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BrokerConnection, Consumer, Producer, type SaslOptions } from '@barge/client';
import {
  ApiKey,
  BrokerResponseError,
  ErrorCode,
  encodeChunk,
  encodeRequest,
  joinParts,
  USERS_META_KEY,
} from '@barge/core';
import { makeTestCertificates, type TestCertificates } from '@barge/testkit';
import { RawConnection } from '../fuzz/raw-client.js';
import { type BrokerProcess, runCli, startBroker, tempDir, waitFor } from '../harness.js';

/**
 * Authentication against real `barge broker` processes: users made with `barge users`, SCRAM
 * clients (raw protocol, the client library, the CLI), refusals that write nothing, removal of a
 * user seen within `refreshMs`, PLAIN over TLS only, and the mTLS certificate principal.
 */

const TOPIC = 'secured';
const ALICE_PW = 'correct horse battery staple';
const BOB_PW = 'b0b-s3cret-pw';
const REFRESH_MS = 300;

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

async function refusal(p: Promise<unknown>): Promise<BrokerResponseError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BrokerResponseError, `expected a broker refusal, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a refusal');
}

function producer(address: string, sasl?: SaslOptions, extra: object = {}): Producer {
  return new Producer({
    brokers: [address],
    acks: 'durable',
    connectionTimeout: 3_000,
    retry: { retries: 1 },
    ...(sasl && { sasl }),
    ...extra,
  });
}

describe('authentication (SCRAM) on a real broker', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  let objects: string;
  let broker: BrokerProcess;
  const alice: SaslOptions = { mechanism: 'SCRAM-SHA-256', username: 'alice', password: ALICE_PW };

  before(async () => {
    dir = await tempDir('barge-auth-');
    const data = join(dir.path, 'data');
    objects = join(data, 'objects');
    config = join(dir.path, 'broker.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(data)} }`,
        `topics: [{ name: ${TOPIC} }]`,
        // Super users: ACLs (deny by default) are not what this file tests.
        `security: { authentication: [SCRAM-SHA-256, SCRAM-SHA-512], refreshMs: ${REFRESH_MS}, superUsers: [alice, bob] }`,
        '',
      ].join('\n'),
    );
    const add = await runCli(['users', 'add', 'alice', '--config', config], { stdin: `${ALICE_PW}\n` });
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout.toString(), /added user "alice" \(SCRAM-SHA-256, SCRAM-SHA-512\)/);
    const pwFile = join(dir.path, 'bob.pw');
    await writeFile(pwFile, `${BOB_PW}\n`);
    const bob = await runCli([
      'users',
      'add',
      'bob',
      '--mechanism',
      'SCRAM-SHA-512',
      '--iterations',
      '8192',
      '--password-file',
      pwFile,
      '--config',
      config,
    ]);
    assert.equal(bob.code, 0, bob.stderr);
    broker = await startBroker(['--config', config], { BARGE_LOG_LEVEL: 'info' });
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  it('stores only salted keys, and users list shows names and mechanisms', async () => {
    const stored = await readFile(join(objects, USERS_META_KEY), 'utf8');
    assert.doesNotMatch(stored, /horse|b0b-s3cret/);
    const doc = JSON.parse(stored) as { users: Record<string, Record<string, { iterations: number }>> };
    assert.deepEqual(Object.keys(doc.users.alice!).sort(), ['SCRAM-SHA-256', 'SCRAM-SHA-512']);
    assert.deepEqual(Object.keys(doc.users.bob!), ['SCRAM-SHA-512']);
    assert.equal(doc.users.bob!['SCRAM-SHA-512']!.iterations, 8192);
    const list = await runCli(['users', 'list', '--config', config]);
    assert.equal(list.code, 0, list.stderr);
    const out = list.stdout.toString();
    assert.match(out, /^alice\s+SCRAM-SHA-256,SCRAM-SHA-512$/m);
    assert.match(out, /^bob\s+SCRAM-SHA-512$/m);
    assert.doesNotMatch(out, /storedKey|serverKey|salt/);
  });

  it('an unauthenticated connection may only negotiate versions: everything else is AUTHENTICATION_REQUIRED and writes nothing', async () => {
    const before = await filesUnder(objects);
    const violations: string[] = [];
    const raw = await RawConnection.open(broker.address, violations, 'unauthenticated');
    try {
      const ask = async <K extends ApiKey>(apiKey: K, body: object) => {
        const id = raw.track(apiKey, 1);
        const answered = raw.response(id);
        await raw.write(RawConnection.frame(apiKey, 1, id, encodeBody(apiKey, body)));
        return answered;
      };
      const versions = await ask(ApiKey.ApiVersions, { clientId: 't', versions: [] });
      assert.equal(versions?.errorCode, 0);
      const chunk = encodeChunk([{ value: Buffer.from('sneaky') }], 'none', { producerId: 7 });
      const produce = await ask(ApiKey.Produce, {
        topic: TOPIC,
        writePartition: 0,
        acks: 'durable',
        producerId: 7,
        timeoutMs: 5_000,
        chunks: [chunk],
      });
      assert.equal(produce?.errorCode, ErrorCode.AUTHENTICATION_REQUIRED);
      const create = await ask(ApiKey.CreateTopic, { name: 'sneaky-topic' });
      assert.equal(create?.errorCode, ErrorCode.AUTHENTICATION_REQUIRED);
      assert.match(
        String((create?.body as { message?: string } | undefined)?.message),
        /CreateTopic needs an authenticated connection/,
      );
      const metadata = await ask(ApiKey.Metadata, { topics: [] });
      assert.equal(metadata?.errorCode, ErrorCode.AUTHENTICATION_REQUIRED);
    } finally {
      raw.destroy();
    }
    assert.deepEqual(violations, []);

    const p = producer(broker.address);
    const e = await refusal(p.connect().then(() => p.send({ topic: TOPIC, messages: [{ value: 'x' }] })));
    assert.equal(e.errorName, 'AUTHENTICATION_REQUIRED');
    assert.equal(e.retryable, false);
    await p.disconnect();
    const cli = await runCli(['topics', 'create', 'cli-topic', '--broker', broker.address]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /AUTHENTICATION_REQUIRED/);

    assert.deepEqual(await filesUnder(objects), before, 'a refused client changed the storage');
  });

  it('a wrong password or an unknown user is refused with one message, logged without the password, and the connection closed', async () => {
    const before = await filesUnder(objects);
    for (const [sasl, user] of [
      [{ ...alice, password: 'not-alices-pw' }, 'alice'],
      [{ mechanism: 'SCRAM-SHA-512', username: 'mallory', password: 'whatever1' }, 'mallory'],
      // bob has no SCRAM-SHA-256 credential: like an unknown user.
      [{ mechanism: 'SCRAM-SHA-256', username: 'bob', password: BOB_PW }, 'bob'],
    ] as const) {
      const p = producer(broker.address, sasl);
      const e = await refusal(p.connect());
      assert.equal(e.errorName, 'SASL_AUTHENTICATION_FAILED');
      assert.equal(e.retryable, false);
      assert.match(
        e.message,
        new RegExp(
          `^SASL_AUTHENTICATION_FAILED: authentication failed for user "${user}" with ${sasl.mechanism} \\(`,
        ),
      );
      assert.doesNotMatch(e.message, /password|whatever1|b0b/);
      await p.disconnect();
    }
    await waitFor('the failures in the broker log', () =>
      /"user":"mallory".*authentication failed/.test(broker.logs()),
    );
    assert.doesNotMatch(broker.logs(), /not-alices-pw|whatever1|b0b-s3cret|horse/);

    // Raw: after the failure response, the broker closes the connection.
    const conn = new BrokerConnection(broker.address, { clientId: 'raw' });
    await conn.connect();
    await conn.request(ApiKey.SaslHandshake, { mechanism: 'SCRAM-SHA-256' });
    await conn.request(ApiKey.SaslAuthenticate, { authBytes: Buffer.from('n,,n=alice,r=abcdefgh') });
    const closed = new Promise((resolve) => conn.onClose(resolve));
    const bad = await refusal(
      conn.request(ApiKey.SaslAuthenticate, { authBytes: Buffer.from('c=biws,r=abcdefgh,p=AAAA') }),
    );
    assert.equal(bad.errorName, 'SASL_AUTHENTICATION_FAILED');
    await closed;
    await conn.close();
    assert.deepEqual(await filesUnder(objects), before);
  });

  it('an unsupported mechanism is refused at the handshake, naming the enabled ones', async () => {
    const conn = new BrokerConnection(broker.address, { clientId: 'raw' });
    try {
      const e = await refusal(conn.request(ApiKey.SaslHandshake, { mechanism: 'OAUTHBEARER' }));
      assert.equal(e.errorName, 'UNSUPPORTED_SASL_MECHANISM');
      assert.match(e.message, /enabled: SCRAM-SHA-256, SCRAM-SHA-512/);
      const ok = await conn.request(ApiKey.SaslHandshake, { mechanism: 'SCRAM-SHA-512' });
      assert.deepEqual(ok.mechanisms, ['SCRAM-SHA-256', 'SCRAM-SHA-512']);
    } finally {
      await conn.close();
    }
  });

  it('authenticated clients produce and consume; the CLI authenticates with its flags', async () => {
    const p = producer(broker.address, alice);
    await p.connect();
    const messages = Array.from({ length: 20 }, (_, i) => ({ value: `m${i}` }));
    await p.send({ topic: TOPIC, messages });
    await p.disconnect();

    const cli = await runCli(
      [
        'produce',
        '--topic',
        TOPIC,
        '--broker',
        broker.address,
        '--sasl-mechanism',
        'SCRAM-SHA-512',
        '--sasl-username',
        'bob',
      ],
      { stdin: 'from-cli\n', env: { BARGE_SASL_PASSWORD: BOB_PW } },
    );
    assert.equal(cli.code, 0, cli.stderr);

    const consumer = new Consumer({
      brokers: [broker.address],
      groupId: 'auth-readers',
      fromBeginning: true,
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: BOB_PW },
    });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value?.toString() ?? '');
      },
    });
    try {
      await waitFor('every message', () => seen.length >= 21, 30_000);
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(seen.sort(), [...messages.map((m) => m.value), 'from-cli'].sort());
    assert.match(broker.logs(), /"principal":"alice".*"authenticated"|authenticated.*"principal":"alice"/);
  });

  it('a removed user cannot authenticate new connections after refreshMs', async () => {
    const p = producer(broker.address, alice);
    await p.connect();
    await p.disconnect();
    const removed = await runCli(['users', 'remove', 'alice', '--config', config]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout.toString(), /removed user "alice"/);
    await new Promise((r) => setTimeout(r, REFRESH_MS * 3));
    const again = producer(broker.address, alice);
    const e = await refusal(again.connect());
    assert.equal(e.errorName, 'SASL_AUTHENTICATION_FAILED');
    await again.disconnect();
    const missing = await runCli(['users', 'remove', 'alice', '--config', config]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no user "alice"/);
  });
});

describe('PLAIN and mTLS', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: TestCertificates;

  before(async () => {
    dir = await tempDir('barge-auth-tls-');
    certs = await makeTestCertificates(join(dir.path, 'certs'), { clients: ['svc-reporting'] });
  });

  after(async () => {
    await dir?.remove();
  });

  it('PLAIN without security.tls is refused at start-up', async () => {
    const config = join(dir.path, 'plain-no-tls.yaml');
    await writeFile(
      config,
      `broker: { dataDir: ${JSON.stringify(join(dir.path, 'x'))} }\nsecurity: { authentication: [PLAIN] }\n`,
    );
    const run = await runCli(['broker', '--config', config, '--listen', '127.0.0.1:0'], {
      timeoutMs: 30_000,
    });
    assert.notEqual(run.code, 0);
    assert.match(
      run.stderr,
      /security\.authentication: PLAIN sends passwords in clear text: it needs security\.tls/,
    );
  });

  it('PLAIN over TLS authenticates against the SCRAM credentials; a wrong password is refused', async () => {
    const data = join(dir.path, 'plain');
    const config = join(dir.path, 'plain.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(data)} }`,
        `topics: [{ name: ${TOPIC} }]`,
        'security:',
        '  authentication: [PLAIN, SCRAM-SHA-256]',
        '  superUsers: [carol]',
        `  tls: { cert: ${JSON.stringify(certs.server.certFile)}, key: ${JSON.stringify(certs.server.keyFile)} }`,
        '',
      ].join('\n'),
    );
    const add = await runCli(['users', 'add', 'carol', '--mechanism', 'SCRAM-SHA-512', '--config', config], {
      stdin: 'carol-pw\n',
    });
    assert.equal(add.code, 0, add.stderr);
    const broker = await startBroker(['--config', config]);
    try {
      const tls = { ca: certs.ca.cert, servername: 'localhost' };
      const plain = { mechanism: 'PLAIN', username: 'carol', password: 'carol-pw' } as const;
      const p = producer(broker.address, plain, { tls });
      await p.connect();
      await p.send({ topic: TOPIC, messages: [{ value: 'over tls' }] });
      await p.disconnect();
      const wrong = producer(broker.address, { ...plain, password: 'nope-nope' }, { tls });
      const e = await refusal(wrong.connect());
      assert.equal(e.errorName, 'SASL_AUTHENTICATION_FAILED');
      assert.match(e.message, /authentication failed for user "carol" with PLAIN/);
      await wrong.disconnect();
      assert.throws(
        () => producer(broker.address, plain),
        /PLAIN sends the password in clear text: it needs the tls option/,
      );
    } finally {
      await broker.stop();
    }
  });

  it('mtls: a verified client certificate is the principal (its CN), without SASL', async () => {
    const data = join(dir.path, 'mtls');
    const config = join(dir.path, 'mtls.yaml');
    const server = certs.server;
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(data)} }`,
        `topics: [{ name: ${TOPIC} }]`,
        'security:',
        '  authentication: [mtls, SCRAM-SHA-256]',
        '  superUsers: [svc-reporting]',
        `  tls: { cert: ${JSON.stringify(server.certFile)}, key: ${JSON.stringify(server.keyFile)}, ca: ${JSON.stringify(certs.ca.certFile)}, clientAuth: request }`,
        '',
      ].join('\n'),
    );
    const broker = await startBroker(['--config', config], { BARGE_LOG_LEVEL: 'info' });
    try {
      const client = certs.clients['svc-reporting']!;
      const withCert = producer(broker.address, undefined, {
        tls: { ca: certs.ca.cert, cert: client.cert, key: client.key, servername: 'localhost' },
      });
      await withCert.connect();
      await withCert.send({ topic: TOPIC, messages: [{ value: 'by certificate' }] });
      await withCert.disconnect();
      assert.match(broker.logs(), /"principal":"svc-reporting".*authenticated by client certificate/);

      const noCert = producer(broker.address, undefined, {
        tls: { ca: certs.ca.cert, servername: 'localhost' },
      });
      const e = await refusal(
        noCert.connect().then(() => noCert.send({ topic: TOPIC, messages: [{ value: 'x' }] })),
      );
      assert.equal(e.errorName, 'AUTHENTICATION_REQUIRED');
      await noCert.disconnect();
    } finally {
      await broker.stop();
    }
  });
});

/** The body bytes of a valid v1 request. */
function encodeBody(apiKey: ApiKey, body: object): Buffer {
  return joinParts(encodeRequest(apiKey, 1, 0, body as never)).subarray(12);
}
