import { ConfigError, isRetryable } from '@barge/core';

/**
 * How failed requests are retried: exponential backoff with jitter, bounded attempts. The names
 * are kafkajs's (`initialRetryTime`, `maxRetryTime`, `multiplier`, `factor`); one policy serves
 * the producer, the consumer and the admin client.
 */
export interface RetryOptions {
  /** Retries after the first attempt. Default 10. */
  retries?: number;
  /** First backoff, ms. Default 100. */
  initialRetryTime?: number;
  /** Largest backoff, ms. Default 10,000. */
  maxRetryTime?: number;
  /** Backoff growth per retry. Default 2. */
  multiplier?: number;
  /**
   * Randomization, in [0, 1): a backoff is drawn from `[base × (1 − factor), base]`. Default 0.5.
   * A value of 1 or more is read as the growth per retry (`multiplier`), the meaning this option
   * had in earlier Barge versions.
   */
  factor?: number;
  /** Older name of `initialRetryTime`. */
  initialRetryTimeMs?: number;
  /** Older name of `maxRetryTime`. */
  maxRetryTimeMs?: number;
}

/** A retry policy with every default filled in. */
export interface ResolvedRetry {
  readonly retries: number;
  readonly initialRetryTime: number;
  readonly maxRetryTime: number;
  readonly multiplier: number;
  /** Randomization in [0, 1). */
  readonly factor: number;
}

/** Checks a retry policy (throwing `ConfigError` naming the field, e.g. `retry.retries`) and fills in the defaults. */
export function resolveRetry(o: RetryOptions = {}): ResolvedRetry {
  if (typeof o !== 'object' || o === null) throw new ConfigError('retry must be an object', 'retry');
  const num = (field: string, v: unknown, ok: (n: number) => boolean, rule: string): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
      throw new ConfigError(`retry.${field} must be ${rule}, got ${JSON.stringify(v)}`, `retry.${field}`);
    return v;
  };
  const time = (a: 'initialRetryTime' | 'maxRetryTime', b: 'initialRetryTimeMs' | 'maxRetryTimeMs') => {
    const x = num(a, o[a], (n) => n > 0, 'a number of ms > 0');
    const y = num(b, o[b], (n) => n > 0, 'a number of ms > 0');
    if (x !== undefined && y !== undefined && x !== y)
      throw new ConfigError(
        `retry.${a} and retry.${b} (its older name) disagree: ${x} and ${y}`,
        `retry.${a}`,
      );
    return x ?? y;
  };
  const retries = num('retries', o.retries, (n) => Number.isSafeInteger(n) && n >= 0, 'an integer >= 0');
  const initialRetryTime = time('initialRetryTime', 'initialRetryTimeMs') ?? 100;
  const maxRetryTime = time('maxRetryTime', 'maxRetryTimeMs') ?? Math.max(10_000, initialRetryTime);
  let multiplier = num('multiplier', o.multiplier, (n) => n >= 1, 'a number >= 1');
  let factor = num(
    'factor',
    o.factor,
    (n) => n >= 0,
    'a number in [0, 1) (or >= 1: the older growth factor)',
  );
  if (factor !== undefined && factor >= 1) {
    if (multiplier !== undefined)
      throw new ConfigError(
        `retry.factor is the randomization, in [0, 1), when retry.multiplier is given; got ${factor}`,
        'retry.factor',
      );
    multiplier = factor;
    factor = undefined;
  }
  if (maxRetryTime < initialRetryTime)
    throw new ConfigError(
      `retry.maxRetryTime (${maxRetryTime}) must not be below retry.initialRetryTime (${initialRetryTime})`,
      'retry.maxRetryTime',
    );
  return {
    retries: retries ?? 10,
    initialRetryTime,
    maxRetryTime,
    multiplier: multiplier ?? 2,
    factor: factor ?? 0.5,
  };
}

/**
 * Backoff before retry number `retry` (0 = the first retry): `base × (1 − factor × r)` with `r`
 * uniform in [0, 1), where `base = min(maxRetryTime, initialRetryTime × multiplier^retry)`. The
 * random part keeps clients that failed together from retrying together; the rest is a floor, so
 * a retry never fires at once, and no backoff exceeds `maxRetryTime`.
 */
export function backoffMs(retry: number, o: ResolvedRetry, random: () => number = Math.random): number {
  const base = Math.min(o.maxRetryTime, o.initialRetryTime * o.multiplier ** Math.max(0, retry));
  return Math.round(base * (1 - o.factor * (1 - random())));
}

/**
 * A bug or bad input, not a failure of the network or the broker: retrying cannot help. The
 * errors JavaScript itself throws for wrong types and values, and core's `InvalidInputError` and
 * `ConfigError` (whose `retryable` is false).
 */
export function isProgrammingError(e: unknown): boolean {
  return (
    e instanceof TypeError ||
    e instanceof RangeError ||
    e instanceof ReferenceError ||
    e instanceof SyntaxError
  );
}

/**
 * The client's one retry predicate: core's `isRetryable` (`BargeError.retryable`; errors it does
 * not know count as retryable), except that programming errors are never retried.
 */
export function isRetryableFailure(e: unknown): boolean {
  return !isProgrammingError(e) && isRetryable(e);
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

export interface RetryHooks {
  /** Default `isRetryableFailure`. */
  retryable?: (e: unknown) => boolean;
  onRetry?: (e: unknown, retry: number, delayMs: number) => void;
  signal?: AbortSignal;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not retryable (`isRetryableFailure`
 * unless `hooks.retryable` says otherwise), or `retries` retries failed. The last error is thrown as is.
 */
export async function withRetry<T>(
  fn: (ctx: RetryContext) => Promise<T>,
  options: ResolvedRetry,
  hooks: RetryHooks = {},
): Promise<T> {
  const retryable = hooks.retryable ?? isRetryableFailure;
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
