import type { ConsumeAudit } from './audit/consume-audit.js';
import type { FetchedBatch } from './batch-fetcher.js';
import type { CommitSchedule } from './commit-schedule.js';
import type { DedupTracker } from './dedup.js';
import type { ConsumedMessage } from './types.js';

/** How messages are handed out: one at a time (the iterator, `eachMessage`) or a batch's at once (`eachBatch`). */
export type Grain = { readonly each: 'message' } | { readonly each: 'batch'; readonly autoResolve: boolean };

/** Messages handed to the application together: one, or those of a batch that are not duplicates. */
export interface Delivery {
  readonly batch: FetchedBatch;
  /** `eachBatch` hands this very array to the application. */
  readonly messages: ConsumedMessage[];
}

export interface DeliveryDeps {
  readonly dedup: DedupTracker | undefined;
  readonly schedule: CommitSchedule;
  /** Told of every delivery (the loss audit). */
  readonly audit?: ConsumeAudit | undefined;
  /** Commits the processed positions of every owned partition. */
  commit(): Promise<void>;
}

/**
 * The delivery loop behind both the iterator and `run`. It hands out the fetched batches'
 * messages, skipping duplicates. A delivery counts as processed when the application asks for
 * the next one: the partition's cursor then moves past it (unless the work went stale meanwhile)
 * and auto-commit commits when due. Leaving the loop early leaves the delivery unprocessed.
 */
export class DeliveryLoop {
  readonly #deps: DeliveryDeps;
  #delivered = 0;
  /** The delivery the application holds right now. */
  #current: Delivery | undefined;
  #waiters: (() => void)[] = [];

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
  }

  /** Messages handed to the application so far. */
  get delivered(): number {
    return this.#delivered;
  }

  async *deliveries(
    batches: AsyncIterable<FetchedBatch>,
    grain: Grain,
  ): AsyncGenerator<Delivery, void, undefined> {
    try {
      for await (const batch of batches) {
        if (grain.each === 'message') yield* this.#oneByOne(batch);
        else yield* this.#allAtOnce(batch, grain.autoResolve);
        await this.commitIfDue();
      }
    } finally {
      this.#handedBack();
    }
  }

  /**
   * `run`'s loop: the deliveries `deliveries` would yield, each passed to `handle` (awaited)
   * without a generator step per message. Resolves when `batches` ends; a failing `handle`
   * rejects it, leaving that delivery unprocessed.
   */
  async each(
    batches: AsyncIterable<FetchedBatch>,
    grain: Grain,
    handle: (d: Delivery) => Promise<void>,
  ): Promise<void> {
    try {
      for await (const batch of batches) {
        if (grain.each === 'message') await this.#eachMessage(batch, handle);
        else await this.#eachBatch(batch, grain.autoResolve, handle);
        await this.commitIfDue();
      }
    } finally {
      this.#handedBack();
    }
  }

  /** Resolves once the application holds no delivery from the partitions named by `scopes`. */
  async idle(scopes: ReadonlySet<string>): Promise<void> {
    while (this.#current && scopes.has(this.#current.batch.cursor.scope)) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Marks the batch's messages up to and including `messageIndex` processed, if the batch is still current. */
  processedThrough(batch: FetchedBatch, messageIndex: number): void {
    this.#processed(batch, { offset: batch.record.offset, messageIndex: messageIndex + 1 });
  }

  /** Sends the audit records still pending. */
  async closeAudit(): Promise<void> {
    await this.#deps.audit?.close();
  }

  async commitIfDue(): Promise<void> {
    if (this.#deps.schedule.due) await this.#deps.commit();
  }

  async *#oneByOne(batch: FetchedBatch): AsyncGenerator<Delivery, void, undefined> {
    for (const message of batch.messages) {
      if (!batch.isCurrent()) break;
      if (batch.cursor.isDraining) return; // the rest is redelivered to the partition's next owner
      if (!this.#firstDelivery(batch, message)) continue;
      yield this.#handOut({ batch, messages: [message] });
      this.processedThrough(batch, message.messageIndex);
      this.#handedBack();
      await this.commitIfDue();
    }
    this.#finished(batch);
  }

  /** `#oneByOne` for `each`. */
  async #eachMessage(batch: FetchedBatch, handle: (d: Delivery) => Promise<void>): Promise<void> {
    for (const message of batch.messages) {
      if (!batch.isCurrent()) break;
      if (batch.cursor.isDraining) return; // the rest is redelivered to the partition's next owner
      if (!this.#firstDelivery(batch, message)) continue;
      await handle(this.#handOut({ batch, messages: [message] }));
      this.processedThrough(batch, message.messageIndex);
      this.#handedBack();
      if (this.#deps.schedule.due) await this.#deps.commit();
    }
    this.#finished(batch);
  }

  /** `#allAtOnce` for `each`. */
  async #eachBatch(
    batch: FetchedBatch,
    autoResolve: boolean,
    handle: (d: Delivery) => Promise<void>,
  ): Promise<void> {
    if (batch.cursor.isDraining) return;
    const messages = batch.messages.filter((m) => this.#firstDelivery(batch, m));
    if (messages.length > 0) await handle(this.#handOut({ batch, messages }));
    if (autoResolve || messages.length === 0) this.#finished(batch);
    this.#handedBack();
  }

  async *#allAtOnce(batch: FetchedBatch, autoResolve: boolean): AsyncGenerator<Delivery, void, undefined> {
    if (batch.cursor.isDraining) return;
    const messages = batch.messages.filter((m) => this.#firstDelivery(batch, m));
    if (messages.length > 0) yield this.#handOut({ batch, messages });
    if (autoResolve || messages.length === 0) this.#finished(batch);
    this.#handedBack();
  }

  #handOut(d: Delivery): Delivery {
    this.#deps.audit?.delivered(d.messages);
    this.#current = d;
    return d;
  }

  /** The application is done with the delivery it held (what it processed is recorded). */
  #handedBack(): void {
    this.#current = undefined;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** False for a message a producer retry already delivered; otherwise counts it delivered. */
  #firstDelivery(batch: FetchedBatch, m: ConsumedMessage): boolean {
    const dedup = this.#deps.dedup;
    if (dedup !== undefined && !dedup.accept(batch.cursor.scope, m, m.sequence)) return false;
    this.#delivered++;
    return true;
  }

  #processed(batch: FetchedBatch, next: { offset: number; messageIndex: number }): void {
    if (!batch.isCurrent()) return;
    if (batch.cursor.processed(next, batch.record.pointer.messageCount)) this.#deps.schedule.processed();
  }

  /** The whole batch was processed: the next position is the start of the following one. */
  #finished(batch: FetchedBatch): void {
    if (!batch.isCurrent()) return;
    // No batch size here: with it, an empty batch (0 messages) would skip the next pointer.
    if (batch.cursor.processed({ offset: batch.record.offset + 1, messageIndex: 0 }))
      this.#deps.schedule.processed();
  }
}
