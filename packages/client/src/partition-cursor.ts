import type { BatchPointer } from '@barge/core';

/** A place in a read partition: the pointer at `offset`, the message at `messageIndex` of its batch. */
export interface Position {
  readonly offset: number;
  readonly messageIndex: number;
}

export function comparePositions(a: Position, b: Position): number {
  return a.offset - b.offset || a.messageIndex - b.messageIndex;
}

/** What a fetched pointer's batch is delivered from, handed out under the cursor's current generation. */
export interface Claim {
  readonly generation: number;
  /** First message of the batch to deliver (resuming mid-batch). */
  readonly fromIndex: number;
  /** Skip messages older than this (seek by time). */
  readonly minTimestamp: number | undefined;
}

/**
 * Where this member is in one (topic, read partition): what was fetched, processed and committed.
 * It changes only through the named transitions below. Every restart (seek, rewind) and the
 * revocation start a new generation: work claimed under an older one is stale.
 */
export class PartitionCursor {
  readonly topic: string;
  readonly partition: number;
  /** Names the partition in the dedup tracker. */
  readonly scope: string;
  #generation = 0;
  /** Whether the starting position is known: looked up in the group, or set by a seek. */
  #started = false;
  /** Next message to process; undefined until something was processed or sought. */
  #processed: Position | undefined;
  /** Last position committed by this member. */
  #committed: Position | undefined;
  /** Skip messages before this index in the batch at this offset (resuming mid-batch). */
  #skip: Position | undefined;
  /** Skip messages older than this (seek by time), until a batch starts at or after it. */
  #minTimestamp: number | undefined;
  /** Highest pointer offset claimed (to know when a rewind is needed). */
  #fetchedUpTo = -1;
  /** Where the first batch claimed since the last (re)start began. */
  #firstClaimed: Position | undefined;
  /** In the group's revoke phase: nothing more is delivered from this partition. */
  #draining = false;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
    this.scope = scopeOf(topic, partition);
  }

  get started(): boolean {
    return this.#started;
  }

  /** Whether the partition is being revoked (see `draining()`). */
  get isDraining(): boolean {
    return this.#draining;
  }

  /** Starts anew at every restart and at the revocation. */
  get generation(): number {
    return this.#generation;
  }

  /** Work claimed under `generation` is still wanted. */
  isCurrent(generation: number): boolean {
    return generation === this.#generation;
  }

  /**
   * The next message to process: past what was processed, sought, or resumed from the group's
   * commit. Undefined before any of these happened.
   */
  get position(): Position | undefined {
    return this.#processed;
  }

  /** The processed position when it differs from the last one committed. */
  get uncommitted(): Position | undefined {
    const p = this.#processed;
    if (p === undefined || (this.#committed !== undefined && comparePositions(p, this.#committed) === 0)) {
      return undefined;
    }
    return p;
  }

  /** Where reading must restart so that claimed but unprocessed work is handed out again. */
  get unprocessedFrom(): Position | undefined {
    if (this.#fetchedUpTo < 0) return undefined;
    const from = this.#processed ?? this.#firstClaimed;
    return from !== undefined && this.#fetchedUpTo >= from.offset ? from : undefined;
  }

  /**
   * The group's committed position was looked up: start there (mid-batch when it says so), or,
   * with nothing committed, where the pointer consumer starts.
   */
  resumed(committed: Position | undefined): void {
    this.#started = true;
    if (committed === undefined) return;
    this.#committed = committed;
    this.#processed ??= committed;
    this.#skip = committed.messageIndex > 0 ? committed : undefined;
  }

  /**
   * A pointer was fetched. Returns how to deliver its batch, or undefined when the pointer is not
   * to be delivered: the start is not known yet, or it is stale (from before a restart, already
   * claimed, or before the processed position).
   */
  fetched(record: {
    readonly offset: number;
    readonly pointer: Pick<BatchPointer, 'firstTimestamp'>;
  }): Claim | undefined {
    if (!this.#started || record.offset <= this.#fetchedUpTo) return undefined;
    if (this.#processed !== undefined && record.offset < this.#processed.offset) return undefined;
    let fromIndex = 0;
    if (this.#skip !== undefined) {
      if (record.offset === this.#skip.offset) fromIndex = this.#skip.messageIndex;
      if (record.offset >= this.#skip.offset) this.#skip = undefined;
    }
    this.#fetchedUpTo = record.offset;
    this.#firstClaimed ??= { offset: record.offset, messageIndex: fromIndex };
    const claim = { generation: this.#generation, fromIndex, minTimestamp: this.#minTimestamp };
    if (this.#minTimestamp !== undefined && record.pointer.firstTimestamp >= this.#minTimestamp) {
      this.#minTimestamp = undefined;
    }
    return claim;
  }

  /**
   * Everything before `next` was processed. The position only moves forward; with `batchSize`
   * (the message count of the batch at `next.offset`), a position past the batch's last message
   * becomes the start of the following batch. Returns whether the position moved.
   */
  processed(next: Position, batchSize?: number): boolean {
    const p =
      batchSize !== undefined && next.messageIndex >= batchSize
        ? { offset: next.offset + 1, messageIndex: 0 }
        : next;
    if (this.#processed !== undefined && comparePositions(p, this.#processed) <= 0) return false;
    this.#processed = p;
    return true;
  }

  /** `at` was committed for this partition. */
  committed(at: Position): void {
    this.#committed = at;
  }

  /**
   * The application moved the partition to `to`, which counts as processed up to there. Seeking
   * by time also skips messages older than `minTimestamp`.
   */
  seeked(to: Position, minTimestamp?: number): void {
    this.#restart(to);
    this.#minTimestamp = minTimestamp;
    this.#processed = to;
  }

  /** A partition with nothing committed starts at `to` (`fromTime`), skipping messages older than `minTimestamp`. */
  startedAt(to: Position, minTimestamp: number): void {
    this.#restart(to);
    this.#minTimestamp = minTimestamp;
    this.#processed = undefined;
  }

  /** Claimed but unprocessed work is dropped: reading restarts at `unprocessedFrom`. */
  rewound(): void {
    const from = this.unprocessedFrom;
    if (from !== undefined) this.#restart(from);
  }

  /**
   * The group's revoke phase began: the delivery in progress may finish (and count as
   * processed), nothing after it is delivered; what was processed is committed next.
   */
  draining(): void {
    this.#draining = true;
  }

  /** The partition is no longer this member's: all claimed work is stale. */
  revoked(): void {
    this.#generation++;
  }

  #restart(at: Position): void {
    this.#generation++;
    this.#started = true;
    this.#skip = at.messageIndex > 0 ? at : undefined;
    this.#fetchedUpTo = at.offset - 1;
    this.#firstClaimed = undefined;
  }
}

export function scopeOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
