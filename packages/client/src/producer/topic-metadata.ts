import { ApiKey, InvalidInputError, type MetadataResponse, type TopicInfo } from '@barge/core';
import type { BrokerPool } from '../broker-pool.js';
import { RequestTimeoutError } from '../connection.js';
import { isRetryableFailure, type ResolvedRetry, sleep, withRetry } from '../retry.js';
import { OwnerTable } from './owner-table.js';

/** Frame limit assumed before the broker has told its own. */
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_MESSAGES_PER_REQUEST = 100_000;
/** `refresh` asks for a topic at most this often. */
export const MIN_REFRESH_INTERVAL_MS = 150;
/**
 * A refresh not answered within this long drops the connection it went over (a broker paused or
 * cut off), so that the next one goes to another broker; sends to the topic wait for it meanwhile.
 */
export const REFRESH_TIMEOUT_MS = 5_000;

interface Refresh {
  running: Promise<void> | undefined;
  /** When the last refresh of the topic ended. */
  endedAt: number;
}

/** The producer's cache of topic metadata, of the write partitions' owners and of the broker's request limits. */
export class TopicMetadata {
  /** Owners of the write partitions, from every Metadata answer. */
  readonly owners = new OwnerTable();
  private readonly topics = new Map<string, { info: TopicInfo; at: number }>();
  private readonly refreshes = new Map<string, Refresh>();
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
      .then((r) => this.take(r))
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
    this.take(r);
    return info;
  }

  /**
   * Asks a broker (any reachable one) for a topic's metadata again, because its owners moved:
   * one attempt, shared by concurrent calls, at most every `MIN_REFRESH_INTERVAL_MS` per topic.
   * A failure is ignored (the send that asked retries and asks again).
   */
  refresh(topic: string): Promise<void> {
    let r = this.refreshes.get(topic);
    if (r === undefined) {
      r = { running: undefined, endedAt: 0 };
      this.refreshes.set(topic, r);
    }
    if (r.running) return r.running;
    const entry = r;
    const wait = Math.max(0, entry.endedAt + MIN_REFRESH_INTERVAL_MS - Date.now());
    entry.running = (wait > 0 ? sleep(wait) : Promise.resolve())
      .then(() => (this.closed ? undefined : this.ask(topic)))
      .then(
        (answer) => {
          if (answer) this.take(answer);
        },
        () => {},
      )
      .finally(() => {
        entry.endedAt = Date.now();
        entry.running = undefined;
      });
    return entry.running;
  }

  /** One Metadata request for `topic` by `refresh`; a timeout drops the connection it went over. */
  private async ask(topic: string): Promise<MetadataResponse> {
    const conn = await this.pool.get();
    try {
      return await this.pool.request(ApiKey.Metadata, { topics: [topic] }, { timeoutMs: REFRESH_TIMEOUT_MS });
    } catch (e) {
      if (e instanceof RequestTimeoutError) conn.reset();
      throw e;
    }
  }

  /** The running refresh of a topic, if any (sends to it wait for its answer). */
  refreshing(topic: string): Promise<void> | undefined {
    return this.refreshes.get(topic)?.running;
  }

  /** A topic's cached metadata, however old. */
  cached(topic: string): TopicInfo | undefined {
    return this.topics.get(topic)?.info;
  }

  /** Drops a topic's metadata, so that the next `get` asks the broker. */
  forget(topic: string): void {
    this.topics.delete(topic);
  }

  /** Caches the topics and owners of an answer. */
  private take(r: MetadataResponse): void {
    this.latest = r;
    const at = Date.now();
    for (const t of r.topics) this.topics.set(t.name, { info: t, at });
    this.owners.update(r);
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
