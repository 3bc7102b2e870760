import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditedPointer, auditOf } from './batch-audit.js';

/** A pointer and its object key as the broker names them (`packages/broker/src/keys.ts`). */
function batch(
  writePartition: number,
  sequence: number,
  brokerId: number,
  random = 'a1b2c3',
): AuditedPointer {
  const key = `topics/t/${writePartition}/${String(sequence).padStart(16, '0')}-${brokerId}-${random}`;
  return { writePartition, sequence, brokerId, storage: { key } };
}

const keys = (pointers: AuditedPointer[]) => pointers.map((p) => p.storage.key);

describe('the cluster batch audit', () => {
  it('checks dense offsets per write partition: overlaps, gaps, unstamped pointers', () => {
    const at = (p: AuditedPointer, baseOffset: number | undefined, messageCount: number): AuditedPointer =>
      baseOffset === undefined ? { ...p, messageCount } : { ...p, baseOffset, messageCount };
    const pointers = [
      at(batch(0, 0, 1), 0, 3),
      at(batch(1, 0, 1), 0, 2),
      at(batch(0, 1, 1), 3, 2),
      at(batch(0, 1000, 2), 7, 1), // 5 and 6 skipped (an abandoned publication)
      at(batch(1, 1, 1), 1, 4), // overlaps batch 0 of wp 1
      at(batch(1, 2, 1), undefined, 1),
    ];
    const audit = auditOf(pointers, keys(pointers));
    assert.equal(audit.offsetGaps, 2);
    assert.equal(audit.unstamped, 1);
    assert.equal(audit.offsetOverlaps.length, 1);
    assert.match(audit.offsetOverlaps[0]!, /^wp 1: batch 1 by broker 1 at offset 1 below offset 2/);
  });

  it('finds nothing wrong in increasing sequences per write partition, gaps and hedged copies included', () => {
    const pointers = [batch(0, 0, 1), batch(1, 0, 1), batch(0, 1, 1), batch(0, 1000, 2), batch(1, 5, 1)];
    const audit = auditOf(pointers, [...keys(pointers), `${pointers[0]!.storage.key}-h1`]);
    assert.deepEqual(audit.repeatedPointerSequences, []);
    assert.deepEqual(audit.repeatedObjectSequences, []);
    assert.deepEqual(audit.latePointers, []);
    assert.deepEqual(audit.pointersByBroker, { 1: 4, 2: 1 });
    assert.deepEqual(audit.unpublishedByBroker, {});
  });

  it('reports one sequence on two objects, on pointers and in the bucket', () => {
    const pointers = [batch(0, 7, 1, 'aaaa'), batch(0, 7, 2, 'bbbb')];
    const audit = auditOf(pointers, keys(pointers));
    assert.equal(audit.repeatedPointerSequences.length, 1);
    assert.match(audit.repeatedPointerSequences[0]!, /^0\/7: /);
    assert.equal(audit.repeatedObjectSequences.length, 1);
    assert.equal(audit.latePointers.length, 1, 'the second is also not after the first');
  });

  it('reports a pointer published after a later sequence of its write partition (a late former owner)', () => {
    const pointers = [batch(4, 14, 3), batch(4, 1008, 1), batch(5, 2, 3), batch(4, 15, 3)];
    const audit = auditOf(pointers, keys(pointers));
    assert.deepEqual(audit.latePointers, ['wp 4: sequence 15 by broker 3 after sequence 1008 by broker 1']);
    assert.deepEqual(audit.repeatedPointerSequences, []);
  });

  it('counts a republished pointer and objects no pointer names', () => {
    const published = [batch(0, 1, 1), batch(0, 2, 1)];
    const audit = auditOf([...published, published[1]!], [...keys(published), batch(0, 3, 2).storage.key]);
    assert.equal(audit.republished, 1);
    assert.deepEqual(audit.latePointers, []);
    assert.deepEqual(audit.unpublishedByBroker, { 2: 1 });
  });
});
