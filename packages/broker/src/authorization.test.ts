import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ACLS_META_KEY,
  type AclEntry,
  ApiKey,
  ErrorCode,
  listAll,
  ScramClientSession,
  scramCredential,
  USERS_META_KEY,
  usersDocument,
} from '@barge/core';
import { type Harness, ok, produceRequest, startHarness, type TestClient, waitFor } from './test-helpers.js';

// Authorization through the router of a real broker (local storage, embedded pointer queue),
// with SCRAM users: every api is checked before its handler runs, refusals write nothing, lists
// are filtered, and ACLs written to storage take effect within `security.refreshMs`.

const PASSWORD = 'pw-for-tests';
const USERS = ['alice', 'bob', 'root'];
const harnesses: Harness[] = [];
after(async () => {
  await Promise.all(harnesses.map((h) => h.dispose()));
});

const allow = (principal: string, operation: AclEntry['operation'], type: 'topic' | 'group', name: string) =>
  ({ principal, operation, permission: 'allow', resource: { type, name, pattern: 'literal' } }) as AclEntry;

async function writeDoc(root: string, key: string, doc: unknown): Promise<void> {
  const file = join(root, 'objects', key);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(doc));
}

const setAcls = (h: Harness, acls: AclEntry[]) => writeDoc(h.dir, ACLS_META_KEY, { version: 1, acls });

async function secured(acls: AclEntry[] = []): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'barge-authz-'));
  const creds = await scramCredential('SCRAM-SHA-256', PASSWORD);
  await writeDoc(
    dir,
    USERS_META_KEY,
    usersDocument(new Map(USERS.map((u) => [u, { 'SCRAM-SHA-256': creds }]))),
  );
  await writeDoc(dir, ACLS_META_KEY, { version: 1, acls });
  const h = await startHarness(
    {
      topics: [
        { name: 'logs', batch: { maxDelayMs: 5 } },
        { name: 'other', batch: { maxDelayMs: 5 } },
      ],
      security: { authentication: ['SCRAM-SHA-256'], superUsers: ['root'], refreshMs: 100 },
    },
    { startupTimeoutMs: 5000 },
    { dir },
  );
  harnesses.push(h);
  return h;
}

async function login(h: Harness, user: string): Promise<TestClient> {
  const c = await h.client();
  ok(await c.request(ApiKey.SaslHandshake, { mechanism: 'SCRAM-SHA-256' }));
  const scram = new ScramClientSession('SCRAM-SHA-256', user, PASSWORD);
  const send = async (m: string) =>
    ok(await c.request(ApiKey.SaslAuthenticate, { authBytes: Buffer.from(m) })).authBytes.toString();
  const serverFirst = await send(scram.first());
  scram.verify(await send(await scram.final(serverFirst)));
  return c;
}

function refused(r: { errorCode: number; message: string }, message: string): void {
  assert.equal(
    r.errorCode,
    ErrorCode.AUTHORIZATION_FAILED,
    `expected a refusal, got ${r.errorCode} ${r.message}`,
  );
  assert.equal(r.message, message);
}

async function batchKeys(h: Harness, topic: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listAll(h.storage, `topics/${topic}/`)) keys.push(o.key);
  return keys;
}

