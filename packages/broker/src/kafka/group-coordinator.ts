import { randomUUID } from 'node:crypto';
import { ConfigError } from '@barge/core';
import {
  ClassicGroup,
  EMPTY,
  type GroupMember,
  invokeJoin,
  invokeSync,
  joinError,
  metadataFor,
  sameProtocols,
  syncError,
} from './group-model.js';
import { GroupRebalancer } from './group-rebalance.js';
import {
  GROUP_COORDINATOR_DEFAULTS,
  type GroupCoordinatorOptions,
  type GroupDescription,
  GroupError,
  type GroupErrorCode,
  type HeartbeatRequest,
  type JoinGroupRequest,
  type JoinGroupResult,
  type LeaveGroupRequest,
  type LeaveGroupResult,
  type ListGroupsResult,
  type SyncGroupRequest,
  type SyncGroupResult,
} from './group-types.js';

export * from './group-types.js';

type Respond = (r: JoinGroupResult) => void;

/**
 * Kafka's classic group coordinator (GroupCoordinator/ClassicGroup before KIP-848), independent of
 * the transport: member id round trip, delayed initial rebalance, rebalance and session timeouts,
 * static members, generation checks, leader-made opaque assignments. Membership is in memory only:
 * after a broker restart members get UNKNOWN_MEMBER_ID and rejoin (committed offsets are stored
 * elsewhere). JoinGroup and SyncGroup wait for the rebalance; the other calls answer at once.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly opts: Required<GroupCoordinatorOptions>;
  private readonly rebalancer: GroupRebalancer;
  private closed = false;

  constructor(options: GroupCoordinatorOptions = {}) {
    this.opts = { ...GROUP_COORDINATOR_DEFAULTS, ...options };
    for (const [key, value] of Object.entries(this.opts)) {
      const min = key === 'initialRebalanceDelayMs' ? 0 : 1;
      if (!Number.isSafeInteger(value) || value < min) {
        throw new ConfigError(`${key} must be an integer >= ${min}, got ${value}`, key);
      }
    }
    if (this.opts.maxSessionTimeoutMs < this.opts.minSessionTimeoutMs) {
      throw new ConfigError('maxSessionTimeoutMs must be >= minSessionTimeoutMs', 'maxSessionTimeoutMs');
    }
    this.rebalancer = new GroupRebalancer(
      this.opts.initialRebalanceDelayMs,
      this.opts.newMemberJoinTimeoutMs,
    );
  }

  /** Resolves when the member's join completes; Kafka errors are results (`errorCode`), not rejections. */
  joinGroup(req: JoinGroupRequest): Promise<JoinGroupResult> {
    return new Promise((resolve) => {
      const answer = this.join(req, resolve);
      if (answer !== undefined) return resolve(answer);
      const group = this.groups.get(req.groupId);
      if (group !== undefined) this.rebalancer.tryCompleteJoin(group);
    });
  }

  /** The answer, or undefined when the member waits for the rebalance and is answered through `respond`. */
  private join(req: JoinGroupRequest, respond: Respond): JoinGroupResult | undefined {
    const fail = (code: GroupErrorCode) => joinError(req.memberId, code);
    if (this.closed) return fail(GroupError.COORDINATOR_NOT_AVAILABLE);
    if (req.groupId === '') return fail(GroupError.INVALID_GROUP_ID);
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.opts;
    if (req.sessionTimeoutMs < minSessionTimeoutMs || req.sessionTimeoutMs > maxSessionTimeoutMs) {
      return fail(GroupError.INVALID_SESSION_TIMEOUT);
    }
    const isNew = req.memberId === '';
    let group = this.groups.get(req.groupId);
    if (group === undefined) {
      if (!isNew) return fail(GroupError.UNKNOWN_MEMBER_ID);
      group = this.createGroup(req.groupId);
      if (group === undefined) return fail(GroupError.COORDINATOR_NOT_AVAILABLE);
    }
    if (group.state === 'Dead') return fail(GroupError.COORDINATOR_NOT_AVAILABLE);
    if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      return fail(GroupError.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (!this.acceptJoiningMember(group, req)) return fail(GroupError.GROUP_MAX_SIZE_REACHED);
    return isNew ? this.newMemberJoin(group, req, respond) : this.currentMemberJoin(group, req, respond);
  }

  /** Kafka's acceptJoiningMember; a static member rejoining under a new id counts as known here. */
  private acceptJoiningMember(group: ClassicGroup, req: JoinGroupRequest): boolean {
    const id =
      req.memberId === '' && req.groupInstanceId !== null
        ? (group.staticMemberId(req.groupInstanceId) ?? '')
        : req.memberId;
    const member = group.members.get(id);
    const max = this.opts.maxGroupSize;
    switch (group.state) {
      case 'PreparingRebalance':
        return member?.awaitingJoin !== undefined || group.awaitingJoinCount() < max;
      case 'CompletingRebalance':
      case 'Stable':
        return member !== undefined || group.members.size < max;
      default:
        return true;
    }
  }

  private newMemberJoin(
    group: ClassicGroup,
    req: JoinGroupRequest,
    respond: Respond,
  ): JoinGroupResult | undefined {
    const memberId = `${req.groupInstanceId ?? req.clientId}-${randomUUID()}`;
    if (req.groupInstanceId !== null) {
      const oldMemberId = group.staticMemberId(req.groupInstanceId);
      if (oldMemberId === undefined) this.addMemberAndRebalance(group, memberId, req, respond);
      else this.replaceStaticMember(group, req.groupInstanceId, oldMemberId, memberId, req, respond);
    } else if (req.requireKnownMemberId) {
      // Member ids handed out and not yet used are bounded too, or a join loop could grow them without end.
      if (group.pendingMembers.size >= this.opts.maxGroupSize) {
        return joinError('', GroupError.GROUP_MAX_SIZE_REACHED);
      }
      this.rebalancer.addPendingMember(group, memberId, req.sessionTimeoutMs);
      return joinError(memberId, GroupError.MEMBER_ID_REQUIRED);
    } else {
      this.addMemberAndRebalance(group, memberId, req, respond);
    }
    return undefined;
  }

  private currentMemberJoin(
    group: ClassicGroup,
    req: JoinGroupRequest,
    respond: Respond,
  ): JoinGroupResult | undefined {
    const { memberId, groupInstanceId } = req;
    const fail = (code: GroupErrorCode) => joinError(memberId, code);
    if (group.pendingMembers.has(memberId)) {
      clearTimeout(group.pendingMembers.get(memberId));
      group.pendingMembers.delete(memberId);
      // Static members never get MEMBER_ID_REQUIRED: this one must start over with an empty id.
      if (groupInstanceId !== null) return fail(GroupError.UNKNOWN_MEMBER_ID);
      this.addMemberAndRebalance(group, memberId, req, respond);
      return undefined;
    }
    if (group.isStaticMemberFenced(groupInstanceId, memberId)) return fail(GroupError.FENCED_INSTANCE_ID);
    const member = group.members.get(memberId);
    if (
      member === undefined ||
      (groupInstanceId !== null && group.staticMemberId(groupInstanceId) === undefined)
    ) {
      return fail(GroupError.UNKNOWN_MEMBER_ID);
    }
    const unchanged = sameProtocols(member.protocols, req.protocols);
    switch (group.state) {
      case 'PreparingRebalance':
        break;
      case 'CompletingRebalance':
        // The same metadata again (a lost JoinGroup response): answer with the current generation.
        if (unchanged) return this.rebalancer.currentGeneration(group, member);
        break;
      case 'Stable':
        // The leader's rejoin forces a rebalance: that is how it reacts to changes outside member metadata.
        if (unchanged && !group.isLeader(memberId)) return this.rebalancer.currentGeneration(group, member);
        break;
      default:
        return fail(GroupError.UNKNOWN_MEMBER_ID);
    }
    updateMember(member, req, respond);
    this.rebalancer.maybePrepareRebalance(group);
    return undefined;
  }

  private addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    req: JoinGroupRequest,
    respond: Respond,
  ): void {
    const member: GroupMember = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY,
      isNew: true,
      awaitingJoin: respond,
      awaitingSync: undefined,
      heartbeatTimer: undefined,
    };
    const phase = group.phase;
    if (phase.state === 'PreparingRebalance' && phase.initial !== undefined && group.generationId === 0) {
      phase.initial.newMemberAdded = true;
    }
    group.add(member);
    // New members cannot heartbeat yet: their JoinGroup times out instead (Kafka's new-member join timeout).
    this.rebalancer.scheduleHeartbeat(group, member);
    this.rebalancer.maybePrepareRebalance(group);
  }

  /**
   * A static member back with a new member id takes over its old id's place. In a Stable group
   * whose protocol would not change, there is no rebalance: it gets the current generation and,
   * as Kafka does, the old leader id, so that even a replaced leader does not reassign.
   */
  private replaceStaticMember(
    group: ClassicGroup,
    groupInstanceId: string,
    oldMemberId: string,
    newMemberId: string,
    req: JoinGroupRequest,
    respond: Respond,
  ): void {
    const leaderBefore = group.leaderId ?? '';
    const member = group.replaceStaticMember(groupInstanceId, oldMemberId, newMemberId);
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    updateMember(member, req, respond);
    this.rebalancer.scheduleHeartbeat(group, member);
    const phase = group.phase;
    if (phase.state === 'Stable' && group.selectProtocol() === phase.protocolName) {
      invokeJoin(member, {
        ...this.rebalancer.currentGeneration(group, member),
        leader: leaderBefore,
        members: [],
      });
    } else if (phase.state !== 'PreparingRebalance') {
      this.rebalancer.maybePrepareRebalance(group);
    }
  }

  /** Resolves with the member's assignment once the leader's assignments are in (errors as `errorCode`). */
  syncGroup(req: SyncGroupRequest): Promise<SyncGroupResult> {
    return new Promise((resolve) => {
      const code = this.sync(req, resolve);
      if (code !== undefined) resolve(syncError(code));
    });
  }

  /** Answers through `respond`, or returns the error to answer with. */
  private sync(req: SyncGroupRequest, respond: (r: SyncGroupResult) => void): GroupErrorCode | undefined {
    if (this.closed) return GroupError.COORDINATOR_NOT_AVAILABLE;
    if (req.groupId === '') return GroupError.INVALID_GROUP_ID;
    const group = this.groups.get(req.groupId);
    if (group === undefined) return GroupError.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return GroupError.COORDINATOR_NOT_AVAILABLE;
    const invalid = group.validateMember(req.memberId, req.groupInstanceId);
    if (invalid !== undefined) return invalid;
    if (req.generationId !== group.generationId) return GroupError.ILLEGAL_GENERATION;
    const phase = group.phase;
    if (req.protocolType !== null && req.protocolType !== group.protocolType) {
      return GroupError.INCONSISTENT_GROUP_PROTOCOL;
    }
    if (phase.state === 'Empty') return GroupError.UNKNOWN_MEMBER_ID;
    if (phase.state === 'PreparingRebalance') return GroupError.REBALANCE_IN_PROGRESS;
    if (phase.state === 'Dead') return GroupError.COORDINATOR_NOT_AVAILABLE;
    if (req.protocolName !== null && req.protocolName !== phase.protocolName) {
      return GroupError.INCONSISTENT_GROUP_PROTOCOL;
    }
    const member = group.members.get(req.memberId)!;
    this.rebalancer.syncReceived(group, member.memberId);
    if (phase.state === 'Stable') {
      respond({
        errorCode: GroupError.NONE,
        protocolType: group.protocolType,
        protocolName: phase.protocolName,
        assignment: member.assignment,
      });
      this.rebalancer.scheduleHeartbeat(group, member);
      return undefined;
    }
    // A repeated SyncGroup replaces the earlier one, which is told to rejoin.
    invokeSync(member, syncError(GroupError.REBALANCE_IN_PROGRESS));
    member.awaitingSync = respond;
    if (group.isLeader(member.memberId)) {
      this.rebalancer.completeSync(group, new Map(req.assignments.map((a) => [a.memberId, a.assignment])));
    }
    return undefined;
  }

  /** A member's liveness signal; REBALANCE_IN_PROGRESS tells it to rejoin. */
  heartbeat(req: HeartbeatRequest): GroupErrorCode {
    if (this.closed) return GroupError.COORDINATOR_NOT_AVAILABLE;
    if (req.groupId === '') return GroupError.INVALID_GROUP_ID;
    const group = this.groups.get(req.groupId);
    if (group === undefined) return GroupError.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return GroupError.COORDINATOR_NOT_AVAILABLE;
    const invalid = group.validateMember(req.memberId, req.groupInstanceId);
    if (invalid !== undefined) return invalid;
    if (req.generationId !== group.generationId) return GroupError.ILLEGAL_GENERATION;
    if (group.state === 'Empty') return GroupError.UNKNOWN_MEMBER_ID;
    this.rebalancer.scheduleHeartbeat(group, group.members.get(req.memberId)!);
    return group.state === 'PreparingRebalance' ? GroupError.REBALANCE_IN_PROGRESS : GroupError.NONE;
  }

  /** Removes members (v3+ batch form); an empty member id with an instance id removes that static member. */
  leaveGroup(req: LeaveGroupRequest): LeaveGroupResult {
    if (this.closed) return { errorCode: GroupError.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (req.groupId === '') return { errorCode: GroupError.INVALID_GROUP_ID, members: [] };
    const group = this.groups.get(req.groupId);
    const members = req.members.map((leaving) => {
      const errorCode = group === undefined ? GroupError.UNKNOWN_MEMBER_ID : this.leave(group, leaving);
      return { memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId, errorCode };
    });
    return { errorCode: GroupError.NONE, members };
  }

  private leave(group: ClassicGroup, leaving: LeaveGroupRequest['members'][number]): GroupErrorCode {
    const { memberId, groupInstanceId } = leaving;
    if (memberId === '') {
      const current = groupInstanceId === null ? undefined : group.staticMemberId(groupInstanceId);
      const member = current === undefined ? undefined : group.members.get(current);
      if (member === undefined) return GroupError.UNKNOWN_MEMBER_ID;
      this.rebalancer.removeMember(group, member);
      return GroupError.NONE;
    }
    if (group.pendingMembers.has(memberId)) {
      this.rebalancer.removePendingMember(group, memberId);
      return GroupError.NONE;
    }
    const invalid = group.validateMember(memberId, groupInstanceId);
    if (invalid !== undefined) return invalid;
    this.rebalancer.removeMember(group, group.members.get(memberId)!);
    return GroupError.NONE;
  }

  /**
   * The group as DescribeGroups shows it. A group the coordinator does not hold is 'Dead' with no
   * error (Kafka's answer up to DescribeGroups v5) and `exists: false`.
   */
  describeGroup(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    const base = { groupId, protocolType: '', protocolName: '', members: [] };
    if (this.closed) {
      return { ...base, errorCode: GroupError.COORDINATOR_NOT_AVAILABLE, state: 'Dead', exists: false };
    }
    if (group === undefined) return { ...base, errorCode: GroupError.NONE, state: 'Dead', exists: false };
    const phase = group.phase;
    const protocolName = phase.state === 'Stable' ? phase.protocolName : undefined;
    return {
      errorCode: GroupError.NONE,
      groupId,
      state: phase.state,
      exists: true,
      protocolType: group.protocolType ?? '',
      protocolName: protocolName ?? '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: protocolName === undefined ? EMPTY : metadataFor(m, protocolName),
        assignment: protocolName === undefined ? EMPTY : m.assignment,
      })),
    };
  }

  /**
   * The groups held (ListGroups), optionally only those in the given states (ListGroups v4+,
   * matched case-insensitively as Kafka does). Groups known only by their committed offsets are
   * not held here: the listener adds them.
   */
  listGroups(statesFilter: readonly string[] = []): ListGroupsResult {
    if (this.closed) return { errorCode: GroupError.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const groups = [...this.groups.values()]
      .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state }));
    return { errorCode: GroupError.NONE, groups };
  }

  /**
   * Whether an OffsetCommit may be applied (Kafka's validateOffsetCommit). A negative generation
   * commits to a group the coordinator does not hold or an Empty one (a client managing its own
   * partitions); otherwise the member must be known and the generation current, and a commit
   * between JoinGroup and SyncGroup gets REBALANCE_IN_PROGRESS.
   */
  validateCommit(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
  ): GroupErrorCode {
    if (this.closed) return GroupError.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    if (group === undefined) return generationId < 0 ? GroupError.NONE : GroupError.ILLEGAL_GENERATION;
    if (group.state === 'Dead') return GroupError.COORDINATOR_NOT_AVAILABLE;
    if (generationId < 0 && group.state === 'Empty') return GroupError.NONE;
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      const invalid = group.validateMember(memberId, groupInstanceId);
      if (invalid !== undefined) return invalid;
      if (generationId !== group.generationId) return GroupError.ILLEGAL_GENERATION;
      return group.state === 'CompletingRebalance' ? GroupError.REBALANCE_IN_PROGRESS : GroupError.NONE;
    }
    return group.state === 'Empty' ? GroupError.NONE : GroupError.UNKNOWN_MEMBER_ID;
  }

  /** Ids of the groups held here. */
  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /**
   * Forgets a group another broker coordinates now: its waiting JoinGroup/SyncGroup calls get
   * NOT_COORDINATOR and its timers stop. No-op for a group not held here.
   */
  unload(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    this.rebalancer.kill(group);
    this.groups.delete(groupId);
  }

  /** Stops every timer; waiting JoinGroup/SyncGroup calls get NOT_COORDINATOR, later calls COORDINATOR_NOT_AVAILABLE. */
  close(): Promise<void> {
    this.closed = true;
    for (const group of this.groups.values()) this.rebalancer.kill(group);
    this.groups.clear();
    return Promise.resolve();
  }

  /** A new group, evicting the oldest idle Empty group at the bound; undefined when all are busy. */
  private createGroup(groupId: string): ClassicGroup | undefined {
    if (this.groups.size >= this.opts.maxGroups) {
      for (const [id, g] of this.groups) {
        if (g.state === 'Empty' && g.pendingMembers.size === 0) {
          this.groups.delete(id);
          break;
        }
      }
      if (this.groups.size >= this.opts.maxGroups) return undefined;
    }
    const group = new ClassicGroup(groupId);
    this.groups.set(groupId, group);
    return group;
  }
}

/** Takes a rejoining member's new protocols and timeouts; an earlier JoinGroup still waiting is told to rejoin. */
function updateMember(member: GroupMember, req: JoinGroupRequest, respond: Respond): void {
  member.protocols = req.protocols;
  member.sessionTimeoutMs = req.sessionTimeoutMs;
  member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  invokeJoin(member, joinError(member.memberId, GroupError.REBALANCE_IN_PROGRESS));
  member.awaitingJoin = respond;
}
