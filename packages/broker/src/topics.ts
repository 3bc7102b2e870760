import {
  ConfigError,
  ErrorCode,
  errorMessage,
  hasErrorCode,
  listAll,
  type ObjectStorage,
  type PointerQueue,
  parseWithSchema,
  type TopicConfig,
  type TopicInfo,
  topicSchema,
} from '@barge/core';
import type { Logger } from 'pino';
import { pointerErrorCode, RequestError, storageErrorCode } from './errors.js';
import { TOPICS_META_PREFIX, topicMetaKey } from './keys.js';

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/** Throws `RequestError(INVALID_TOPIC)` unless `name` is a valid topic name. */
export function checkTopicName(name: string): void {
  if (!TOPIC_NAME.test(name) || name === '.' || name === '..') {
    throw new RequestError(
      ErrorCode.INVALID_TOPIC,
      `topic name ${JSON.stringify(name.slice(0, 250))} is invalid: expected 1-200 characters of A-Z a-z 0-9 . _ - (and not "." or "..")`,
    );
  }
}

export function topicInfo(t: TopicConfig): TopicInfo {
  return {
    name: t.name,
    writePartitions: t.writePartitions,
    readPartitions: t.readPartitions,
    batch: { maxBytes: t.batch.maxBytes, maxMessages: t.batch.maxMessages, maxDelayMs: t.batch.maxDelayMs },
    compression: t.compression,
  };
}

function sameTopic(a: TopicConfig, b: TopicConfig): boolean {
  return JSON.stringify(topicInfo(a)) === JSON.stringify(topicInfo(b));
}

/** How long an unknown name is remembered as unknown before storage is asked again. */
const NEGATIVE_CACHE_MS = 1000;

/**
 * Topic metadata, persisted as `_meta/topics/<name>.json` (the topic's settings, as in the
 * config file, and `createdBy`, the principal that created it at run time) in the broker's
 * storage, so topics created at runtime survive restarts and are seen by every broker sharing
 * the storage. Topics in the config file are written there at
 * start (the config file wins for settings; the read partition count can never change).
 */
export class TopicRegistry {
  readonly #topics = new Map<string, TopicConfig>();
  readonly #unknownUntil = new Map<string, number>();
  readonly #pointerTopics = new Map<string, Promise<void>>();
  /** Who created each topic at run time (`createdBy` in its metadata; topics quota). */
  readonly #creators = new Map<string, string>();

  constructor(
    private readonly storage: ObjectStorage,
    private readonly pointers: PointerQueue,
    private readonly log: Logger,
  ) {}

  /** Loads persisted topics, then creates or updates the config file's topics. Idempotent: start-up retries it. */
  async load(configTopics: readonly TopicConfig[]): Promise<void> {
    for await (const obj of listAll(this.storage, TOPICS_META_PREFIX)) {
      if (!obj.key.endsWith('.json')) continue;
      try {
        const t = await this.#read(obj.key);
        if (t) this.#topics.set(t.name, t);
      } catch (e) {
        // Only metadata that is there and unreadable is skipped; a failed read (a broken
        // connection, credentials) fails the load, which start-up retries or reports.
        if (!hasErrorCode(e, 'CONFIG', 'CORRUPT')) throw e;
        this.log.error({ key: obj.key, err: errorMessage(e) }, 'ignoring unreadable topic metadata');
      }
    }
    for (const t of configTopics) {
      checkTopicName(t.name);
      const existing = this.#topics.get(t.name);
      if (existing && existing.readPartitions !== t.readPartitions) {
        throw new ConfigError(
          `topics: topic ${t.name} exists with ${existing.readPartitions} read partitions; the config file says ${t.readPartitions}, and the read partition count cannot change`,
          'topics',
        );
      }
      if (!existing || !sameTopic(existing, t)) await this.#write(t);
      this.#topics.set(t.name, t);
    }
  }

  get(name: string): TopicConfig | undefined {
    return this.#topics.get(name);
  }

  /** The principal that created the topic with CreateTopic; undefined for config-file topics and older metadata. */
  creatorOf(name: string): string | undefined {
    return this.#creators.get(name);
  }

