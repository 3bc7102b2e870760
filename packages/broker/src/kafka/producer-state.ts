import { TransientError } from '@barge/core';
import { KafkaError } from './kafka-api.js';

/** Batches per producer and partition remembered for duplicates: Kafka's max.in.flight for idempotence. */
export const REMEMBERED_BATCHES = 5;
/** Producers remembered per partition; the least recently seen is forgotten beyond it. */
export const MAX_PRODUCERS_PER_PARTITION = 10_000;
/** Kafka sequences are int32 and wrap from 2^31-1 to 0. */
const SEQUENCE_WRAP = 0x80000000;

/** What an idempotent producer's batch header says. */
export interface ProducedBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** Records in the request's batch for the partition. */
  records: number;
}

/**
 * Where an appended batch ended: its Kafka offset once stored; `not-stored` when it is known
 * not to be (its retry is stored); `unknown` when it may still be published later (the pointer
 * queue was unavailable too long), so its retry can neither be stored again nor be given an offset.
 */
export type BatchOutcome = bigint | 'not-stored' | 'unknown';

/** A producer's recent batches found in storage after a restart or takeover (`recoverProducers`). */
export interface RecoveredProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Its last batches of that epoch, oldest first (at most `REMEMBERED_BATCHES` are kept). */
  readonly batches: readonly { firstSeq: number; lastSeq: number; offset: bigint }[];
}

/** What to do with a batch: append it (and report where it ended), answer a duplicate, or refuse it. */
export type SequenceCheck =
  | { readonly kind: 'append'; settle(outcome: Promise<BatchOutcome>): void }
  | { readonly kind: 'duplicate'; readonly outcome: Promise<BatchOutcome> }
  | { readonly kind: 'refuse'; readonly code: number; readonly message: string };

interface Remembered {
  readonly firstSeq: number;
  readonly lastSeq: number;
  outcome: Promise<BatchOutcome>;
}

interface Producer {
  epoch: number;
  /** Batches of `epoch` that were stored or may be (failed ones are dropped), oldest first. */
  batches: Remembered[];
}

const APPEND_UNTRACKED: SequenceCheck = { kind: 'append', settle: () => {} };

/**
 * The idempotent producers of one partition, with Kafka's partition-leader rules:
 * - a batch with the current epoch and the sequence range of one of the last
 *   `REMEMBERED_BATCHES` batches is a retry: answered with the original's offset, not stored;
 * - an older epoch is refused (INVALID_PRODUCER_EPOCH);
 * - a newer epoch resets the producer's sequences: its first batch must start at 0;
 * - within an epoch each batch must start right after the last one (wrapping 2^31-1 to 0),
 *   else OUT_OF_ORDER_SEQUENCE_NUMBER;
 * - a producer id the partition has no state for (new, forgotten, or older than what a rebuild
 *   reads) starts at any sequence, as in Kafka since 2.5: UNKNOWN_PRODUCER_ID is never answered.
 * A batch that fails to be stored is forgotten, so its retry (same sequences) is stored; batches
 * of the producer appended after it keep their place, so that retry is out of order until they
 * fail too (their order cannot be undone).
 */
export class PartitionProducers {
  readonly #producers = new Map<number, Producer>();

  constructor(private readonly maxProducers = MAX_PRODUCERS_PER_PARTITION) {}

  get size(): number {
    return this.#producers.size;
  }

