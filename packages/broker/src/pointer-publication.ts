import {
  type BatchPointer,
  type ErrorCode,
  errorMessage,
  hasErrorCode,
  isRetryable,
  type PublishedPointer,
} from '@barge/core';
import { backoffDelay, sleep } from './backoff.js';
import { pointerErrorCode } from './errors.js';
import type { WriterContext } from './partition-writer.js';

/** How a publication ended: every pointer has a position, or it was given up. */
export type PublicationOutcome =
  | { readonly published: true; readonly positions: PublishedPointer[] }
  | { readonly published: false; readonly code: ErrorCode; readonly message: string };

/** A publication that keeps failing: since when, and the latest error. */
export interface PublicationFailure {
  /** When the first attempt failed (ms since the epoch). */
  readonly since: number;
  /** The latest error, with how long publication has failed and will be retried. */
  readonly cause: string;
}

/**
 * Publishes the pointers of one write partition, retrying with backoff while the pointer queue
 * fails transiently, for up to `pointerRetryBudgetMs` (or until the shutdown deadline).
 *
 * While a publication keeps failing, `onFailing` is called every few hundred milliseconds with
 * the failure, so the writer can answer the durable acks it has held for
 * `pointerUnavailableAfterMs` with `POINTER_QUEUE_UNAVAILABLE` naming the cause (e.g.
 * `SQLITE_FULL: database or disk is full`). Retrying continues meanwhile: the batches are stored,
 * and acks of level `received` were sent for some of them.
 */
export class PointerPublication {
  #declared = false;

  constructor(
    readonly topic: string,
    readonly writePartition: number,
    private readonly ctx: WriterContext,
    private readonly onFailing: (failure: PublicationFailure) => void,
  ) {}

  /**
   * Publishes the pointers `prepare` resolves to (of batches `sequences`, in order; called at
   * every attempt, after the pointer-topic check: the writer stamps dense offsets there, once
   * per batch, so a retry publishes the same offsets); `heldAcks` counts the durable acks waiting.
   */
  async publish(
    prepare: () => Promise<readonly BatchPointer[]>,
    sequences: readonly number[],
    heldAcks: () => number,
  ): Promise<PublicationOutcome> {
    const started = Date.now();
    let lastError: unknown;
    let failingSince = 0;
    let sweep: NodeJS.Timeout | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const result = await this.#attempt(prepare, attempt);
        if (!('error' in result)) return { published: true, positions: result.positions };
        lastError = result.error;
        const delay = backoffDelay(attempt, this.ctx.backoffBaseMs, this.ctx.backoffMaxMs);
        const deadline = Math.min(started + this.ctx.pointerRetryBudgetMs, this.ctx.abandonAt());
        // NOT_OWNER: another broker owns the write partition now; its producers resend there.
        const retry =
          (result.topicMissing || (isRetryable(lastError) && !hasErrorCode(lastError, 'NOT_OWNER'))) &&
          Date.now() + delay <= deadline;
        const fields = {
          topic: this.topic,
          writePartition: this.writePartition,
          sequences,
          attempt: attempt + 1,
          err: errorMessage(lastError),
        };
        if (!retry) {
          this.ctx.log.error(
            fields,
            'giving up publishing pointers; producers get negative acks, objects become orphans',
          );
          return {
            published: false,
            code: pointerErrorCode(lastError),
            message: `pointer publication failed: ${errorMessage(lastError)}`,
          };
        }
        if (attempt === 0 || attempt % 10 === 0) {
          this.ctx.log.error(
            { ...fields, heldAcks: heldAcks() },
            'pointer queue unavailable; holding durable acks and retrying',
          );
        }
        if (sweep === undefined) {
          failingSince = Date.now();
          const tick = Math.min(500, Math.max(20, Math.floor(this.ctx.pointerUnavailableAfterMs / 5)));
          sweep = setInterval(() => this.#failing(lastError, failingSince), tick);
          this.#failing(lastError, failingSince);
        }
        await sleep(delay, this.ctx.wake());
      }
    } finally {
      clearInterval(sweep);
      this.#declared = false;
    }
  }

  /** Tells the writer how long publication has failed and why; logs once when acks start being answered. */
  #failing(error: unknown, since: number): void {
    const failedMs = Date.now() - since;
    const cause =
      `${errorMessage(error)}; pointer publication on ${this.topic}/${this.writePartition} has failed for ${(failedMs / 1000).toFixed(1)} s ` +
      `and is retried for up to ${Math.round(this.ctx.pointerRetryBudgetMs / 1000)} s`;
    if (!this.#declared && failedMs >= this.ctx.pointerUnavailableAfterMs) {
      this.#declared = true;
      this.ctx.log.error(
        { topic: this.topic, writePartition: this.writePartition, err: errorMessage(error) },
        'pointer queue unavailable: durable acks held longer than upload.pointerUnavailableAfterMs are answered POINTER_QUEUE_UNAVAILABLE',
      );
    }
    this.onFailing({ since, cause });
  }

  /** One attempt: makes sure the pointer topic exists, prepares the pointers, then publishes. */
  async #attempt(
    prepare: () => Promise<readonly BatchPointer[]>,
    attempt: number,
  ): Promise<{ positions: PublishedPointer[] } | { error: unknown; topicMissing: boolean }> {
    // The pointer-topic check this attempt relied on, forgotten if the topic turns out missing.
    let checked: Promise<void> | undefined;
    const topic = this.ctx.topics.get(this.topic);
    try {
      if (topic) {
        checked = this.ctx.topics.ensurePointerTopic(topic);
        await checked;
      }
      const pointers = await prepare();
      const t0 = performance.now();
      const positions = await this.ctx.publish(this.topic, this.writePartition, pointers);
      this.ctx.metrics.pointersPublished((performance.now() - t0) / 1000);
      if (attempt > 0) {
        this.ctx.log.info(
          {
            topic: this.topic,
            writePartition: this.writePartition,
            attempts: attempt + 1,
            batches: pointers.length,
          },
          'pointer queue recovered; pointers published',
        );
      }
      return { positions };
    } catch (error) {
      this.ctx.metrics.publishFailures.inc();
      // The pointer topic vanished (e.g. Kafka restarted without its data) although the topic is
      // in our registry: check it again (ensureTopic re-creates it) at the next attempt, within
      // the same retry budget. A topic unknown to the registry stays a final UNKNOWN_TOPIC.
      const topicMissing = hasErrorCode(error, 'NOT_FOUND') && topic !== undefined;
      if (topicMissing) {
        this.ctx.topics.forgetPointerTopic(this.topic, checked);
        if (attempt === 0 || attempt % 10 === 0) {
          this.ctx.log.warn(
            { topic: this.topic, writePartition: this.writePartition, err: errorMessage(error) },
            'pointer topic not found; re-creating it and retrying publication',
          );
        }
      }
      return { error, topicMissing };
    }
  }
}
