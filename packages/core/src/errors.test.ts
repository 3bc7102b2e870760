import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  AuthError,
  BargeError,
  bargeErrorCode,
  ConfigError,
  CorruptDataError,
  GroupNotEmptyError,
  GroupRebalanceError,
  hasErrorCode,
  InvalidInputError,
  isBargeError,
  isRetryable,
  NotFoundError,
  PermanentError,
  PreconditionFailedError,
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
    GroupNotEmptyError,
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

describe('errors from another copy of @barge/core', () => {
  // A plugin with its own copy of core throws that copy's classes: load this module a second time
  // from another path, as npm's nested copy would be.
  const dir = mkdtempSync(join(tmpdir(), 'barge-core-copy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = async () => {
    copyFileSync(new URL('./errors.js', import.meta.url), join(dir, 'errors.js'));
    return (await import(pathToFileURL(join(dir, 'errors.js')).href)) as typeof import('./errors.js');
  };

  it('are recognised by instanceof, code and retryability, but not as another code', async () => {
    const other = await load();
    assert.notEqual(other.NotFoundError, NotFoundError, 'a distinct class');
    const e = new other.NotFoundError('no object "x"');
    assert.ok(e instanceof NotFoundError);
    assert.ok(e instanceof BargeError);
    assert.ok(!(e instanceof TransientError));
    assert.ok(isBargeError(e));
    assert.equal(bargeErrorCode(e), 'NOT_FOUND');
    assert.ok(hasErrorCode(e, 'TRANSIENT', 'NOT_FOUND'));
    assert.ok(!hasErrorCode(e, 'TRANSIENT'));
    assert.equal(isRetryable(e), false);
    assert.equal(isRetryable(new other.TransientError('later')), true);
    assert.ok(new ConfigError('x') instanceof other.ConfigError, 'and the other way round');
  });

  it('subclasses without a code of their own keep the prototype check', async () => {
    class SlowError extends TransientError {}
    assert.ok(new SlowError('x') instanceof TransientError);
    assert.ok(new SlowError('x') instanceof SlowError);
    assert.ok(!(new TransientError('x') instanceof SlowError));
  });

  it('errors of copies from before the brand are recognised by code and retryable', () => {
    const old = Object.assign(new Error('no object'), {
      name: 'NotFoundError',
      code: 'NOT_FOUND',
      retryable: false,
    });
    assert.ok(old instanceof NotFoundError);
    assert.ok(!(old instanceof TransientError));
    assert.equal(bargeErrorCode(old), 'NOT_FOUND');
  });

  it('plain errors and look-alikes are not Barge errors', () => {
    const unknownCode = Object.assign(new Error('x'), { code: 'ENOENT', retryable: false });
    const noRetryable = Object.assign(new Error('x'), { code: 'NOT_FOUND' });
    const notAnError = { code: 'NOT_FOUND', retryable: false };
    for (const v of [unknownCode, noRetryable, notAnError]) {
      assert.ok(!(v instanceof NotFoundError));
      assert.equal(bargeErrorCode(v), undefined);
    }
    assert.ok(!(new Error('x') instanceof BargeError));
    assert.ok(!((null as unknown) instanceof BargeError));
  });
});

describe('PreconditionFailedError', () => {
  it('names the key, has code PRECONDITION_FAILED and is not retryable', () => {
    const cause = new Error('412');
    const e = new PreconditionFailedError('put "a/b" if none match: exists', 'a/b', { cause });
    assert.equal(e.code, 'PRECONDITION_FAILED');
    assert.equal(PreconditionFailedError.code, 'PRECONDITION_FAILED');
    assert.equal(e.key, 'a/b');
    assert.equal(e.cause, cause);
    assert.equal(e.name, 'PreconditionFailedError');
    assert.equal(isRetryable(e), false);
    assert.ok(e instanceof BargeError);
    assert.ok(!(new PermanentError('x') instanceof PreconditionFailedError));
  });
});
