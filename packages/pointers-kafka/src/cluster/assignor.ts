import {
  assignWritePartitions,
  type ClusterAssignment,
  type ClusterMember,
  type MemberClaim,
  type TopicPartitions,
  type WritePartitionRef,
} from '@barge/core';
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const CLUSTER_ASSIGNER = 'BargeCluster';
const VERSION = 1;

/** What a broker joins the cluster group with (member metadata userData). */
interface JoinClaim extends ClusterMember {
  /** Write partitions it owns now, by topic. */
  owned: Record<string, number[]>;
  /** The generation of the latest assignment it got; 0 before any. */
  generation: number;
}

/** The assignment every member gets (assignment userData): the whole map, plus who is who in the group. */
export interface EncodedAssignment extends ClusterAssignment {
  /** Kafka member id of each member, in `members` order. */
  memberIds: string[];
  /** Members left out because another member already has their broker id. */
  rejected: { memberId: string; brokerId: number }[];
}

export interface ClusterAssignerState {
  self(): ClusterMember;
  owned(): WritePartitionRef[];
  generation(): number;
  topics(): Promise<TopicPartitions[]>;
  /** The Kafka topic of the cluster group (one partition, no records); handed to the leader. */
  kafkaTopic: string;
}

/**
 * The cluster group's assignor, as Kafka Connect's: each broker joins with who it is and what it
 * owns; the leader splits every write partition of every topic between the brokers
 * (`assignWritePartitions`: balanced, and sticky so that a join or a leave moves only what it
 * must), and sends the whole map to every member. The group's Kafka topic has one partition and
 * no records; the first member gets it, so kafkajs has something to fetch.
 */
export function clusterAssigner(state: ClusterAssignerState): PartitionAssigner {
  return () => ({
    name: CLUSTER_ASSIGNER,
    version: VERSION,
    protocol: ({ topics }) => {
      const owned: Record<string, number[]> = {};
      for (const { topic, writePartition } of state.owned()) {
        owned[topic] = [...(owned[topic] ?? []), writePartition];
      }
      const claim: JoinClaim = { ...state.self(), owned, generation: state.generation() };
      return {
        name: CLUSTER_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: Buffer.from(JSON.stringify(claim)),
        }),
      };
    },
    assign: async ({ members }) => {
      const decoded = [...members]
        .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0))
        .map((m) => ({ memberId: m.memberId, claim: decodeClaim(m.memberMetadata) }));
      const byBroker = new Map<number, { memberId: string; claim: JoinClaim }>();
      const rejected: EncodedAssignment['rejected'] = [];
      for (const m of decoded) {
        if (!m.claim) continue;
        if (byBroker.has(m.claim.brokerId))
          rejected.push({ memberId: m.memberId, brokerId: m.claim.brokerId });
        else byBroker.set(m.claim.brokerId, { memberId: m.memberId, claim: m.claim });
      }
      const accepted = [...byBroker.values()];
      const claims = currentClaims(accepted.map((m) => m.claim));
      const topics = await state.topics();
      const assignment: EncodedAssignment = {
        generation: Math.max(0, ...accepted.map((m) => m.claim.generation)) + 1,
        members: accepted.map(({ claim }) => ({
          brokerId: claim.brokerId,
          host: claim.host,
          port: claim.port,
          ...(claim.kafka ? { kafka: claim.kafka } : {}),
        })),
        memberIds: accepted.map((m) => m.memberId),
        owners: assignWritePartitions(topics, claims),
        rejected,
      };
      const userData = Buffer.from(JSON.stringify(assignment));
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: VERSION,
          assignment: i === 0 ? { [state.kafkaTopic]: [0] } : {},
          userData,
        }),
      }));
    },
  });
}

/**
 * What each broker owns, keeping of several claims on one write partition only those from the
 * latest generation: a broker that was paused or cut off past its session still claims what it
 * owned before, but the broker that took it over since has the newer claim and keeps it.
 */
function currentClaims(claims: readonly JoinClaim[]): MemberClaim[] {
  const newest = new Map<string, number>();
  const key = (topic: string, wp: number) => `${topic}\u0000${wp}`;
  for (const c of claims) {
    for (const [topic, wps] of Object.entries(c.owned)) {
      for (const wp of wps)
        newest.set(key(topic, wp), Math.max(newest.get(key(topic, wp)) ?? 0, c.generation));
    }
  }
  return claims.map((c) => ({
    brokerId: c.brokerId,
    owned: Object.entries(c.owned).flatMap(([topic, wps]) =>
      wps
        .filter((wp) => newest.get(key(topic, wp)) === c.generation)
        .map((writePartition) => ({ topic, writePartition })),
    ),
  }));
}

function decodeClaim(metadata: Buffer): JoinClaim | undefined {
  try {
    const { userData } = AssignerProtocol.MemberMetadata.decode(metadata) ?? {};
    if (!userData || userData.length === 0) return undefined;
    const v = JSON.parse(userData.toString()) as Partial<JoinClaim>;
    if (typeof v.brokerId !== 'number' || typeof v.host !== 'string' || typeof v.port !== 'number')
      return undefined;
    const kafka = hostPortOf(v.kafka);
    return {
      brokerId: v.brokerId,
      host: v.host,
      port: v.port,
      // Members from before the Kafka listener, or without one, have none.
      ...(kafka ? { kafka } : {}),
      owned: typeof v.owned === 'object' && v.owned !== null ? v.owned : {},
      generation: typeof v.generation === 'number' ? v.generation : 0,
    };
  } catch {
    return undefined;
  }
}

function hostPortOf(v: unknown): { host: string; port: number } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { host, port } = v as { host?: unknown; port?: unknown };
  return typeof host === 'string' && typeof port === 'number' ? { host, port } : undefined;
}

/** The cluster assignment in a member's assignment bytes (as DescribeGroups returns them); undefined if absent. */
export function decodeAssignment(memberAssignment: Buffer): EncodedAssignment | undefined {
  try {
    const { userData } = AssignerProtocol.MemberAssignment.decode(memberAssignment) ?? {};
    if (!userData || userData.length === 0) return undefined;
    const v = JSON.parse(userData.toString()) as EncodedAssignment;
    return typeof v.generation === 'number' && Array.isArray(v.members) && Array.isArray(v.memberIds)
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}
