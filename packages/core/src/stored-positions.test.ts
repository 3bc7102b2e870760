import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredPosition } from './pointer-queue.js';
import { checkStoredPositions, MAX_POSITION_METADATA_BYTES } from './stored-positions.js';

/** Topic `t` with 3 partitions whose high watermarks are 10, 0 and 5. */
const check = (positions: readonly StoredPosition[]) =>
  checkStoredPositions('t', positions, 3, (p) => [10, 0, 5][p]!);

const rejects = (positions: unknown, code: string, pattern: RegExp) =>
  assert.throws(
    () => check(positions as StoredPosition[]),
    (e: Error & { code?: string }) => e.code === code && pattern.test(e.message),
  );

describe('checkStoredPositions', () => {
  it('normalizes: messageIndex only above 0, metadata null when absent, strings kept as given', () => {
    assert.deepEqual(
      check([
        { partition: 0, offset: 4, messageIndex: 2, metadata: 'm' },
        { partition: 1, offset: 0, messageIndex: 0, metadata: '' },
        { partition: 2, offset: 5 },
      ]),
      [
        { partition: 0, offset: 4, messageIndex: 2, metadata: 'm' },
        { partition: 1, offset: 0, metadata: '' },
        { partition: 2, offset: 5, metadata: null },
      ],
    );
    assert.deepEqual(check([]), []);
  });

  it('accepts metadata of exactly the limit in UTF-8 bytes and refuses one byte more', () => {
    const at = 'é'.repeat(MAX_POSITION_METADATA_BYTES / 2);
    assert.equal(check([{ partition: 0, offset: 0, metadata: at }])[0]?.metadata, at);
    rejects([{ partition: 0, offset: 0, metadata: `${at}x` }], 'INVALID_INPUT', /metadata is 2049 bytes/);
  });

  it('names what is wrong', () => {
    rejects({}, 'INVALID_INPUT', /array/);
    rejects([null], 'INVALID_INPUT', /not an object/);
    rejects([{ partition: 3, offset: 0 }], 'NOT_FOUND', /no partition 3/);
    rejects([{ partition: -1, offset: 0 }], 'INVALID_INPUT', /partition must be an integer >= 0/);
    rejects([{ partition: 1.5, offset: 0 }], 'INVALID_INPUT', /partition must be/);
    rejects([{ partition: 0, offset: -1 }], 'INVALID_INPUT', /offset must be an integer in \[0, 10\]/);
    rejects([{ partition: 0, offset: 11 }], 'INVALID_INPUT', /high watermark/);
    rejects([{ partition: 0, offset: 1, messageIndex: -1 }], 'INVALID_INPUT', /messageIndex must be/);
    rejects([{ partition: 2, offset: 5, messageIndex: 1 }], 'INVALID_INPUT', /no pointer is yet/);
    rejects(
      [
        { partition: 0, offset: 1 },
        { partition: 0, offset: 2 },
      ],
      'INVALID_INPUT',
      /given twice/,
    );
    rejects([{ partition: 0, offset: 0, metadata: 7 }], 'INVALID_INPUT', /string or null/);
    rejects([{ partition: 0, offset: 0, metadata: 'a\uD800b' }], 'INVALID_INPUT', /surrogate/);
  });
});
