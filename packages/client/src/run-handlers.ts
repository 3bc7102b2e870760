import { errorMessage } from '@barge/core';
import type { StopSignal } from './batch-fetcher.js';
import {
  ConsumerCrashError,
  type EachBatchPayload,
  type EachMessagePayload,
  type RunOptions,
} from './consumer-types.js';
import type { Delivery, DeliveryLoop, Grain } from './delivery-loop.js';
import type { Logger } from './logger.js';
import { type ResolvedRetry, withRetry } from './retry.js';

/** The grain `run` delivers at: per message for `eachMessage`, per batch for `eachBatch`. */
export function grainOf(options: RunOptions): Grain {
  return options.eachMessage
    ? { each: 'message' }
    : { each: 'batch', autoResolve: options.eachBatchAutoResolve !== false };
}

/**
 * Calls `run`'s handler on a delivery, retrying it while the work is current. A handler that keeps
 * failing stops the run with a `ConsumerCrashError`, unless its partition was revoked or sought
 * meanwhile (the new owner or position takes over).
 */
export function handlerOf(
  options: RunOptions,
  ctx: { loop: DeliveryLoop; retry: ResolvedRetry; stop: StopSignal; log: Logger },
): (d: Delivery) => Promise<void> {
  const { eachMessage, eachBatch } = options;
  const call = async (d: Delivery, handler: () => Promise<void>, where: () => string): Promise<void> => {
    let first: unknown;
    try {
      await handler();
      return;
    } catch (e) {
      first = e; // retried below (the common case, success, needs none of the retry machinery)
    }
    const what = where();
    try {
      await withRetry(async ({ attempt }) => (attempt === 0 ? Promise.reject(first) : handler()), ctx.retry, {
        retryable: () => d.batch.isCurrent(),
        onRetry: (e, retry, delayMs) =>
          ctx.log.warn(`handler failed on ${what}, retrying in ${delayMs} ms`, {
            retry: retry + 1,
            error: errorMessage(e),
          }),
      });
    } catch (e) {
      if (!d.batch.isCurrent()) return;
      throw new ConsumerCrashError(`handler failed on ${what}: ${errorMessage(e)}`, { cause: e });
    }
  };
  if (eachMessage) {
    return (d) => {
      const message = d.messages[0]!; // delivered one at a time (grainOf)
      const payload: EachMessagePayload = {
        topic: d.batch.sub.topic,
        partition: d.batch.record.partition,
        message,
        heartbeat: () => d.batch.heartbeat(),
      };
      return call(
        d,
        () => eachMessage(payload),
        () => `message ${d.batch.where} index ${message.messageIndex}`,
      );
    };
  }
  return (d) => {
    const { batch, messages } = d;
    const payload: EachBatchPayload = {
      batch: {
        topic: batch.sub.topic,
        partition: batch.record.partition,
        offset: batch.record.offset,
        pointer: batch.record.pointer,
        messages,
        isEmpty: () => messages.length === 0,
      },
      resolveOffset: (m) => ctx.loop.processedThrough(batch, typeof m === 'number' ? m : m.messageIndex),
      heartbeat: () => batch.heartbeat(),
      commitOffsetsIfNecessary: () => ctx.loop.commitIfDue(),
      isRunning: () => !ctx.stop.requested,
      isStale: () => !batch.isCurrent(),
    };
    return call(
      d,
      () => eachBatch!(payload),
      () => `batch at ${batch.where}`,
    );
  };
}
