import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CRC32C } from '@google-cloud/storage';
import { crc32c, FastCrc32c } from './crc32c.js';

describe('crc32c', () => {
  it('matches the check value and the client library on random data split anywhere', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    for (const size of [1, 7, 8, 9, 1000, 65_537]) {
      const data = randomBytes(size);
      const reference = new CRC32C();
      reference.update(data);
      const split = Math.floor(size / 3);
      const fast = new FastCrc32c();
      fast.update(data.subarray(0, split));
      fast.update(data.subarray(split));
      assert.equal(fast.toString(), reference.toString(), `size ${size}`);
      assert.ok(fast.validate(reference.toString()));
      assert.ok(!fast.validate('AAAAAA=='));
    }
  });
});
