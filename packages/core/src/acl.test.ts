import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AclEntry,
  type AclResource,
  AclSet,
  describeAclResource,
  type Operation,
  parseAclDocument,
  parseAclEntry,
  type Resource,
  sameAcl,
} from './acl.js';
import { ConfigError } from './errors.js';

const topic = (name: string, pattern: 'literal' | 'prefixed' = 'literal'): AclResource => ({
  type: 'topic',
  name,
  pattern,
});
const group = (name: string, pattern: 'literal' | 'prefixed' = 'literal'): AclResource => ({
  type: 'group',
  name,
  pattern,
});
const allow = (principal: string, operation: AclEntry['operation'], resource: AclResource): AclEntry => ({
  principal,
  operation,
  resource,
  permission: 'allow',
});
const deny = (principal: string, operation: AclEntry['operation'], resource: AclResource): AclEntry => ({
  ...allow(principal, operation, resource),
  permission: 'deny',
});
const T = (name: string): Resource => ({ type: 'topic', name });
const G = (name: string): Resource => ({ type: 'group', name });

function may(set: AclSet, principal: string, op: Operation, r: Resource): boolean {
  return set.authorize(principal, op, r).allowed;
}

describe('AclSet.authorize', () => {
  it('denies when no ACL matches (deny by default)', () => {
    const set = new AclSet([]);
    const d = set.authorize('alice', 'write', T('logs'));
    assert.deepEqual(d, { allowed: false, reason: 'no-acl' });
  });

  it('allows a literal name only for that name, operation and principal', () => {
    const set = new AclSet([allow('alice', 'write', topic('logs'))]);
    assert.equal(may(set, 'alice', 'write', T('logs')), true);
    assert.equal(may(set, 'alice', 'write', T('logs2')), false);
    assert.equal(may(set, 'alice', 'read', T('logs')), false);
    assert.equal(may(set, 'bob', 'write', T('logs')), false);
    assert.equal(may(set, 'alice', 'write', G('logs')), false, 'another resource type');
  });

  it('a prefixed name covers every name that starts with it', () => {
    const set = new AclSet([allow('alice', 'read', topic('team-a.', 'prefixed'))]);
    assert.equal(may(set, 'alice', 'read', T('team-a.orders')), true);
    assert.equal(may(set, 'alice', 'read', T('team-a.')), true);
    assert.equal(may(set, 'alice', 'read', T('team-b.orders')), false);
    assert.equal(may(set, 'alice', 'read', T('team-a')), false);
  });

  it('a literal "*" name covers every resource of the type; a prefixed "*" is refused', () => {
    const set = new AclSet([allow('alice', 'read', group('*'))]);
    assert.equal(may(set, 'alice', 'read', G('any-group')), true);
    assert.equal(may(set, 'alice', 'read', T('any-topic')), false);
    assert.throws(() => parseAclEntry(allow('alice', 'read', group('*', 'prefixed'))), ConfigError);
  });

  it('principal "*" matches every principal', () => {
    const set = new AclSet([allow('*', 'describe', topic('*'))]);
    assert.equal(may(set, 'alice', 'describe', T('logs')), true);
    assert.equal(may(set, 'bob', 'describe', T('other')), true);
    assert.equal(may(set, 'bob', 'write', T('other')), false);
  });

  it('a deny beats an allow, whichever is broader or listed first', () => {
    const set = new AclSet([
      allow('alice', 'all', topic('*')),
      deny('alice', 'write', topic('secret')),
      deny('*', 'read', topic('private.', 'prefixed')),
      allow('bob', 'read', topic('private.x')),
    ]);
    assert.equal(may(set, 'alice', 'write', T('logs')), true);
    const d = set.authorize('alice', 'write', T('secret'));
    assert.equal(d.allowed, false);
    assert.equal(d.reason, 'denied');
    assert.equal(may(set, 'alice', 'read', T('secret')), true, 'the deny is for write only');
    assert.equal(may(set, 'bob', 'read', T('private.x')), false, 'a deny for * applies to bob');
  });

  it('a deny of "all" denies every operation', () => {
    const set = new AclSet([allow('alice', 'read', topic('logs')), deny('alice', 'all', topic('logs'))]);
    for (const op of ['read', 'write', 'describe', 'create', 'alter', 'delete'] as const) {
      assert.equal(may(set, 'alice', op, T('logs')), false, op);
    }
  });

  it('super users are allowed everything, even what a deny names', () => {
    const set = new AclSet([deny('root', 'all', topic('*'))], ['root']);
    assert.deepEqual(set.authorize('root', 'write', T('logs')), { allowed: true, reason: 'super-user' });
    assert.equal(may(set, 'root', 'create', { type: 'cluster' }), true);
    assert.equal(may(set, 'alice', 'write', T('logs')), false);
  });

  it('read, write, alter and delete imply describe (as in Kafka); describe implies nothing else', () => {
    const set = new AclSet([
      allow('p', 'write', topic('w')),
      allow('r', 'read', group('g')),
      allow('d', 'describe', topic('t')),
    ]);
    assert.equal(may(set, 'p', 'describe', T('w')), true);
    assert.equal(may(set, 'r', 'describe', G('g')), true);
    assert.equal(may(set, 'd', 'read', T('t')), false);
    const denied = new AclSet([allow('p', 'write', topic('w')), deny('p', 'describe', topic('w'))]);
    assert.equal(may(denied, 'p', 'describe', T('w')), false, 'an explicit describe deny still wins');
  });

  it('create on the cluster grants creating any topic; a topic deny still wins', () => {
    const set = new AclSet([
      allow('ops', 'create', { type: 'cluster' }),
      deny('ops', 'create', topic('reserved.', 'prefixed')),
    ]);
    assert.equal(may(set, 'ops', 'create', T('new-topic')), true);
    assert.equal(may(set, 'ops', 'create', T('reserved.x')), false);
    assert.equal(may(set, 'ops', 'write', T('new-topic')), false);
    const clusterDeny = new AclSet([
      allow('ops', 'create', topic('*')),
      deny('ops', 'create', { type: 'cluster' }),
    ]);
    assert.equal(may(clusterDeny, 'ops', 'create', T('x')), false);
  });
});

