import type { Message } from '@barge/core';
import type { CommonClientOptions } from '../client-options.js';
import type { Logger } from '../logger.js';
import { AuditEmitter, type AuditOptions, resolveAuditOptions } from './emitter.js';
import { hashHex, rangeHash } from './record.js';
import { type AuditProducer, auditClientOptions, TopicAuditSink } from './topic-sink.js';

type AuditedClientOptions = CommonClientOptions & { brokers: string[]; audit?: AuditOptions };

/** The producer side of the loss audit: one `produced` record per acknowledged chunk. */
export class ProduceAudit {
  private constructor(private readonly emitter: AuditEmitter) {}

  /** Undefined unless `options.audit` is set. `newProducer` makes the (unaudited) producer that sends the records. */
  static from(
    options: AuditedClientOptions,
    clientId: string,
    log: Logger,
    newProducer: (options: AuditedClientOptions) => AuditProducer,
  ): ProduceAudit | undefined {
    const audit = resolveAuditOptions(options.audit, 'producer');
    if (!audit) return undefined;
    const client = auditClientOptions(options, clientId);
    const sink = new TopicAuditSink(
      audit.topic,
      client,
      () => newProducer({ ...client, brokers: options.brokers }),
      log,
    );
    return new ProduceAudit(new AuditEmitter({ role: 'producer', clientId }, sink, audit, log));
  }

  /** The messages of a chunk, sequences `firstSequence`…, were acknowledged. */
  acked(
    topic: string,
    writePartition: number,
    producerId: number,
    firstSequence: number,
    messages: readonly { readonly message: Message }[],
  ): void {
    if (messages.length === 0) return;
    this.emitter.record({
      kind: 'produced',
      at: Date.now(),
      topic,
      writePartition,
      producerId,
      first: firstSequence,
      last: firstSequence + messages.length - 1,
      hash: hashHex(
        rangeHash(
          firstSequence,
          messages.map((m) => m.message),
        ),
      ),
    });
  }

  /** Sends the records still pending (at most 15 s). */
  close(): Promise<void> {
    return this.emitter.close();
  }
}
