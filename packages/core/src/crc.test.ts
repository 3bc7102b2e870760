import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { crc32, crc32Js, crc32Parts, hasAddonCrc32, hasNativeCrc32 } from './crc.js';

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

  it('runs buffers of 4 KiB and more through the @node-rs/crc32 addon, with the same results', () => {
    assert.equal(
      hasAddonCrc32,
      true,
      '@node-rs/crc32 did not load: the broker would check chunks at zlib speed',
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 4090, max: 70_000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 5000 }),
        (size, seed, split) => {
          const data = Buffer.alloc(size);
          for (let i = 0, x = seed; i < size; i++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            data[i] = x >>> 24;
          }
          const whole = crc32Js(data);
          assert.equal(crc32(data), whole);
          assert.equal(crc32(data.subarray(split), crc32(data.subarray(0, split))), whole);
          assert.equal(zlib.crc32(data) >>> 0, whole);
        },
      ),
      { numRuns: 60 },
    );
  });
});