  check(b: ProducedBatch): SequenceCheck {
    if (b.producerId < 0 || b.producerEpoch < 0 || b.baseSequence < 0) return APPEND_UNTRACKED;
    let p = this.#touch(b.producerId);
    if (p && b.producerEpoch < p.epoch) {
      return refuse(
        KafkaError.INVALID_PRODUCER_EPOCH,
        `producer ${b.producerId} epoch ${b.producerEpoch} is older than its current epoch ${p.epoch}`,
      );
    }
    const lastSeq = addSequence(b.baseSequence, b.records - 1);
    if (p && b.producerEpoch === p.epoch) {
      const same = p.batches.find((r) => r.firstSeq === b.baseSequence && r.lastSeq === lastSeq);
      if (same) return { kind: 'duplicate', outcome: same.outcome };
      const last = p.batches.at(-1);
      if (last && b.baseSequence !== addSequence(last.lastSeq, 1)) {
        return refuse(
          KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `producer ${b.producerId}: sequence ${b.baseSequence} does not follow ${last.lastSeq}`,
        );
      }
    } else if (p && b.baseSequence !== 0) {
      return refuse(
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${b.producerId}: the first batch of epoch ${b.producerEpoch} has sequence ${b.baseSequence}, not 0`,
      );
    }
    if (!p || b.producerEpoch !== p.epoch) p = this.#add(b.producerId, b.producerEpoch);
    const entry: Remembered = { firstSeq: b.baseSequence, lastSeq, outcome: PENDING };
    const owner = p;
    owner.batches.push(entry);
    if (owner.batches.length > REMEMBERED_BATCHES) owner.batches.shift();
    return {
      kind: 'append',
      settle: (outcome) => {
        entry.outcome = outcome;
        void outcome.then((o) => {
          // Not stored: forget it, so the retry (same sequences) is stored.
          if (o === 'not-stored') owner.batches = owner.batches.filter((r) => r !== entry);
        });
      },
    };
  }

  /** Seeds producers found in storage (`recovered` least recently active first). */
  seed(recovered: readonly RecoveredProducer[]): void {
    for (const r of recovered) {
      const p = this.#add(r.producerId, r.producerEpoch);
      p.batches = r.batches.slice(-REMEMBERED_BATCHES).map((b) => ({
        firstSeq: b.firstSeq,
        lastSeq: b.lastSeq,
        outcome: Promise.resolve(b.offset),
      }));
    }
  }

  /** The producer, moved to most recently seen. */
  #touch(producerId: number): Producer | undefined {
    const p = this.#producers.get(producerId);
    if (p) {
      this.#producers.delete(producerId);
      this.#producers.set(producerId, p);
    }
    return p;
  }

  #add(producerId: number, epoch: number): Producer {
    const p: Producer = { epoch, batches: [] };
    this.#producers.delete(producerId);
    this.#producers.set(producerId, p);
    if (this.#producers.size > this.maxProducers)
      this.#producers.delete(this.#producers.keys().next().value!);
    return p;
  }
}

/** An outcome not settled yet (`settle` is called in the same turn as `check`). */
const PENDING: Promise<BatchOutcome> = new Promise(() => {});

/** `seq + n` in Kafka's int32 sequence space (wrapping at 2^31). */
export function addSequence(seq: number, n: number): number {
  return (seq + n) % SEQUENCE_WRAP;
}

function refuse(code: number, message: string): SequenceCheck {
  return { kind: 'refuse', code, message };
}

/** Reads a write partition's recent idempotent batches from storage (`recoverProducers`). */
export type ProducerRecovery = (topic: string, partition: number) => Promise<readonly RecoveredProducer[]>;

interface Period {
  readonly producers: PartitionProducers;
  ready: boolean;
  rebuilding: Promise<void> | undefined;
}

/**
 * Idempotent producers per partition, held by the partition's owner for one ownership period.
 * The first idempotent batch of a period waits for `recover` (from the start of the broker, or
 * after `forget` when the partition changed hands) to rebuild the producers' state from the
 * partition's recent batch headers in storage, so a retry of a batch stored before a restart or
 * takeover gets its original offset. Every idempotent batch arriving while that runs waits for
 * it too (none is refused for it); a failed rebuild is tried again by the next batch.
 */
export class ProducerStates {
  readonly #periods = new Map<string, Period>();

  constructor(
    /** Without one (tests), a period starts with no producers. */
    private readonly recover?: ProducerRecovery,
    private readonly maxProducers = MAX_PRODUCERS_PER_PARTITION,
  ) {}

  /**
   * Undefined when the partition's producers are known (check now: request order is kept);
   * else a promise that resolves once they are, or rejects when the rebuild failed.
   */
  ready(topic: string, partition: number): Promise<void> | undefined {
    const period = this.#period(topic, partition);
    if (period.ready) return undefined;
    period.rebuilding ??= this.#rebuild(topic, partition, period).finally(() => {
      period.rebuilding = undefined;
    });
    return period.rebuilding;
  }

  /** Checks a batch against the partition's producers; only once `ready` said they are known. */
  check(topic: string, partition: number, b: ProducedBatch): SequenceCheck {
    const period = this.#period(topic, partition);
    if (!period.ready && b.producerId >= 0) {
      throw new Error(`${topic}/${partition}: producer state checked before it was rebuilt`);
    }
    return period.producers.check(b);
  }

  /** Ends the partition's ownership period (handed over or taken over): the next batch rebuilds. */
  forget(topic: string, partition: number): void {
    this.#periods.delete(key(topic, partition));
  }

  #period(topic: string, partition: number): Period {
    const k = key(topic, partition);
    let p = this.#periods.get(k);
    if (!p) {
      p = {
        producers: new PartitionProducers(this.maxProducers),
        ready: !this.recover,
        rebuilding: undefined,
      };
      this.#periods.set(k, p);
    }
    return p;
  }

  async #rebuild(topic: string, partition: number, period: Period): Promise<void> {
    const recovered = await this.recover!(topic, partition);
    if (this.#periods.get(key(topic, partition)) !== period) {
      throw new TransientError(
        `${topic}/${partition} changed hands while its producers were being recovered`,
      );
    }
    period.producers.seed(recovered);
    period.ready = true;
  }
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
