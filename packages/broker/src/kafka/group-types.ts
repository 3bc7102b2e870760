/**
 * Requests and results of the classic (pre-KIP-848) Kafka group coordinator. The listener's
 * JoinGroup/SyncGroup/Heartbeat/LeaveGroup/DescribeGroups/ListGroups handlers pass decoded
 * request fields in and encode what comes back; nothing here knows the wire.
 */

/** Kafka's error codes the group coordinator answers with (numbers as on the wire). */
export const GroupError = {
  NONE: 0,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
} as const;
export type GroupErrorCode = (typeof GroupError)[keyof typeof GroupError];

/** Group states, spelled as Kafka spells them in DescribeGroups and ListGroups. */
export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';
export const GROUP_STATE_NAMES: readonly GroupStateName[] = [
  'Empty',
  'PreparingRebalance',
  'CompletingRebalance',
  'Stable',
  'Dead',
];

/** One entry of a JoinGroup request's protocol list, in the member's order of preference. */
export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinGroupRequest {
  readonly groupId: string;
  /** '' for a member that has no id yet. */
  readonly memberId: string;
  /** Static membership (JoinGroup v5+): null for a dynamic member. */
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
  readonly sessionTimeoutMs: number;
  /** JoinGroup v0 has none: pass `sessionTimeoutMs`. */
  readonly rebalanceTimeoutMs: number;
  readonly clientId: string;
  readonly clientHost: string;
  /** True for JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and its id. */
  readonly requireKnownMemberId: boolean;
}

/** A member as the leader sees it in its JoinGroup response. */
export interface JoinGroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** The member's metadata for the selected protocol. */
  readonly metadata: Buffer;
}

export interface JoinGroupResult {
  readonly errorCode: GroupErrorCode;
  /** -1 on error. */
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's member id ('' on error). */
  readonly leader: string;
  /** KIP-814 is not implemented: a static leader replaced in a stable group is told another leader. */
  readonly skipAssignment: false;
  /** The member's id: the generated one with MEMBER_ID_REQUIRED or a new member's first join. */
  readonly memberId: string;
  /** Every member, for the leader only; empty for the others. */
  readonly members: readonly JoinGroupMember[];
}

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** SyncGroup v5+: checked against the group's when not null. */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's assignments; empty for followers. */
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[];
}

export interface SyncGroupResult {
  readonly errorCode: GroupErrorCode;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The member's own assignment (empty on error). */
  readonly assignment: Buffer;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeavingMember {
  /** '' with a `groupInstanceId` removes that static member whatever its member id (admin use). */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeaveGroupRequest {
  readonly groupId: string;
  /** LeaveGroup v3+ form; the listener maps v0-2 to one member. */
  readonly members: readonly LeavingMember[];
}

export interface LeaveGroupResult {
  /** Top-level error: when set, `members` is empty. */
  readonly errorCode: GroupErrorCode;
  readonly members: readonly (LeavingMember & { readonly errorCode: GroupErrorCode })[];
}

export interface DescribedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** Metadata and assignment are only shown for a Stable group (empty otherwise), as Kafka does. */
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface GroupDescription {
  readonly errorCode: GroupErrorCode;
  readonly groupId: string;
  /** 'Dead' for a group the coordinator does not hold (DescribeGroups v6+ may map this to GROUP_ID_NOT_FOUND). */
  readonly state: GroupStateName;
  /** False when the coordinator holds no such group. */
  readonly exists: boolean;
  readonly protocolType: string;
  /** The selected protocol while Stable, '' otherwise (as Kafka). */
  readonly protocolName: string;
  readonly members: readonly DescribedMember[];
}

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly state: GroupStateName;
}

export interface ListGroupsResult {
  readonly errorCode: GroupErrorCode;
  readonly groups: readonly ListedGroup[];
}

export interface GroupCoordinatorOptions {
  /** Kafka's group.initial.rebalance.delay.ms: how long a group's first rebalance waits for more members. */
  readonly initialRebalanceDelayMs?: number;
  /** Kafka's group.min.session.timeout.ms and group.max.session.timeout.ms. */
  readonly minSessionTimeoutMs?: number;
  readonly maxSessionTimeoutMs?: number;
  /** Kafka's group.max.size; also bounds the member ids handed out and not yet used (MEMBER_ID_REQUIRED). */
  readonly maxGroupSize?: number;
  /**
   * Bound on the groups held in memory. A new group evicts the oldest Empty group without pending
   * members; when every group is active, the join gets COORDINATOR_NOT_AVAILABLE (retriable).
   */
  readonly maxGroups?: number;
  /** How long a new member's JoinGroup may wait before the member is dropped (Kafka: 5 minutes). */
  readonly newMemberJoinTimeoutMs?: number;
}

export const GROUP_COORDINATOR_DEFAULTS: Required<GroupCoordinatorOptions> = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  maxGroupSize: 1000,
  maxGroups: 10_000,
  newMemberJoinTimeoutMs: 300_000,
};
