import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError } from '../fail.js';
import { type BenchFlags, benchOptions } from './options.js';

const base: BenchFlags = {
  topic: 't',
  size: '1024',
  keySize: '0',
  producers: '1',
  acks: 'durable',
  fromBeginning: true,
  idle: '10',
  broker: '10.0.0.5:7070',
};

const usageError = (flag: string) => (e: unknown) =>
  e instanceof CliError && e.exitCode === 2 && e.message.includes(flag);

describe('benchOptions', () => {
  it('takes sizes with units and fills in the defaults', () => {
    const o = benchOptions('produce', { ...base, size: '64KiB', keySize: '16' });
    assert.equal(o.messageBytes, 65_536);
    assert.equal(o.keyBytes, 16);
    assert.equal(o.count, 1_000_000);
    assert.equal(o.rate, 0);
    assert.equal(o.partitions, undefined);
    assert.deepEqual(o.tuning, {});
    assert.equal(o.admin, 'http://10.0.0.5:7071', 'the admin endpoint defaults to the broker host');
  });

  it('passes producer settings only when given', () => {
    const o = benchOptions('produce', { ...base, lingerMs: '0', maxChunkBytes: '256KiB', maxInFlight: '64' });
    assert.deepEqual(o.tuning, { lingerMs: 0, maxChunkBytes: 262_144, maxInFlight: 64 });
  });

  it('names the flag of a bad value', () => {
    assert.throws(() => benchOptions('produce', { ...base, size: '-3' }), usageError('--size'));
    assert.throws(() => benchOptions('produce', { ...base, count: '0' }), usageError('--count'));
    assert.throws(() => benchOptions('produce', { ...base, acks: 'all' }), usageError('--acks'));
    assert.throws(() => benchOptions('produce', { ...base, codec: 'brotli' }), usageError('--codec'));
    assert.throws(() => benchOptions('produce', { ...base, duration: '0' }), usageError('--duration'));
    assert.throws(() => benchOptions('produce', { ...base, admin: 'nowhere' }), usageError('--admin'));
    assert.throws(() => benchOptions('e2e', { ...base, size: '8' }), usageError('--size'));
    assert.throws(
      () => benchOptions('produce', { ...base, count: '5', duration: '5' }),
      usageError('--count'),
    );
  });

  it('consume reads until idle without --count', () => {
    assert.equal(benchOptions('consume', base).count, undefined);
    assert.equal(benchOptions('produce', { ...base, duration: '2.5' }).durationSeconds, 2.5);
    assert.equal(benchOptions('produce', { ...base, duration: '2.5' }).count, undefined);
  });
});
