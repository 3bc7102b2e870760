import { type AdapterContext, parseWithSchema } from '@barge/core';
import { z } from 'zod';
import { saslSchema, sslSchema } from './security.js';

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected HOST:PORT, e.g. "k1:9092"');
/** Characters Kafka allows in topic names (and that we allow in group ids we build). */
const kafkaName = z.string().regex(/^[A-Za-z0-9._-]*$/, 'expected only A-Z a-z 0-9 . _ -');
const ms = (min: number) => z.number().int().min(min);

/** The `pointers:` section for `adapter: kafka` (without `adapter`). */
export const kafkaPointersConfigSchema = z.strictObject({
  /** Bootstrap brokers, `HOST:PORT`. */
  brokers: z.array(hostPort).min(1, 'list at least one broker'),
  /** Kafka client id (shows in broker logs and quotas). */
  clientId: z.string().min(1).default('barge'),
  /** Pointer topic of Barge topic `t` is `topicPrefix + t`. */
  topicPrefix: kafkaName.default('barge.pointers.'),
  /** Consumer group id of Barge group `g` is `groupPrefix + g`. */
  groupPrefix: kafkaName.default('barge.'),
  /** Replication factor of pointer topics this adapter creates. Use 3 in production. */
  replicationFactor: z.number().int().min(1).max(32767).default(1),
  /** Topic configs for pointer topics this adapter creates, e.g. `{ "min.insync.replicas": "2" }`. */
  topicConfig: z.record(z.string().min(1), z.string()).default({}),
  /** SASL: `{ mechanism, username, password | passwordFile | passwordEnv }` (see security.ts). */
  sasl: saslSchema.optional(),
  /** TLS: `true`, or `{ ca|caFile, cert|certFile, key|keyFile, servername, rejectUnauthorized }`. */
  ssl: sslSchema.optional(),
  /** TCP connect timeout per broker. */
  connectionTimeoutMs: ms(1).default(3000),
  /** Timeout of one Kafka request (and the produce ack timeout). */
  requestTimeoutMs: ms(1).default(30_000),
  /** Upper bound on one `publish`, connecting included; past it, `publish` rejects with `TransientError`. */
  publishTimeoutMs: ms(1).default(30_000),
  /** Retries of one Kafka operation inside kafkajs before the error reaches the caller. */
  retries: z.number().int().min(1).max(100).default(3),
  /** First retry delay; doubles per retry up to `maxRetryTimeMs`. */
  initialRetryTimeMs: ms(1).default(200),
  maxRetryTimeMs: ms(1).default(5000),
  /** Consumer-group member session timeout (default for `subscribe`; the broker's bounds apply). */
  sessionTimeoutMs: ms(1).default(30_000),
  /** Heartbeat interval; capped at a third of the session timeout. */
  heartbeatIntervalMs: ms(1).default(3000),
  /** How long the group coordinator waits for members to rejoin during a rebalance. */
  rebalanceTimeoutMs: ms(1).default(60_000),
  /** Longest a fetch waits on the broker for new pointers (also bounds heartbeat delay while idle). */
  maxWaitTimeMs: ms(0).default(1000),
  /** Bytes fetched per partition per request. */
  maxBytesPerPartition: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** Pointers a consumer buffers ahead of `poll`; fetching pauses when the buffer is full. */
  maxBufferedRecords: z.number().int().min(1).default(2000),
  /** kafkajs log level forwarded to the adapter log. */
  logLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).default('warn'),
});

export type KafkaPointersConfig = z.output<typeof kafkaPointersConfigSchema>;
export type KafkaPointersConfigInput = z.input<typeof kafkaPointersConfigSchema>;

export type AdapterLog = AdapterContext['log'];

/** Options of `new KafkaPointerQueue(...)`: the config section plus an optional log sink. */
export type KafkaPointerQueueOptions = KafkaPointersConfigInput & {
  /** Where kafkajs and adapter messages go; default: warnings and errors to stderr. */
  log?: AdapterLog;
};

export function parseKafkaPointersConfig(input: unknown, root = 'pointers'): KafkaPointersConfig {
  return parseWithSchema(kafkaPointersConfigSchema, input, root);
}

export const defaultLog: AdapterLog = (level, msg, fields) => {
  if (level === 'info') return;
  const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`[pointers-kafka] ${level}: ${msg}${extra}\n`);
};
