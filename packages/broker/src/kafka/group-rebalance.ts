import {
  type ClassicGroup,
  type GroupMember,
  type GroupPhase,
  invokeJoin,
  invokeSync,
  joinError,
  syncError,
  type Timer,
} from './group-model.js';
import { GroupError, type GroupErrorCode, type JoinGroupResult } from './group-types.js';

/**
 * The timed half of Kafka's classic group state machine: rebalances (the delayed join and its
 * completion), session expiry, the pending-sync expiry and member removal. The coordinator
 * validates requests and calls in here; every timer it starts is unref'd and cleared on the
 * state change that makes it moot.
 */
export class GroupRebalancer {
  constructor(
    private readonly initialRebalanceDelayMs: number,
    private readonly newMemberJoinTimeoutMs: number,
  ) {}

  /** Starts a rebalance unless one is under way (Kafka's maybePrepareRebalance). */
  maybePrepareRebalance(group: ClassicGroup): void {
    const s = group.state;
    if (s === 'Stable' || s === 'CompletingRebalance' || s === 'Empty') this.prepareRebalance(group);
  }

  prepareRebalance(group: ClassicGroup): void {
    const phase = group.phase;
    // Members waiting for their assignment must rejoin instead.
    if (phase.state === 'CompletingRebalance')
      this.propagateAssignment(group, GroupError.REBALANCE_IN_PROGRESS);
    if (phase.state === 'Empty') {
      const delay = this.initialRebalanceDelayMs;
      const initial = {
        newMemberAdded: false,
        remainingMs: Math.max(group.rebalanceTimeoutMs() - delay, 0),
      };
      this.setPhase(group, {
        state: 'PreparingRebalance',
        initial,
        timer: timer(delay, () => this.onInitialDelay(group, initial)),
      });
      return;
    }
    this.setPhase(group, this.delayedJoin(group));
    this.tryCompleteJoin(group);
  }

  /** A join waiting up to the rebalance timeout; it completes early once every member has rejoined. */
  private delayedJoin(group: ClassicGroup): GroupPhase {
    return {
      state: 'PreparingRebalance',
      initial: undefined,
      timer: timer(group.rebalanceTimeoutMs(), () => this.completeJoin(group)),
    };
  }

  private onInitialDelay(
    group: ClassicGroup,
    initial: { newMemberAdded: boolean; remainingMs: number },
  ): void {
    const phase = group.phase;
    if (phase.state !== 'PreparingRebalance' || phase.initial !== initial) return;
    if (initial.newMemberAdded && initial.remainingMs > 0) {
      const delay = Math.min(this.initialRebalanceDelayMs, initial.remainingMs);
      initial.newMemberAdded = false;
      initial.remainingMs -= delay;
      phase.timer = timer(delay, () => this.onInitialDelay(group, initial));
      return;
    }
    this.completeJoin(group);
  }

  /** Completes the join if every member rejoined (never early for an empty group's delayed first join). */
  tryCompleteJoin(group: ClassicGroup): void {
    const phase = group.phase;
    if (phase.state !== 'PreparingRebalance' || phase.initial !== undefined) return;
    if (group.hasAllMembersJoined()) this.completeJoin(group);
  }

  /** Kafka's onCompleteJoin: drops dynamic members that did not rejoin and starts the next generation. */
  private completeJoin(group: ClassicGroup): void {
    if (group.phase.state !== 'PreparingRebalance') return;
    const gone = [...group.members.values()].filter(
      (m) => m.awaitingJoin === undefined && m.groupInstanceId === null,
    );
    for (const m of gone) this.dropMember(group, m);
    if (!group.electJoinedLeader() && group.members.size > 0) {
      // Only static members that did not rejoin are left: wait for them (or their session expiry) again.
      this.setPhase(group, this.delayedJoin(group));
      return;
    }
    group.generationId++;
    if (group.members.size === 0) {
      this.setPhase(group, { state: 'Empty' });
      return;
    }
    const protocolName = group.selectProtocol();
    const generationId = group.generationId;
    const pendingSync = new Set(group.members.keys());
    this.setPhase(group, {
      state: 'CompletingRebalance',
      protocolName,
      pendingSync,
      syncTimer: timer(group.rebalanceTimeoutMs(), () => this.onSyncExpired(group, generationId)),
    });
    const leader = group.leaderId ?? '';
    const all = group.memberMetadata(protocolName);
    for (const m of group.members.values()) {
      invokeJoin(m, {
        errorCode: GroupError.NONE,
        generationId,
        protocolType: group.protocolType,
        protocolName,
        leader,
        skipAssignment: false,
        memberId: m.memberId,
        members: m.memberId === leader ? all : [],
      });
      this.scheduleHeartbeat(group, m);
      m.isNew = false;
    }
  }

  /** The JoinGroup answer for a member of the current generation that rejoined without changes. */
  currentGeneration(group: ClassicGroup, member: GroupMember): JoinGroupResult {
    const phase = group.phase;
    if (phase.state !== 'CompletingRebalance' && phase.state !== 'Stable') {
      throw new Error(`group ${group.groupId} has no current generation in state ${phase.state}`);
    }
    const leader = group.leaderId ?? '';
    return {
      errorCode: GroupError.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: phase.protocolName,
      leader,
      skipAssignment: false,
      memberId: member.memberId,
      members: member.memberId === leader ? group.memberMetadata(phase.protocolName) : [],
    };
  }

