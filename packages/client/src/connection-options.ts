import { InvalidInputError, TransientError } from '@barge/core';
import type {
  RequestEventPayload,
  RequestTimeoutEventPayload,
  ThrottleEventPayload,
} from './instrumentation.js';
import type { SaslCredentials } from './sasl-client.js';
import type { ClientTlsOptions } from './tls.js';

/** What a `BrokerConnection` is configured with, tells, and fails with. */

/** The broker could not be reached (refused, unresolvable, timed out). Retryable. */
export class BrokerUnreachableError extends TransientError {
  constructor(
    readonly address: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The connection closed (or broke) while a request was outstanding. Retryable: the request may or may not have been processed. */
export class ConnectionClosedError extends TransientError {
  constructor(
    readonly address: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No response within the request timeout. Retryable: the request may or may not have been processed. */
export class RequestTimeoutError extends TransientError {}

/** Told what happens on a connection (instrumentation events and logs). */
export interface ConnectionObserver {
  /** A request was answered (or, for a request without a response, written). */
  request?(e: RequestEventPayload): void;
  /** A request got no response within its timeout. */
  requestTimeout?(e: RequestTimeoutEventPayload): void;
  /** A response carried a quota throttle time: requests to this broker wait it out. */
  throttled?(e: ThrottleEventPayload): void;
  /** A connection was established and its api versions negotiated. */
  connected?(address: string): void;
  /** An established connection closed, other than by `close()`; `outstanding` requests failed with it. */
  disconnected?(address: string, outstanding: number): void;
}

export interface ConnectionOptions {
  /** Sent in ApiVersions for the broker's logs. */
  clientId: string;
  /** Limit of one connection attempt (TCP connect and version negotiation). Default 10,000 ms. */
  connectTimeoutMs?: number | undefined;
  /** Default 30,000 ms. */
  requestTimeoutMs?: number | undefined;
  /** Largest response frame accepted. Default 256 MiB. */
  maxResponseBytes?: number;
  observer?: ConnectionObserver | undefined;
  /** Connect with TLS (checked by `resolveTlsOption`); undefined: plain TCP. */
  tls?: ClientTlsOptions | undefined;
  /** Authenticate every new connection (checked by `resolveSaslOption`); undefined: no authentication. */
  sasl?: SaslCredentials | undefined;
}

export interface RequestOptions {
  /** Overrides the connection's request timeout (e.g. long polls add their wait). */
  timeoutMs?: number;
}

/** `host:port` → parts; IPv6 as `[::1]:7070`. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidInputError(
      `broker address ${JSON.stringify(address)} must be "host:port", e.g. "127.0.0.1:7070"`,
    );
  }
  return { host: m[1]!, port };
}
