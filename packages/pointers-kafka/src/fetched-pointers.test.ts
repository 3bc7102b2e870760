import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptDataError, encodePointer } from '@barge/core';
import { testPointer } from '@barge/testkit';
import type { KafkaMessage } from 'kafkajs';
import { FetchedPointers, type FetchFlow } from './fetched-pointers.js';

/** Kafka messages at `offsets` of `partition`, each a pointer whose sequence is its offset. */
function fetched(partition: number, offsets: number[]): KafkaMessage[] {
  return offsets.map(
    (o) =>
      ({
        offset: String(o),
        timestamp: '1700000000000',
        value: encodePointer(testPointer('t', partition, o)),
      }) as KafkaMessage,
  );
}

/** A flow that records every pause and resume. */
function recordingFlow(): FetchFlow & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    pause: (ps) => calls.push(`pause ${ps.join(',')}`),
    resume: (ps) => calls.push(ps ? `resume ${ps.join(',')}` : 'resume all'),
  };
}

describe('FetchedPointers', () => {
  it('hands out pointers round-robin over partitions, in offset order within each', () => {
    const f = new FetchedPointers('kt', 100, recordingFlow());
    assert.equal(f.add(0, fetched(0, [10, 11, 12])), '12');
    assert.equal(f.add(1, fetched(1, [5, 6])), '6');
    assert.equal(f.size, 5);
    const first = f.take([0, 1], 3);
    assert.deepEqual(
      first.map((r) => `${r.partition}@${r.offset}`),
      ['0@10', '1@5', '0@11'],
    );
    assert.equal(first[0]!.pointer.sequence, 10);
    // The next call starts one partition further.
    assert.deepEqual(
      f.take([0, 1], 10).map((r) => `${r.partition}@${r.offset}`),
      ['1@6', '0@12'],
    );
    assert.equal(f.size, 0);
  });

  it('takes only from eligible partitions', () => {
    const f = new FetchedPointers('kt', 100, recordingFlow());
    f.add(0, fetched(0, [1]));
    f.add(1, fetched(1, [1]));
    assert.deepEqual(
      f.take([1], 10).map((r) => r.partition),
      [1],
    );
    assert.equal(f.size, 1);
  });

  it('keeps at most maxRecords, pauses a partition whose batch did not fit, resumes at half', () => {
    const flow = recordingFlow();
    const f = new FetchedPointers('kt', 4, flow);
    assert.equal(f.add(0, fetched(0, [0, 1, 2, 3, 4, 5])), '3', 'the next fetch starts after offset 3');
    assert.equal(f.size, 4);
    assert.equal(f.add(1, fetched(1, [0])), undefined, 'full: nothing kept');
    assert.deepEqual(flow.calls, ['pause 0', 'pause 1']);
    f.take([0, 1], 1);
    assert.deepEqual(flow.calls, ['pause 0', 'pause 1'], '3 of 4 held: still paused');
    f.take([0, 1], 1);
    assert.deepEqual(flow.calls, ['pause 0', 'pause 1', 'resume 0,1']);
  });

  it('stops a partition at an unreadable pointer and throws it when nothing else is left', () => {
    const f = new FetchedPointers('kt', 100, recordingFlow());
    const bad = { offset: '7', timestamp: '1', value: Buffer.from('not a pointer') } as KafkaMessage;
    f.add(0, [...fetched(0, [6]), bad, ...fetched(0, [8])]);
    f.add(1, fetched(1, [1]));
    assert.deepEqual(
      f.take([0, 1], 10).map((r) => `${r.partition}@${r.offset}`),
      ['0@6', '1@1'],
    );
    assert.throws(
      () => f.take([0, 1], 10),
      (e) =>
        e instanceof CorruptDataError &&
        /offset 7 of "kt" partition 0 .*seek\(0, 8\) skips it/.test(e.message),
    );
    f.drop(0);
    assert.equal(f.size, 0);
  });

  it('drops a partition (resuming it if paused), others not kept, or everything', () => {
    const flow = recordingFlow();
    const f = new FetchedPointers('kt', 3, flow);
    f.add(0, fetched(0, [0, 1, 2, 3]));
    f.drop(0);
    assert.equal(f.size, 0);
    assert.deepEqual(flow.calls, ['pause 0', 'resume 0']);
    f.add(1, fetched(1, [0]));
    f.add(2, fetched(2, [0]));
    f.retain(new Set([2]));
    assert.equal(f.size, 1);
    f.add(2, fetched(2, [1, 2, 3]));
    f.clear(false);
    assert.equal(f.size, 0);
    assert.deepEqual(flow.calls, ['pause 0', 'resume 0', 'pause 2'], 'a crash: no resume');
    f.add(2, fetched(2, [0, 1, 2, 3]));
    f.clear(true);
    assert.deepEqual(flow.calls.slice(-2), ['pause 2', 'resume all']);
  });
});
