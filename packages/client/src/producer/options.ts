import { randomInt } from 'node:crypto';
import { type CodecName, ConfigError, codecId, errorMessage, isAckLevel } from '@barge/core';
import { type ResolvedRetry, type RetryOptions, resolveRetry } from '../retry.js';
import type { AckLevel, ProducerMessage } from '../types.js';

export interface ProducerOptions {
  /** Broker addresses, `host:port`. The first reachable one is used. */
  brokers: string[];
  /** Default `barge-producer`. */
  clientId?: string;
  /** Default ack level of `send`. Default `durable`. */
  acks?: AckLevel;
  /** Chunk codec. Default: the topic's configured compression. */
  compression?: CodecName;
  /** How long a chunk waits for more messages. Default 5 ms; 0 = the messages of one `send` call only. */
  lingerMs?: number;
  /** A chunk closes before reaching this many uncompressed bytes. Default 1 MiB. */
  maxChunkBytes?: number;
  /** A chunk closes at this many messages. Default 10,000 (and at most the broker's limit per request). */
  maxChunkMessages?: number;
  /** Produce requests in flight on the connection. Default 16. */
  maxInFlight?: number;
  /** Bytes buffered (accumulating, in flight, awaiting ack) before `send` waits. Default 64 MiB. */
  bufferBytes?: number;
  /** Retries of produce requests that fail with a retryable error. Default 10 retries, 100 ms → 10 s backoff. */
  retry?: RetryOptions;
  /** Per-request ack deadline (sent to the broker too). Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Refresh topic metadata this often. Default 300,000 ms. */
  metadataMaxAgeMs?: number;
  /** Producer id written with every chunk. Default: random per instance. Never share one between live producers. */
  producerId?: number;
}

export interface SendOptions {
  topic: string;
  messages: readonly ProducerMessage[];
  /** Overrides the producer's ack level for these messages. */
  acks?: AckLevel;
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
  readonly maxInFlight: number;
  readonly bufferBytes: number;
  readonly retry: ResolvedRetry;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number | undefined;
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
  if (options.acks !== undefined && !isAckLevel(options.acks)) {
    throw new ConfigError(
      `producer acks must be none, received or durable, got ${JSON.stringify(options.acks)}`,
      'acks',
    );
  }
  if (options.compression !== undefined) {
    try {
      codecId(options.compression);
    } catch (e) {
      throw new ConfigError(`producer compression: ${errorMessage(e)}`, 'compression');
    }
  }
  const lingerMs = int('lingerMs', options.lingerMs, 0, 5);
  const maxChunkBytes = int('maxChunkBytes', options.maxChunkBytes, 1, 1024 * 1024);
  const maxChunkMessages = int('maxChunkMessages', options.maxChunkMessages, 1, 10_000);
  const maxInFlight = int('maxInFlight', options.maxInFlight, 1, 16);
  const requestTimeoutMs = int('requestTimeoutMs', options.requestTimeoutMs, 1, 30_000);
  const metadataMaxAgeMs = int('metadataMaxAgeMs', options.metadataMaxAgeMs, 0, 300_000);
  const bufferBytes = int('bufferBytes', options.bufferBytes, 1, 64 * 1024 * 1024);
  const producerId =
    options.producerId !== undefined
      ? int('producerId', options.producerId, 0, 0)
      : randomInt(0, 2 ** 47) * 64 + randomInt(0, 64); // 53 random bits
  return {
    brokers: options.brokers,
    clientId: options.clientId ?? 'barge-producer',
    acks: options.acks ?? 'durable',
    compression: options.compression,
    lingerMs,
    maxChunkBytes,
    maxChunkMessages,
    maxInFlight,
    bufferBytes,
    retry: resolveRetry(options.retry),
    requestTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    metadataMaxAgeMs,
    producerId,
  };
}
