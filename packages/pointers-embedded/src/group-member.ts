import {
  type CommitPosition,
  errorMessage,
  GroupRebalanceError,
  InvalidInputError,
  PermanentError,
  type PointerConsumer,
  type PointerRecord,
  type RevokeListener,
} from '@barge/core';
import type { ConsumerGroup } from './group.js';
import type { GroupHost } from './group-host.js';
import { Notifier } from './notifier.js';
import type { StoredCommit } from './store.js';

/** What a `ConsumerGroup` calls on its members, out of reach of `PointerConsumer` users. */
export const ASSIGN = Symbol('assign');
export const REVOKE = Symbol('revoke');
export const SHUTDOWN = Symbol('shutdown');
/** How long a revoke phase waits for a member without a session timeout. */
export const DEFAULT_REVOKE_TIMEOUT_MS = 30_000;

const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_POLL_TIMEOUT_MS = 1000;

/** One member of a `ConsumerGroup`. Made by `EmbeddedPointerQueue.subscribe`. */
export class EmbeddedConsumer implements PointerConsumer {
  readonly group: string;
  readonly topic: string;
  readonly clientId: string;
  readonly fromBeginning: boolean;
  /** In-process members stay until closed (see the README); this bounds their revoke phase. */
  readonly sessionTimeoutMs: number | undefined;
  #assigned: readonly number[] = Object.freeze([]);
  #owned = new Set<number>();
  /** Next offset to read per assigned partition; undefined = resolve at the next read. */
  #positions = new Map<number, number | undefined>();
  #generation = 0;
  #cursor = 0;
  #closed = false;
  #listeners: ((partitions: readonly number[]) => void)[] = [];
  #revokeListeners: RevokeListener[] = [];
  #revoking: readonly number[] = Object.freeze([]);
  /** Resolved at close: ends a revoke phase waiting for this member. */
  #closedSignal: () => void = () => {};
  readonly #closedPromise = new Promise<'closed'>((resolve) => {
    this.#closedSignal = () => resolve('closed');
  });
  readonly #wake = new Notifier();

  constructor(
    private readonly coordinator: ConsumerGroup,
    private readonly host: GroupHost,
    readonly memberId: string,
    options: { clientId: string; fromBeginning: boolean; sessionTimeoutMs: number | undefined },
  ) {
    this.group = coordinator.group;
    this.topic = coordinator.topic;
    this.clientId = options.clientId;
    this.fromBeginning = options.fromBeginning;
    this.sessionTimeoutMs = options.sessionTimeoutMs;
  }

  /** The group generation of this member's current assignment. */
  get generation(): number {
    return this.#generation;
  }

  get closed(): boolean {
    return this.#closed;
  }

  assignment(): readonly number[] {
    return this.#assigned;
  }

  onAssignment(listener: (partitions: readonly number[]) => void): void {
    if (typeof listener !== 'function') throw new InvalidInputError('onAssignment needs a function');
    this.#listeners.push(listener);
  }

  onRevoke(listener: RevokeListener): void {
    if (typeof listener !== 'function') throw new InvalidInputError('onRevoke needs a function');
    this.#revokeListeners.push(listener);
  }

  revoking(): readonly number[] {
    return this.#revoking;
  }

  async poll(options: { maxRecords?: number; timeoutMs?: number } = {}): Promise<PointerRecord[]> {
    const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    const timeoutMs = options.timeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new InvalidInputError(`poll maxRecords must be a positive integer, got ${maxRecords}`);
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      throw new InvalidInputError(`poll timeoutMs must be a number >= 0, got ${timeoutMs}`);
    }
    if (this.#closed) throw new PermanentError(`${this.#who()} is closed; subscribe again`);
    const deadline = Date.now() + timeoutMs;
    const revokingAtStart = this.#revoking;
    for (;;) {
      if (this.#closed) return [];
      this.host.assertOpen();
      const records = this.#read(maxRecords);
      // A revoke phase that starts ends the wait, so the member hears of it at once.
      if (records.length > 0 || this.#revoking !== revokingAtStart) return records;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return [];
      await Notifier.waitAny([this.host.topicNotifier(this.topic), this.#wake], remaining);
    }
  }

  async commit(positions: readonly CommitPosition[]): Promise<void> {
    if (this.#closed) {
      throw new GroupRebalanceError(
        `${this.#who()} has left the group and owns no partitions; subscribe again`,
      );
    }
    this.host.assertOpen();
    if (!Array.isArray(positions)) throw new InvalidInputError('commit needs an array of positions');
    const items: StoredCommit[] = [];
    for (const pos of positions) {
      const partition = this.#checkPartition(pos?.partition, 'commit');
      if (!this.#owned.has(partition)) {
        throw new GroupRebalanceError(
          `partition ${partition} of topic ${this.topic} is not assigned to ${this.#who()} (generation ${this.#generation}, assigned [${this.#assigned.join(', ')}]); poll again for the new assignment`,
        );
      }
      const { offset, messageIndex } = pos;
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new InvalidInputError(
          `commit offset of partition ${partition} must be an integer >= 0, got ${offset}`,
        );
      }
      if (messageIndex !== undefined && (!Number.isSafeInteger(messageIndex) || messageIndex < 0)) {
        throw new InvalidInputError(
          `commit messageIndex of partition ${partition} must be an integer >= 0, got ${messageIndex}`,
        );
      }
      const { high } = this.host.store.watermarks(this.topic, partition);
      if (offset > high) {
        throw new InvalidInputError(
          `commit offset ${offset} of partition ${partition} is past the end of topic ${this.topic} (high watermark ${high})`,
        );
      }
      items.push({
        partition,
        offset,
        ...(messageIndex === undefined ? {} : { messageIndex }),
        metadata: JSON.stringify({
          memberId: this.memberId,
          clientId: this.clientId,
          generation: this.#generation,
        }),
      });
    }
    if (items.length > 0) {
      this.host.store.commit(this.group, this.topic, items);
      await this.host.durable();
    }
  }

  async committed(partitions: readonly number[]): Promise<(CommitPosition | undefined)[]> {
    this.host.assertOpen();
    if (!Array.isArray(partitions)) throw new InvalidInputError('committed needs an array of partitions');
    const checked = partitions.map((p) => this.#checkPartition(p, 'committed'));
    return checked.map((p) => {
      const c = this.host.store.committed(this.group, this.topic, p);
      if (!c) return undefined;
      return c.messageIndex === undefined
        ? { partition: p, offset: c.offset }
        : { partition: p, offset: c.offset, messageIndex: c.messageIndex };
    });
  }

  seek(partition: number, offset: number): void {
    if (this.#closed) throw new GroupRebalanceError(`${this.#who()} has left the group; cannot seek`);
    const p = this.#checkPartition(partition, 'seek');
    if (!this.#owned.has(p)) {
      throw new GroupRebalanceError(
        `cannot seek partition ${p} of topic ${this.topic}: not assigned to ${this.#who()} (assigned [${this.#assigned.join(', ')}])`,
      );
    }
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidInputError(`seek offset must be an integer >= 0, got ${offset}`);
    }
    this.#positions.set(p, offset);
    this.#wake.notify();
  }

  /** Leaves the group; resolves once the group rebalanced without this member. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clear();
    this.coordinator.leave(this);
    await this.coordinator.settled();
  }

  [SHUTDOWN](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clear();
  }

  /**
   * The revoke phase for this member: gives up every partition not in `keep`, after the revoke
   * listeners committed (or the session timeout passed, or the member closed).
   */
  async [REVOKE](keep: readonly number[]): Promise<void> {
    const kept = new Set(keep);
    const lost = this.#assigned.filter((p) => !kept.has(p));
    if (lost.length === 0 || this.#closed) return;
    this.#revoking = Object.freeze(lost);
    this.#wake.notify();
    try {
      await this.#runRevokeListeners(lost);
    } finally {
      this.#revoking = Object.freeze([]);
      if (!this.#closed) {
        this.#assigned = Object.freeze(this.#assigned.filter((p) => kept.has(p)));
        this.#owned = new Set(this.#assigned);
        for (const p of lost) this.#positions.delete(p);
      }
    }
  }

  async #runRevokeListeners(lost: readonly number[]): Promise<void> {
    if (this.#revokeListeners.length === 0) return;
    const timeoutMs = this.sessionTimeoutMs ?? DEFAULT_REVOKE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const listeners = Promise.allSettled(this.#revokeListeners.map(async (l) => l(lost))).then((results) => {
      for (const r of results) {
        if (r.status === 'rejected') {
          this.host.log('error', 'embedded pointer queue: onRevoke listener threw', {
            group: this.group,
            topic: this.topic,
            memberId: this.memberId,
            error: errorMessage(r.reason),
          });
        }
      }
      return 'settled' as const;
    });
    try {
      const end = await Promise.race([listeners, timedOut, this.#closedPromise]);
      if (end === 'timeout') {
        this.host.log('warn', 'embedded pointer queue: revoke timed out; the partitions move on', {
          group: this.group,
          topic: this.topic,
          memberId: this.memberId,
          partitions: lost,
          timeoutMs,
        });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  [ASSIGN](partitions: readonly number[], generation: number): void {
    const next = new Map<number, number | undefined>();
    for (const p of partitions) {
      // Partitions kept across the rebalance keep their read position; new ones start at the
      // group's committed position (or earliest / latest), resolved now so `latest` means
      // "the end when this member got the partition".
      next.set(p, this.#positions.has(p) ? this.#positions.get(p) : this.#tryStart(p));
    }
    this.#positions = next;
    this.#assigned = Object.freeze([...partitions]);
    this.#owned = new Set(partitions);
    this.#generation = generation;
    this.#wake.notify();
    const snapshot = this.#assigned;
    queueMicrotask(() => {
      if (this.#closed) return;
      for (const listener of [...this.#listeners]) {
        try {
          listener(snapshot);
        } catch (e) {
          this.host.log('error', 'embedded pointer queue: onAssignment listener threw', {
            group: this.group,
            topic: this.topic,
            memberId: this.memberId,
            error: errorMessage(e),
          });
        }
      }
    });
  }

  #clear(): void {
    this.#assigned = Object.freeze([]);
    this.#owned = new Set();
    this.#positions = new Map();
    this.#listeners = [];
    this.#revokeListeners = [];
    this.#revoking = Object.freeze([]);
    this.#closedSignal();
    this.#wake.notify();
  }

  #who(): string {
    return `member ${this.memberId} of group ${this.group}`;
  }

  #checkPartition(partition: unknown, op: string): number {
    if (!Number.isSafeInteger(partition) || (partition as number) < 0) {
      throw new InvalidInputError(`${op}: partition must be an integer >= 0, got ${String(partition)}`);
    }
    const p = partition as number;
    if (p >= this.coordinator.partitions) {
      throw new InvalidInputError(
        `${op}: topic ${this.topic} has ${this.coordinator.partitions} partitions, there is no partition ${p}`,
      );
    }
    return p;
  }

  #start(partition: number): number {
    const { low, high } = this.host.store.watermarks(this.topic, partition);
    const c = this.host.store.committed(this.group, this.topic, partition);
    if (c) return Math.min(Math.max(c.offset, low), high);
    return this.fromBeginning ? low : high;
  }

  #tryStart(partition: number): number | undefined {
    try {
      return this.#start(partition);
    } catch (e) {
      this.host.log(
        'warn',
        'embedded pointer queue: cannot resolve start position yet; retrying at the next poll',
        {
          group: this.group,
          topic: this.topic,
          partition,
          error: errorMessage(e),
        },
      );
      return undefined;
    }
  }

  /** Reads up to `max` records, rotating the first partition between calls for fairness. */
  #read(max: number): PointerRecord[] {
    const revoking = this.#revoking;
    const parts =
      revoking.length === 0 ? this.#assigned : this.#assigned.filter((p) => !revoking.includes(p));
    if (parts.length === 0) return [];
    const first = this.#cursor % parts.length;
    this.#cursor = (first + 1) % parts.length;
    const out: PointerRecord[] = [];
    for (let i = 0; i < parts.length && out.length < max; i++) {
      const p = parts[(first + i) % parts.length]!;
      let pos = this.#positions.get(p);
      if (pos === undefined) {
        pos = this.#start(p);
        this.#positions.set(p, pos);
      }
      const records = this.host.store.read(this.topic, p, pos, max - out.length);
      if (records.length > 0) {
        out.push(...records);
        this.#positions.set(p, records[records.length - 1]!.offset + 1);
      }
    }
    return out;
  }
}
