import {
  ApiKey,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type DescribeGroupResponse,
  type DescribeTopicResponse,
  type GroupListing,
  type MetadataResponse,
  type ResetOffsetsResponse,
  type ResetTarget,
  type TopicInfo,
} from '@barge/core';
import { BrokerPool } from './broker-pool.js';
import { type CommonClientOptions, resolveCommonOptions } from './client-options.js';
import {
  eventNames,
  Instrumentation,
  type InstrumentationEvent,
  type NetworkEventPayloads,
  type Prefixed,
  type RemoveInstrumentationEventListener,
} from './instrumentation.js';
import type { Logger } from './logger.js';
import { networkObserver } from './network-observer.js';
import { type ResolvedRetry, withRetry } from './retry.js';

/** See `CommonClientOptions`. */
export interface AdminOptions extends CommonClientOptions {
  brokers: string[];
}

/** The admin client's event names: `admin.events.CONNECT` is `'admin.connect'` (kafkajs style). */
export const ADMIN_EVENTS = eventNames('admin', {
  CONNECT: 'connect',
  DISCONNECT: 'disconnect',
  REQUEST: 'network.request',
  REQUEST_TIMEOUT: 'network.request_timeout',
  THROTTLE: 'network.throttle',
});

export type AdminEventPayloads = Prefixed<'admin', NetworkEventPayloads>;

/** Topic administration and cluster metadata. */
export class Admin {
  /** The event names `on` takes. */
  readonly events = ADMIN_EVENTS;
  private readonly pool: BrokerPool;
  private readonly retry: ResolvedRetry;
  private readonly connectionTimeoutMs: number;
  private readonly log: Logger;
  private readonly instrumentation: Instrumentation<AdminEventPayloads>;

  constructor(options: AdminOptions) {
    const common = resolveCommonOptions(options, 'admin', 'Admin');
    this.retry = common.retry;
    this.connectionTimeoutMs = common.connectionTimeoutMs;
    this.log = common.log;
    this.instrumentation = new Instrumentation(ADMIN_EVENTS, common.log);
    this.pool = new BrokerPool(options.brokers, {
      clientId: options.clientId ?? 'barge-admin',
      connectTimeoutMs: common.connectionTimeoutMs,
      requestTimeoutMs: common.requestTimeoutMs,
      observer: networkObserver(this.instrumentation, 'admin', common.log),
      tls: common.tls,
      sasl: common.sasl,
    });
  }

  /** Adds an instrumentation listener (one of `admin.events`); returns a function that removes it. */
  on<E extends keyof AdminEventPayloads>(
    event: E,
    listener: (event: InstrumentationEvent<AdminEventPayloads[E]>) => void,
  ): RemoveInstrumentationEventListener {
    return this.instrumentation.on(event, listener);
  }

  /**
   * Connects to a broker, retrying unreachable ones until `connectionTimeout` (requests connect
   * on their own too). Throws `BrokerUnreachableError` naming the addresses.
   */
  async connect(): Promise<void> {
    const conn = await this.pool.connect({ timeoutMs: this.connectionTimeoutMs, retry: this.retry });
    this.log.info(`connected to broker ${conn.address}`);
    this.instrumentation.emit(ADMIN_EVENTS.CONNECT, { brokers: this.pool.brokers, broker: conn.address });
  }

  /** Creates a topic; with `ifNotExists`, an existing topic with the same partition counts is fine (`created: false`). */
  createTopic(request: CreateTopicRequest): Promise<CreateTopicResponse> {
    return withRetry(() => this.pool.request(ApiKey.CreateTopic, request), this.retry);
  }

  async listTopics(): Promise<TopicInfo[]> {
    const r = await withRetry(() => this.pool.request(ApiKey.ListTopics, {}), this.retry);
    return r.topics;
  }

  describeTopic(name: string): Promise<DescribeTopicResponse> {
    return withRetry(() => this.pool.request(ApiKey.DescribeTopic, { name }), this.retry);
  }

  /** Broker id, storage location, limits and topics (all, or the ones named). */
  metadata(topics: string[] = []): Promise<MetadataResponse> {
    return withRetry(() => this.pool.request(ApiKey.Metadata, { topics }), this.retry);
  }

  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    return withRetry(() => this.pool.request(ApiKey.Watermarks, { topic, partition }), this.retry);
  }

  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    return withRetry(
      () => this.pool.request(ApiKey.OffsetForTimestamp, { topic, partition, timestamp }),
      this.retry,
    ).then((r) => r.offset);
  }

  /** Consumer groups with members or committed offsets (only those on `topic`, when given). */
  async listGroups(topic?: string): Promise<GroupListing[]> {
    const body = topic === undefined ? {} : { topic };
    return (await withRetry(() => this.pool.request(ApiKey.ListGroups, body), this.retry)).groups;
  }

  /**
   * A group's members with their assignments and, per read partition of the topics it reads (or
   * of `topic`), the watermarks, committed offset and lag in pointers. Fails with `UNKNOWN_GROUP`
   * for a group without members or committed offsets.
   */
  describeGroup(group: string, topic?: string): Promise<DescribeGroupResponse> {
    const body = topic === undefined ? { group } : { group, topic };
    return withRetry(() => this.pool.request(ApiKey.DescribeGroup, body), this.retry);
  }

  /**
   * Moves the committed offsets of `group` on `topic` (every read partition, or `partitions`) to
   * `to`: the earliest or latest pointer, the first pointer at or after a time, or an offset
   * (clamped to the retained range). Returns the previous and new offset per partition; with
   * `dryRun`, changes nothing. Fails with `GROUP_NOT_EMPTY` while the group has members.
   */
  resetOffsets(request: {
    group: string;
    topic: string;
    to: ResetTarget;
    partitions?: number[];
    dryRun?: boolean;
  }): Promise<ResetOffsetsResponse> {
    const { group, topic, to, partitions = [], dryRun = false } = request;
    const body = { group, topic, target: to, partitions, execute: !dryRun };
    return withRetry(() => this.pool.request(ApiKey.ResetOffsets, body), this.retry);
  }

  async disconnect(): Promise<void> {
    await this.pool.close();
    this.instrumentation.emit(ADMIN_EVENTS.DISCONNECT, {});
  }
}
