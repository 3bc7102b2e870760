import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KafkaError } from './kafka-api.js';
import {
  addSequence,
  type BatchOutcome,
  PartitionProducers,
  type ProducedBatch,
  ProducerStates,
  type RecoveredProducer,
  type SequenceCheck,
} from './producer-state.js';

const MAX_SEQ = 0x7fffffff;
const batch = (producerEpoch: number, baseSequence: number, records = 1, producerId = 7): ProducedBatch => ({
  producerId,
  producerEpoch,
  baseSequence,
  records,
});

/** Checks `b` and, when appended, settles it as stored at `offset` (or as `outcome`). */
function append(p: PartitionProducers, b: ProducedBatch, outcome: BatchOutcome = 0n): SequenceCheck {
  const c = p.check(b);
  if (c.kind === 'append') c.settle(Promise.resolve(outcome));
  return c;
}

function assertAppend(c: SequenceCheck, why?: string): void {
  assert.equal(c.kind, 'append', why ?? JSON.stringify(c));
}

function assertRefused(c: SequenceCheck, code: number): void {
  assert.equal(c.kind, 'refuse');
  assert.equal(c.kind === 'refuse' && c.code, code, c.kind === 'refuse' ? c.message : '');
}

async function duplicateOf(c: SequenceCheck): Promise<BatchOutcome> {
  assert.equal(c.kind, 'duplicate', JSON.stringify(c));
  return c.kind === 'duplicate' ? c.outcome : -1n;
}

/** Lets the settle callbacks of outcomes already resolved run. */
const settled = () => new Promise<void>((r) => setImmediate(r));

