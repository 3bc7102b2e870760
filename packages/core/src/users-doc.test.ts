import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scramCredential } from './scram.js';
import { securitySchema } from './security.js';
import { parseUsers, usersDocument } from './users-doc.js';

describe('users document', () => {
  it('round-trips credentials as base64 and holds nothing else', async () => {
    const c = await scramCredential('SCRAM-SHA-512', 'hunter2', 5000);
    const doc = usersDocument(new Map([['alice', { 'SCRAM-SHA-512': c }]]));
    const json = JSON.parse(JSON.stringify(doc));
    assert.deepEqual(Object.keys(json.users.alice['SCRAM-SHA-512']).sort(), [
      'iterations',
      'salt',
      'serverKey',
      'storedKey',
    ]);
    assert.doesNotMatch(JSON.stringify(doc), /hunter2/);
    assert.deepEqual(parseUsers(json).get('alice'), { 'SCRAM-SHA-512': c });
  });

  it('refuses invalid documents naming the field', () => {
    const cred = { salt: 'AA==', iterations: 4096, storedKey: 'AA==', serverKey: 'AA==' };
    assert.throws(() => parseUsers({ version: 2, users: {} }), /version/);
    assert.throws(
      () => parseUsers({ version: 1, users: { a: { 'SCRAM-SHA-256': { ...cred, iterations: 10 } } } }),
      /users\.a\.SCRAM-SHA-256\.iterations/,
    );
    assert.throws(() => parseUsers({ version: 1, users: { a: { MD5: cred } } }), /users\.a/);
    assert.throws(() => parseUsers({ version: 1, users: { 'a\nb': {} } }), /Invalid key/);
  });
});

describe('security.authentication checks', () => {
  const tls = { cert: 'c.pem', key: 'k.pem' };
  it('PLAIN needs TLS; mtls needs TLS asking for client certificates', () => {
    assert.throws(
      () => securitySchema.parse({ authentication: ['PLAIN'] }),
      /PLAIN sends passwords in clear text/,
    );
    assert.doesNotThrow(() => securitySchema.parse({ authentication: ['PLAIN'], tls }));
    assert.throws(() => securitySchema.parse({ authentication: ['mtls'], tls }), /mtls takes the principal/);
    assert.doesNotThrow(() =>
      securitySchema.parse({
        authentication: ['mtls'],
        tls: { ...tls, ca: 'ca.pem', clientAuth: 'request' },
      }),
    );
  });
});
