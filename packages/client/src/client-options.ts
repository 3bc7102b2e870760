import { ConfigError } from '@barge/core';
import { createLogger, type Logger, type LoggingOptions } from './logger.js';
import { type ResolvedRetry, type RetryOptions, resolveRetry } from './retry.js';
import { resolveSaslOption, type SaslCredentials, type SaslOptions } from './sasl-client.js';
import { type ClientTlsOptions, resolveTlsOption, type TlsOption } from './tls.js';

/** Options every client (producer, consumer, admin) takes, with kafkajs's names. */
export interface CommonClientOptions extends LoggingOptions {
  clientId?: string;
  /** Backoff and attempts for retryable failures. */
  retry?: RetryOptions;
  /**
   * `connect()` fails after this long (ms) when no broker answers, with a `BrokerUnreachableError`
   * naming the addresses tried; it retries unreachable brokers until then. Also the limit of each
   * later reconnection attempt. Default 5,000.
   */
  connectionTimeout?: number;
  /** Older name of `connectionTimeout`. */
  connectTimeoutMs?: number;
  /** How long a request waits for its response (ms). Default 30,000. */
  requestTimeout?: number;
  /** Older name of `requestTimeout`. */
  requestTimeoutMs?: number;
  /** TLS to the brokers: `true` (system CAs) or `{ ca, cert, key, servername, rejectUnauthorized }`. Default: none. */
  tls?: TlsOption;
  /** Authenticate with `{ mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'PLAIN', username, password }` (PLAIN needs `tls`). Default: none. */
  sasl?: SaslOptions;
}

/** The common options checked, with the defaults filled in. */
export interface ResolvedCommonOptions {
  readonly retry: ResolvedRetry;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly log: Logger;
  readonly tls: ClientTlsOptions | undefined;
  readonly sasl: SaslCredentials | undefined;
}

export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Checks the common options of a `who` (`producer`, …), throwing `ConfigError` naming the option, and fills in the defaults. */
export function resolveCommonOptions(
  o: CommonClientOptions,
  who: string,
  namespace: string,
): ResolvedCommonOptions {
  if (typeof o !== 'object' || o === null) throw new ConfigError(`${who} options must be an object`, '');
  const ms = (name: keyof CommonClientOptions, older: keyof CommonClientOptions, def: number): number => {
    const a = o[name];
    const b = o[older];
    for (const [n, v] of [
      [name, a],
      [older, b],
    ] as const) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1))
        throw new ConfigError(
          `${who} ${n} must be an integer number of ms >= 1, got ${JSON.stringify(v)}`,
          n,
        );
    }
    if (a !== undefined && b !== undefined && a !== b)
      throw new ConfigError(`${who} ${name} and ${older} (its older name) disagree: ${a} and ${b}`, name);
    return (a ?? b ?? def) as number;
  };
  if (o.clientId !== undefined && (typeof o.clientId !== 'string' || o.clientId === ''))
    throw new ConfigError(`${who} clientId must be a non-empty string`, 'clientId');
  return {
    retry: resolveRetry(o.retry),
    connectionTimeoutMs: ms('connectionTimeout', 'connectTimeoutMs', DEFAULT_CONNECTION_TIMEOUT_MS),
    requestTimeoutMs: ms('requestTimeout', 'requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS),
    log: createLogger(o, namespace),
    tls: resolveTlsOption(o.tls, who),
    sasl: resolveSaslOption(o, who),
  };
}
