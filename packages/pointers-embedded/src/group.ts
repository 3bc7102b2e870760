import {
  type CommitPosition,
  errorMessage,
  GroupRebalanceError,
  InvalidInputError,
  PermanentError,
  type PointerConsumer,
  type PointerRecord,
} from '@barge/core';
import { Notifier } from './notifier.js';
import type { PointerStore, StoredCommit } from './store.js';

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** What a group needs from the queue that hosts it. */
export interface GroupHost {
  readonly store: PointerStore;
  /** Notified after every publish to `topic`. */
  topicNotifier(topic: string): Notifier;
  /** Throws if the queue is closed. */
  assertOpen(): void;
  readonly log: LogFn;
}

/**
 * The assignment strategy: members sorted by id (UTF-16 order), partitions split into
 * contiguous ranges, the first `partitions % members` members getting one extra (Kafka's
 * RangeAssignor for one topic). Deterministic: the same members always get the same ranges.
 */
export function assignRange(memberIds: readonly string[], partitions: number): Map<string, number[]> {
  const sorted = [...memberIds].sort();
  const out = new Map<string, number[]>();
  if (sorted.length === 0) return out;
  const base = Math.floor(partitions / sorted.length);
  const extra = partitions % sorted.length;
  let next = 0;
  sorted.forEach((id, i) => {
    const n = base + (i < extra ? 1 : 0);
    out.set(
      id,
      Array.from({ length: n }, (_, k) => next + k),
    );
    next += n;
  });
  return out;
}

const ASSIGN = Symbol('assign');
const SHUTDOWN = Symbol('shutdown');

export interface GroupMemberInfo {
  memberId: string;
  clientId: string;
  partitions: readonly number[];
}

/**
 * One consumer group on one topic, coordinated in this process. Every join and every leave
 * is a rebalance: the generation goes up by one and partitions are reassigned with
 * `assignRange`. Members live until closed (see `EmbeddedPointerQueue` on session timeouts).
 */
export class ConsumerGroup {
  #generation = 0;
  #nextMember = 0;
  readonly #members = new Map<string, EmbeddedConsumer>();

  constructor(
    readonly group: string,
    readonly topic: string,
    readonly partitions: number,
    private readonly host: GroupHost,
  ) {}

  /** Increases by one at every join and leave. 0 before the first member joined. */
  get generation(): number {
    return this.#generation;
  }

  members(): GroupMemberInfo[] {
    return [...this.#members.values()]
      .map((m) => ({ memberId: m.memberId, clientId: m.clientId, partitions: m.assignment() }))
      .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  }

  join(options: {
    clientId: string;
    fromBeginning: boolean;
    sessionTimeoutMs: number | undefined;
  }): EmbeddedConsumer {
    const seq = ++this.#nextMember;
    const memberId = `${options.clientId}-${String(seq).padStart(8, '0')}`;
    const member = new EmbeddedConsumer(this, this.host, memberId, options);
    this.#members.set(memberId, member);
    this.#rebalance(`${memberId} joined`);
    return member;
  }

  /** Called by a member's close(). */
  leave(member: EmbeddedConsumer): void {
    if (this.#members.delete(member.memberId)) this.#rebalance(`${member.memberId} left`);
  }

  /** Closes every member without rebalancing (the queue is closing). */
  shutdown(): void {
    for (const m of this.#members.values()) m[SHUTDOWN]();
    this.#members.clear();
  }

  #rebalance(reason: string): void {
    this.#generation += 1;
    const plan = assignRange([...this.#members.keys()], this.partitions);
    for (const [id, member] of this.#members) member[ASSIGN](plan.get(id) ?? [], this.#generation);
    this.host.log('info', 'embedded pointer queue: group rebalanced', {
      group: this.group,
      topic: this.topic,
      generation: this.#generation,
      reason,
      members: this.#members.size,
    });
  }
}

const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_POLL_TIMEOUT_MS = 1000;

/** One member of a `ConsumerGroup`. Made by `EmbeddedPointerQueue.subscribe`. */
export class EmbeddedConsumer implements PointerConsumer {
  readonly group: string;
  readonly topic: string;
  readonly clientId: string;
  readonly fromBeginning: boolean;
  /** Accepted for the contract; in-process members stay until closed (see the README). */
  readonly sessionTimeoutMs: number | undefined;
  #assigned: readonly number[] = Object.freeze([]);
  #owned = new Set<number>();
  /** Next offset to read per assigned partition; undefined = resolve at the next read. */
  #positions = new Map<number, number | undefined>();
  #generation = 0;
  #cursor = 0;
  #closed = false;
  #listeners: ((partitions: readonly number[]) => void)[] = [];
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
    for (;;) {
      if (this.#closed) return [];
      this.host.assertOpen();
      const records = this.#read(maxRecords);
      if (records.length > 0) return records;
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
    if (items.length > 0) this.host.store.commit(this.group, this.topic, items);
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clear();
    this.coordinator.leave(this);
  }

  [SHUTDOWN](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clear();
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
    const parts = this.#assigned;
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
