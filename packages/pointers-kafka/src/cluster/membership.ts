import {
  type ClusterAssignment,
  type ClusterJoinOptions,
  type ClusterMembership,
  errorMessage,
} from '@barge/core';
import type { Consumer, Kafka } from 'kafkajs';
import { mapKafkaError } from '../errors.js';
import type { KafkaPointersConfig } from '../options.js';
import { clusterAssigner, decodeAssignment, type EncodedAssignment } from './assignor.js';

/** How often, and how long, a member asks for the assignment after it joined. */
const DESCRIBE_RETRY_MS = 100;
const DESCRIBE_ATTEMPTS = 50;

/**
 * A broker's membership in the cluster group: a kafkajs consumer in group `groupId` subscribed
 * to the cluster topic, with the cluster assignor. kafkajs hands a member only its own topic
 * partitions, so after each join the member reads the leader's whole map from DescribeGroups
 * (the assignment bytes carry it as userData) and passes it on once per generation.
 */
export class KafkaClusterMembership implements ClusterMembership {
  #assignment: EncodedAssignment | undefined;
  #confirmedAt = 0;
  #memberId: string | undefined;
  #joins = 0;
  /** The join whose assignment this member has read; heartbeats confirm only that one. */
  #synced = 0;
  #left = false;

  private constructor(
    private readonly consumer: Consumer,
    private readonly options: ClusterJoinOptions,
    private readonly config: KafkaPointersConfig,
  ) {}

  get assignment(): ClusterAssignment | undefined {
    return this.#assignment;
  }

  get confirmedAt(): number {
    return this.#confirmedAt;
  }

  /** Joins group `groupId` on Kafka topic `kafkaTopic` and starts heartbeating. */
  static async join(
    kafka: Kafka,
    config: KafkaPointersConfig,
    groupId: string,
    kafkaTopic: string,
    options: ClusterJoinOptions,
  ): Promise<KafkaClusterMembership> {
    let membership: KafkaClusterMembership | undefined;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: Math.min(500, options.heartbeatIntervalMs),
      allowAutoTopicCreation: false,
      partitionAssigners: [
        clusterAssigner({
          self: () => options.self,
          owned: () => options.owned(),
          generation: () => membership?.assignment?.generation ?? 0,
          topics: () => options.topics(),
          kafkaTopic,
        }),
      ],
      // Rejoin after any failure, as long as it takes: a broker outside the group serves nothing.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    membership = new KafkaClusterMembership(consumer, options, config);
    membership.#listen();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [kafkaTopic], fromBeginning: false });
      await consumer.run({ eachBatch: async () => {} });
    } catch (e) {
      await consumer.disconnect().catch(() => {});
      throw mapKafkaError(e, `join cluster group "${groupId}"`, config);
    }
    return membership;
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    await this.consumer
      .disconnect()
      .catch((e: unknown) => this.#log('warn', 'kafka: leaving the cluster group failed', e));
  }

  /**
   * `confirmedAt` is when the confirming request was SENT, not when its answer was read: a
   * broker paused (GC, SIGSTOP) with a heartbeat answer waiting in its socket must not count
   * itself confirmed on waking, when its session may have expired long ago.
   */
  #listen(): void {
    const { events } = this.consumer;
    const sentAt = new Map<string, number>();
    this.consumer.on(events.REQUEST, (e) => {
      if (e.payload.apiName === 'Heartbeat' || e.payload.apiName === 'SyncGroup') {
        sentAt.set(e.payload.apiName, e.payload.sentAt);
      }
    });
    this.consumer.on(events.GROUP_JOIN, (e) => {
      this.#memberId = e.payload.memberId;
      const join = ++this.#joins;
      void this.#fetchAssignment(e.payload.memberId, join, sentAt.get('SyncGroup') ?? 0);
    });
    this.consumer.on(events.HEARTBEAT, () => {
      if (this.#synced === this.#joins) this.#confirmedAt = sentAt.get('Heartbeat') ?? 0;
    });
    this.consumer.on(events.CRASH, (e) => {
      if (!this.#left)
        this.options.onMembershipLost(`cluster group member crashed: ${errorMessage(e.payload.error)}`);
    });
  }

  /** Reads this generation's map from DescribeGroups; retried while the group is still syncing. */
  async #fetchAssignment(memberId: string, join: number, syncSentAt: number): Promise<void> {
    for (let attempt = 0; attempt < DESCRIBE_ATTEMPTS && join === this.#joins && !this.#left; attempt++) {
      try {
        const group = await this.consumer.describeGroup();
        const me = group.members.find((m) => m.memberId === memberId);
        const assignment = me ? decodeAssignment(me.memberAssignment) : undefined;
        if (
          assignment?.memberIds.includes(memberId) ||
          assignment?.rejected.some((r) => r.memberId === memberId)
        ) {
          if (join !== this.#joins) return;
          const rejected = assignment.rejected.find((r) => r.memberId === memberId);
          if (rejected) {
            this.#log(
              'error',
              `broker.id ${rejected.brokerId} is already a member of the cluster; this broker serves no write partition until the other one leaves`,
            );
          }
          this.#synced = join;
          this.#confirmedAt = syncSentAt;
          if (this.#assignment && assignment.generation <= this.#assignment.generation) return;
          this.#assignment = assignment;
          this.options.onAssignment({
            generation: assignment.generation,
            members: assignment.members,
            owners: assignment.owners,
          });
          return;
        }
      } catch (e) {
        this.#log('warn', 'kafka: reading the cluster assignment failed; retrying', e);
      }
      await new Promise((r) => setTimeout(r, DESCRIBE_RETRY_MS));
    }
    if (join === this.#joins && !this.#left) {
      this.#log(
        'error',
        'kafka: could not read the cluster assignment after joining; waiting for the next rebalance',
      );
    }
  }

  #log(level: 'error' | 'warn' | 'info', message: string, error?: unknown): void {
    const fields =
      error === undefined ? {} : { error: errorMessage(mapKafkaError(error, message, this.config)) };
    this.options.log?.(level, message, { memberId: this.#memberId, ...fields });
  }
}
