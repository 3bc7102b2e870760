import { InvalidInputError } from './errors.js';

export const MAX_KEY_BYTES = 1024;

/** Throws `InvalidInputError` naming the problem when `key` is not a valid object key. */
export function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidInputError(`object key must be a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidInputError('object key must not be empty');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidInputError(`object key is ${bytes} bytes; at most ${MAX_KEY_BYTES} are allowed`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    throw new InvalidInputError(`object key ${JSON.stringify(key)} contains a control character`);
  }
  if (key.startsWith('/'))
    throw new InvalidInputError(`object key ${JSON.stringify(key)} must not start with "/"`);
  if (key.includes('\\'))
    throw new InvalidInputError(`object key ${JSON.stringify(key)} must not contain "\\"`);
  for (const segment of key.split('/')) {
    if (segment === '.' || segment === '..') {
      throw new InvalidInputError(`object key ${JSON.stringify(key)} must not contain "." or ".." segments`);
    }
    if (segment === '' && key.endsWith('/') === false) {
      throw new InvalidInputError(`object key ${JSON.stringify(key)} must not contain "//"`);
    }
  }
  if (key.endsWith('/'))
    throw new InvalidInputError(`object key ${JSON.stringify(key)} must not end with "/"`);
}

/** A prefix may be empty; otherwise it follows the key rules except that it may end with "/". */
export function validatePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string')
    throw new InvalidInputError(`prefix must be a string, got ${typeof prefix}`);
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? `${prefix}x` : prefix);
}

export function validateRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidInputError(`range offset must be a non-negative integer, got ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new InvalidInputError(`range length must be a non-negative integer, got ${length}`);
  }
}
