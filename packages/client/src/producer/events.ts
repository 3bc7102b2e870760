import { eventNames, type NetworkEventPayloads, type Prefixed } from '../instrumentation.js';
import type { AckLevel } from '../types.js';

/** The producer's event names: `producer.events.CONNECT` is `'producer.connect'` (kafkajs style). */
export const PRODUCER_EVENTS = eventNames('producer', {
  CONNECT: 'connect',
  DISCONNECT: 'disconnect',
  REQUEST: 'network.request',
  REQUEST_TIMEOUT: 'network.request_timeout',
  THROTTLE: 'network.throttle',
  BATCH_ACKED: 'batch_acked',
});

/**
 * Payload of `producer.batch_acked`: the messages of one Produce request were acknowledged at
 * their ack level. With acks=durable they are in one stored batch, named by `batchSequence`,
 * `partition` and `offset` (-1 otherwise, as in `RecordMetadata`).
 */
export interface BatchAckedPayload {
  topic: string;
  writePartition: number;
  acks: AckLevel;
  /** Messages acknowledged. */
  messages: number;
  /** Their uncompressed bytes (as the buffer budget counts them). */
  bytes: number;
  /** Producer sequence of the first message. */
  firstSequence: number;
  /** Retries the request needed (0: acknowledged at the first attempt). */
  retries: number;
  batchSequence: number;
  partition: number;
  offset: number;
}

export type ProducerEventPayloads = Prefixed<
  'producer',
  NetworkEventPayloads & { batch_acked: BatchAckedPayload }
>;
