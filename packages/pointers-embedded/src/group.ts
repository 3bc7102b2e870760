import type { GroupHost } from './group-host.js';
import { ASSIGN, EmbeddedConsumer, REVOKE, SHUTDOWN } from './group-member.js';

export type { GroupHost, LogFn } from './group-host.js';

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

export interface GroupMemberInfo {
  memberId: string;
  clientId: string;
  partitions: readonly number[];
}

/**
 * One consumer group on one topic, coordinated in this process. Joins and leaves cause a
 * rebalance: first the revoke phase (every member losing partitions under the new
 * `assignRange` plan gives them up, committing what it processed; see `onRevoke`), then the
 * generation goes up by one and the plan is applied. Joins and leaves during a rebalance are
 * folded into it. Members live until closed (see `EmbeddedPointerQueue` on session timeouts).
 */
export class ConsumerGroup {
  #generation = 0;
  #nextMember = 0;
  readonly #members = new Map<string, EmbeddedConsumer>();
  /** Why a rebalance is due: joins and leaves not yet applied. */
  #pending: string[] = [];
  #rebalancing: Promise<void> | undefined;

  constructor(
    readonly group: string,
    readonly topic: string,
    readonly partitions: number,
    private readonly host: GroupHost,
  ) {}

  /** Increases by one at every rebalance (joins and leaves during one count once). 0 before the first member joined. */
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
    this.#requestRebalance(`${memberId} joined`);
    return member;
  }

  /** Called by a member's close(). */
  leave(member: EmbeddedConsumer): void {
    if (this.#members.delete(member.memberId)) this.#requestRebalance(`${member.memberId} left`);
  }

  /** Resolves when no rebalance is due or running. */
  async settled(): Promise<void> {
    while (this.#rebalancing) await this.#rebalancing;
  }

  /** Closes every member without rebalancing (the queue is closing). */
  shutdown(): void {
    for (const m of this.#members.values()) m[SHUTDOWN]();
    this.#members.clear();
  }

  #requestRebalance(reason: string): void {
    this.#pending.push(reason);
    this.#rebalancing ??= this.#rebalance().finally(() => {
      this.#rebalancing = undefined;
    });
  }

  async #rebalance(): Promise<void> {
    while (this.#pending.length > 0) {
      const reasons: string[] = [];
      // The revoke phase, again while members come and go during it: afterwards, no member owns
      // a partition the plan gives to another.
      while (this.#pending.length > 0) {
        reasons.push(...this.#pending.splice(0));
        const plan = assignRange([...this.#members.keys()], this.partitions);
        await Promise.all([...this.#members].map(([id, m]) => m[REVOKE](plan.get(id) ?? [])));
      }
      this.#generation += 1;
      const plan = assignRange([...this.#members.keys()], this.partitions);
      for (const [id, member] of this.#members) member[ASSIGN](plan.get(id) ?? [], this.#generation);
      this.host.log('info', 'embedded pointer queue: group rebalanced', {
        group: this.group,
        topic: this.topic,
        generation: this.#generation,
        reason: reasons.join(', '),
        members: this.#members.size,
      });
    }
  }
}
