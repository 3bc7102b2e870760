import { ConfigError } from '@barge/core';
import type { ConsumerOptions } from '../consumer-types.js';
import type { Logger } from '../logger.js';
import { Producer } from '../producer.js';
import type { ConsumedMessage } from '../types.js';
import { AuditEmitter, resolveAuditOptions } from './emitter.js';
import { hashHex, messageHash } from './record.js';
import { auditClientOptions, TopicAuditSink } from './topic-sink.js';

/** Consecutive messages of one stream, from one batch, delivered and not recorded yet. */
interface OpenRange {
  readonly topic: string;
  readonly writePartition: number;
  readonly producerId: number;
  readonly partition: number;
  readonly offset: number;
  readonly at: number;
  readonly first: number;
  last: number;
  hash: number;
}

/** Open ranges kept at most; more close them all. */
const MAX_OPEN_RANGES = 10_000;

/**
 * The consumer side of the loss audit: what the consumer hands to the application, as one
 * `consumed` record per run of consecutive sequences of a stream within a batch. Runs are
 * recorded when they end, and at every flush of the emitter.
 */
export class ConsumeAudit {
  readonly #open = new Map<string, OpenRange>();
  readonly #emitter: AuditEmitter;

  private constructor(
    private readonly group: string,
    build: (beforeFlush: () => void) => AuditEmitter,
  ) {
    this.#emitter = build(() => this.#closeAll());
  }

  /** Undefined unless `options.audit` is set; needs `brokers` (the records go to a topic). */
  static from(options: ConsumerOptions, clientId: string, log: Logger): ConsumeAudit | undefined {
    const audit = resolveAuditOptions(options.audit, 'consumer');
    if (!audit) return undefined;
    if (!options.brokers?.length)
      throw new ConfigError('consumer audit needs brokers: audit records are sent to a topic', 'audit');
    const client = auditClientOptions(options, clientId);
    const brokers = options.brokers;
    const sink = new TopicAuditSink(audit.topic, client, () => new Producer({ ...client, brokers }), log);
    return new ConsumeAudit(
      options.groupId,
      (beforeFlush) =>
        new AuditEmitter(
          { role: 'consumer', clientId, group: options.groupId },
          sink,
          audit,
          log,
          beforeFlush,
        ),
    );
  }

  /** Messages handed to the application. */
  delivered(messages: readonly ConsumedMessage[]): void {
    const now = Date.now();
    for (const m of messages) {
      const key = `${m.topic}\u0000${m.writePartition}\u0000${m.producerId}`;
      const h = messageHash(m.sequence, m.key, m.value);
      const open = this.#open.get(key);
      if (
        open &&
        open.partition === m.partition &&
        open.offset === m.offset &&
        m.sequence === open.last + 1
      ) {
        open.last = m.sequence;
        open.hash = (open.hash + h) >>> 0;
        continue;
      }
      if (open) this.#record(open);
      else if (this.#open.size >= MAX_OPEN_RANGES) this.#closeAll();
      this.#emitter.flushSoon(); // records the range within a flush interval, even if nothing follows
      this.#open.set(key, {
        topic: m.topic,
        writePartition: m.writePartition,
        producerId: m.producerId,
        partition: m.partition,
        offset: m.offset,
        at: now,
        first: m.sequence,
        last: m.sequence,
        hash: h,
      });
    }
  }

  /** Records the open ranges and sends everything pending (at most 15 s). */
  close(): Promise<void> {
    return this.#emitter.close();
  }

  #closeAll(): void {
    for (const r of this.#open.values()) this.#record(r);
    this.#open.clear();
  }

  #record(r: OpenRange): void {
    const { topic, writePartition, producerId, partition, offset, at, first, last } = r;
    this.#emitter.record({
      kind: 'consumed',
      group: this.group,
      at,
      topic,
      writePartition,
      producerId,
      partition,
      offset,
      first,
      last,
      hash: hashHex(r.hash),
    });
  }
}
