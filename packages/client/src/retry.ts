import { isRetryable } from '@barge/core';

/** How failed requests are retried: exponential backoff with jitter, bounded attempts. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 10. */
  retries?: number;
  /** First backoff. Default 100 ms. */
  initialRetryTimeMs?: number;
  /** Largest backoff. Default 10,000 ms. */
  maxRetryTimeMs?: number;
  /** Backoff growth per attempt. Default 2. */
  factor?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

export function resolveRetry(o: RetryOptions = {}): ResolvedRetry {
  return {
    retries: o.retries ?? 10,
    initialRetryTimeMs: o.initialRetryTimeMs ?? 100,
    maxRetryTimeMs: o.maxRetryTimeMs ?? 10_000,
    factor: o.factor ?? 2,
  };
}

/**
 * Backoff before retry number `retry` (0 = the first retry): a delay drawn uniformly from
 * `[base / 2, base]`, where `base = min(maxRetryTimeMs, initialRetryTimeMs × factor^retry)`.
 * Half of it is jitter (so clients that failed together do not retry together) and half is a
 * floor (so a retry never fires immediately).
 */
export function backoffMs(retry: number, o: ResolvedRetry, random: () => number = Math.random): number {
  const base = Math.min(o.maxRetryTimeMs, o.initialRetryTimeMs * o.factor ** Math.max(0, retry));
  return Math.round(base / 2 + (random() * base) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryContext {
  /** 0 for the first attempt. */
  attempt: number;
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not retryable (`isRetryable` from
 * core: `BargeError.retryable`, unknown errors count as retryable), or `retries` retries failed.
 * The last error is thrown as is.
 */
export async function withRetry<T>(
  fn: (ctx: RetryContext) => Promise<T>,
  options: ResolvedRetry,
  hooks: {
    retryable?: (e: unknown) => boolean;
    onRetry?: (e: unknown, retry: number, delayMs: number) => void;
    signal?: AbortSignal;
    random?: () => number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  } = {},
): Promise<T> {
  const retryable = hooks.retryable ?? isRetryable;
  const wait = hooks.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn({ attempt });
    } catch (e) {
      if (attempt >= options.retries || !retryable(e) || hooks.signal?.aborted) throw e;
      const delay = backoffMs(attempt, options, hooks.random);
      hooks.onRetry?.(e, attempt, delay);
      await wait(delay, hooks.signal);
    }
  }
}
