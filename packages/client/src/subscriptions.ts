import { InvalidInputError, type PointerConsumer } from '@barge/core';
import type { DedupTracker } from './dedup.js';
import { PartitionCursor, type Position, scopeOf } from './partition-cursor.js';

export interface Subscription {
  readonly topic: string;
  readonly fromBeginning: boolean;
  /** The group's pointer consumer for the topic, from the first `run` or iteration until `disconnect`. */
  pc: PointerConsumer | undefined;
  /** The partitions last assigned; undefined before the first assignment. */
  assignment: readonly number[] | undefined;
}

/**
 * The topics a consumer subscribed to and the partitions it owns in them, one cursor each. Moving
 * a partition elsewhere moves the pointer consumer and the cursor together and makes dedup forget
 * what was delivered from the partition.
 */
export class Subscriptions {
  readonly #list: Subscription[] = [];
  readonly #cursors = new Map<string, PartitionCursor>();
  readonly #dedup: DedupTracker | undefined;

  constructor(dedup: DedupTracker | undefined) {
    this.#dedup = dedup;
  }

  get list(): readonly Subscription[] {
    return this.#list;
  }

  add(topic: string, fromBeginning: boolean): void {
    if (!this.#list.some((s) => s.topic === topic))
      this.#list.push({ topic, fromBeginning, pc: undefined, assignment: undefined });
  }

  find(topic: string): Subscription | undefined {
    return this.#list.find((s) => s.topic === topic);
  }

  /** The subscription of `topic`; throws when there is none. */
  get(topic: string): Subscription {
    const sub = this.find(topic);
    if (!sub) throw new InvalidInputError(`not subscribed to topic ${topic}`);
    return sub;
  }

  /** The cursor of a partition, created on first use. */
  cursor(topic: string, partition: number): PartitionCursor {
    const scope = scopeOf(topic, partition);
    let c = this.#cursors.get(scope);
    if (!c) {
      c = new PartitionCursor(topic, partition);
      this.#cursors.set(scope, c);
    }
    return c;
  }

  /** The cursor of a partition if it has one. */
  existingCursor(topic: string, partition: number): PartitionCursor | undefined {
    return this.#cursors.get(scopeOf(topic, partition));
  }

  cursors(): IterableIterator<PartitionCursor> {
    return this.#cursors.values();
  }

  /**
   * The group assigned `partitions` of the subscription's topic: cursors of the others are
   * revoked. Returns the previous assignment (undefined at the first).
   */
  assigned(sub: Subscription, partitions: readonly number[]): readonly number[] | undefined {
    const previous = sub.assignment;
    sub.assignment = [...partitions];
    const owned = new Set(partitions);
    for (const c of [...this.#cursors.values()]) {
      if (c.topic !== sub.topic || owned.has(c.partition)) continue;
      c.revoked();
      this.#dedup?.forget(c.scope);
      this.#cursors.delete(c.scope);
    }
    for (const p of partitions) this.cursor(sub.topic, p);
    return previous;
  }

  /**
   * The partitions' revoke phase ended (what was processed is committed): their cursors go.
   * Should the group give one back, it starts afresh at the committed position.
   */
  released(sub: Subscription, partitions: readonly number[]): void {
    for (const p of partitions) {
      const c = this.#cursors.get(scopeOf(sub.topic, p));
      if (!c) continue;
      c.revoked();
      this.#dedup?.forget(c.scope);
      this.#cursors.delete(c.scope);
    }
  }

  /** The application moves a partition to `to` (see `PartitionCursor.seeked`). */
  seek(sub: Subscription, cursor: PartitionCursor, to: Position, minTimestamp?: number): void {
    this.#restart(sub, cursor, to, () => cursor.seeked(to, minTimestamp));
  }

  /** A partition with nothing committed starts at `to` (see `PartitionCursor.startedAt`). */
  startAt(sub: Subscription, cursor: PartitionCursor, to: Position, minTimestamp: number): void {
    this.#restart(sub, cursor, to, () => cursor.startedAt(to, minTimestamp));
  }

  /** Every owned partition with claimed but unprocessed work reads it again from its processed position. */
  rewindUnprocessed(): void {
    for (const sub of this.#list) {
      if (!sub.pc) continue;
      const owned = new Set(sub.pc.assignment());
      for (const c of this.#cursors.values()) {
        if (c.topic !== sub.topic || !owned.has(c.partition)) continue;
        const from = c.unprocessedFrom;
        if (from !== undefined) this.#restart(sub, c, from, () => c.rewound());
      }
    }
  }

  /** Leaves the groups and drops every cursor. */
  async close(): Promise<void> {
    for (const sub of this.#list) {
      const pc = sub.pc;
      sub.pc = undefined;
      sub.assignment = undefined;
      if (pc) await pc.close().catch(() => {});
    }
    for (const c of this.#cursors.values()) c.revoked();
    this.#cursors.clear();
  }

  #restart(sub: Subscription, cursor: PartitionCursor, to: Position, transition: () => void): void {
    sub.pc!.seek(cursor.partition, to.offset);
    transition();
    this.#dedup?.forget(cursor.scope);
  }
}
