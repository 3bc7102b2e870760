import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KafkaProtocolError } from './errors.js';
import { KafkaReader } from './reader.js';
import { KafkaWriter, SEGMENT_THRESHOLD } from './writer.js';

const isCode = (code: string) => (e: unknown) => e instanceof KafkaProtocolError && e.code === code;

describe('KafkaWriter / KafkaReader', () => {
  test('unsigned varints round-trip at every length boundary and are minimal', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1];
    const w = new KafkaWriter(16);
    for (const v of values) w.uvarint(v);
    const buf = w.toBuffer();
    assert.equal(buf.length, 1 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 4 + 5 + 5);
    const r = new KafkaReader(buf);
    assert.deepEqual(
      values.map(() => r.uvarint('v')),
      values,
    );
    assert.equal(r.remaining, 0);
    assert.deepEqual([...new KafkaWriter().toBuffer()], []);
  });

  test('fixed-width numbers round-trip at their extremes, big-endian', () => {
    const w = new KafkaWriter(16);
    w.int8(-128);
    w.int8(127);
    w.bool(true);
    w.int16(-32768);
    w.uint16(65535);
    w.int32(-(2 ** 31));
    w.int32(2 ** 31 - 1);
    w.uint32(2 ** 32 - 1);
    w.int64(-(2n ** 63n));
    w.int64(2n ** 63n - 1n);
    w.int64(-2n);
    w.float64(-1.5e300);
    const buf = w.toBuffer();
    assert.deepEqual([...buf.subarray(0, 7)], [0x80, 0x7f, 1, 0x80, 0, 0xff, 0xff]);
    assert.equal(buf.readBigInt64BE(2 + 1 + 2 + 2 + 4 + 4 + 4 + 8 + 8), -2n);
    const r = new KafkaReader(buf);
    assert.deepEqual(
      [r.int8('a'), r.int8('a'), r.bool('b'), r.int16('c'), r.uint16('d'), r.int32('e'), r.int32('e')],
      [-128, 127, true, -32768, 65535, -(2 ** 31), 2 ** 31 - 1],
    );
    assert.deepEqual(
      [r.uint32('f'), r.int64('g'), r.int64('g'), r.int64('g'), r.float64('h')],
      [2 ** 32 - 1, -(2n ** 63n), 2n ** 63n - 1n, -2n, -1.5e300],
    );
    assert.equal(r.remaining, 0);
    // A reader over a slice of a larger buffer reads the slice, not the start of its memory.
    const slice = Buffer.concat([Buffer.from([9, 9, 9]), buf]).subarray(3);
    assert.equal(new KafkaReader(slice).int8('a'), -128);
  });

  test('signed varints use zigzag', () => {
    const w = new KafkaWriter();
    for (const v of [0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)]) w.varint(v);
    const buf = w.toBuffer();
    assert.deepEqual([...buf.subarray(0, 5)], [0, 1, 2, 127, 128]);
    const r = new KafkaReader(buf);
    assert.deepEqual(
      [0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)].map(() => r.varint('v')),
      [0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)],
    );
  });

  test('an over-long or truncated varint is rejected', () => {
    assert.throws(
      () => new KafkaReader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).uvarint('f'),
      isCode('INVALID'),
    );
    assert.throws(
      () => new KafkaReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f])).uvarint('f'),
      isCode('INVALID'),
    );
    assert.throws(() => new KafkaReader(Buffer.from([0x80, 0x80])).uvarint('f'), isCode('TRUNCATED'));
  });

  test('classic and compact strings, bytes and arrays, with nulls', () => {
    const w = new KafkaWriter(8);
    for (const flexible of [false, true]) {
      w.string(flexible, 'héllo');
      w.nullableString(flexible, null);
      w.bytes(flexible, Buffer.from([1, 2, 3]));
      w.nullableBytes(flexible, null);
      w.arrayLength(flexible, 2);
      w.int8(5);
      w.int8(6);
      w.nullArray(flexible);
    }
    const buf = w.toBuffer();
    // classic: int16 6 + 6 bytes, int16 -1, int32 3 + 3, int32 -1, int32 2, int32 -1
    assert.deepEqual([...buf.subarray(0, 2)], [0, 6]);
    const r = new KafkaReader(buf);
    for (const flexible of [false, true]) {
      assert.equal(r.string(flexible, 's'), 'héllo');
      assert.equal(r.nullableString(flexible, 's'), null);
      assert.deepEqual([...r.bytes(flexible, 'b')], [1, 2, 3]);
      assert.equal(r.nullableBytes(flexible, 'b'), null);
      assert.equal(r.arrayLength(flexible, 'a'), 2);
      assert.deepEqual([r.int8('e'), r.int8('e')], [5, 6]);
      assert.equal(r.nullableArrayLength(flexible, 'a'), -1);
    }
    assert.equal(r.remaining, 0);
  });

  test('a null where the version forbids it is INVALID, naming the field', () => {
    const w = new KafkaWriter();
    w.nullableString(false, null);
    assert.throws(
      () => new KafkaReader(w.toBuffer()).string(false, 'topics.name'),
      (e: unknown) => isCode('INVALID')(e) && (e as Error).message.includes('topics.name'),
    );
  });

  test('lengths and counts are checked against the bytes left before anything is allocated', () => {
    const hugeArray = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    assert.throws(() => new KafkaReader(hugeArray).arrayLength(false, 'topics'), isCode('TRUNCATED'));
    const hugeBytes = Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2]);
    assert.throws(
      () => new KafkaReader(hugeBytes).bytes(false, 'records'),
      /records: needs 2147483647 bytes/,
    );
    const compactHuge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert.throws(() => new KafkaReader(compactHuge).string(true, 'name'), isCode('TRUNCATED'));
    assert.throws(
      () => new KafkaReader(Buffer.from([0x80, 0, 0, 0])).arrayLength(false, 'a'),
      isCode('INVALID'),
    );
  });

  test('bytes views share the input; reader bounds stop at `end`', () => {
    const input = Buffer.from([0, 0, 0, 2, 9, 8, 7]);
    const view = new KafkaReader(input).bytes(false, 'b');
    input[4] = 42;
    assert.equal(view[0], 42);
    assert.throws(() => new KafkaReader(input, 0, 5).bytes(false, 'b'), isCode('TRUNCATED'));
  });

  test('bytes of SEGMENT_THRESHOLD or more become their own segment, uncopied; smaller ones are copied', () => {
    const big = Buffer.alloc(SEGMENT_THRESHOLD, 7);
    const small = Buffer.alloc(SEGMENT_THRESHOLD - 1, 8);
    const w = new KafkaWriter();
    w.int32(1);
    w.bytes(false, big);
    w.bytes(false, small);
    w.records(true, [big, Buffer.from([1, 2])]);
    const segments = w.finish();
    assert.ok(segments.includes(big));
    assert.ok(!segments.includes(small));
    assert.equal(segments.filter((s) => s === big).length, 2);
    const r = new KafkaReader(Buffer.concat(segments));
    assert.equal(r.int32('i'), 1);
    assert.deepEqual(r.bytes(false, 'b'), big);
    assert.deepEqual(r.bytes(false, 'b'), small);
    assert.deepEqual(r.nullableBytes(true, 'r'), Buffer.concat([big, Buffer.from([1, 2])]));
  });

  test('a size bracket inserts the varint size, also across chunk growth', () => {
    for (const size of [0, 5, 127, 128, 3000, 70_000]) {
      const w = new KafkaWriter(64);
      w.int8(1);
      w.startFrame();
      w.int16(2);
      const mark = w.beginSized();
      w.bytes(false, Buffer.alloc(size, 3)); // copied inside the bracket even when large
      w.endSized(mark);
      w.int8(4);
      w.endFrame();
      const buf = w.toBuffer();
      const r = new KafkaReader(buf);
      assert.equal(r.int8('a'), 1);
      assert.equal(r.int32('frame'), buf.length - 5);
      assert.equal(r.int16('b'), 2);
      const end = r.taggedEnd('t');
      assert.equal(end - r.offset, size + 4);
      assert.equal(r.bytes(false, 'x').length, size);
      r.endTagged(end, 't');
      assert.equal(r.int8('c'), 4);
      assert.equal(r.remaining, 0);
    }
  });

  test('many small writes chain chunks without losing bytes', () => {
    const w = new KafkaWriter(64);
    for (let i = 0; i < 100_000; i++) w.int32(i);
    assert.equal(w.length, 400_000);
    const segments = w.finish();
    assert.ok(segments.length > 1);
    const r = new KafkaReader(Buffer.concat(segments));
    for (let i = 0; i < 100_000; i++) assert.equal(r.int32('i'), i);
  });

  test('values out of range are rejected when encoding', () => {
    assert.throws(() => new KafkaWriter().int16(40_000), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().int8(128), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().int32(2 ** 31), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().int32(1.5), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().uint16(-1), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().int64(2n ** 63n), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().uuid(Buffer.alloc(15)), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().uvarint(-1), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().string(false, 'x'.repeat(40_000)), isCode('INVALID'));
    assert.throws(() => new KafkaWriter().string(true, 'x'.repeat(40_000)), isCode('INVALID'));
  });
});
