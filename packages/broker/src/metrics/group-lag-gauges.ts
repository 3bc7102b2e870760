import { errorMessage, hasErrorCode, type PointerQueue } from '@barge/core';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { describeGroupLag } from '../group-lag.js';

/** How much lag a scrape exports and how long it may wait for it. */
export interface GroupLagLimits {
  /** Lag computed at most this often; scrapes in between get the last values. */
  cacheMs: number;
  /** A scrape waits this long for a refresh, then answers with the last values (the refresh goes on). */
  scrapeWaitMs: number;
  /** Groups exported, the first by name. */
  maxGroups: number;
  /** Series per gauge (group, topic, partition) exported; the rest are left out. */
  maxSeries: number;
}

export const GROUP_LAG_LIMITS: GroupLagLimits = {
  cacheMs: 5000,
  scrapeWaitMs: 2000,
  maxGroups: 100,
  maxSeries: 2000,
};

type LagLabel = 'group' | 'topic' | 'partition';

interface LagRow {
  labels: Record<LagLabel, string>;
  pointers: number;
  messages: number | undefined;
}

/**
 * `barge_group_lag_pointers` and `barge_group_lag_messages` per group, topic and read partition
 * with a committed position, computed from the pointer queue when `/metrics` is scraped (every
 * group the queue knows, not only those served here). Bounded: computed at most every
 * `cacheMs`, at most `maxGroups` groups and `maxSeries` series, and a scrape waits at most
 * `scrapeWaitMs` for a slow queue.
 */
export class GroupLagGauges {
  readonly pointers: Gauge<LagLabel>;
  readonly messages: Gauge<LagLabel>;
  #queue: PointerQueue | undefined;
  #log: Logger | undefined;
  #rows: LagRow[] = [];
  #computedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;

  constructor(
    registry: Registry,
    readonly limits: GroupLagLimits = GROUP_LAG_LIMITS,
  ) {
    const self = this;
    this.pointers = new Gauge({
      name: 'barge_group_lag_pointers',
      help: 'Pointers from the committed offset to the high watermark, by group, topic and read partition (Kafka commit markers can add 1)',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      async collect() {
        await self.#fresh();
        this.reset();
        for (const r of self.#rows) this.set(r.labels, r.pointers);
      },
    });
    this.messages = new Gauge({
      name: 'barge_group_lag_messages',
      help: 'Messages after the committed position (the pointers not yet read, less the messages read of the committed one), by group, topic and read partition',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      async collect() {
        await self.#fresh();
        this.reset();
        for (const r of self.#rows) if (r.messages !== undefined) this.set(r.labels, r.messages);
      },
    });
  }

  /** Exports the lag of the groups of `queue` from now on. */
  watch(queue: PointerQueue, log?: Logger): void {
    this.#queue = queue;
    this.#log = log;
    this.#rows = [];
    this.#computedAt = Number.NEGATIVE_INFINITY;
  }

  /** Makes the rows at most `cacheMs` old, waiting at most `scrapeWaitMs` for it. */
  async #fresh(): Promise<void> {
    const queue = this.#queue;
    if (!queue || Date.now() - this.#computedAt < this.limits.cacheMs) return;
    this.#refreshing ??= this.#refresh(queue).finally(() => {
      this.#refreshing = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.limits.scrapeWaitMs);
    });
    await Promise.race([this.#refreshing, waited]);
    clearTimeout(timer);
  }

  async #refresh(queue: PointerQueue): Promise<void> {
    try {
      this.#rows = await lagRows(queue, this.limits);
    } catch (e) {
      // No values rather than stale ones: the lag of a queue we cannot read is unknown.
      this.#rows = [];
      this.#log?.warn({ err: errorMessage(e) }, 'cannot compute consumer group lag for /metrics');
    } finally {
      this.#computedAt = Date.now();
    }
  }
}

/** One row per read partition with a committed position, of the first `maxGroups` groups. */
async function lagRows(queue: PointerQueue, limits: GroupLagLimits): Promise<LagRow[]> {
  const rows: LagRow[] = [];
  const groups = (await queue.listGroups()).slice(0, limits.maxGroups);
  for (const { group } of groups) {
    let d: Awaited<ReturnType<typeof describeGroupLag>>;
    try {
      d = await describeGroupLag(queue, group);
    } catch (e) {
      if (hasErrorCode(e, 'NOT_FOUND')) continue; // gone since it was listed
      throw e;
    }
    for (const p of d.partitions) {
      const c = p.committed;
      if (!c) continue;
      if (rows.length >= limits.maxSeries) return rows;
      const labels = { group, topic: p.topic, partition: String(p.partition) };
      rows.push({ labels, pointers: c.lag, messages: c.messageLag });
    }
  }
  return rows;
}
