import assert from 'node:assert/strict';
import {
  type ConsumedMessage,
  Consumer,
  Producer,
  type ProducerOptions,
  partitionForKey,
} from '@barge/client';
import { waitFor } from '../harness.js';
import { DeliveryLog, makeMessage, messageKey, messageSize, prng } from '../workload.js';

/** What a fault schedule sees of the production it runs beside. */
export interface Progress {
  /** Messages acked `durable` so far. */
  readonly ackedCount: number;
  /** `send` calls that failed (their messages are not acked; they may still be stored). */
  readonly failedSends: number;
}

export interface ProduceOptions {
  /** Message ids `[from, to)`; production also stops when `during` resolves, if `stopWithFaults`. */
  from: number;
  to: number;
  /** Messages per `send`. Default 100. */
  sendSize?: number;
  /** `send` calls in flight at once. Default 8. */
  concurrency?: number;
  /** Runs beside production (kills, storage faults); `produce` resolves after it and every send. */
  during?: (progress: Progress) => Promise<void>;
  /** Stop starting new sends once `during` has resolved. Default false. */
  stopWithFaults?: boolean;
}

export interface LossReport {
  /** Messages acked `durable`. */
  acked: number;
  /** Acked messages never delivered: must be 0. */
  lost: number;
  /** The first lost ids. */
  lostIds: number[];
  /** Deliveries to the application (copies included). */
  delivered: number;
  /** Copies of producer retries the consumer's dedup skipped. */
  duplicatesSkipped: number;
  /** Copies that reached the application. */
  duplicatesDelivered: number;
  /** Messages delivered after a later sequence of their write partition, with no retry to explain it. */
  orderViolations: number;
  orderSamples: string[];
  /** Messages of re-sent chunks that landed after a later chunk (the promised exception). */
  lateRetried: number;
  /** Messages delivered that were never acked (a failed send whose data was stored). */
  unackedDelivered: number;
  failedSends: number;
  /** Consumer failures (verification errors, crashes): must be empty. */
  failures: string[];
  /** `consumer.skipped` events (damaged data passed over): must be 0 (the default policy fails instead). */
  skippedDamaged: number;
}

type Range = readonly [first: number, end: number];

/**
 * One producer with `acks: 'durable'` that records exactly which message ids were acked and which
 * sequence ranges were acked only after retries, then a fresh consumer group that reads the topic
 * from the beginning and reports lost acked messages, duplicates and order per write partition.
 * Messages come from `workload.ts`: each one is verified against its own CRC and key.
 */
export class LossChecker {
  readonly acked: Uint8Array;
  ackedCount = 0;
  failedSends = 0;
  /** Each distinct send error (numbers and ids replaced by `N`), with how often it was seen. */
  readonly sendErrors = new Map<string, number>();
  private readonly producer: Producer;
  /** Per write partition: sequence ranges acked after at least one retry. */
  private readonly retried = new Map<number, Range[]>();
  private readonly random: () => number;

