import { errorMessage } from '@barge/core';
import { Admin, type AdminOptions } from '../admin.js';
import type { CommonClientOptions } from '../client-options.js';
import type { Logger } from '../logger.js';
import type { ProducerMessage } from '../types.js';
import type { AuditSink } from './emitter.js';

/** What the sink needs of a `Producer` (a factory makes one, so this module does not import the producer). */
export interface AuditProducer {
  send(options: { topic: string; messages: ProducerMessage[] }): Promise<unknown>;
  disconnect(): Promise<void>;
}

/** The connection options of an audited client, for its audit producer (never audited itself). */
export function auditClientOptions(
  o: CommonClientOptions & { brokers?: string[] },
  clientId: string,
): AdminOptions {
  return {
    brokers: o.brokers ?? [],
    clientId: `${clientId}-audit`,
    retry: o.retry,
    connectionTimeout: o.connectionTimeout ?? o.connectTimeoutMs,
    requestTimeout: o.requestTimeout ?? o.requestTimeoutMs,
    tls: o.tls,
    sasl: o.sasl,
    logLevel: o.logLevel,
    logCreator: o.logCreator,
    logger: o.logger,
  };
}

/**
 * Sends audit envelopes to the audit topic with a producer of their own, created on the first
 * send (after creating the topic if missing) and again after `close`.
 */
export class TopicAuditSink implements AuditSink {
  #producer: AuditProducer | undefined;
  #topicChecked: Promise<void> | undefined;

  constructor(
    private readonly topic: string,
    private readonly client: AdminOptions,
    private readonly newProducer: () => AuditProducer,
    private readonly log: Logger,
  ) {}

  async send(key: string, value: string): Promise<void> {
    this.#producer ??= this.newProducer();
    const producer = this.#producer;
    this.#topicChecked ??= this.#createTopic();
    await this.#topicChecked;
    await producer.send({ topic: this.topic, messages: [{ key, value }] });
  }

  async close(): Promise<void> {
    const p = this.#producer;
    this.#producer = undefined;
    await p?.disconnect();
  }

  /** Creates the audit topic if missing. A failure (e.g. no permission) is logged; sends then tell whether it exists. */
  async #createTopic(): Promise<void> {
    const admin = new Admin(this.client);
    try {
      await admin.connect();
      await admin.createTopic({ name: this.topic, ifNotExists: true });
    } catch (e) {
      this.log.warn(`cannot create the audit topic ${this.topic}: ${errorMessage(e)}`);
      this.#topicChecked = undefined; // tried again with the next send
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}
