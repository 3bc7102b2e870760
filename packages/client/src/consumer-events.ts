import type { DamagedData } from './damaged-data.js';
import { eventNames, type NetworkEventPayloads, type Prefixed } from './instrumentation.js';

/** The consumer's event names: `consumer.events.GROUP_JOIN` is `'consumer.group_join'` (kafkajs style). */
export const CONSUMER_EVENTS = eventNames('consumer', {
  CONNECT: 'connect',
  DISCONNECT: 'disconnect',
  REQUEST: 'network.request',
  REQUEST_TIMEOUT: 'network.request_timeout',
  THROTTLE: 'network.throttle',
  GROUP_JOIN: 'group_join',
  REBALANCING: 'rebalancing',
  COMMIT_OFFSETS: 'commit_offsets',
  CRASH: 'crash',
  SKIPPED: 'skipped',
});

/** Payload of `consumer.group_join`: this member joined the group of a topic (first time, or again after losing its session). */
export interface GroupJoinPayload {
  groupId: string;
  /** The member id the broker assigned ('' for pointer queues read directly). */
  memberId: string;
  topic: string;
  /** The read partitions assigned to this member, per topic. */
  memberAssignment: Record<string, number[]>;
  /** ms the join took. */
  duration: number;
}

/** Payload of `consumer.rebalancing`: the partitions this member owns in a topic changed. */
export interface RebalancingPayload {
  groupId: string;
  memberId: string;
  topic: string;
  assignment: number[];
  previous: number[];
}

/** Payload of `consumer.commit_offsets`: positions committed (the next batch offset and message index to read). */
export interface CommitOffsetsPayload {
  groupId: string;
  topics: { topic: string; partitions: { partition: number; offset: number; messageIndex: number }[] }[];
}

/** Payload of `consumer.crash`: `run` stopped; `restart` is always false (call `run` again to restart). */
export interface CrashPayload {
  groupId: string;
  error: unknown;
  restart: false;
}

/**
 * Payload of `consumer.skipped`: under `onDamagedData: 'skip'`, data that could not be read was
 * passed over: a damaged chunk (the rest of its batch was delivered), or a whole batch (damaged,
 * or its object missing). `error` is what the reader found wrong.
 */
export type SkippedPayload = DamagedData & { groupId: string };

export type ConsumerEventPayloads = Prefixed<
  'consumer',
  NetworkEventPayloads & {
    group_join: GroupJoinPayload;
    rebalancing: RebalancingPayload;
    commit_offsets: CommitOffsetsPayload;
    crash: CrashPayload;
    skipped: SkippedPayload;
  }
>;
