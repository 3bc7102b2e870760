import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthError, type BargeError, TransientError } from '@barge/core';
import {
  describePointerQueue,
  type KafkaSaslServiceEnv,
  kafkaSaslServiceEnv,
  randomId,
  testPointer,
} from '@barge/testkit';
import type { KafkaPointerQueueOptions } from './options.js';
import { KafkaPointerQueue } from './queue.js';
import { rawKafka } from './test-support/env.js';
import { saslTestOptions } from './test-support/sasl-env.js';

// The adapter against the test Kafka's SASL_SSL listener (scripts/kafka/sasl-ssl.sh): TLS with
// the test CA, then SCRAM-SHA-512 or PLAIN as user "barge".
const env = kafkaSaslServiceEnv();
const SKIP = 'BARGE_TEST_KAFKA_SASL_BROKERS is not set: run scripts/services.sh start kafka';

if (env === undefined) {
  describe('kafka over SASL_SSL', () => {
    it('runs against the SASL_SSL listener of the test Kafka', { skip: SKIP }, () => {});
  });
} else {
  const adminOf = (e: KafkaSaslServiceEnv) =>
    rawKafka(e.brokers, {
      ssl: { ca: [e.ca] },
      sasl: { mechanism: 'scram-sha-512', username: e.username, password: e.password },
    }).admin();

  describePointerQueue(
    'kafka over SASL_SSL (SCRAM-SHA-512)',
    async () => {
      const options = saslTestOptions(env);
      const admin = adminOf(env);
      await admin.connect();
      return {
        queue: new KafkaPointerQueue(options),
        reopen: async () => new KafkaPointerQueue(options),
        deleteTopics: async (topics) => {
          await admin.deleteTopics({ topics: topics.map((t) => `${options.topicPrefix}${t}`) });
        },
        dispose: () => admin.disconnect(),
      };
    },
    { capabilities: { reopen: true }, sessionTimeoutMs: 6000, waitTimeoutMs: 45_000, namePrefix: 'kqs' },
  );

  describe('kafka over SASL_SSL: authentication and TLS', () => {
    let dir: string;
    const queues: KafkaPointerQueue[] = [];
    const topics: string[] = [];
    const open = (options: KafkaPointerQueueOptions) => {
      const q = new KafkaPointerQueue(options);
      queues.push(q);
      return q;
    };

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'barge-kafka-sasl-'));
    });
    after(async () => {
      await Promise.all(queues.map((q) => q.close().catch(() => {})));
      const admin = adminOf(env);
      await admin.connect();
      await admin.deleteTopics({ topics }).catch(() => {});
      await admin.disconnect();
      await rm(dir, { recursive: true, force: true });
    });

    /** Creates a topic, publishes one pointer and reads it back through a consumer group. */
    const roundTrip = async (queue: KafkaPointerQueue) => {
      const topic = randomId('sasl');
      await queue.ensureTopic(topic, 1);
      topics.push(queue.pointerTopic(topic));
      const pointer = testPointer(topic, 0, 0);
      const [pos] = await queue.publish(topic, [pointer]);
      assert.equal(pos?.offset, 0);
      const consumer = await queue.subscribe({ group: randomId('g'), topic, sessionTimeoutMs: 6000 });
      try {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const records = await consumer.poll({ timeoutMs: 500 });
          if (records.length > 0) {
            assert.deepEqual(records[0]?.pointer, pointer);
            return;
          }
          assert.ok(Date.now() < deadline, 'no pointer read back within 30 s');
        }
      } finally {
        await consumer.close();
      }
    };

    /** The error `ensureTopic` rejects with, and how long that took. */
    const failure = async (options: KafkaPointerQueueOptions) => {
      const started = Date.now();
      const err = await open({ ...options, log: () => {} })
        .ensureTopic(randomId('never'), 1)
        .then(
          () => assert.fail('ensureTopic succeeded'),
          (e: unknown) => e as BargeError,
        );
      return { err, ms: Date.now() - started };
    };

    it('PLAIN (over TLS) publishes and reads back', { timeout: 60_000 }, async () => {
      const sasl = { mechanism: 'plain', username: env.username, password: env.password } as const;
      await roundTrip(open(saslTestOptions(env, { sasl })));
    });

    it('SCRAM-SHA-512 with the CA and the password read from files (caFile, passwordFile)', {
      timeout: 60_000,
    }, async () => {
      const passwordFile = path.join(dir, 'kafka-password');
      await writeFile(passwordFile, `${env.password}\n`, { mode: 0o600 });
      const sasl = { mechanism: 'scram-sha-512', username: env.username, passwordFile } as const;
      await roundTrip(open(saslTestOptions(env, { ssl: { caFile: env.caFile }, sasl })));
    });

    it('the password from an environment variable (passwordEnv)', { timeout: 60_000 }, async () => {
      const variable = `BARGE_TEST_SASL_PW_${process.pid}`;
      process.env[variable] = env.password;
      try {
        const sasl = { mechanism: 'scram-sha-512', username: env.username, passwordEnv: variable } as const;
        await roundTrip(open(saslTestOptions(env, { sasl })));
      } finally {
        delete process.env[variable];
      }
    });

    for (const mechanism of ['scram-sha-512', 'plain'] as const) {
      it(`a wrong password (${mechanism}) is a non-retryable AuthError naming user and mechanism, never the password`, async () => {
        const wrong = `wrong-${randomId('pw')}`;
        const sasl = { mechanism, username: env.username, password: wrong };
        const { err, ms } = await failure(saslTestOptions(env, { sasl }));
        assert.ok(err instanceof AuthError, `${err?.name}: ${err?.message}`);
        assert.equal(err.retryable, false);
        assert.match(
          err.message,
          new RegExp(`Kafka refused SASL authentication \\(user "barge", mechanism ${mechanism}\\)`),
        );
        assert.ok(!err.message.includes(wrong), err.message);
        assert.ok(!err.message.includes(env.password), err.message);
        assert.ok(ms < 15_000, `took ${ms} ms`);
      });
    }

    it('a client without TLS is refused with a hint to set pointers.ssl', async () => {
      const { err, ms } = await failure(saslTestOptions(env, { ssl: undefined }));
      assert.ok(err instanceof TransientError, `${err?.name}: ${err?.message}`);
      assert.match(
        err.message,
        /Kafka closed the connection; if the listener uses TLS \(SASL_SSL\), set pointers\.ssl/,
      );
      assert.ok(ms < 20_000, `took ${ms} ms`);
    });

    it('a client that does not trust the CA gets a non-retryable TLS error', async () => {
      const { err, ms } = await failure(saslTestOptions(env, { ssl: true }));
      assert.ok(err instanceof AuthError, `${err?.name}: ${err?.message}`);
      assert.equal(err.retryable, false);
      assert.match(err.message, /TLS with Kafka failed \(SELF_SIGNED_CERT_IN_CHAIN\).*check pointers\.ssl/);
      assert.ok(ms < 20_000, `took ${ms} ms`);
    });

    it('a server name the certificate does not hold is refused (hostname verification)', async () => {
      const { err } = await failure(
        saslTestOptions(env, { ssl: { ca: env.ca, servername: 'kafka.example' } }),
      );
      assert.ok(err instanceof AuthError, `${err?.name}: ${err?.message}`);
      assert.match(err.message, /TLS with Kafka failed \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    });

    it('kafkajs debug logs of a whole session never hold the password', { timeout: 60_000 }, async () => {
      const lines: string[] = [];
      const queue = open(
        saslTestOptions(env, {
          logLevel: 'debug',
          log: (level, msg, fields) => lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
        }),
      );
      await roundTrip(queue);
      assert.ok(
        lines.some((l) => /SASL/i.test(l)),
        'expected kafkajs to log its SASL steps at debug',
      );
      const leaked = lines.filter((l) => l.includes(env.password));
      assert.deepEqual(leaked, []);
    });
  });
}
