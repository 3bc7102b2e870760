import {
  GroupError,
  type GroupErrorCode,
  type GroupProtocol,
  type JoinGroupMember,
  type JoinGroupResult,
  type SyncGroupResult,
} from './group-types.js';

/**
 * One classic group's membership, as Kafka's GroupMetadata/ClassicGroup keeps it: members, static
 * instance ids, member ids handed out with MEMBER_ID_REQUIRED, generation and state. Timers live
 * here as handles only; the coordinator starts and clears them.
 */

export type Timer = ReturnType<typeof setTimeout>;

export interface GroupMember {
  memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  readonly protocolType: string;
  /** In the member's order of preference. */
  protocols: readonly GroupProtocol[];
  assignment: Buffer;
  /** Joined and not yet through a completed join: expires after the new-member join timeout. */
  isNew: boolean;
  awaitingJoin: ((r: JoinGroupResult) => void) | undefined;
  awaitingSync: ((r: SyncGroupResult) => void) | undefined;
  heartbeatTimer: Timer | undefined;
}

/** The first rebalance of an empty group waits `initialRebalanceDelayMs`, again while members keep coming. */
export interface InitialDelay {
  newMemberAdded: boolean;
  remainingMs: number;
}

/** State-specific data: a join timer only while preparing, a protocol only once chosen. */
export type GroupPhase =
  | { readonly state: 'Empty' }
  | {
      readonly state: 'PreparingRebalance';
      timer: Timer;
      /** Set while this is an empty group's first (delayed) rebalance; such a join never completes early. */
      readonly initial: InitialDelay | undefined;
    }
  | {
      readonly state: 'CompletingRebalance' | 'Stable';
      readonly protocolName: string;
      /** Members of this generation that have not sent SyncGroup yet; dropped when `syncTimer` fires. */
      readonly pendingSync: Set<string>;
      syncTimer: Timer | undefined;
    }
  | { readonly state: 'Dead' };

export const EMPTY = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: GroupErrorCode): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: GroupErrorCode): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return (
    a.length === b.length && a.every((p, i) => p.name === b[i]?.name && p.metadata.equals(b[i].metadata))
  );
}

export function invokeJoin(member: GroupMember, result: JoinGroupResult): void {
  const cb = member.awaitingJoin;
  member.awaitingJoin = undefined;
  cb?.(result);
}

export function invokeSync(member: GroupMember, result: SyncGroupResult): void {
  const cb = member.awaitingSync;
  member.awaitingSync = undefined;
  cb?.(result);
}

export class ClassicGroup {
  readonly members = new Map<string, GroupMember>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, with their expiry timers. */
  readonly pendingMembers = new Map<string, Timer>();
  private readonly staticMembers = new Map<string, string>();
  generationId = 0;
  protocolType: string | null = null;
  /** Set whenever the group has members. */
  leaderId: string | undefined;
  phase: GroupPhase = { state: 'Empty' };

  constructor(readonly groupId: string) {}

  get state(): GroupPhase['state'] {
    return this.phase.state;
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  /** The instance id is known and mapped to another member id. */
  isStaticMemberFenced(groupInstanceId: string | null, memberId: string): boolean {
    if (groupInstanceId === null) return false;
    const current = this.staticMembers.get(groupInstanceId);
    return current !== undefined && current !== memberId;
  }

  /** Kafka's validateCurrentMember: the member exists and, if static, owns its instance id. */
  validateMember(memberId: string, groupInstanceId: string | null): GroupErrorCode | undefined {
    if (groupInstanceId !== null) {
      if (!this.staticMembers.has(groupInstanceId)) return GroupError.UNKNOWN_MEMBER_ID;
      if (this.isStaticMemberFenced(groupInstanceId, memberId)) return GroupError.FENCED_INSTANCE_ID;
      return undefined;
    }
    return this.members.has(memberId) ? undefined : GroupError.UNKNOWN_MEMBER_ID;
  }

  add(member: GroupMember): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
    this.members.set(member.memberId, member);
    this.pendingMembers.delete(member.memberId);
  }

  /** Removes a member (its pending callbacks are the caller's business) and moves the leadership on. */
  remove(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.members.delete(memberId);
    if (member.groupInstanceId !== null) this.staticMembers.delete(member.groupInstanceId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value;
    if (this.phase.state === 'CompletingRebalance' || this.phase.state === 'Stable') {
      this.phase.pendingSync.delete(memberId);
    }
    return member;
  }

  /** Gives a static member a new member id; a request still waiting under the old id is fenced. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): GroupMember {
    const member = this.members.get(oldMemberId);
    if (member === undefined)
      throw new Error(`static member ${oldMemberId} of ${groupInstanceId} is missing`);
    invokeJoin(member, joinError(oldMemberId, GroupError.FENCED_INSTANCE_ID));
    invokeSync(member, syncError(GroupError.FENCED_INSTANCE_ID));
    this.members.delete(oldMemberId);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    const phase = this.phase;
    if (
      (phase.state === 'CompletingRebalance' || phase.state === 'Stable') &&
      phase.pendingSync.delete(oldMemberId)
    ) {
      phase.pendingSync.add(newMemberId);
    }
    return member;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  /** Whether a member with these protocols may be in this group (Kafka's supportsProtocols). */
  supportsProtocols(protocolType: string, protocols: readonly GroupProtocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Protocols every current member supports (a rejoining member counts with its old list, as in Kafka). */
  private candidateProtocols(): Set<string> {
    let common: Set<string> | undefined;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      common = common === undefined ? names : new Set([...common].filter((n) => names.has(n)));
    }
    return common ?? new Set();
  }

  /** Each member votes for its most preferred common protocol; most votes wins (ties: first to lead). */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const vote = m.protocols.find((p) => candidates.has(p.name))?.name;
      if (vote !== undefined) votes.set(vote, (votes.get(vote) ?? 0) + 1);
    }
    let best: [string, number] | undefined;
    for (const entry of votes) if (best === undefined || entry[1] > best[1]) best = entry;
    if (best === undefined) throw new Error(`group ${this.groupId} has no protocol common to all members`);
    return best[0];
  }

  /** The longest rebalance timeout of the members: how long a rebalance waits for rejoins. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  awaitingJoinCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin !== undefined) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.awaitingJoinCount() === this.members.size && this.pendingMembers.size === 0;
  }

  /** Keeps the leader if it rejoined, else picks any member that did; false when none did. */
  electJoinedLeader(): boolean {
    const leader = this.leaderId === undefined ? undefined : this.members.get(this.leaderId);
    if (leader === undefined) return false;
    if (leader.awaitingJoin !== undefined) return true;
    for (const m of this.members.values()) {
      if (m.awaitingJoin !== undefined) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** What the leader gets in its JoinGroup response. */
  memberMetadata(protocolName: string): JoinGroupMember[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: metadataFor(m, protocolName),
    }));
  }
}

export function metadataFor(member: GroupMember, protocolName: string): Buffer {
  return member.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY;
}