describe('authorization (authentication on)', () => {
  it('refuses every api the principal has no ACL for, and nothing is written', async () => {
    const h = await secured();
    const root = await login(h, 'root');
    ok(await root.request(ApiKey.Produce, produceRequest('logs', ['by-root'])));
    const [key] = await batchKeys(h, 'logs');
    assert.ok(key);
    const alice = await login(h, 'alice');
    const may = (what: string) => `principal "alice" may not ${what}`;

    refused(await alice.request(ApiKey.Produce, produceRequest('logs', ['x'])), may('write topic "logs"'));
    refused(await alice.request(ApiKey.CreateTopic, { name: 'fresh' }), may('create topic "fresh"'));
    refused(await alice.request(ApiKey.Metadata, { topics: ['logs'] }), may('describe topic "logs"'));
    refused(await alice.request(ApiKey.DescribeTopic, { name: 'logs' }), may('describe topic "logs"'));
    refused(
      await alice.request(ApiKey.Watermarks, { topic: 'logs', partition: 0 }),
      may('describe topic "logs"'),
    );
    refused(
      await alice.request(ApiKey.ReadObject, { key, offset: 0, length: 100 }),
      may('read topic "logs"'),
    );
    const join = { group: 'g', topic: 'logs', sessionTimeoutMs: 10_000, fromBeginning: true, clientId: 'a' };
    refused(await alice.request(ApiKey.JoinGroup, join), may('read group "g"'));
    refused(await alice.request(ApiKey.DescribeGroup, { group: 'g' }), may('describe group "g"'));
    const reset = {
      group: 'g',
      topic: 'logs',
      target: { to: 'latest' as const },
      partitions: [],
      execute: true,
    };
    refused(await alice.request(ApiKey.ResetOffsets, reset), may('read group "g"'));
    // An unknown topic is refused as well: the answer does not tell whether it exists.
    refused(await alice.request(ApiKey.Produce, produceRequest('nope', ['x'])), may('write topic "nope"'));

    assert.deepEqual(ok(await alice.request(ApiKey.ListTopics, {})).topics, []);
    assert.deepEqual(ok(await alice.request(ApiKey.Metadata, { topics: [] })).topics, []);
    assert.deepEqual(ok(await alice.request(ApiKey.ListGroups, {})).groups, []);

    assert.deepEqual(await batchKeys(h, 'logs'), [key], 'no object was written');
    assert.equal(h.broker.topics.get('fresh'), undefined, 'no topic was created');
    assert.deepEqual(ok(await root.request(ApiKey.Watermarks, { topic: 'logs', partition: 0 })), {
      low: 0,
      high: 1,
    });
    assert.deepEqual(await h.pointers.listGroups(), [], 'no group was joined or committed');
    const denied = await h.broker.metrics.authorizationDenied.get();
    const write = denied.values.find(
      (v) => v.labels.operation === 'write' && v.labels.resource_type === 'topic',
    );
    assert.equal(write?.value, 2);
  });

  it('an ACL written to storage takes effect within refreshMs; removing it stops a member', async () => {
    const h = await secured();
    const alice = await login(h, 'alice');
    refused(
      await alice.request(ApiKey.Produce, produceRequest('logs', ['x'])),
      'principal "alice" may not write topic "logs"',
    );
    const reader = [allow('alice', 'read', 'group', 'g'), allow('alice', 'read', 'topic', 'logs')];
    await setAcls(h, [allow('alice', 'write', 'topic', 'logs'), ...reader]);
    await waitFor(
      async () => (await alice.request(ApiKey.Produce, produceRequest('logs', ['x']))).errorCode === 0,
      'the new ACL to apply',
      5000,
      50,
    );
    const join = { group: 'g', topic: 'logs', sessionTimeoutMs: 10_000, fromBeginning: true, clientId: 'a' };
    const { memberId } = ok(await alice.request(ApiKey.JoinGroup, join));
    const fetched = ok(
      await alice.request(ApiKey.FetchPointers, { memberId, maxRecords: 10, maxWaitMs: 2000 }),
    );
    assert.equal(fetched.records.length, 1);
    const r = fetched.records[0]!;
    ok(await alice.request(ApiKey.ReadObject, { key: r.pointer.storage.key, offset: 0, length: 10 }));
    // Read on the group only: the member's requests need read on its topic too.
    await setAcls(h, [reader[0]!]);
    const commit = { memberId, positions: [{ partition: 0, offset: r.offset + 1, messageIndex: 0 }] };
    await waitFor(
      async () =>
        (await alice.request(ApiKey.Heartbeat, { memberId })).errorCode === ErrorCode.AUTHORIZATION_FAILED,
      'the removal to apply',
      5000,
      50,
    );
    refused(await alice.request(ApiKey.CommitOffsets, commit), 'principal "alice" may not read topic "logs"');
    refused(
      await alice.request(ApiKey.FetchPointers, { memberId, maxRecords: 10, maxWaitMs: 0 }),
      'principal "alice" may not read topic "logs"',
    );
    const described = await h.pointers.describeGroup('g');
    assert.deepEqual(described.committed, [], 'nothing was committed');
  });

  it('a deny beats an allow; super users may do everything; lists show only what may be described', async () => {
    const h = await secured([
      {
        principal: 'bob',
        operation: 'all',
        permission: 'allow',
        resource: { type: 'topic', name: '*', pattern: 'literal' },
      },
      {
        principal: 'bob',
        operation: 'write',
        permission: 'deny',
        resource: { type: 'topic', name: 'oth', pattern: 'prefixed' },
      },
      allow('bob', 'read', 'group', 'bobs'),
    ]);
    const bob = await login(h, 'bob');
    ok(await bob.request(ApiKey.Produce, produceRequest('logs', ['x'])));
    refused(
      await bob.request(ApiKey.Produce, produceRequest('other', ['x'])),
      'principal "bob" may not write topic "other"',
    );
    assert.deepEqual(await batchKeys(h, 'other'), []);
    ok(await bob.request(ApiKey.CreateTopic, { name: 'bobs-topic' }));

    const root = await login(h, 'root');
    ok(await root.request(ApiKey.CreateTopic, { name: 'roots' }));
    ok(await root.request(ApiKey.Produce, produceRequest('other', ['x'])));
    const join = (group: string, c: TestClient) =>
      c.request(ApiKey.JoinGroup, {
        group,
        topic: 'logs',
        sessionTimeoutMs: 10_000,
        fromBeginning: true,
        clientId: '',
      });
    ok(await join('roots-group', root));
    ok(await join('bobs', bob));

    const alice = await login(h, 'alice');
    await setAcls(h, [
      {
        principal: '*',
        operation: 'describe',
        permission: 'allow',
        resource: { type: 'topic', name: 'o', pattern: 'prefixed' },
      },
      allow('alice', 'describe', 'group', 'bobs'),
    ]);
    await waitFor(
      async () => ok(await alice.request(ApiKey.ListTopics, {})).topics.length > 0,
      'the describe ACL to apply',
      5000,
      50,
    );
    assert.deepEqual(
      ok(await alice.request(ApiKey.ListTopics, {})).topics.map((t) => t.name),
      ['other'],
    );
    assert.deepEqual(
      ok(await root.request(ApiKey.ListTopics, {}))
        .topics.map((t) => t.name)
        .sort(),
      ['bobs-topic', 'logs', 'other', 'roots'],
    );
    // alice sees group bobs, not the topic it reads (logs): neither in the listing nor described.
    const aliceGroups = ok(await alice.request(ApiKey.ListGroups, {})).groups;
    assert.deepEqual(
      aliceGroups.map((g) => [g.group, g.topics]),
      [['bobs', []]],
    );
    const rootGroups = ok(await root.request(ApiKey.ListGroups, {})).groups;
    assert.deepEqual(
      rootGroups.map((g) => [g.group, g.topics]),
      [
        ['bobs', ['logs']],
        ['roots-group', ['logs']],
      ],
    );
    const described = ok(await alice.request(ApiKey.DescribeGroup, { group: 'bobs' }));
    assert.deepEqual(described.partitions, []);
    assert.deepEqual(described.members[0]?.assignment, []);
    assert.equal(ok(await root.request(ApiKey.DescribeGroup, { group: 'bobs' })).partitions.length, 1);
  });

  it('a produce request with acks=none is refused without a response and writes nothing', async () => {
    const h = await secured();
    const alice = await login(h, 'alice');
    alice.fire(ApiKey.Produce, produceRequest('logs', ['x'], { acks: 'none' }));
    // The next request is answered; the acks=none one never is.
    refused(
      await alice.request(ApiKey.DescribeTopic, { name: 'logs' }),
      'principal "alice" may not describe topic "logs"',
    );
    assert.equal(alice.unsolicited.length, 0);
    h.broker.flush();
    await h.broker.whenIdle();
    assert.deepEqual(await batchKeys(h, 'logs'), []);
  });
});