  constructor(
    readonly topic: string,
    /** The topic's write partitions (each `send` stays within one). */
    readonly writePartitions: number,
    readonly total: number,
    producerOptions: ProducerOptions,
    seed = 1,
  ) {
    this.acked = new Uint8Array(total);
    this.random = prng(seed);
    this.producer = new Producer({ ...producerOptions, acks: 'durable' });
    this.producer.on(this.producer.events.BATCH_ACKED, ({ payload }) => {
      if (payload.retries === 0) return;
      const ranges = this.retried.get(payload.writePartition) ?? [];
      ranges.push([payload.firstSequence, payload.firstSequence + payload.messages]);
      this.retried.set(payload.writePartition, ranges);
    });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /** Sends ids `[from, to)` in `send` calls of `sendSize`, `concurrency` at a time, beside `during`. */
  async produce(options: ProduceOptions): Promise<void> {
    const { from, to, sendSize = 100, concurrency = 8 } = options;
    let faultsDone = options.during === undefined;
    // Settles at once (no unhandled rejection while production goes on); a failure is rethrown at the end.
    const faults = (options.during?.(this) ?? Promise.resolve()).then(
      () => undefined,
      (e: unknown) => ({ error: e }),
    );
    void faults.finally(() => {
      faultsDone = true;
    });
    const inFlight = new Set<Promise<void>>();
    for (let start = from; start < to; start += sendSize) {
      if (faultsDone && options.stopWithFaults) break;
      for (const ids of this.byWritePartition(start, Math.min(to, start + sendSize))) {
        const messages = ids.map((id) => makeMessage(id, Math.min(messageSize(this.random), 16 * 1024)));
        const p: Promise<void> = this.producer
          .send({ topic: this.topic, messages })
          .then(
            () => {
              for (const id of ids) this.acked[id] = 1;
              this.ackedCount += ids.length;
            },
            (e: unknown) => {
              this.failedSends++;
              // Numbers and ids vary per send; the rest says what went wrong.
              const key = String(e).replace(/\b[0-9a-f]{8,}\b|\d+/g, 'N');
              this.sendErrors.set(key, (this.sendErrors.get(key) ?? 0) + 1);
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
      }
    }
    await Promise.all(inFlight);
    const failed = await faults;
    if (failed) throw failed.error;
  }

  /**
   * Ids `[from, to)` grouped by the write partition their key maps to, so a failed `send` names
   * exactly the messages that were not acked (a send spanning partitions fails as a whole even
   * when some of its chunks were acked).
   */
  private byWritePartition(from: number, to: number): number[][] {
    const groups = new Map<number, number[]>();
    for (let id = from; id < to; id++) {
      const partition = partitionForKey(messageKey(id), this.writePartitions);
      const group = groups.get(partition) ?? [];
      group.push(id);
      groups.set(partition, group);
    }
    return [...groups.values()];
  }

  /**
   * Reads the topic with a fresh group from the beginning until every acked id was delivered (or
   * `timeoutMs` passed, or the consumer failed), then until nothing new arrives for a second.
   */
  async check(brokers: string[], groupId: string, timeoutMs = 60_000): Promise<LossReport> {
    const consumer = new Consumer({ brokers, groupId, fromBeginning: true });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic });
    const log = new DeliveryLog(this.total, (m) => this.isExpectedLate(m));
    let skippedDamaged = 0;
    consumer.on(consumer.events.SKIPPED, () => skippedDamaged++);
    void log.consumeWith(consumer);
    const lostIds = () => log.missing((id) => this.acked[id] === 1, this.total);
    await waitFor(
      'every acked message',
      () => log.failures.length > 0 || lostIds().length === 0,
      timeoutMs,
      200,
    ).catch(() => undefined);
    let last = -1;
    await waitFor('a quiet consumer', () => {
      const quiet = log.delivered === last;
      last = log.delivered;
      return quiet;
    }).catch(() => undefined);
    await consumer.disconnect();
    const lost = lostIds();
    let unackedDelivered = 0;
    for (let id = 0; id < this.total; id++)
      if (log.seen[id] === 1 && this.acked[id] !== 1) unackedDelivered++;
    return {
      acked: this.ackedCount,
      lost: lost.length,
      lostIds: lost.slice(0, 10),
      delivered: log.delivered,
      duplicatesSkipped: consumer.skippedDuplicates,
      duplicatesDelivered: log.duplicates,
      orderViolations: log.outOfOrder,
      orderSamples: log.orderViolations,
      lateRetried: log.expectedLate,
      unackedDelivered,
      failedSends: this.failedSends,
      failures: log.failures,
      skippedDamaged,
    };
  }

  /**
   * Client PROTOCOL-NEEDS item 3: a chunk re-sent after a failure lands after any later chunk of
   * its write partition the broker had already stored. Such a chunk was acked after retries, or
   * never acked at all (its send failed, yet a try was stored).
   */
  private isExpectedLate(m: ConsumedMessage): boolean {
    const id = Number(m.headers.find((h) => h.name === 'id')?.value.toString());
    if (this.acked[id] !== 1) return true;
    return (this.retried.get(m.writePartition) ?? []).some(
      ([first, end]) => m.sequence >= first && m.sequence < end,
    );
  }
}

/** One stderr line with a scenario's numbers. */
export function reportLine(name: string, report: LossReport, durationMs: number, extra = ''): string {
  const r = report;
  return `${name}: acked ${r.acked}, lost ${r.lost}, duplicates ${r.duplicatesSkipped} skipped by the consumer + ${r.duplicatesDelivered} delivered, order violations ${r.orderViolations} (+${r.lateRetried} late re-sent), failed sends ${r.failedSends} (${r.unackedDelivered} of their messages stored anyway), ${(durationMs / 1000).toFixed(1)} s${extra ? `; ${extra}` : ''}\n`;
}

/**
 * What every scenario promises: no acked message lost, every delivery verified, no copy reaching
 * the application, no damaged data, and send order per write partition except for re-sent chunks.
 */
export function assertNoLoss(report: LossReport): void {
  assert.deepEqual(report.failures, [], 'the consumer verified every message and did not crash');
  assert.equal(report.lost, 0, `${report.lost} messages acked durable were lost, e.g. ${report.lostIds}`);
  assert.equal(report.duplicatesDelivered, 0, 'a copy reached the application undetected');
  assert.equal(report.skippedDamaged, 0);
  assert.equal(report.orderViolations, 0, `out of order within a write partition: ${report.orderSamples}`);
}
