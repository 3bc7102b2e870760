import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Producer } from './producer.js';
import { resolveSaslOption } from './sasl-client.js';

const SECRET = 'tr0ub4dor&3';

describe('the sasl option', () => {
  it('is checked, naming the field and never the password', () => {
    const bad = [
      [{ mechanism: 'MD5', username: 'a', password: SECRET }, /sasl\.mechanism must be one of/],
      [{ mechanism: 'SCRAM-SHA-256', username: '', password: SECRET }, /sasl\.username/],
      [{ mechanism: 'SCRAM-SHA-256', username: 'a', password: '' }, /sasl\.password/],
      [{ mechanism: 'SCRAM-SHA-256', username: 'a', password: SECRET, extra: 1 }, /unknown option "extra"/],
      [{ mechanism: 'PLAIN', username: 'a', password: SECRET }, /PLAIN sends the password in clear text/],
    ] as const;
    for (const [sasl, message] of bad) {
      assert.throws(
        () => new Producer({ brokers: ['127.0.0.1:1'], sasl: sasl as never }),
        (e: Error) => message.test(e.message) && !e.message.includes(SECRET),
      );
    }
    assert.ok(
      resolveSaslOption({ sasl: { mechanism: 'PLAIN', username: 'a', password: SECRET }, tls: {} }, 'x'),
    );
  });

  it('keeps the password out of inspect and JSON', () => {
    const c = resolveSaslOption(
      { sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: SECRET } },
      'x',
    );
    assert.ok(c);
    assert.doesNotMatch(inspect(c, { showHidden: true, depth: 5 }), /tr0ub4dor/);
    assert.equal(JSON.stringify(c), '{"mechanism":"SCRAM-SHA-512","username":"alice"}');
  });
});
