import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzzRuns } from '../test-support/fuzz.js';
import { crc32c, crc32cBitwise, crc32cJs, nativeCrc32c } from './crc32c.js';

describe('crc32c', () => {
  it('matches the CRC-32C check value and the RFC 3720 (iSCSI) vectors', () => {
    for (const f of [crc32c, crc32cJs, crc32cBitwise]) {
      assert.equal(f(Buffer.from('123456789')), 0xe3069283);
      assert.equal(f(Buffer.alloc(0)), 0);
      assert.equal(f(Buffer.alloc(32, 0)), 0x8a9136aa);
      assert.equal(f(Buffer.alloc(32, 0xff)), 0x62a8ab43);
      assert.equal(f(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
      assert.equal(f(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
    }
  });

  it('agrees with the bitwise reference, continues a running CRC, and honours start/end', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.nat(),
        fc.nat(),
        (a, b, x, y) => {
          const whole = Buffer.concat([a, b]);
          const expected = crc32cBitwise(whole);
          const s = x % (whole.length + 1);
          const e = s + (y % (whole.length - s + 1));
          for (const f of [crc32c, crc32cJs]) {
            assert.equal(f(whole), expected);
            assert.equal(f(b, f(a)), expected);
            assert.equal(f(whole, 0, s, e), crc32cBitwise(whole.subarray(s, e)));
          }
        },
      ),
      fuzzRuns(300),
    );
  });

  it('runs the native implementation where its prebuilt binary exists (linux x64 here)', {
    skip: process.platform !== 'linux' || process.arch !== 'x64' ? 'no prebuilt binary expected' : false,
  }, () => {
    assert.equal(nativeCrc32c, true, '@node-rs/crc32 did not load: the broker would checksum in JavaScript');
  });
});
