import { errorMessage, isRetryable, type ObjectStorage, TransientError } from '@barge/core';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.js';
import { hedgeKey } from './keys.js';
import type { BrokerMetrics } from './metrics.js';
import type { OrphanRecorder } from './orphans.js';

export interface UploadOptions {
  /** Batches uploaded at once. */
  parallelism: number;
  /** Attempts per batch (each attempt may be hedged). */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Start a second, hedged attempt under a distinct key when the first is slower than this. */
  hedgeAfterMs?: number | undefined;
  /** An attempt still running after this long is abandoned as a transient failure. */
  attemptTimeoutMs: number;
}

/** Outcome of a stored batch: the key that won (the hedge key when the hedge won). */
export interface UploadResult {
  key: string;
  attempts: number;
  hedged: boolean;
}

/** Thrown when every attempt failed; `keys` may hold partial or late writes (to discard). */
export class UploadFailedError extends Error {
  constructor(
    message: string,
    readonly lastError: unknown,
    readonly keys: readonly string[],
  ) {
    super(message, { cause: lastError });
  }
}

/**
 * Stores batch objects with bounded parallelism. Each batch gets up to `maxAttempts` attempts;
 * transient failures are retried after a jittered exponential backoff, permanent ones fail at
 * once (no unbounded retry loop). With `hedgeAfterMs`, an attempt slower than that threshold
 * gets a concurrent second PUT under `<key>-h<attempt>`: the first success wins, the loser is
 * aborted and then deleted (or recorded for the retention sweeper when the delete fails).
 */
export class UploadPipeline {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  /** Every PUT still running, losing hedges included. */
  readonly #puts = new Set<Promise<unknown>>();

  constructor(
    private readonly storage: ObjectStorage,
    private readonly options: UploadOptions,
    private readonly metrics: BrokerMetrics,
    private readonly orphans: OrphanRecorder,
    private readonly log: Logger,
  ) {}

  get active(): number {
    return this.#active;
  }

  /** Resolves when every PUT started so far has settled (losing hedges included). */
  async drain(): Promise<void> {
    while (this.#puts.size > 0) await Promise.allSettled([...this.#puts]);
  }

  async upload(key: string, body: readonly Buffer[], size: number): Promise<UploadResult> {
    await this.#acquire();
    const started = performance.now();
    const touched = new Set<string>();
    let hedged = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await this.#attempt(key, body, attempt, touched);
          hedged ||= r.hedged;
          this.metrics.batchesUploaded.inc();
          this.metrics.uploadBytes.inc(size);
          this.metrics.uploadSeconds.observe((performance.now() - started) / 1000);
          return { key: r.key, attempts: attempt, hedged };
        } catch (e) {
          const retry = isRetryable(e) && attempt < this.options.maxAttempts;
          this.log.warn(
            { key, attempt, maxAttempts: this.options.maxAttempts, err: errorMessage(e), retry },
            retry ? 'batch upload failed; retrying' : 'batch upload failed; giving up',
          );
          if (!retry) {
            throw new UploadFailedError(
              `batch upload failed after ${attempt} attempt(s): ${errorMessage(e)}`,
              e,
              [...touched],
            );
          }
          this.metrics.uploadRetries.inc();
          await sleep(backoffDelay(attempt - 1, this.options.backoffBaseMs, this.options.backoffMaxMs));
        }
      }
    } finally {
      this.#release();
    }
  }

  /** One attempt: a PUT, plus a hedged PUT under a distinct key when the first is slow. */
  #attempt(
    key: string,
    body: readonly Buffer[],
    attempt: number,
    touched: Set<string>,
  ): Promise<{ key: string; hedged: boolean }> {
    const hedgeAfter = this.options.hedgeAfterMs;
    return new Promise((resolve, reject) => {
      const running = new Map<string, AbortController>();
      let settled = false;
      let hedgeFired = false;
      let hedgeTimer: NodeJS.Timeout | undefined;
      const start = (k: string) => {
        const ctl = new AbortController();
        running.set(k, ctl);
        touched.add(k);
        this.#put(k, body, ctl).then(
          () => {
            running.delete(k);
            if (settled) {
              // A losing attempt that was stored anyway: nothing references it.
              void this.orphans.discard([k], 'losing hedged upload');
              return;
            }
            settled = true;
            clearTimeout(hedgeTimer);
            if (hedgeFired) this.metrics.hedges.inc({ event: k === key ? 'primary_won' : 'hedge_won' });
            // Losers are aborted; each is deleted once its PUT settles (see above and below).
            for (const c of running.values()) c.abort();
            resolve({ key: k, hedged: hedgeFired });
          },
          (e: unknown) => {
            running.delete(k);
            if (settled) {
              // An aborted loser: delete in case the store completed the write anyway.
              void this.orphans.discard([k], 'losing hedged upload');
              return;
            }
            if (running.size === 0) {
              // Every PUT of this attempt failed (or the only one failed before the hedge threshold).
              settled = true;
              clearTimeout(hedgeTimer);
              reject(e);
            }
          },
        );
      };
      start(key);
      if (hedgeAfter !== undefined) {
        hedgeTimer = setTimeout(() => {
          if (settled) return;
          hedgeFired = true;
          this.metrics.hedges.inc({ event: 'started' });
          this.log.debug({ key, attempt, hedgeAfterMs: hedgeAfter }, 'upload slow; starting hedged attempt');
          start(hedgeKey(key, attempt));
        }, hedgeAfter);
      }
    });
  }

  async #put(key: string, body: readonly Buffer[], ctl: AbortController): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ctl.abort();
        reject(new TransientError(`PUT ${key} timed out after ${this.options.attemptTimeoutMs} ms`));
      }, this.options.attemptTimeoutMs);
    });
    const started = performance.now();
    const put = this.storage.put(key, body, { signal: ctl.signal });
    this.#puts.add(put);
    void put.then(
      () => {
        this.#puts.delete(put);
        if (ctl.signal.aborted) return; // a loser or a late write: not a latency anyone waited for
        this.metrics.storagePutSeconds.observe(
          { adapter: this.storage.adapter },
          (performance.now() - started) / 1000,
        );
      },
      () => this.#puts.delete(put),
    );
    try {
      await Promise.race([put, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #acquire(): Promise<void> {
    if (this.#active < this.options.parallelism) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }
}
