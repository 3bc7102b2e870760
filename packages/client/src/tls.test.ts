import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@barge/core';
import { resolveCommonOptions } from './client-options.js';
import { resolveTlsOption } from './tls.js';

describe('the tls option', () => {
  it('is off when absent or false, the system CAs when true, and the object as given', () => {
    assert.equal(resolveTlsOption(undefined, 'producer'), undefined);
    assert.equal(resolveTlsOption(false, 'producer'), undefined);
    assert.deepEqual(resolveTlsOption(true, 'producer'), {});
    const pem = Buffer.from('-----BEGIN CERTIFICATE-----\n');
    assert.deepEqual(resolveTlsOption({ ca: [pem], servername: 'b', rejectUnauthorized: false }, 'admin'), {
      ca: [pem],
      servername: 'b',
      rejectUnauthorized: false,
    });
    assert.deepEqual(resolveCommonOptions({ tls: true }, 'consumer', 'Consumer').tls, {});
  });

  it('throws ConfigError naming the option for a wrong value', () => {
    const cases: [unknown, RegExp][] = [
      ['yes', /producer tls must be true or an object/],
      [{ ca: 42 }, /producer tls\.ca must be PEM text/],
      [{ cert: 'c' }, /tls\.cert and tls\.key go together/],
      [{ servername: '' }, /tls\.servername must be a non-empty string/],
      [{ rejectUnauthorized: 'no' }, /tls\.rejectUnauthorized must be a boolean/],
      [{ passphrase: 'x' }, /unknown option "passphrase"/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => resolveTlsOption(value, 'producer'),
        (e: unknown) => e instanceof ConfigError && message.test(e.message) && e.path.startsWith('tls'),
        JSON.stringify(value),
      );
    }
  });
});