describe('PartitionProducers (Kafka partition-leader rules)', () => {
  it('appends batches in sequence and answers a retry of any of the last 5 with its offset', async () => {
    const p = new PartitionProducers();
    for (let i = 0; i < 6; i++) assertAppend(append(p, batch(0, i * 2, 2), BigInt(100 + i * 2)));
    assert.equal(await duplicateOf(p.check(batch(0, 10, 2))), 110n);
    assert.equal(await duplicateOf(p.check(batch(0, 2, 2))), 102n);
    // The first batch fell out of the window: a retry of it is out of order, not a duplicate.
    assertRefused(p.check(batch(0, 0, 2)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // A retry with a different range (a re-split batch) is not a duplicate either.
    assertRefused(p.check(batch(0, 10, 1)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  it('refuses a gap and a stale epoch', () => {
    const p = new PartitionProducers();
    assertAppend(append(p, batch(3, 0, 5)));
    assertRefused(p.check(batch(3, 6)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assertRefused(p.check(batch(2, 5)), KafkaError.INVALID_PRODUCER_EPOCH);
    assertAppend(append(p, batch(3, 5)));
  });

  it('a new epoch must start at sequence 0 and forgets the old epoch`s batches', async () => {
    const p = new PartitionProducers();
    assertAppend(append(p, batch(0, 0, 3), 10n));
    assertRefused(p.check(batch(1, 3)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assertAppend(append(p, batch(1, 0, 3), 20n));
    assert.equal(await duplicateOf(p.check(batch(1, 0, 3))), 20n);
    assertRefused(p.check(batch(0, 0, 3)), KafkaError.INVALID_PRODUCER_EPOCH);
    assertAppend(append(p, batch(1, 3)));
  });

  it('a producer it has no state for starts at any sequence (no UNKNOWN_PRODUCER_ID)', () => {
    const p = new PartitionProducers();
    assertAppend(append(p, batch(4, 1234, 1, 1)));
    assertAppend(append(p, batch(0, 0, 1, 2)));
    assertRefused(p.check(batch(0, 1235, 1, 1)), KafkaError.INVALID_PRODUCER_EPOCH);
    assertAppend(append(p, batch(4, 1235, 1, 1)));
  });

  it('wraps sequences from 2^31-1 to 0, also inside one batch', async () => {
    const p = new PartitionProducers();
    assert.equal(addSequence(MAX_SEQ, 1), 0);
    assert.equal(addSequence(MAX_SEQ - 1, 4), 2);
    assertAppend(append(p, batch(0, MAX_SEQ - 1, 2)));
    assertAppend(append(p, batch(0, 0, 3)));
    assertAppend(append(p, batch(0, 3, 1)));
    assertAppend(append(p, batch(0, 4, 2)));
    const straddling = new PartitionProducers();
    assertAppend(append(straddling, batch(0, MAX_SEQ - 1, 4), 50n)); // MAX-1, MAX, 0, 1
    assert.equal(await duplicateOf(straddling.check(batch(0, MAX_SEQ - 1, 4))), 50n);
    assertAppend(append(straddling, batch(0, 2)));
  });

  it('a batch that was not stored is forgotten: its retry is stored', async () => {
    const p = new PartitionProducers();
    assertAppend(append(p, batch(0, 0, 2), 0n));
    assertAppend(append(p, batch(0, 2, 2), 'not-stored'));
    await settled();
    assertAppend(append(p, batch(0, 2, 2), 2n));
    assert.equal(await duplicateOf(p.check(batch(0, 2, 2))), 2n);
  });

  it('a retry of a failed batch after a later batch was taken is out of order until that one fails too', async () => {
    const p = new PartitionProducers();
    const first = p.check(batch(0, 0, 2));
    const second = p.check(batch(0, 2, 2));
    let failSecond: (o: BatchOutcome) => void = () => {};
    assert.ok(first.kind === 'append' && second.kind === 'append');
    first.settle(Promise.resolve('not-stored'));
    second.settle(new Promise((r) => (failSecond = r)));
    await settled();
    assertRefused(p.check(batch(0, 0, 2)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
    failSecond('not-stored');
    await settled();
    assertAppend(append(p, batch(0, 0, 2), 7n));
    assertAppend(append(p, batch(0, 2, 2), 9n));
  });

  it('a retry while the original is pending waits for its outcome; an uncertain one stays uncertain', async () => {
    const p = new PartitionProducers();
    const c = p.check(batch(0, 0, 1));
    assert.ok(c.kind === 'append');
    let resolve: (o: BatchOutcome) => void = () => {};
    c.settle(new Promise((r) => (resolve = r)));
    const retry = duplicateOf(p.check(batch(0, 0, 1)));
    resolve(42n);
    assert.equal(await retry, 42n);

    assertAppend(append(p, batch(0, 1, 1), 'unknown'));
    await settled();
    assert.equal(await duplicateOf(p.check(batch(0, 1, 1))), 'unknown', 'never stored twice');
    assertAppend(append(p, batch(0, 2, 1)));
  });

  it('ignores batches of producers that are not idempotent', () => {
    const p = new PartitionProducers();
    for (let i = 0; i < 3; i++) assertAppend(append(p, batch(-1, -1, 1, -1)));
    assert.equal(p.size, 0);
  });

  it('keeps the most recently active producers within its bound', () => {
    const p = new PartitionProducers(2);
    assertAppend(append(p, batch(0, 0, 1, 1)));
    assertAppend(append(p, batch(0, 0, 1, 2)));
    assertAppend(append(p, batch(0, 1, 1, 1))); // producer 1 is now the most recent
    assertAppend(append(p, batch(0, 0, 1, 3))); // evicts producer 2
    assert.equal(p.size, 2);
    assertAppend(append(p, batch(0, 9, 1, 2)), 'forgotten: any sequence');
    assertRefused(p.check(batch(0, 9, 1, 3)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  it('seeded producers answer retries with stored offsets and keep their epoch and sequence', async () => {
    const p = new PartitionProducers();
    p.seed([
      {
        producerId: 7,
        producerEpoch: 2,
        batches: [
          { firstSeq: 0, lastSeq: 4, offset: 10n },
          { firstSeq: 5, lastSeq: 5, offset: 20n },
        ],
      },
    ]);
    assert.equal(await duplicateOf(p.check(batch(2, 0, 5))), 10n);
    assertRefused(p.check(batch(1, 6)), KafkaError.INVALID_PRODUCER_EPOCH);
    assertRefused(p.check(batch(2, 7)), KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assertAppend(append(p, batch(2, 6)));
  });
});

describe('ProducerStates (ownership periods and rebuilds)', () => {
  const stored: RecoveredProducer[] = [
    { producerId: 7, producerEpoch: 0, batches: [{ firstSeq: 0, lastSeq: 0, offset: 5n }] },
  ];

  it('rebuilds once per period before the first check; batches arriving meanwhile wait', async () => {
    let rebuilds = 0;
    let release: () => void = () => {};
    const states = new ProducerStates(async () => {
      rebuilds++;
      await new Promise<void>((r) => (release = r));
      return stored;
    });
    const a = states.ready('t', 0);
    const b = states.ready('t', 0);
    assert.ok(a && b);
    assert.throws(() => states.check('t', 0, batch(0, 1)), /before it was rebuilt/);
    assert.equal(states.check('t', 0, batch(-1, -1, 1, -1)).kind, 'append', 'untracked batches do not wait');
    release();
    await Promise.all([a, b]);
    assert.equal(rebuilds, 1);
    assert.equal(states.ready('t', 0), undefined, 'known now: checked at once');
    assert.equal(await duplicateOf(states.check('t', 0, batch(0, 0))), 5n);
    assert.ok(states.ready('t', 1), 'each partition has its own rebuild');
  });

  it('a failed rebuild is tried again; a rebuild outlived by its period is discarded', async () => {
    let calls = 0;
    let gate: Promise<void> = Promise.resolve();
    const states = new ProducerStates(async () => {
      calls++;
      await gate;
      if (calls === 1) throw new Error('storage unavailable');
      return stored;
    });
    await assert.rejects(states.ready('t', 0)!, /storage unavailable/);
    let open: () => void = () => {};
    gate = new Promise((r) => (open = r));
    const stale = states.ready('t', 0)!;
    states.forget('t', 0); // handed over while rebuilding
    open();
    await assert.rejects(stale, /changed hands/);
    gate = Promise.resolve();
    await states.ready('t', 0);
    assert.equal(calls, 3);
    assert.equal(await duplicateOf(states.check('t', 0, batch(0, 0))), 5n);
  });

  it('forget ends the period: the next batch waits for a new rebuild', async () => {
    let calls = 0;
    const states = new ProducerStates(async () => {
      calls++;
      return [];
    });
    await states.ready('t', 0);
    assertAppend(states.check('t', 0, batch(0, 0)));
    states.forget('t', 0);
    const again = states.ready('t', 0);
    assert.ok(again);
    await again;
    assert.equal(calls, 2);
    assertAppend(states.check('t', 0, batch(0, 17)));
  });
});
