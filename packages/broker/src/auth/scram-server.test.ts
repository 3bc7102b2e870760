import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ScramClientSession, type ScramCredential, type ScramMechanism, scramCredential } from '@barge/core';
import { AuthenticationFailure } from './failure.js';
import { verifyPlain } from './plain.js';
import { ScramServerSession } from './scram-server.js';

// RFC 7677 §3: SCRAM-SHA-256, user "user", password "pencil".
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const rfcCredential = () => scramCredential('SCRAM-SHA-256', 'pencil', 4096, Buffer.from(RFC.salt, 'base64'));

function server(
  mechanism: ScramMechanism,
  users: Record<string, ScramCredential>,
  serverNonce?: string,
  fakeSaltKey = randomBytes(32),
): ScramServerSession {
  return new ScramServerSession(mechanism, {
    lookup: (u) => users[u],
    fakeSaltKey,
    ...(serverNonce === undefined ? {} : { serverNonce }),
  });
}

/** Runs a whole exchange; returns the server's answer to the client-final message, or its failure. */
async function exchange(s: ScramServerSession, c: ScramClientSession): Promise<string> {
  const first = s.step(c.first());
  assert.equal(first.done, false);
  const final = s.step(await c.final(first.message));
  assert.equal(final.done, true);
  c.verify(final.message);
  return final.message;
}

function failsWith(reason: string, user = 'user', mechanism = 'SCRAM-SHA-256') {
  return (e: unknown) => {
    assert.ok(e instanceof AuthenticationFailure, String(e));
    assert.equal(e.reason, reason);
    assert.equal(e.message, `authentication failed for user ${JSON.stringify(user)} with ${mechanism}`);
    return true;
  };
}

describe('SCRAM server', () => {
  it('answers the RFC 7677 test vector message for message', async () => {
    const s = server('SCRAM-SHA-256', { user: await rfcCredential() }, RFC.serverNonce);
    assert.deepEqual(s.step(RFC.clientFirst), { done: false, message: RFC.serverFirst });
    assert.deepEqual(s.step(RFC.clientFinal), { done: true, message: RFC.serverFinal, user: 'user' });
  });

  it('the client produces the RFC 7677 messages and accepts the server signature', async () => {
    const c = new ScramClientSession('SCRAM-SHA-256', 'user', 'pencil', RFC.clientNonce);
    assert.equal(c.first(), RFC.clientFirst);
    assert.equal(await c.final(RFC.serverFirst), RFC.clientFinal);
    c.verify(RFC.serverFinal);
    assert.throws(() => c.verify('v=AAAA'), /wrong server signature/);
  });

  it('SCRAM-SHA-512 and names with "," and "=" round-trip with the client', async () => {
    const users = { 'a,b=c': await scramCredential('SCRAM-SHA-512', 's3cret', 5000) };
    const c = new ScramClientSession('SCRAM-SHA-512', 'a,b=c', 's3cret');
    assert.match(c.first(), /^n,,n=a=2Cb=3Dc,r=/);
    assert.match(await exchange(server('SCRAM-SHA-512', users), c), /^v=/);
  });

  it('a wrong password fails at the proof with the same message as an unknown user', async () => {
    const users = { user: await rfcCredential() };
    const wrong = new ScramClientSession('SCRAM-SHA-256', 'user', 'pencil!');
    await assert.rejects(exchange(server('SCRAM-SHA-256', users), wrong), failsWith('wrong proof'));
    const nobody = new ScramClientSession('SCRAM-SHA-256', 'nobody', 'pencil');
    await assert.rejects(
      exchange(server('SCRAM-SHA-256', users), nobody),
      failsWith('unknown user', 'nobody'),
    );
  });

  it('an unknown user gets a server-first like a known one, with the same salt every time', () => {
    const key = randomBytes(32);
    const salts = [1, 2].map(() => {
      const first = server('SCRAM-SHA-256', {}, undefined, key).step('n,,n=ghost,r=abc');
      assert.match(first.message, /^r=abc[^,]+,s=[A-Za-z0-9+/]{43}=,i=4096$/);
      return first.message.split(',')[1];
    });
    assert.equal(salts[0], salts[1]);
  });

  it('a replayed client-final message fails: the new session has another server nonce', async () => {
    const users = { user: await rfcCredential() };
    const first = server('SCRAM-SHA-256', users, RFC.serverNonce);
    first.step(RFC.clientFirst);
    assert.equal(first.step(RFC.clientFinal).done, true);
    const replay = server('SCRAM-SHA-256', users);
    replay.step(RFC.clientFirst);
    assert.throws(() => replay.step(RFC.clientFinal), failsWith('nonce mismatch'));
  });

  it('a tampered proof fails', async () => {
    const s = server('SCRAM-SHA-256', { user: await rfcCredential() }, RFC.serverNonce);
    s.step(RFC.clientFirst);
    const tampered = RFC.clientFinal.replace('p=dHzb', 'p=dHzc');
    assert.throws(() => s.step(tampered), failsWith('wrong proof'));
  });

  it('refuses channel binding, other authorization identities, and messages after the end', async () => {
    const users = { user: await rfcCredential() };
    assert.throws(
      () => server('SCRAM-SHA-256', users).step('p=tls-unique,,n=user,r=abc'),
      AuthenticationFailure,
    );
    assert.throws(
      () => server('SCRAM-SHA-256', users).step('n,a=admin,n=user,r=abc'),
      failsWith('authorization identity differs from the user'),
    );
    const s = server('SCRAM-SHA-256', users, RFC.serverNonce);
    s.step(RFC.clientFirst);
    s.step(RFC.clientFinal);
    assert.throws(() => s.step(RFC.clientFinal), AuthenticationFailure);
  });
});

describe('PLAIN against stored SCRAM credentials', () => {
  const fakeSalt = () => Buffer.alloc(32, 1);
  const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`);

  it('accepts the right password and refuses a wrong one or an unknown user alike', async () => {
    const users = new Map([['alice', { 'SCRAM-SHA-512': await scramCredential('SCRAM-SHA-512', 'pw') }]]);
    const lookup = (u: string) => users.get(u);
    assert.equal(await verifyPlain(plain('alice', 'pw'), lookup, fakeSalt), 'alice');
    await assert.rejects(
      verifyPlain(plain('alice', 'pw2'), lookup, fakeSalt),
      failsWith('wrong password', 'alice', 'PLAIN'),
    );
    await assert.rejects(
      verifyPlain(plain('bob', 'pw'), lookup, fakeSalt),
      failsWith('unknown user', 'bob', 'PLAIN'),
    );
    await assert.rejects(verifyPlain(Buffer.from('alice\0pw'), lookup, fakeSalt), AuthenticationFailure);
  });
});
