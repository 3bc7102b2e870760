import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kafkaSaslServiceEnv } from '@barge/testkit';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir } from '../harness.js';
import { deletePointerTopics, kafkaBrokers, kafkaYaml, runId } from '../kafka-fixtures.js';

// A `barge broker` process whose Kafka pointer queue goes over the test Kafka's SASL_SSL listener
// (scripts/kafka/sasl-ssl.sh): TLS with the test CA from a file, SCRAM-SHA-512 with the password
// from a file, as an operator deploys it. Debug logs, /metrics and `topics describe` must never
// show the password; a wrong password stops the start with a clear error.

const env = kafkaSaslServiceEnv();
const SKIP = 'BARGE_TEST_KAFKA_SASL_BROKERS is not set: run scripts/services.sh start kafka';
const RUN = runId();
const TOPIC = `sasl-${RUN}`;

describe('barge broker with Kafka pointers over SASL_SSL', { skip: env === undefined && SKIP }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const sasl = env as NonNullable<typeof env>;

  /** A config file for a broker on local storage with the Kafka queue over SASL_SSL. */
  const configFile = async (name: string, saslYaml: string): Promise<string> => {
    const file = join(dir.path, `${name}.yaml`);
    await writeFile(
      file,
      [
        `broker: { id: 31, dataDir: ${JSON.stringify(join(dir.path, name))} }`,
        ...kafkaYaml(sasl.brokers, RUN, { logLevel: 'debug' }),
        `  ssl: ${JSON.stringify({ caFile: sasl.caFile })}`,
        `  sasl: ${saslYaml}`,
        `topics: [{ name: ${TOPIC}, readPartitions: 2 }]`,
        '',
      ].join('\n'),
    );
    return file;
  };

  before(async () => {
    dir = await tempDir('barge-e2e-kafka-sasl-');
  });
  after(async () => {
    await deletePointerTopics(kafkaBrokers(), `barge.e2e.${RUN}.`);
    await dir?.remove();
  });

  it('produces and consumes; the password is in no log line, /metrics or topics describe', {
    timeout: 120_000,
  }, async () => {
    const passwordFile = join(dir.path, 'kafka-password');
    await writeFile(passwordFile, `${sasl.password}\n`, { mode: 0o600 });
    const config = await configFile(
      'ok',
      JSON.stringify({ mechanism: 'scram-sha-512', username: sasl.username, passwordFile }),
    );
    const admin = `127.0.0.1:${await freePort()}`;
    let broker: BrokerProcess | undefined;
    try {
      broker = await startBroker(['--config', config, '--admin', admin], { BARGE_LOG_LEVEL: 'debug' });
      assert.match(broker.logs(), new RegExp(`kafka pointers ${sasl.brokers.join(',')}`));
      const b = ['--broker', broker.address];
      const lines = ['one', 'two', 'three', 'four'];
      const produced = await runCli(['produce', '--topic', TOPIC, ...b], { stdin: `${lines.join('\n')}\n` });
      assert.equal(produced.code, 0, produced.stderr);
      const consumed = await runCli([
        ...['consume', '--topic', TOPIC, '--group', `g-${RUN}`, '--from-beginning'],
        ...['--max-messages', String(lines.length), ...b],
      ]);
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.deepEqual(consumed.stdout.toString().trim().split('\n').sort(), [...lines].sort());
      const described = await runCli(['topics', 'describe', TOPIC, ...b]);
      assert.equal(described.code, 0, described.stderr);
      const metrics = await (await fetch(`http://${admin}/metrics`)).text();
      assert.equal(await broker.stop(), 0);
      const logs = broker.logs();
      assert.ok(/SASL/i.test(logs), 'expected kafkajs SASL steps in the debug log');
      for (const [what, text] of [
        ['broker log', logs],
        ['/metrics', metrics],
        ['topics describe', `${described.stdout.toString()}${described.stderr}`],
        ['CLI output', `${produced.stderr}${consumed.stderr}`],
      ] as const) {
        assert.ok(!text.includes(sasl.password), `the Kafka password appears in the ${what}`);
      }
    } finally {
      await broker?.kill().catch(() => {});
    }
  });

  it('a wrong password stops the start at once with an error naming user and mechanism, not the password', {
    timeout: 60_000,
  }, async () => {
    const variable = 'BARGE_E2E_KAFKA_PASSWORD';
    const wrong = `not-the-password-${RUN}`;
    const config = await configFile(
      'wrong',
      JSON.stringify({ mechanism: 'scram-sha-512', username: sasl.username, passwordEnv: variable }),
    );
    const started = Date.now();
    const failed = await startBroker(['--config', config], { [variable]: wrong }).then(
      async (broker) => {
        await broker.kill();
        return assert.fail('the broker started with a wrong Kafka password');
      },
      (e: unknown) => String(e),
    );
    assert.match(failed, /broker exited with [1-9]/);
    assert.match(failed, /Kafka refused SASL authentication \(user "barge", mechanism scram-sha-512\)/);
    assert.ok(!failed.includes(wrong), failed);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  });
});
