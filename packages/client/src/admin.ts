import {
  ApiKey,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type DescribeTopicResponse,
  type MetadataResponse,
  type TopicInfo,
} from '@barge/core';
import { BrokerPool } from './connection.js';
import { type RetryOptions, resolveRetry, withRetry } from './retry.js';

export interface AdminOptions {
  brokers: string[];
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  retry?: RetryOptions;
}

/** Topic administration and cluster metadata. */
export class Admin {
  private readonly pool: BrokerPool;
  private readonly retry;

  constructor(options: AdminOptions) {
    this.pool = new BrokerPool(options.brokers, {
      clientId: options.clientId ?? 'barge-admin',
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    this.retry = resolveRetry(options.retry ?? { retries: 3 });
  }

  async connect(): Promise<void> {
    await this.pool.get();
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

  disconnect(): Promise<void> {
    return this.pool.close();
  }
}
