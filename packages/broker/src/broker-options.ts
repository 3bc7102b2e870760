import type { BrokerConfig } from '@barge/core';
import type { BrokerMetrics } from './metrics.js';

/** Tunables that are not in the config file (and overrides of some that are, for tests). */
export interface BrokerOptions {
  /** How long a batch's pointer publication is retried while the pointer queue is unavailable. Default: `upload.pointerRetryBudgetMs` of the config (300000, 5 minutes). */
  pointerRetryBudgetMs?: number;
  /** How long pointer publication may fail before held durable acks are answered POINTER_QUEUE_UNAVAILABLE. Default: `upload.pointerUnavailableAfterMs` of the config (3000). */
  pointerUnavailableAfterMs?: number;
  /** How long `stop()` waits for open batches to be stored and published before abandoning them. Default: `broker.shutdownTimeoutMs` of the config (30000). */
  shutdownTimeoutMs?: number;
  /** How long `start()` retries what storage and the pointer queue fail transiently. Default: `broker.startupTimeoutMs` of the config (120000). */
  startupTimeoutMs?: number;
  /** Sequence numbers leased per storage write. Default 1000. */
  sequenceBlockSize?: number;
  /** Session timeout for JoinGroup requests that ask for 0 (the default). Default 30000. */
  defaultSessionTimeoutMs?: number;
  /** One upload attempt still running after this long is abandoned as transient. Default 60000. */
  uploadAttemptTimeoutMs?: number;
  /** Close storage and pointer queue in `stop()`. Default true. */
  closeAdapters?: boolean;
  metrics?: BrokerMetrics;
}

export type Tunables = Required<Omit<BrokerOptions, 'metrics'>>;

/** The options with the config file's values and the built-in defaults filled in. */
export function tunables(config: BrokerConfig, options: BrokerOptions): Tunables {
  return {
    pointerRetryBudgetMs: options.pointerRetryBudgetMs ?? config.upload.pointerRetryBudgetMs,
    pointerUnavailableAfterMs: options.pointerUnavailableAfterMs ?? config.upload.pointerUnavailableAfterMs,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? config.broker.shutdownTimeoutMs,
    startupTimeoutMs: options.startupTimeoutMs ?? config.broker.startupTimeoutMs,
    sequenceBlockSize: options.sequenceBlockSize ?? 1000,
    defaultSessionTimeoutMs: options.defaultSessionTimeoutMs ?? 30_000,
    uploadAttemptTimeoutMs: options.uploadAttemptTimeoutMs ?? 60_000,
    closeAdapters: options.closeAdapters ?? true,
  };
}
