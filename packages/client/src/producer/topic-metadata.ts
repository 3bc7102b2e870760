import { ApiKey, InvalidInputError, type MetadataResponse, type TopicInfo } from '@barge/core';
import type { BrokerPool } from '../broker-pool.js';
import { isRetryableFailure, type ResolvedRetry, withRetry } from '../retry.js';

/** Frame limit assumed before the broker has told its own. */
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_MESSAGES_PER_REQUEST = 100_000;

/** The producer's cache of topic metadata and of the broker's request limits. */
export class TopicMetadata {
  private readonly topics = new Map<string, { info: TopicInfo; at: number }>();
  private latest: MetadataResponse | undefined;
  private loading: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly pool: BrokerPool,
    private readonly retry: ResolvedRetry,
    private readonly maxAgeMs: number,
  ) {}

  /** Largest request frame the broker accepts. */
  get maxFrameBytes(): number {
    return this.latest?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  get maxMessagesPerRequest(): number {
    return this.latest?.maxMessagesPerRequest ?? DEFAULT_MAX_MESSAGES_PER_REQUEST;
  }

  /** Loads the metadata of every topic; concurrent calls share one request. */
  loadAll(): Promise<void> {
    this.loading ??= this.request({ topics: [] })
      .then((r) => {
        this.latest = r;
        const at = Date.now();
        for (const t of r.topics) this.topics.set(t.name, { info: t, at });
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** A topic's metadata: from the cache while younger than `metadataMaxAgeMs`, else from the broker. */
  async get(topic: string): Promise<TopicInfo> {
    const cached = this.topics.get(topic);
    if (cached && Date.now() - cached.at < this.maxAgeMs) return cached.info;
    const r = await this.request({ topics: [topic] });
    const info = r.topics.find((t) => t.name === topic);
    if (!info) throw new InvalidInputError(`broker did not describe topic ${topic}`);
    this.topics.set(topic, { info, at: Date.now() });
    this.latest = r;
    return info;
  }

  /** A topic's cached metadata, however old. */
  cached(topic: string): TopicInfo | undefined {
    return this.topics.get(topic)?.info;
  }

  /** Drops a topic's metadata, so that the next `get` asks the broker. */
  forget(topic: string): void {
    this.topics.delete(topic);
  }

  /** Stops retrying requests. */
  close(): void {
    this.closed = true;
  }

  /** A Metadata request, retried on retryable errors while open. */
  private request(body: { topics: string[] }): Promise<MetadataResponse> {
    return withRetry(() => this.pool.request(ApiKey.Metadata, body), this.retry, {
      retryable: (e) => isRetryableFailure(e) && !this.closed,
    });
  }
}
