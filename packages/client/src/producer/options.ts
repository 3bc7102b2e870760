import { randomInt } from 'node:crypto';
import {
  type CodecName,
  ConfigError,
  codecId,
  errorMessage,
  ZSTD_MIN_NODE,
  zstdAvailable,
} from '@barge/core';
import type { AuditOptions } from '../audit/emitter.js';
import { type CommonClientOptions, resolveCommonOptions } from '../client-options.js';
import type { Logger } from '../logger.js';
import type { ResolvedRetry, RetryOptions } from '../retry.js';
import type { SaslCredentials } from '../sasl-client.js';
import type { ClientTlsOptions } from '../tls.js';
import type { AckLevel, ProducerMessage } from '../types.js';
import { type KafkaAcks, toAckLevel } from './acks.js';
import {
  ADAPTIVE_MAX_REQUESTS,
  ADAPTIVE_MIN_REQUESTS,
  type InFlightWindowOptions,
} from './in-flight-window.js';

/** See `CommonClientOptions` for `retry`, `connectionTimeout`, `logLevel`, `logCreator` and `logger`. */
export interface ProducerOptions extends CommonClientOptions {
  /** Broker addresses, `host:port`. The first reachable one is used. */
  brokers: string[];
  /** Default `barge-producer`. */
  clientId?: string;
  /** Default ack level of `send`. Default `durable`. kafkajs's numbers work too: -1 durable, 1 received, 0 none. */
  acks?: AckLevel | KafkaAcks;
  /** Chunk codec: none, gzip, lz4 or zstd (zstd needs Node.js >= 22.15). Default: the topic's configured compression. */
  compression?: CodecName;
  /** How long a chunk waits for more messages. Default 5 ms; 0 = the messages of one `send` call only. */
  lingerMs?: number;
  /** A chunk closes before reaching this many uncompressed bytes. Default 1 MiB. */
  maxChunkBytes?: number;
  /** A chunk closes at this many messages. Default 10,000 (and at most the broker's limit per request). */
  maxChunkMessages?: number;
  /**
   * Produce requests in flight on the connection, fixed. Default: sized from the measured ack
   * latency and throughput (16 to 1024), within `maxInFlightBytes`.
   */
  maxInFlight?: number;
  /**
   * Bytes of produce requests in flight (sent, not yet acknowledged); `bufferBytes` counts them
   * too. Default three quarters of `bufferBytes` (48 MiB).
   */
  maxInFlightBytes?: number;
  /** Bytes buffered (accumulating, in flight, awaiting ack) before `send` waits. Default 64 MiB. */
  bufferBytes?: number;
  /**
   * Backoff of produce requests that fail with a retryable error (100 ms → 10 s by default), and
   * of metadata lookups and connects. Produce requests are retried until `deliveryTimeoutMs`;
   * `retry.retries`, when given, bounds them too (metadata lookups and connects: 10 by default).
   */
  retry?: RetryOptions;
  /**
   * A chunk whose requests keep failing with retryable errors is retried until this long (ms)
   * after it was queued for sending; then its messages' `send` rejects with `ProduceError`. A
   * request in flight is not cut short. Long enough to span a broker's failover. Default 120,000.
   */
  deliveryTimeoutMs?: number;
  /** Per-request ack deadline (sent to the broker too); `requestTimeout` is the same. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Refresh topic metadata this often. Default 300,000 ms. */
  metadataMaxAgeMs?: number;
  /** Producer id written with every chunk. Default: random per instance. Never share one between live producers. */
  producerId?: number;
  /** Send a record of every acknowledged chunk to an audit topic, for `barge audit`. Default: off. */
  audit?: AuditOptions;
}

export interface SendOptions {
  topic: string;
  messages: readonly ProducerMessage[];
  /** Overrides the producer's ack level for these messages (kafkajs's -1, 1, 0 work too). */
  acks?: AckLevel | KafkaAcks;
}

