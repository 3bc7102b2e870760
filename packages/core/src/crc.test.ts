import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { crc32, crc32Js, crc32Parts, hasNativeCrc32 } from './crc.js';

describe('crc32', () => {
  it('uses the native zlib.crc32 where the runtime has it (Node >= 20.15)', () => {
    assert.equal(hasNativeCrc32, typeof (zlib as { crc32?: unknown }).crc32 === 'function');
  });

  it('matches the CRC-32/ISO-HDLC check values', () => {
    for (const f of [crc32, crc32Js]) {
      assert.equal(f(Buffer.from('123456789')), 0xcbf43926);
      assert.equal(f(Buffer.alloc(0)), 0);
      assert.equal(f(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
      assert.equal(f(Buffer.alloc(32, 0xff)), 0xff6cab0b);
    }
  });

  it('native and JavaScript implementations agree, and continue a running CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
        const whole = crc32(Buffer.concat([a, b]));
        assert.equal(crc32Js(Buffer.concat([a, b])), whole);
        assert.equal(crc32(b, crc32(a)), whole);
        assert.equal(crc32Js(b, crc32Js(a)), whole);
        assert.equal(crc32Parts([a, b]), whole);
        assert.ok(whole >= 0 && whole <= 0xffffffff);
      }),
      { numRuns: 300 },
    );
  });
});
