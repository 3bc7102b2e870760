import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionCursor } from './partition-cursor.js';

/** A fetched pointer at `offset` whose batch's first message is stamped `firstTimestamp`. */
const at = (offset: number, firstTimestamp = 0) => ({ offset, pointer: { firstTimestamp } });

describe('PartitionCursor', () => {
  it('claims nothing until its start is known, then each pointer once, in order', () => {
    const c = new PartitionCursor('t', 3);
    assert.equal(c.fetched(at(0)), undefined);
    c.resumed(undefined);
    assert.deepEqual(c.fetched(at(0)), { generation: 0, fromIndex: 0, minTimestamp: undefined });
    assert.deepEqual(c.fetched(at(1)), { generation: 0, fromIndex: 0, minTimestamp: undefined });
    assert.equal(c.fetched(at(1)), undefined, 'already claimed');
    assert.equal(c.fetched(at(0)), undefined, 'older than the last claim');
    assert.equal(c.uncommitted, undefined, 'nothing processed yet');
  });

  it('resumes mid-batch at the committed position and drops pointers before it', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed({ offset: 5, messageIndex: 2 });
    assert.equal(c.uncommitted, undefined, 'the committed position is not committed again');
    assert.equal(c.fetched(at(4)), undefined);
    assert.equal(c.fetched(at(5))?.fromIndex, 2);
    assert.equal(c.fetched(at(6))?.fromIndex, 0);
  });

  it('moves the processed position forward only, to the next batch past the last message', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    assert.equal(c.processed({ offset: 0, messageIndex: 2 }, 4), true);
    assert.equal(c.processed({ offset: 0, messageIndex: 1 }, 4), false);
    assert.equal(c.processed({ offset: 0, messageIndex: 4 }, 4), true);
    assert.deepEqual(c.uncommitted, { offset: 1, messageIndex: 0 });
    assert.equal(c.processed({ offset: 1, messageIndex: 0 }, 4), false, 'the same position');
    c.committed({ offset: 1, messageIndex: 0 });
    assert.equal(c.uncommitted, undefined);
    assert.equal(c.processed({ offset: 1, messageIndex: 1 }), true);
    assert.deepEqual(c.uncommitted, { offset: 1, messageIndex: 1 });
  });

  it('a seek starts a new generation at the target, which counts as processed', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    const old = c.fetched(at(0))!;
    c.fetched(at(1));
    c.seeked({ offset: 0, messageIndex: 2 });
    assert.equal(c.isCurrent(old.generation), false);
    assert.deepEqual(c.uncommitted, { offset: 0, messageIndex: 2 });
    assert.deepEqual(c.fetched(at(0)), { generation: 1, fromIndex: 2, minTimestamp: undefined });
    assert.equal(c.fetched(at(1))?.fromIndex, 0);
  });

  it('a seek by time filters claims until a batch starts at or after the time', () => {
    const c = new PartitionCursor('t', 0);
    c.seeked({ offset: 7, messageIndex: 0 }, 1000);
    assert.equal(c.started, true);
    assert.equal(c.fetched(at(7, 900))?.minTimestamp, 1000);
    assert.equal(c.fetched(at(8, 1000))?.minTimestamp, 1000);
    assert.equal(c.fetched(at(9, 1100))?.minTimestamp, undefined);
  });

  it('fromTime starts at a pointer with nothing processed', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    c.startedAt({ offset: 4, messageIndex: 0 }, 500);
    assert.equal(c.uncommitted, undefined);
    assert.equal(c.fetched(at(3)), undefined);
    assert.deepEqual(c.fetched(at(4, 600)), { generation: 1, fromIndex: 0, minTimestamp: 500 });
  });

  it('a rewind hands claimed but unprocessed work out again, keeping the processed position', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    assert.equal(c.unprocessedFrom, undefined, 'nothing claimed');
    const first = c.fetched(at(0))!;
    c.fetched(at(1));
    c.fetched(at(2));
    c.processed({ offset: 1, messageIndex: 3 });
    assert.deepEqual(c.unprocessedFrom, { offset: 1, messageIndex: 3 });
    c.rewound();
    assert.equal(c.isCurrent(first.generation), false);
    assert.deepEqual(c.uncommitted, { offset: 1, messageIndex: 3 });
    assert.equal(c.fetched(at(0)), undefined);
    assert.equal(c.fetched(at(1))?.fromIndex, 3);
    assert.equal(c.fetched(at(2))?.fromIndex, 0);
  });

  it('a rewind with nothing processed goes back to the first claim and leaves nothing to commit', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    c.fetched(at(2));
    c.fetched(at(3));
    assert.deepEqual(c.unprocessedFrom, { offset: 2, messageIndex: 0 });
    c.rewound();
    assert.equal(c.unprocessedFrom, undefined, 'nothing claimed since');
    assert.equal(c.uncommitted, undefined);
    assert.equal(c.fetched(at(1)), undefined);
    assert.equal(c.fetched(at(2))?.fromIndex, 0);
  });

  it('a rewind right after resuming mid-batch goes back to the committed position', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed({ offset: 2, messageIndex: 1 });
    c.fetched(at(2));
    c.fetched(at(3));
    assert.deepEqual(c.unprocessedFrom, { offset: 2, messageIndex: 1 });
    c.rewound();
    assert.equal(c.uncommitted, undefined, 'still the committed position');
    assert.equal(c.fetched(at(2))?.fromIndex, 1);
  });

  it('nothing is rewound once everything claimed was processed', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    const claim = c.fetched(at(0))!;
    c.processed({ offset: 1, messageIndex: 0 });
    assert.equal(c.unprocessedFrom, undefined);
    c.rewound();
    assert.equal(c.isCurrent(claim.generation), true);
  });

  it('revocation makes every claim stale', () => {
    const c = new PartitionCursor('t', 0);
    c.resumed(undefined);
    const claim = c.fetched(at(0))!;
    assert.equal(c.isCurrent(claim.generation), true);
    c.revoked();
    assert.equal(c.isCurrent(claim.generation), false);
  });
});