/** `ProducerOptions` checked, with every default filled in. */
export interface ResolvedProducerOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly acks: AckLevel;
  /** Undefined: each topic's configured compression. */
  readonly compression: CodecName | undefined;
  readonly lingerMs: number;
  readonly maxChunkBytes: number;
  readonly maxChunkMessages: number;
  readonly inFlight: InFlightWindowOptions;
  readonly bufferBytes: number;
  readonly retry: ResolvedRetry;
  /** The backoff of `retry`; `retries` is `retry.retries` when given, else unbounded (`deliveryTimeoutMs` bounds). */
  readonly produceRetry: ResolvedRetry;
  readonly deliveryTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly log: Logger;
  readonly tls: ClientTlsOptions | undefined;
  readonly sasl: SaslCredentials | undefined;
  readonly metadataMaxAgeMs: number;
  readonly producerId: number;
}

/** Checks producer options (throwing `ConfigError` naming the option) and applies the defaults. */
export function resolveProducerOptions(options: ProducerOptions): ResolvedProducerOptions {
  if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new ConfigError('producer brokers must list at least one "host:port" address', 'brokers');
  }
  const int = (name: keyof ProducerOptions, v: number | undefined, min: number, def: number): number => {
    if (v === undefined) return def;
    if (!Number.isSafeInteger(v) || v < min)
      throw new ConfigError(`producer ${name} must be an integer >= ${min}, got ${v}`, name);
    return v;
  };
  const common = resolveCommonOptions(options, 'producer', 'Producer');
  const acks = toAckLevel(options.acks ?? 'durable', (why) => new ConfigError(`producer ${why}`, 'acks'));
  if (options.compression !== undefined) {
    try {
      codecId(options.compression);
    } catch (e) {
      throw new ConfigError(`producer compression: ${errorMessage(e)}`, 'compression');
    }
    if (options.compression === 'zstd' && !zstdAvailable()) {
      throw new ConfigError(
        `producer compression 'zstd' needs Node.js >= ${ZSTD_MIN_NODE} (zstd in zlib); this is Node.js ${process.version}`,
        'compression',
      );
    }
  }
  const lingerMs = int('lingerMs', options.lingerMs, 0, 5);
  const maxChunkBytes = int('maxChunkBytes', options.maxChunkBytes, 1, 1024 * 1024);
  const maxChunkMessages = int('maxChunkMessages', options.maxChunkMessages, 1, 10_000);
  const metadataMaxAgeMs = int('metadataMaxAgeMs', options.metadataMaxAgeMs, 0, 300_000);
  const deliveryTimeoutMs = int('deliveryTimeoutMs', options.deliveryTimeoutMs, 1, 120_000);
  const bufferBytes = int('bufferBytes', options.bufferBytes, 1, 64 * 1024 * 1024);
  const inFlight: InFlightWindowOptions = {
    // A quarter of the buffer stays for chunks being filled and encoded while the rest is in flight.
    maxBytes: int(
      'maxInFlightBytes',
      options.maxInFlightBytes,
      1,
      Math.max(1, Math.floor(bufferBytes * 0.75)),
    ),
    requests:
      options.maxInFlight === undefined
        ? { adaptive: { min: ADAPTIVE_MIN_REQUESTS, max: ADAPTIVE_MAX_REQUESTS } }
        : { fixed: int('maxInFlight', options.maxInFlight, 1, 1) },
  };
  const producerId =
    options.producerId !== undefined
      ? int('producerId', options.producerId, 0, 0)
      : randomInt(0, 2 ** 47) * 64 + randomInt(0, 64); // 53 random bits
  return {
    brokers: options.brokers,
    clientId: options.clientId ?? 'barge-producer',
    acks,
    compression: options.compression,
    lingerMs,
    maxChunkBytes,
    maxChunkMessages,
    inFlight,
    bufferBytes,
    retry: common.retry,
    produceRetry: {
      ...common.retry,
      retries: options.retry?.retries === undefined ? Number.POSITIVE_INFINITY : common.retry.retries,
    },
    deliveryTimeoutMs,
    requestTimeoutMs: common.requestTimeoutMs,
    connectionTimeoutMs: common.connectionTimeoutMs,
    log: common.log,
    tls: common.tls,
    sasl: common.sasl,
    metadataMaxAgeMs,
    producerId,
  };
}
