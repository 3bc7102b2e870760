import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Producer, type SaslOptions } from '@barge/client';
import { USERS_META_KEY } from '@barge/core';
import { kafkaSaslServiceEnv, makeTestCertificates, type TestCertificates } from '@barge/testkit';
import { type BrokerProcess, type CliRun, freePort, runCli, startBroker, tempDir } from '../harness.js';

/**
 * Secrets never leak (issue 11): a broker with every security control on, logging at trace level,
 * goes through logins that succeed and fail, PLAIN and client certificates, refusals, throttling,
 * a certificate reload and a bad config; then every line the broker and the CLI wrote, every
 * client error, `/metrics` and `topics describe` are searched for each secret.
 */

const TOPIC = 'payroll';
const ALICE_PW = 'alice-Pw-7f3d91c2e4';
const OPS_PW = 'ops-Pw-0b6a55d1f8';
const WRONG_PW = 'wrong-Pw-c41e9a2b77';
const CONFIG_SECRET = 'config-Secret-93a1f0';

describe('no secret in any log, error, /metrics or topics describe', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: TestCertificates;
  let config: string;
  let objects: string;
  let broker: BrokerProcess;
  let adminPort: number;
  const kafka = kafkaSaslServiceEnv();
  /** Everything written where an operator or a client could see it. */
  const seen: string[] = [];
  const record = (run: CliRun) => {
    seen.push(run.stdout.toString(), run.stderr);
    return run;
  };
  const tlsFlags = () => ['--tls-ca', certs.ca.certFile];

  before(async () => {
    dir = await tempDir('barge-secrets-');
    certs = await makeTestCertificates(join(dir.path, 'certs'), { clients: ['svc'] });
    const data = join(dir.path, 'data');
    objects = join(data, 'objects');
    config = join(dir.path, 'broker.yaml');
    const pointers = kafka
      ? `pointers: { adapter: kafka, brokers: ${JSON.stringify(kafka.brokers)}, topicPrefix: "barge.secrets.${Date.now()}.", ssl: { caFile: ${JSON.stringify(kafka.caFile)} }, sasl: { mechanism: scram-sha-512, username: ${kafka.username}, passwordEnv: SECRETS_TEST_KAFKA_PW } }`
      : 'pointers: { adapter: embedded }';
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(data)} }`,
        pointers,
        `topics: [{ name: ${TOPIC} }]`,
        'security:',
        `  tls: { cert: ${JSON.stringify(certs.server.certFile)}, key: ${JSON.stringify(certs.server.keyFile)}, ca: ${JSON.stringify(certs.ca.certFile)}, clientAuth: request }`,
        '  authentication: [SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, mtls]',
        '  superUsers: [ops]',
        '  refreshMs: 300',
        '  quotas: { default: { produceBytesPerSec: 64KiB } }',
        '',
      ].join('\n'),
    );
    assert.equal(
      record(await runCli(['users', 'add', 'alice', '--config', config], { stdin: `${ALICE_PW}\n` })).code,
      0,
    );
    assert.equal(
      record(await runCli(['users', 'add', 'ops', '--config', config], { stdin: `${OPS_PW}\n` })).code,
      0,
    );
    for (const op of ['write', 'read']) {
      const acl = [
        'acls',
        'add',
        '--config',
        config,
        '--principal',
        'alice',
        '--operation',
        op,
        '--topic',
        TOPIC,
      ];
      assert.equal(record(await runCli(acl)).code, 0);
    }
    // The CLI's consumer without --group reads as an ephemeral group named barge-cli-<random>.
    const group = ['acls', 'add', '--config', config, '--principal', 'alice', '--operation', 'read'];
    assert.equal(record(await runCli([...group, '--group', 'barge-cli-', '--prefixed'])).code, 0);
    adminPort = await freePort();
    broker = await startBroker(['--config', config, '--admin', `127.0.0.1:${adminPort}`], {
      BARGE_LOG_LEVEL: 'trace',
      ...(kafka && { SECRETS_TEST_KAFKA_PW: kafka.password }),
    });
  });

  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  /** Runs a client command against the broker with SASL credentials from the environment. */
  const asUser = (
    args: string[],
    user: string,
    password: string,
    mechanism = 'SCRAM-SHA-512',
    stdin?: string,
  ) =>
    runCli(
      [
        ...args,
        '--broker',
        broker.address,
        ...tlsFlags(),
        '--sasl-mechanism',
        mechanism,
        '--sasl-username',
        user,
      ],
      {
        env: { BARGE_SASL_PASSWORD: password },
        ...(stdin !== undefined && { stdin }),
      },
    ).then(record);

  it('logins, refusals, throttling and a reload leave no secret anywhere', async () => {
    const produced = await asUser(
      ['produce', '--topic', TOPIC],
      'alice',
      ALICE_PW,
      'SCRAM-SHA-512',
      'a\nb\n',
    );
    assert.equal(produced.code, 0, produced.stderr);
    const plain = await asUser(['produce', '--topic', TOPIC], 'alice', ALICE_PW, 'PLAIN', 'c\n');
    assert.equal(plain.code, 0, plain.stderr);
    const consumed = await asUser(
      ['consume', '--topic', TOPIC, '--from-beginning', '--max-messages', '3'],
      'alice',
      ALICE_PW,
      'SCRAM-SHA-256',
    );
    assert.equal(consumed.code, 0, consumed.stderr);
    // Refusals: a wrong password (SCRAM and PLAIN), a topic alice may not create, an unknown user.
    for (const mechanism of ['SCRAM-SHA-512', 'PLAIN']) {
      const wrong = await asUser(['topics', 'list'], 'alice', WRONG_PW, mechanism);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /SASL_AUTHENTICATION_FAILED/);
    }
    const unknown = await asUser(['topics', 'list'], 'mallory', WRONG_PW);
    assert.notEqual(unknown.code, 0);
    const refused = await asUser(['topics', 'create', 'other', '--partitions', '1'], 'alice', ALICE_PW);
    assert.match(refused.stderr, /AUTHORIZATION_FAILED: principal "alice" may not create topic "other"/);
    // A client certificate (principal "svc", no ACL), through the client library.
    const svc = new Producer({
      brokers: [broker.address],
      tls: { ca: certs.ca.cert, cert: certs.clients.svc!.cert, key: certs.clients.svc!.key },
      retry: { retries: 0 },
    });
    try {
      await assert.rejects(svc.send({ topic: TOPIC, messages: [{ value: 'x' }] }), (e: Error) => {
        seen.push(e.message, String(e.stack));
        return /AUTHORIZATION_FAILED: principal "svc" may not (describe|write) topic "payroll"/.test(
          e.message,
        );
      });
    } finally {
      await svc.disconnect();
    }
    // A wrong password through the client library: its error, stack and inspection.
    const sasl: SaslOptions = { mechanism: 'SCRAM-SHA-256', username: 'alice', password: WRONG_PW };
    const bad = new Producer({
      brokers: [broker.address],
      tls: { ca: certs.ca.cert },
      sasl,
      retry: { retries: 0 },
    });
    try {
      await assert.rejects(bad.send({ topic: TOPIC, messages: [{ value: 'x' }] }), (e: Error) => {
        seen.push(e.message, String(e.stack), JSON.stringify(e));
        return /SASL_AUTHENTICATION_FAILED/.test(e.message);
      });
    } finally {
      await bad.disconnect();
    }
    // Past alice's 64 KiB/s produce quota: throttled, not refused.
    const burst = Array.from({ length: 300 }, (_, i) => `${i}:${'x'.repeat(1000)}`).join('\n');
    const throttled = await asUser(['produce', '--topic', TOPIC], 'alice', ALICE_PW, 'SCRAM-SHA-512', burst);
    assert.equal(throttled.code, 0, throttled.stderr);
    // A certificate reload, and topics describe as the super user.
    broker.child.kill('SIGHUP');
    const described = await asUser(['topics', 'describe', TOPIC], 'ops', OPS_PW);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout.toString(), new RegExp(TOPIC));
    const metrics = await new Promise<string>((resolve, reject) => {
      httpsGet(`https://127.0.0.1:${adminPort}/metrics`, { ca: certs.ca.cert }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    assert.match(metrics, /barge_authorization_denied_total/);
    assert.match(metrics, /barge_quota_throttle_ms_total\{[^}]*principal="alice"[^}]*\} [1-9]/);
    seen.push(metrics);

    // A config whose secret has the wrong type: the validation error names the field, not the value.
    const badConfig = join(dir.path, 'bad.yaml');
    await writeFile(
      badConfig,
      `pointers: { adapter: kafka, brokers: ["127.0.0.1:1"], sasl: { mechanism: plain, username: u, password: { p: ${CONFIG_SECRET} } } }\n`,
    );
    const badRun = record(await runCli(['broker', '--config', badConfig], { timeoutMs: 30_000 }));
    assert.notEqual(badRun.code, 0);
    assert.match(badRun.stderr, /pointers\.sasl\.password/);

    const logs = broker.logs();
    assert.match(logs, /"msg":"authenticated"/, 'trace logs were captured');
    assert.match(logs, /authentication failed/);
    assert.match(logs, /TLS certificate reloaded/);
    seen.push(logs);
    const everything = seen.join('\n');

    const users = JSON.parse(await readFile(join(objects, USERS_META_KEY), 'utf8')) as {
      users: Record<string, Record<string, Record<string, string | number>>>;
    };
    const storedKeys = Object.values(users.users).flatMap((byMechanism) =>
      Object.values(byMechanism).flatMap((c) => [c.salt, c.storedKey, c.serverKey].map(String)),
    );
    assert.ok(storedKeys.length >= 6, 'SCRAM keys found in users.json');
    const keyLines = (pem: string) => pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
    const privateKeyLines = [...keyLines(certs.server.key), ...keyLines(certs.clients.svc!.key)];
    assert.ok(privateKeyLines.length >= 4, 'private key lines found');
    const secrets: Record<string, string[]> = {
      'a password': [ALICE_PW, OPS_PW, WRONG_PW, CONFIG_SECRET, ...(kafka ? [kafka.password] : [])],
      'a SCRAM salt or key': storedKeys,
      'a private key line': privateKeyLines,
    };
    for (const [what, values] of Object.entries(secrets)) {
      for (const v of values) {
        const at = everything.indexOf(v);
        assert.equal(at, -1, `${what} appears: ...${everything.slice(Math.max(0, at - 120), at)}<SECRET>`);
      }
    }
    assert.ok(everything.length > 10_000, `searched ${everything.length} characters`);
  });
});
