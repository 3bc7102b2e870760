import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Admin,
  BrokerConnection,
  Consumer,
  Producer,
  SaslCredentials,
  type SaslOptions,
} from '@barge/client';
import { ApiKey, type BrokerResponseError, ErrorCode, encodeChunk, type ProduceRequest } from '@barge/core';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir, waitFor } from '../harness.js';

// ACLs against a real `barge broker` process with SCRAM authentication on: users made with
// `barge users add`, ACLs with `barge acls add|remove` (written to the storage the broker
// re-reads every refreshMs). An authenticated client without the ACL is refused, per api, with
// AUTHORIZATION_FAILED and nothing is written; an ACL added takes effect, a deny beats an allow,
// and the super user may do everything.

const PASSWORD = 'e2e-authz-secret-9f3c';
const REFRESH_MS = 200;

let dir: { path: string; remove(): Promise<void> };
let config: string;
let admin: string;
let broker: BrokerProcess;

const sasl = (username: string): SaslOptions => ({
  mechanism: 'SCRAM-SHA-256',
  username,
  password: PASSWORD,
});
const storageFlags = () => ['--config', config, '--data', dir.path];

async function cli(args: string[], stdin?: string): Promise<string> {
  const r = await runCli(args, { ...(stdin === undefined ? {} : { stdin }), timeoutMs: 60_000 });
  assert.equal(r.code, 0, `barge ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout.toString();
}

const acls = (...args: string[]) => cli(['acls', ...args, ...storageFlags()]);

/** A raw connection authenticated as `user`, to send any api. */
function connect(user: string): BrokerConnection {
  return new BrokerConnection(broker.address, {
    clientId: `e2e-${user}`,
    sasl: new SaslCredentials('SCRAM-SHA-256', user, PASSWORD),
  });
}

function produceBody(topic: string, value: string): ProduceRequest {
  const chunk = encodeChunk([{ value, timestamp: Date.now() }], 'none', { producerId: 11, baseSequence: 0 });
  return { topic, writePartition: 0, acks: 'durable', producerId: 11, timeoutMs: 10_000, chunks: [chunk] };
}

/** Asserts the request fails AUTHORIZATION_FAILED with exactly `message`. */
async function refused(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: BrokerResponseError) => {
    assert.equal(e.errorCode, ErrorCode.AUTHORIZATION_FAILED, String(e));
    // The client adds which api went to which broker.
    assert.ok(e.message.startsWith(`AUTHORIZATION_FAILED: ${message} (`), e.message);
    return true;
  });
}

async function batchObjects(topic: string): Promise<string[]> {
  const root = join(dir.path, 'objects', 'topics', topic);
  const out: string[] = [];
  for (const wp of await readdir(root).catch((): string[] => [])) {
    for (const f of await readdir(join(root, wp))) out.push(`topics/${topic}/${wp}/${f}`);
  }
  return out.sort();
}

async function topicExists(name: string): Promise<boolean> {
  const files = await readdir(join(dir.path, 'objects', '_meta', 'topics')).catch((): string[] => []);
  return files.includes(`${name}.json`);
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Retries `attempt` until it stops throwing: an ACL change applies within refreshMs. */
function untilAccepted<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  return waitFor(
    what,
    async () => {
      try {
        return { value: await attempt() };
      } catch {
        return undefined;
      }
    },
    10 * REFRESH_MS + 5000,
    50,
  ).then((r) => r.value);
}

before(async () => {
  dir = await tempDir('barge-authz-e2e-');
  config = join(dir.path, 'barge.yaml');
  await writeFile(
    config,
    [
      'topics:',
      '  - { name: logs, batch: { maxDelayMs: 10 } }',
      'security:',
      '  authentication: [SCRAM-SHA-256]',
      '  superUsers: [root]',
      `  refreshMs: ${REFRESH_MS}`,
      '',
    ].join('\n'),
  );
  const passwordFile = join(dir.path, 'password');
  await writeFile(passwordFile, PASSWORD);
  for (const user of ['alice', 'root']) {
    await cli(['users', 'add', user, '--password-file', passwordFile, ...storageFlags()]);
  }
  admin = `127.0.0.1:${await freePort()}`;
  broker = await startBroker(['--config', config, '--data', dir.path, '--admin', admin], {
    BARGE_LOG_LEVEL: 'info',
  });
});

after(async () => {
  await broker?.stop();
  await dir?.remove();
});

describe('authorization against a real broker (SCRAM users, barge acls)', () => {
  it('refuses an authenticated client without the ACL, per api, and writes nothing', async () => {
    const root = connect('root');
    await root.request(ApiKey.Produce, produceBody('logs', 'by-root'));
    const objects = await batchObjects('logs');
    assert.equal(objects.length, 1);
    const alice = connect('alice');
    try {
      const may = (what: string) => `principal "alice" may not ${what}`;
      await refused(alice.request(ApiKey.Produce, produceBody('logs', 'x')), may('write topic "logs"'));
      await refused(
        alice.request(ApiKey.ReadObject, { key: objects[0]!, offset: 0, length: 1000 }),
        may('read topic "logs"'),
      );
      const join = {
        group: 'g1',
        topic: 'logs',
        sessionTimeoutMs: 10_000,
        fromBeginning: true,
        clientId: 'a',
      };
      await refused(alice.request(ApiKey.JoinGroup, join), may('read group "g1"'));
      await refused(alice.request(ApiKey.CreateTopic, { name: 'fresh' }), may('create topic "fresh"'));
      await refused(alice.request(ApiKey.DescribeGroup, { group: 'g1' }), may('describe group "g1"'));
      await refused(alice.request(ApiKey.DescribeTopic, { name: 'logs' }), may('describe topic "logs"'));
      assert.deepEqual((await alice.request(ApiKey.ListTopics, {})).topics, []);
      assert.deepEqual(
        (await root.request(ApiKey.ListTopics, {})).topics.map((t) => t.name),
        ['logs'],
      );

      // Fetching pointers and committing: alice may join, then loses read on the topic.
      await acls('add', '--principal', 'alice', '--operation', 'read', '--group', 'g1');
      await acls('add', '--principal', 'alice', '--operation', 'read', '--topic', 'logs');
      const { memberId } = await untilAccepted('the read ACLs to apply', () =>
        alice.request(ApiKey.JoinGroup, join),
      );
      assert.match(await acls('remove', '--principal', 'alice', '--topic', 'logs'), /^removed 1 ACL\n$/);
      await waitFor('the removal to apply', async () => {
        try {
          await alice.request(ApiKey.Heartbeat, { memberId });
          return false;
        } catch (e) {
          return (e as BrokerResponseError).errorCode === ErrorCode.AUTHORIZATION_FAILED;
        }
      });
      await refused(
        alice.request(ApiKey.FetchPointers, { memberId, maxRecords: 10, maxWaitMs: 0 }),
        may('read topic "logs"'),
      );
      await refused(
        alice.request(ApiKey.CommitOffsets, {
          memberId,
          positions: [{ partition: 0, offset: 1, messageIndex: 0 }],
        }),
        may('read topic "logs"'),
      );

      assert.deepEqual(await batchObjects('logs'), objects, 'no object was written');
      assert.equal(await topicExists('fresh'), false, 'no topic was created');
      const g1 = await root.request(ApiKey.DescribeGroup, { group: 'g1' });
      assert.deepEqual(
        g1.partitions.map((p) => p.committed),
        [undefined],
        'nothing was committed',
      );
      assert.ok(
        (await metric('barge_authorization_denied_total', 'operation="write",resource_type="topic"')) >= 1,
      );
      const logs = broker.logs();
      assert.match(logs, /authorization denied/);
      assert.ok(!logs.includes(PASSWORD), 'the password is not logged');
    } finally {
      await alice.close();
      await root.close();
    }
  });

  it('an ACL added with barge acls add takes effect within refreshMs; a deny beats it', async () => {
    const producer = new Producer({ brokers: [broker.address], sasl: sasl('alice'), retry: { retries: 0 } });
    await producer.connect();
    try {
      await assert.rejects(
        producer.send({ topic: 'logs', messages: [{ value: 'refused' }] }),
        /AUTHORIZATION_FAILED: principal "alice" may not (write|describe) topic "logs"/,
      );
      assert.match(
        await acls('add', '--principal', 'alice', '--operation', 'write', '--topic', 'logs'),
        /^added: allow principal "alice" write on topic "logs"\n$/,
      );
      const before = (await batchObjects('logs')).length;
      await untilAccepted('the write ACL to apply', () =>
        producer.send({ topic: 'logs', messages: [{ value: 'allowed' }] }),
      );
      assert.equal((await batchObjects('logs')).length, before + 1);

      await acls('add', '--principal', '*', '--operation', 'write', '--topic', 'lo', '--prefixed', '--deny');
      const alice = connect('alice');
      try {
        await waitFor('the deny to apply', async () => {
          try {
            await alice.request(ApiKey.Produce, produceBody('logs', 'denied'));
            return false;
          } catch (e) {
            return (e as BrokerResponseError).errorCode === ErrorCode.AUTHORIZATION_FAILED;
          }
        });
        // Sends before the deny applied were stored: count from here.
        const stored = (await batchObjects('logs')).length;
        await refused(
          alice.request(ApiKey.Produce, produceBody('logs', 'denied')),
          'principal "alice" may not write topic "logs"',
        );
        assert.equal((await batchObjects('logs')).length, stored, 'nothing more was written');
      } finally {
        await alice.close();
      }
      const listed = JSON.parse(await acls('list', '--principal', 'alice', '--format', 'json'));
      assert.deepEqual(listed, [
        {
          principal: 'alice',
          resource: { type: 'group', name: 'g1', pattern: 'literal' },
          operation: 'read',
          permission: 'allow',
        },
        {
          principal: 'alice',
          resource: { type: 'topic', name: 'logs', pattern: 'literal' },
          operation: 'write',
          permission: 'allow',
        },
      ]);
    } finally {
      await producer.disconnect();
    }
  });

  it('barge acls refuses incomplete or invalid ACLs with one line and exit code 2', async () => {
    for (const [args, pattern] of [
      [['add', '--principal', 'alice', '--topic', 'logs'], /add needs --principal, --operation and one of/],
      [
        ['add', '--principal', 'alice', '--operation', 'read', '--topic', 'a/b'],
        /topic name "a\/b" is invalid/,
      ],
      [
        ['add', '--principal', 'a', '--operation', 'read', '--topic', 't', '--group', 'g'],
        /give one of --topic/,
      ],
      [['remove', '--operation', 'read'], /name --principal or a resource/],
    ] as const) {
      const r = await runCli(['acls', ...args, ...storageFlags()]);
      assert.equal(r.code, 2, `barge acls ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('the super user may do everything without any ACL', async () => {
    const admin = new Admin({ brokers: [broker.address], sasl: sasl('root') });
    await admin.connect();
    const producer = new Producer({ brokers: [broker.address], sasl: sasl('root') });
    await producer.connect();
    const consumer = new Consumer({ brokers: [broker.address], sasl: sasl('root'), groupId: 'roots' });
    try {
      // The deny of the previous test names every principal; root is not bound by it.
      await admin.createTopic({ name: 'root-topic', writePartitions: 1, readPartitions: 1 });
      await producer.send({ topic: 'root-topic', messages: [{ value: 'r1' }] });
      await producer.send({ topic: 'logs', messages: [{ value: 'r2' }] });
      await consumer.connect();
      await consumer.subscribe({ topic: 'root-topic', fromBeginning: true });
      const got = await new Promise<string>((resolve, reject) => {
        consumer.run({ eachMessage: async ({ message }) => resolve(message.value.toString()) }).catch(reject);
      });
      assert.equal(got, 'r1');
      const topics = (await admin.listTopics()).map((t) => t.name).sort();
      assert.deepEqual(topics, ['logs', 'root-topic']);
      const groups = await admin.describeGroup('roots');
      assert.equal(groups.group, 'roots');
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
