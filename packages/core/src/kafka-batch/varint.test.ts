import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CorruptDataError } from '../errors.js';
import { fuzzRuns } from '../test-support/fuzz.js';
import { readVarint, readVarlong, varintSize, varlongSize, writeVarint, writeVarlong } from './varint.js';

describe('zigzag varints', () => {
  it('match known encodings', () => {
    const enc = (v: number) => {
      const b = Buffer.alloc(10);
      return b.subarray(0, writeVarint(b, 0, v)).toString('hex');
    };
    assert.equal(enc(0), '00');
    assert.equal(enc(-1), '01');
    assert.equal(enc(1), '02');
    assert.equal(enc(63), '7e');
    assert.equal(enc(-64), '7f');
    assert.equal(enc(64), '8001');
    assert.equal(enc(2147483647), 'feffffff0f');
    assert.equal(enc(-2147483648), 'ffffffff0f');
  });

  it('round-trip every int32 and every varlong up to 2^51, with the size they announce', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 51), max: 2 ** 51 }),
        (i, l) => {
          const b = Buffer.alloc(20);
          const p = writeVarint(b, 0, i);
          assert.equal(p, varintSize(i));
          const q = writeVarlong(b, p, l);
          assert.equal(q - p, varlongSize(l));
          const c = { pos: 0, end: q };
          assert.equal(readVarint(b, c, 'x'), i);
          assert.equal(readVarlong(b, c, 'x'), l);
          assert.equal(c.pos, q);
        },
      ),
      fuzzRuns(1000),
    );
  });

  it('refuse varints that run past the end, are too long, or leave the safe integers', () => {
    const read = (hex: string, f: typeof readVarint) => () =>
      f(Buffer.from(hex, 'hex'), { pos: 0, end: hex.length / 2 }, 'x');
    assert.throws(read('80', readVarint), CorruptDataError);
    assert.throws(read('ffffffff1f', readVarint), /longer than 32 bits/);
    assert.throws(read('ffffffffffffffffff01', readVarlong), /safe integer/);
    assert.throws(read('ffffffffffffffffffffff01', readVarlong), /longer than 64 bits/);
    assert.equal(read('feffffffffffff0f', readVarlong)(), 2 ** 52 - 1);
  });
});
