import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  compareUtf8,
  keyPrefixSchema,
  mapLimit,
  normalizePrefix,
  readExactly,
  sizeSchema,
  sliceParts,
} from './adapter-kit.js';
import { TransientError } from './errors.js';

describe('adapter kit', () => {
  it('orders keys by UTF-8 bytes, not UTF-16 code units', () => {
    const keys = ['\u{1F600}', '\uFFFD', 'a', 'B', 'a/b', 'a-b', ''];
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...keys].sort(compareUtf8), byBytes);
    assert.notDeepEqual([...keys].sort(), byBytes, 'the default sort differs, so this test can fail');
  });
  it('normalises prefixes', () => {
    assert.equal(normalizePrefix(undefined), '');
    assert.equal(normalizePrefix('/a/b/'), 'a/b/');
    assert.equal(normalizePrefix('a'), 'a/');
  });
  it('slices across part boundaries without copying', () => {
    const parts = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')];
    assert.equal(Buffer.concat(sliceParts(parts, 2, 6)).toString(), 'cdef');
    assert.equal(Buffer.concat(sliceParts(parts, 0, 8)).toString(), 'abcdefgh');
    assert.deepEqual(sliceParts(parts, 8, 8), []);
    const [first] = sliceParts(parts, 1, 2);
    assert.equal(first?.buffer, parts[0]?.buffer);
  });
  it('bounds concurrency and keeps result order', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return n * 10;
    });
    assert.deepEqual(out, [10, 20, 30, 40, 50, 60]);
    assert.equal(peak, 2);
    await assert.rejects(
      mapLimit([1, 2], 2, async () => Promise.reject(new Error('x'))),
      /x/,
    );
  });
  it('reads exactly the announced length, or throws TransientError', async () => {
    assert.equal(
      (await readExactly(Readable.from([Buffer.from('ab'), Buffer.from('c')]), 3, 'get k')).toString(),
      'abc',
    );
    await assert.rejects(
      readExactly(Readable.from([Buffer.from('ab')]), 3, 'get k'),
      (e: unknown) => e instanceof TransientError && /truncated: received 2 of 3/.test(e.message),
    );
    await assert.rejects(readExactly(Readable.from([Buffer.from('abcd')]), 3, 'get k'), TransientError);
  });
  it('parses sizes and prefixes in config schemas', () => {
    assert.equal(sizeSchema.parse('5MiB'), 5 * 1024 * 1024);
    assert.equal(sizeSchema.safeParse('lots').success, false);
    assert.equal(keyPrefixSchema.safeParse('barge/x').success, true);
    assert.equal(keyPrefixSchema.safeParse('../x').success, false);
  });
});
