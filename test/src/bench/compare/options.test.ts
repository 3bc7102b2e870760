import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messagesFor, parseOptions, parseSize } from './options.js';

describe('test/bench/compare options', () => {
  it('defaults to every system at 100 B, 1 KiB and 64 KiB, 256 MB per cell (60% at 100 B)', () => {
    const o = parseOptions([]);
    assert.ok(o !== 'help');
    assert.deepEqual(o.sizes, [100, 1024, 65536]);
    assert.equal(o.systems.length, 5);
    assert.deepEqual(
      o.sizes.map((s) => messagesFor(o, s)),
      [1_536_000, 250_000, 3906],
    );
  });

  it('--quick is a few MB per cell unless --mb says otherwise', () => {
    const quick = parseOptions(['--quick']);
    assert.ok(quick !== 'help');
    assert.deepEqual([quick.mb, quick.smallMb], [4, 2]);
    const sized = parseOptions(['--quick', '--mb', '10']);
    assert.ok(sized !== 'help');
    assert.deepEqual([sized.mb, sized.smallMb], [10, 6]);
  });

  it('reads sizes with units and refuses unknown systems', () => {
    assert.deepEqual(
      [parseSize('100'), parseSize('1KiB'), parseSize('64 KiB'), parseSize('1MiB')],
      [100, 1024, 65536, 1048576],
    );
    assert.throws(() => parseSize('1.5'), /whole number/);
    assert.throws(() => parseOptions(['--systems', 'barge-embedded,memq']), /unknown system "memq"/);
    assert.throws(() => parseOptions(['--mb', '0']), /--mb must be a positive number/);
  });
});
