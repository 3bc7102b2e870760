import {
  type BrokerConfig,
  errorMessage,
  isBargeError,
  isConnectionBroken,
  TransientError,
} from '@barge/core';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.js';

/** How long start-up keeps retrying, and how it waits between attempts. */
export interface StartupRetryPolicy {
  /** Time (ms since the epoch) after which start-up gives up. */
  deadline: number;
  /** `broker.startupTimeoutMs`, for the message when start-up gives up. */
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  log: Logger;
  /** Aborted when the broker is stopped during start-up: retrying ends at once. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs one start-up step (`what`, e.g. "load topic metadata from storage"), retrying it while it
 * fails with a retryable error (`worthRetrying`), with jittered exponential backoff and one warning per failed attempt, until
 * `policy.deadline`. A permanent error (credentials, a missing bucket, invalid metadata) is
 * thrown at once; past the deadline the last error is thrown wrapped in one naming the step and
 * `broker.startupTimeoutMs`.
 */
export async function retryStartupStep<T>(
  what: string,
  step: () => Promise<T>,
  policy: StartupRetryPolicy,
): Promise<T> {
  const started = Date.now();
  /** The latest error a step itself raised (a cut-off attempt says nothing about the store). */
  let lastFailure: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await beforeDeadline(step(), policy, what);
      if (attempt > 1) policy.log.info({ step: what, attempts: attempt }, `start-up: ${what} succeeded`);
      return result;
    } catch (e) {
      if (!worthRetrying(e)) throw e;
      if (!(e instanceof AttemptCutOff) || lastFailure === undefined) lastFailure = e;
      const left = policy.deadline - Date.now();
      if (left <= 0 || policy.signal?.aborted) {
        const why = policy.signal?.aborted
          ? 'the broker was stopped'
          : `gave up after broker.startupTimeoutMs (${policy.timeoutMs} ms)`;
        throw new Error(
          `start-up failed: cannot ${what}: ${attempt} attempt(s) in ${Date.now() - started} ms, ${why}; last error: ${errorMessage(lastFailure)}`,
          { cause: lastFailure },
        );
      }
      const delay = Math.min(left, backoffDelay(attempt - 1, policy.backoffBaseMs, policy.backoffMaxMs));
      policy.log.warn(
        { step: what, attempt, nextDelayMs: delay, err: errorMessage(e) },
        `start-up: cannot ${what} (attempt ${attempt}); retrying in ${delay} ms: ${errorMessage(e)}`,
      );
      await sleep(delay, policy.signal);
    }
  }
}

/** An attempt abandoned at the deadline or at stop(), still pending. */
class AttemptCutOff extends TransientError {}

/**
 * `attempt`'s result, or an `AttemptCutOff` once the deadline passes (or the signal aborts) while
 * it is still pending: a request to a blackholed store may never settle; it is abandoned, not
 * awaited.
 */
async function beforeDeadline<T>(attempt: Promise<T>, policy: StartupRetryPolicy, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AttemptCutOff(`${what}: no answer before the start-up deadline`)),
      Math.max(0, policy.deadline - Date.now()),
    );
    onAbort = () => reject(new AttemptCutOff(`${what}: abandoned, the broker is stopping`));
    if (policy.signal?.aborted) onAbort();
    else policy.signal?.addEventListener('abort', onAbort, { once: true });
  });
  attempt.catch(() => {});
  try {
    return await Promise.race([attempt, late]);
  } finally {
    clearTimeout(timer);
    if (onAbort) policy.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Barge errors say whether they are retryable; a broken connection always is; any other error
 * an adapter did not classify is retried too, except programming errors (a `TypeError` from a
 * plugin's bug would fail the same way for two minutes).
 */
function worthRetrying(e: unknown): boolean {
  if (isBargeError(e)) return e.retryable;
  if (isConnectionBroken(e)) return true;
  return !(
    e instanceof TypeError ||
    e instanceof RangeError ||
    e instanceof ReferenceError ||
    e instanceof SyntaxError
  );
}

/** Start-up retries until `deadline`, with the upload backoff settings (at least 100 ms apart). */
export function startupRetryPolicy(
  config: BrokerConfig,
  log: Logger,
  deadline: number,
  signal?: AbortSignal,
): StartupRetryPolicy {
  return {
    deadline,
    timeoutMs: config.broker.startupTimeoutMs,
    backoffBaseMs: Math.max(config.upload.backoffBaseMs, 100),
    backoffMaxMs: config.upload.backoffMaxMs,
    log,
    signal,
  };
}