  list(): TopicConfig[] {
    return [...this.#topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The topic, asking storage when it is not known here yet (another broker may have created
   * it). Throws `RequestError(UNKNOWN_TOPIC)`.
   */
  async require(name: string): Promise<TopicConfig> {
    const t = this.#topics.get(name) ?? (await this.refresh(name));
    if (!t) throw new RequestError(ErrorCode.UNKNOWN_TOPIC, `topic ${JSON.stringify(name)} does not exist`);
    return t;
  }

  /** Re-reads one topic from storage (negative results are cached for a second). */
  async refresh(name: string): Promise<TopicConfig | undefined> {
    checkTopicName(name);
    const until = this.#unknownUntil.get(name);
    if (until !== undefined && until > Date.now()) return undefined;
    const t = await this.#read(topicMetaKey(name));
    if (t) {
      this.#topics.set(name, t);
      this.#unknownUntil.delete(name);
    } else {
      if (this.#unknownUntil.size > 10_000) this.#unknownUntil.clear();
      this.#unknownUntil.set(name, Date.now() + NEGATIVE_CACHE_MS);
    }
    return t;
  }

  /**
   * Creates a topic: validates the settings (defaults from the config schema), creates the
   * pointer topic, then persists the metadata. With `ifNotExists`, an existing topic with the
   * same partition counts is returned with `created: false`.
   */
  async create(
    input: {
      name: string;
      writePartitions?: number;
      readPartitions?: number;
      batch?: Partial<TopicConfig['batch']>;
      compression?: string;
    },
    ifNotExists = false,
    createdBy?: string,
  ): Promise<{ created: boolean; topic: TopicConfig }> {
    checkTopicName(input.name);
    let t: TopicConfig;
    try {
      t = parseWithSchema(topicSchema, input, 'topic');
    } catch (e) {
      throw new RequestError(ErrorCode.INVALID_CONFIG, errorMessage(e), { cause: e });
    }
    const existing = this.#topics.get(t.name) ?? (await this.#read(topicMetaKey(t.name)));
    if (existing) {
      this.#topics.set(existing.name, existing);
      const compatible =
        existing.readPartitions === t.readPartitions && existing.writePartitions === t.writePartitions;
      if (
        ifNotExists &&
        (compatible || (input.readPartitions === undefined && input.writePartitions === undefined))
      ) {
        return { created: false, topic: existing };
      }
      throw new RequestError(
        ErrorCode.TOPIC_ALREADY_EXISTS,
        `topic ${t.name} already exists (${existing.writePartitions} write, ${existing.readPartitions} read partitions)`,
      );
    }
    try {
      await this.ensurePointerTopic(t);
    } catch (e) {
      throw new RequestError(pointerErrorCode(e), `cannot create the pointer topic: ${errorMessage(e)}`, {
        cause: e,
      });
    }
    try {
      await this.#write(t, createdBy);
    } catch (e) {
      throw new RequestError(storageErrorCode(e), `cannot store topic metadata: ${errorMessage(e)}`, {
        cause: e,
      });
    }
    this.#topics.set(t.name, t);
    this.#unknownUntil.delete(t.name);
    this.log.info({ topic: topicInfo(t) }, 'topic created');
    return { created: true, topic: t };
  }

  /**
   * Makes sure the pointer queue has the topic (remembered until `forgetPointerTopic`; a failed
   * attempt is retried at the next call). Throws what `ensureTopic` throws.
   */
  ensurePointerTopic(t: TopicConfig): Promise<void> {
    let p = this.#pointerTopics.get(t.name);
    if (!p) {
      p = this.pointers.ensureTopic(t.name, t.readPartitions);
      this.#pointerTopics.set(t.name, p);
      p.catch(() => this.#pointerTopics.delete(t.name));
    }
    return p;
  }

  /**
   * Forgets that the pointer topic was checked (it was found missing, e.g. after the pointer
   * queue lost its data), so the next `ensurePointerTopic` calls `ensureTopic` again. With
   * `check`, only that check is forgotten: a newer one started meanwhile is kept.
   */
  forgetPointerTopic(name: string, check?: Promise<void>): void {
    if (check === undefined || this.#pointerTopics.get(name) === check) this.#pointerTopics.delete(name);
  }

  async #read(key: string): Promise<TopicConfig | undefined> {
    let raw: unknown;
    try {
      raw = JSON.parse((await this.storage.get(key)).toString('utf8'));
    } catch (e) {
      if (hasErrorCode(e, 'NOT_FOUND')) return undefined;
      if (e instanceof SyntaxError)
        throw new ConfigError(`topic metadata ${key} is not valid JSON: ${e.message}`, key);
      throw e;
    }
    const createdBy = takeCreatedBy(raw);
    const t = parseWithSchema(topicSchema, raw, key);
    if (createdBy !== undefined) this.#creators.set(t.name, createdBy);
    return t;
  }

  async #write(t: TopicConfig, createdBy = this.#creators.get(t.name)): Promise<void> {
    const meta = createdBy === undefined ? topicInfo(t) : { ...topicInfo(t), createdBy };
    await this.storage.put(topicMetaKey(t.name), Buffer.from(`${JSON.stringify(meta, null, 2)}\n`), {
      contentType: 'application/json',
    });
    if (createdBy !== undefined) this.#creators.set(t.name, createdBy);
  }
}

/** Removes `createdBy` (the creating principal, not a topic setting) from parsed metadata and returns it. */
function takeCreatedBy(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || !('createdBy' in raw)) return undefined;
  const { createdBy } = raw;
  if (typeof createdBy !== 'string') return undefined;
  delete (raw as { createdBy?: unknown }).createdBy;
  return createdBy;
}
