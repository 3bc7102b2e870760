import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from './errors.js';
import { type BatchPointer, decodePointer, encodePointer, pointerKey, validatePointer } from './pointer.js';
import { readPartitionFor } from './pointer-queue.js';

export const samplePointer: BatchPointer = {
  v: 1,
  topic: 'logs',
  writePartition: 3,
  sequence: 17,
  brokerId: 1,
  storage: { adapter: 'local', location: '/data', key: 'topics/logs/3/00000000000000000017-1-ab' },
  objectSize: 4096,
  headerLength: 180,
  messageCount: 12,
  chunkCount: 2,
  firstTimestamp: 1_700_000_000_000,
  lastTimestamp: 1_700_000_000_500,
  createdAt: 1_700_000_001_000,
  headerCrc: 0xdeadbeef,
};

describe('BatchPointer JSON', () => {
  it('round trips', () => {
    assert.deepEqual(decodePointer(encodePointer(samplePointer)), samplePointer);
  });
  it('drops unknown fields instead of passing them through', () => {
    const withExtra = { ...samplePointer, future: 1 };
    assert.deepEqual(decodePointer(JSON.stringify(withExtra)), samplePointer);
  });
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['version', { v: 2 }, /"v" must be the number 1, got 2/],
    ['topic', { topic: '' }, /"topic"/],
    ['negative partition', { writePartition: -1 }, /"writePartition".*-1/],
    ['fractional sequence', { sequence: 1.5 }, /"sequence".*1.5/],
    ['storage key', { storage: { adapter: 'local', location: '/', key: '' } }, /"storage.key"/],
    ['header past object', { headerLength: 5000 }, /"headerLength"/],
    ['timestamp', { createdAt: 'yesterday' }, /"createdAt".*"yesterday"/],
    ['crc', { headerCrc: 2 ** 32 }, /"headerCrc"/],
  ];
  for (const [what, patch, pattern] of cases) {
    it(`rejects a bad ${what} naming the field`, () => {
      assert.throws(
        () => decodePointer(JSON.stringify({ ...samplePointer, ...patch })),
        (e: unknown) => e instanceof InvalidInputError && pattern.test(e.message),
      );
    });
  }
  it('rejects non-JSON and non-objects', () => {
    assert.throws(() => decodePointer('{'), InvalidInputError);
    assert.throws(() => decodePointer('[]'), InvalidInputError);
    assert.throws(() => decodePointer('null'), InvalidInputError);
    assert.throws(() => decodePointer(Buffer.alloc(70_000, 32)), InvalidInputError);
  });
  it('keys and read partitions keep a write partition together', () => {
    assert.equal(pointerKey('logs', 3), 'logs/3');
    assert.equal(readPartitionFor(3, 2), 1);
    assert.equal(readPartitionFor(3, 12), 3);
  });
});

describe('BatchPointer baseOffset (optional dense offset)', () => {
  it('round trips when present, and stays absent when absent', () => {
    const stamped = { ...samplePointer, baseOffset: 1234 };
    assert.deepEqual(decodePointer(encodePointer(stamped)), stamped);
    assert.equal(decodePointer(encodePointer(stamped)).baseOffset, 1234);
    assert.equal('baseOffset' in decodePointer(encodePointer(samplePointer)), false);
  });
  it('accepts 0 and 2^53 - 1', () => {
    for (const baseOffset of [0, Number.MAX_SAFE_INTEGER]) {
      assert.equal(validatePointer({ ...samplePointer, baseOffset }).baseOffset, baseOffset);
    }
  });
  for (const bad of [-1, 1.5, '7', null, 2 ** 53, true]) {
    it(`rejects baseOffset ${JSON.stringify(bad)} naming the field`, () => {
      assert.throws(
        () => decodePointer(JSON.stringify({ ...samplePointer, baseOffset: bad })),
        (e: unknown) =>
          e instanceof InvalidInputError &&
          /pointer field "baseOffset" must be a non-negative safe integer when present/.test(e.message),
      );
    });
  }
});

describe('validatePointer on values JSON cannot print', () => {
  it('still throws InvalidInputError for BigInt and circular fields', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const patch of [{ sequence: 10n }, { storage: circular }]) {
      assert.throws(() => validatePointer({ ...samplePointer, ...patch }), InvalidInputError);
    }
  });
});
