import { KafkaError } from './kafka-api.js';

/** Batches per producer and partition remembered for duplicates: Kafka's max.in.flight for idempotence. */
const REMEMBERED_BATCHES = 5;
/** Producers remembered per partition; the least recently seen is forgotten beyond it. */
const MAX_PRODUCERS_PER_PARTITION = 10_000;

/** What an idempotent producer's batch header says. */
export interface ProducedBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** Records in the request's batches for the partition. */
  records: number;
}

interface Remembered {
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The base offset it was stored at; undefined while pending, or when it failed. */
  offset: Promise<bigint | undefined>;
  failed: boolean;
}

interface Producer {
  epoch: number;
  batches: Remembered[];
}

/** What to do with a batch: append it (and report its offset), answer a duplicate, or refuse it. */
export type SequenceCheck =
  | { readonly kind: 'append'; settle(offset: Promise<bigint | undefined>): void }
  | { readonly kind: 'duplicate'; readonly offset: Promise<bigint | undefined> }
  | { readonly kind: 'refuse'; readonly code: number; readonly message: string };

const APPEND_UNTRACKED: SequenceCheck = { kind: 'append', settle: () => {} };

/**
 * Idempotent producers per partition, as Kafka's partition leader keeps them: the epoch and the
 * last few batches' sequence ranges of each producer id. A batch repeating one of them is a
 * retry: it is answered with the original offset and not stored again. A stale epoch or a
 * sequence gap is refused. Held in memory by the partition's owner: after a restart or a
 * takeover the first batch of each producer is accepted as it comes.
 */
export class ProducerStates {
  readonly #partitions = new Map<string, Map<number, Producer>>();

  check(topic: string, partition: number, b: ProducedBatch): SequenceCheck {
    if (b.producerId < 0 || b.baseSequence < 0) return APPEND_UNTRACKED;
    const key = `${topic}\u0000${partition}`;
    let producers = this.#partitions.get(key);
    if (!producers) {
      producers = new Map();
      this.#partitions.set(key, producers);
    }
    let p = producers.get(b.producerId);
    if (p) {
      producers.delete(b.producerId);
      producers.set(b.producerId, p);
    }
    if (p && b.producerEpoch < p.epoch) {
      return {
        kind: 'refuse',
        code: KafkaError.INVALID_PRODUCER_EPOCH,
        message: `producer ${b.producerId} epoch ${b.producerEpoch} is older than its current epoch ${p.epoch}`,
      };
    }
    if (!p || b.producerEpoch > p.epoch) {
      p = { epoch: b.producerEpoch, batches: [] };
      producers.set(b.producerId, p);
      if (producers.size > MAX_PRODUCERS_PER_PARTITION) producers.delete(producers.keys().next().value!);
    }
    const lastSeq = b.baseSequence + b.records - 1;
    const live = p.batches.filter((r) => !r.failed);
    const same = live.find((r) => r.firstSeq === b.baseSequence && r.lastSeq === lastSeq);
    if (same) return { kind: 'duplicate', offset: same.offset };
    const last = live.at(-1);
    if (last && b.baseSequence !== nextSequence(last.lastSeq)) {
      return {
        kind: 'refuse',
        code: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${b.producerId}: sequence ${b.baseSequence} does not follow ${last.lastSeq}`,
      };
    }
    const entry: Remembered = {
      firstSeq: b.baseSequence,
      lastSeq,
      offset: Promise.resolve(undefined),
      failed: false,
    };
    const owner = p;
    owner.batches = [...live, entry].slice(-REMEMBERED_BATCHES);
    return {
      kind: 'append',
      settle: (offset) => {
        entry.offset = offset;
        void offset.then((o) => {
          // A failed batch is retried with the same sequences: forget it so the retry is stored.
          if (o === undefined) entry.failed = true;
        });
      },
    };
  }
}

/** Kafka sequences wrap from 2^31-1 to 0. */
function nextSequence(seq: number): number {
  return seq === 0x7fffffff ? 0 : seq + 1;
}