  /**
   * The leader's SyncGroup: every member gets its assignment (empty when the leader left it out)
   * and the group becomes Stable.
   */
  completeSync(group: ClassicGroup, assignments: ReadonlyMap<string, Buffer>): void {
    const phase = group.phase;
    if (phase.state !== 'CompletingRebalance') return;
    for (const m of group.members.values()) m.assignment = assignments.get(m.memberId) ?? Buffer.alloc(0);
    this.propagateAssignment(group, GroupError.NONE);
    group.phase = { ...phase, state: 'Stable' };
  }

  /** Answers every waiting SyncGroup; on error the assignments are cleared (Kafka's reset-and-propagate). */
  private propagateAssignment(group: ClassicGroup, errorCode: GroupErrorCode): void {
    const phase = group.phase;
    if (phase.state !== 'CompletingRebalance') return;
    for (const m of group.members.values()) {
      if (errorCode !== GroupError.NONE) m.assignment = Buffer.alloc(0);
      if (m.awaitingSync === undefined) continue;
      invokeSync(
        m,
        errorCode === GroupError.NONE
          ? {
              errorCode,
              protocolType: group.protocolType,
              protocolName: phase.protocolName,
              assignment: m.assignment,
            }
          : syncError(errorCode),
      );
      // A session that ran out while the member waited was ignored: it restarts now.
      this.scheduleHeartbeat(group, m);
    }
  }

  /** The member has sent SyncGroup for this generation. */
  syncReceived(group: ClassicGroup, memberId: string): void {
    const phase = group.phase;
    if (phase.state !== 'CompletingRebalance' && phase.state !== 'Stable') return;
    phase.pendingSync.delete(memberId);
    if (phase.pendingSync.size === 0) {
      clearTimeout(phase.syncTimer);
      phase.syncTimer = undefined;
    }
  }

  /** Members that got their JoinGroup answer but never sent SyncGroup within the rebalance timeout leave. */
  private onSyncExpired(group: ClassicGroup, generationId: number): void {
    const phase = group.phase;
    if (generationId !== group.generationId) return;
    if (phase.state !== 'CompletingRebalance' && phase.state !== 'Stable') return;
    phase.syncTimer = undefined;
    if (phase.pendingSync.size === 0) return;
    for (const id of [...phase.pendingSync]) {
      const m = group.members.get(id);
      if (m !== undefined) this.dropMember(group, m);
    }
    this.prepareRebalance(group);
  }

  /** Restarts the member's session timer (a new member gets the longer new-member join timeout). */
  scheduleHeartbeat(group: ClassicGroup, member: GroupMember): void {
    clearTimeout(member.heartbeatTimer);
    const ms = member.isNew ? this.newMemberJoinTimeoutMs : member.sessionTimeoutMs;
    member.heartbeatTimer = timer(ms, () => this.onSessionExpired(group, member));
  }

  private onSessionExpired(group: ClassicGroup, member: GroupMember): void {
    member.heartbeatTimer = undefined;
    if (group.members.get(member.memberId) !== member) return;
    // A member waiting in a rebalance counts as alive; its timer restarts when the wait ends.
    if (!member.isNew && (member.awaitingJoin !== undefined || member.awaitingSync !== undefined)) return;
    this.removeMember(group, member);
  }

  /** A member id handed out with MEMBER_ID_REQUIRED expires after the session timeout if unused. */
  addPendingMember(group: ClassicGroup, memberId: string, sessionTimeoutMs: number): void {
    group.pendingMembers.set(
      memberId,
      timer(sessionTimeoutMs, () => this.removePendingMember(group, memberId)),
    );
  }

  removePendingMember(group: ClassicGroup, memberId: string): void {
    clearTimeout(group.pendingMembers.get(memberId));
    group.pendingMembers.delete(memberId);
    this.tryCompleteJoin(group);
  }

  /** Kafka's removeMemberAndUpdateGroup: the member leaves (or expired) and the group rebalances. */
  removeMember(group: ClassicGroup, member: GroupMember): void {
    this.dropMember(group, member);
    const s = group.state;
    if (s === 'Stable' || s === 'CompletingRebalance') this.maybePrepareRebalance(group);
    else if (s === 'PreparingRebalance') this.tryCompleteJoin(group);
  }

  /** Takes a member out without starting a rebalance; a request it still has waiting is answered. */
  private dropMember(group: ClassicGroup, member: GroupMember): void {
    invokeJoin(member, joinError('', GroupError.UNKNOWN_MEMBER_ID));
    invokeSync(member, syncError(GroupError.UNKNOWN_MEMBER_ID));
    clearTimeout(member.heartbeatTimer);
    member.heartbeatTimer = undefined;
    group.remove(member.memberId);
  }

  /** Moves the group to `next`, clearing the timer of the state it leaves. */
  setPhase(group: ClassicGroup, next: GroupPhase): void {
    clearPhaseTimer(group.phase);
    group.phase = next;
  }

  /** Ends the group (coordinator closing): every waiting request gets NOT_COORDINATOR and timers stop. */
  kill(group: ClassicGroup): void {
    for (const m of group.members.values()) {
      invokeJoin(m, joinError(m.memberId, GroupError.NOT_COORDINATOR));
      invokeSync(m, syncError(GroupError.NOT_COORDINATOR));
      clearTimeout(m.heartbeatTimer);
      m.heartbeatTimer = undefined;
    }
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    group.pendingMembers.clear();
    this.setPhase(group, { state: 'Dead' });
  }
}

function clearPhaseTimer(phase: GroupPhase): void {
  if (phase.state === 'PreparingRebalance') clearTimeout(phase.timer);
  else if (phase.state === 'CompletingRebalance' || phase.state === 'Stable') clearTimeout(phase.syncTimer);
}

function timer(ms: number, fn: () => void): Timer {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}