describe('ACL validation', () => {
  it('accepts a document of valid entries and keeps them as they are', () => {
    const acls = [
      allow('alice', 'write', topic('logs')),
      deny('*', 'read', group('team.', 'prefixed')),
      allow('CN=svc,O=acme', 'create', { type: 'cluster' } as AclResource),
    ];
    assert.deepEqual(parseAclDocument({ version: 1, acls }), { version: 1, acls });
  });

  const bad: [string, unknown][] = [
    ['unknown operation', { ...allow('a', 'write', topic('x')), operation: 'produce' }],
    ['unknown permission', { ...allow('a', 'write', topic('x')), permission: 'maybe' }],
    ['empty principal', allow('', 'write', topic('x'))],
    ['control character in principal', allow('a\nb', 'write', topic('x'))],
    ['topic name with a slash', allow('a', 'write', topic('a/b'))],
    ['group name with a space', allow('a', 'read', group('a b'))],
    ['empty prefix', allow('a', 'write', topic('', 'prefixed'))],
    [
      'cluster with a name',
      { ...allow('a', 'create', topic('x')), resource: { type: 'cluster', name: 'x' } },
    ],
    ['unknown field', { ...allow('a', 'write', topic('x')), host: '*' }],
  ];
  for (const [what, entry] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => parseAclEntry(entry), ConfigError));
  }

  it('refuses a document of another version', () => {
    assert.throws(() => parseAclDocument({ version: 2, acls: [] }), /invalid ACL document: version/);
  });

  it('names resources and compares entries', () => {
    assert.equal(describeAclResource(topic('logs')), 'topic "logs"');
    assert.equal(describeAclResource(group('team.', 'prefixed')), 'groups prefixed "team."');
    assert.equal(describeAclResource(topic('*')), 'every topic');
    assert.equal(describeAclResource({ type: 'cluster' }), 'the cluster');
    assert.equal(sameAcl(allow('a', 'read', topic('x')), allow('a', 'read', topic('x'))), true);
    assert.equal(sameAcl(allow('a', 'read', topic('x')), deny('a', 'read', topic('x'))), false);
    assert.equal(sameAcl(allow('a', 'read', topic('x')), allow('a', 'read', topic('x', 'prefixed'))), false);
  });
});

describe('AclSet.allowsSome (Kafka idempotent producers: write on some topic)', () => {
  it('is true with an allow on some topic, for that operation, principal and resource type', () => {
    const set = new AclSet([
      allow('alice', 'write', topic('logs')),
      allow('*', 'read', topic('public.', 'prefixed')),
    ]);
    assert.equal(set.allowsSome('alice', 'write', 'topic'), true);
    assert.equal(set.allowsSome('bob', 'write', 'topic'), false);
    assert.equal(set.allowsSome('bob', 'read', 'topic'), true, 'through principal "*"');
    assert.equal(set.allowsSome('alice', 'write', 'group'), false);
    assert.equal(set.allowsSome('alice', 'describe', 'topic'), true, 'write implies describe');
  });

  it('an allow whose every resource a deny covers does not count; a narrower deny leaves it', () => {
    const literal = allow('alice', 'write', topic('logs'));
    const prefixed = allow('alice', 'write', topic('team.', 'prefixed'));
    assert.equal(
      new AclSet([literal, deny('alice', 'write', topic('logs'))]).allowsSome('alice', 'write', 'topic'),
      false,
    );
    assert.equal(
      new AclSet([literal, deny('*', 'all', topic('*'))]).allowsSome('alice', 'write', 'topic'),
      false,
    );
    assert.equal(
      new AclSet([prefixed, deny('alice', 'write', topic('te', 'prefixed'))]).allowsSome(
        'alice',
        'write',
        'topic',
      ),
      false,
    );
    assert.equal(
      new AclSet([prefixed, deny('alice', 'write', topic('team.x'))]).allowsSome('alice', 'write', 'topic'),
      true,
    );
    assert.equal(
      new AclSet([literal, deny('alice', 'read', topic('*'))]).allowsSome('alice', 'write', 'topic'),
      true,
    );
  });

  it('super users are allowed', () => {
    assert.equal(new AclSet([], ['root']).allowsSome('root', 'write', 'topic'), true);
  });
});
