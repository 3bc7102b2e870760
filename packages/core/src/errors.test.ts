import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuthError,
  BargeError,
  ConfigError,
  CorruptDataError,
  GroupRebalanceError,
  InvalidInputError,
  isRetryable,
  NotFoundError,
  PermanentError,
  TransientError,
} from './errors.js';

describe('error classes', () => {
  const classes = [
    NotFoundError,
    TransientError,
    PermanentError,
    AuthError,
    InvalidInputError,
    CorruptDataError,
    ConfigError,
    GroupRebalanceError,
  ] as const;

  for (const C of classes) {
    it(`${C.name}: instance code equals static code, name is set, cause is kept`, () => {
      const cause = new Error('root');
      const e: BargeError =
        C === ConfigError
          ? new ConfigError('boom', 'x', { cause })
          : new (C as new (m: string, o?: ErrorOptions) => BargeError)('boom', { cause });
      const plain = new C('boom');
      assert.equal(plain.code, C.code);
      assert.equal(plain.name, C.name);
      assert.ok(plain instanceof BargeError);
      assert.ok(plain instanceof Error);
      assert.equal(plain.message, 'boom');
      assert.equal(e.cause, cause);
    });
  }

  it('only transient errors (and unknown errors) are retryable', () => {
    assert.equal(isRetryable(new TransientError('x')), true);
    assert.equal(isRetryable(new Error('unknown')), true);
    for (const e of [
      new NotFoundError('x'),
      new AuthError('x'),
      new PermanentError('x'),
      new CorruptDataError('x'),
    ]) {
      assert.equal(isRetryable(e), false, e.name);
    }
  });

  it('ConfigError carries the field path', () => {
    const e = new ConfigError('bad', 'topics[0].name');
    assert.equal(e.path, 'topics[0].name');
  });
});
