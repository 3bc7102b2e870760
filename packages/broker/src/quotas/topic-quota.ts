import { ErrorCode, listAll, type ObjectStorage } from '@barge/core';
import { RequestError } from '../errors.js';
import { TOPICS_META_PREFIX } from '../keys.js';
import type { TopicRegistry } from '../topics.js';
import type { QuotaManager } from './quota-manager.js';

/**
 * The `topics` quota: how many topics a principal may create. Topics count for the principal
 * named in their metadata's `createdBy`, so the count survives restarts and is shared by every
 * broker on the same storage. Before counting, the metadata listing is read for topics other
 * brokers created (only when the principal has a topics quota). Two brokers creating topics for
 * the same principal at the same moment may both pass the check (storage has no transactions).
 */
export class TopicQuota {
  /** Creations running on this broker, by principal: they count before they are stored. */
  readonly #creating = new Map<string, number>();

  constructor(
    private readonly quotas: QuotaManager,
    private readonly topics: TopicRegistry,
    private readonly storage: ObjectStorage,
  ) {}

  /**
   * Runs `create` (which creates topic `name` for `principal`) unless that would make more than
   * the principal's quota of topics: then throws QUOTA_EXCEEDED and creates nothing.
   */
  async guard<T>(principal: string, name: string, create: () => Promise<T>): Promise<T> {
    const quota = this.quotas.quotaOf(principal);
    const max = quota.limits.topics;
    if (max === undefined || this.topics.get(name)) return create();
    await this.#discover();
    const count = this.#createdBy(principal) + (this.#creating.get(principal) ?? 0);
    if (!this.topics.get(name) && count >= max) {
      this.quotas.refused(principal, 'topics');
      throw new RequestError(
        ErrorCode.QUOTA_EXCEEDED,
        `principal ${JSON.stringify(principal)} may create at most ${max} topics and created ${count} (quota ${quota.where('topics')}); topic ${JSON.stringify(name)} was not created`,
      );
    }
    this.#creating.set(principal, (this.#creating.get(principal) ?? 0) + 1);
    try {
      return await create();
    } finally {
      const left = (this.#creating.get(principal) ?? 1) - 1;
      if (left > 0) this.#creating.set(principal, left);
      else this.#creating.delete(principal);
    }
  }

  #createdBy(principal: string): number {
    let n = 0;
    for (const t of this.topics.list()) if (this.topics.creatorOf(t.name) === principal) n++;
    return n;
  }

  /** Reads the metadata of topics this broker does not know yet (created by other brokers). */
  async #discover(): Promise<void> {
    for await (const obj of listAll(this.storage, TOPICS_META_PREFIX)) {
      const name = obj.key.slice(TOPICS_META_PREFIX.length, -'.json'.length);
      if (!obj.key.endsWith('.json') || name.includes('/') || this.topics.get(name)) continue;
      await this.topics.refresh(name).catch(() => undefined);
    }
  }
}
