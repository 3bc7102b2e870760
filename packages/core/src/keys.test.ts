import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from './errors.js';
import { validateKey, validatePrefix, validateRange } from './keys.js';

describe('validateKey', () => {
  it('accepts ordinary keys', () => {
    for (const k of ['a', 'topics/logs/0/000001', 'x.y-z_w', 'ünï/cødé', 'a/.hidden', 'a..b']) validateKey(k);
  });
  const bad: [string, unknown][] = [
    ['empty', ''],
    ['parent segment', '../x'],
    ['inner parent segment', 'a/../../x'],
    ['dot segment', 'a/./b'],
    ['absolute', '/etc/passwd'],
    ['double slash', 'a//b'],
    ['trailing slash', 'a/'],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['backslash', 'a\\..\\b'],
    ['too long', 'k'.repeat(1025)],
    ['not a string', 42],
  ];
  for (const [what, key] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => validateKey(key), InvalidInputError));
  }
  it('prefixes may be empty or end with a slash, but not escape', () => {
    validatePrefix('');
    validatePrefix('topics/');
    validatePrefix('topics/lo');
    assert.throws(() => validatePrefix('../'), InvalidInputError);
  });
  it('ranges must be non-negative integers', () => {
    validateRange(0, 0);
    assert.throws(() => validateRange(-1, 1), InvalidInputError);
    assert.throws(() => validateRange(0, -1), InvalidInputError);
    assert.throws(() => validateRange(0.5, 1), InvalidInputError);
  });
});
