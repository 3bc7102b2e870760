import {
  type BrokerConfig,
  ConfigError,
  errorMessage,
  type ObjectStorage,
  type PointerQueue,
  type TopicConfig,
} from '@barge/core';
import type { Logger } from 'pino';
import { orphanMetaKey } from '../keys.js';
import { raceTimeout } from '../race-timeout.js';
import { abortAbandonedUploads } from './abandoned-uploads.js';
import { type BatchObject, listBatchObjects, listOrphanMarkers } from './batch-objects.js';
import { livePointers } from './live-pointers.js';
import { trimPointers } from './pointer-trim.js';
import { expiredObjects, planDeletions, pointerExpired } from './selection.js';

export type RetentionSettings = BrokerConfig['retention'];

/** Where the sweeper reports what it did (the broker's metrics). */
export interface SweepMetrics {
  retained(topic: string, objects: number, bytes: number): void;
  collected(topic: string, objects: number, bytes: number): void;
  /** Orphans known after a sweep and not deleted yet. */
  orphans(topic: string, objects: number, bytes: number): void;
}

export interface SweeperDeps {
  readonly storage: ObjectStorage;
  readonly pointers: PointerQueue;
  /** The topics to consider (all the broker knows). */
  readonly topics: () => readonly TopicConfig[];
  /**
   * `topics[].retention` of the config file by topic name, for topics whose registry entry was
   * re-read from storage (the stored metadata does not carry retention).
   */
  readonly retentionOf?: (topic: string) => TopicConfig['retention'];
  /** Whether this broker sweeps `topic` now (in a cluster: the owner of its write partition 0). */
  readonly sweeps: (topic: string) => boolean;
  readonly settings: RetentionSettings;
  /** `upload.pointerRetryBudgetMs`: the grace period must cover it. */
  readonly pointerRetryBudgetMs: number;
  readonly metrics: SweepMetrics;
  readonly log: Logger;
  readonly now?: () => number;
}

/** What one sweep of one topic did. */
export interface TopicSweep {
  readonly topic: string;
  readonly pointersTrimmed: number;
  readonly retentionDeleted: string[];
  readonly orphansDeleted: string[];
  readonly orphansWaiting: string[];
  /** Keys of abandoned multipart uploads aborted (stores that list them). */
  readonly uploadsAborted: string[];
}

const DELETE_BATCH = 1000;

/**
 * Applies `topics[].retention` and collects orphan objects, every `retention.intervalMs`.
 *
 * **Safety: an object that a pointer still in the queue references is never deleted.** Let G be
 * `orphanGraceMs`, S `clockSkewMs`, and H = G + 2S. Assumption A: a pointer to an object is
 * appended, if ever, within G of the time the store gives the object (`lastModified`); the broker
 * gives up publishing after `pointerRetryBudgetMs` <= G (checked at start), and every clock is
 * within S of true time. A sweep reads the clock once (`now`) before anything else and deletes
 * only objects that are
 *  1. settled: `now - lastModified > H`. By A every pointer to such an object was appended before
 *     the sweep started; no new one can come.
 *  2. unreachable, by one of two tests made after `now`:
 *     - scan (queues with `readPartition`: embedded, Kafka): reading the object's read partition from its low
 *       watermark to the end finds no pointer with its key. Pointers below the low watermark are
 *       gone for good (the low watermark never goes back; offsets are never reused), and by 1 the
 *       read covers every pointer to the object that is left.
 *     - watermark cut (queues without it): the first offset stamped at or after `lastModified + H + 1` is at
 *       or below the low watermark. That pointer was appended (true time) after
 *       `lastModified + G + S`, so after any pointer to the object (true time at most
 *       `lastModified + S + G`); offsets grow with append order, so those are below the low
 *       watermark too: deleted. This holds with pointer timestamps out of order across brokers.
 * Nothing else is assumed: not the order of sequences, not that one sweeper runs at a time, not
 * the pointer queue's retention. Retention or an orphan marker only choose among objects that
 * pass 1 and 2; an object retention selects while its pointer is live waits for the pointer to
 * expire (Kafka) or for the sweeper to trim it (embedded queue, step 0 below).
 *
 * Per topic: 0. on queues whose retention the broker applies (`deleteBefore`), drop the leading
 * pointers whose objects retention selects; 1. list the objects and orphan markers; 2. find
 * the unreachable settled ones; 3. delete those retention selects or that are orphans (see
 * `planDeletions`), then their markers, and markers of objects that no longer exist; 4. abort
 * multipart uploads of the topic started more than H ago (stores that list them: S3).
 */
export class RetentionSweeper {
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<TopicSweep[]> | undefined;
  #stopped = false;

  constructor(private readonly deps: SweeperDeps) {
    this.#now = deps.now ?? Date.now;
    if (deps.settings.orphanGraceMs < deps.pointerRetryBudgetMs) {
      throw new ConfigError(
        `retention.orphanGraceMs (${deps.settings.orphanGraceMs} ms) must be at least upload.pointerRetryBudgetMs (${deps.pointerRetryBudgetMs} ms): a batch's pointer may be published that long after its object was stored`,
        'retention.orphanGraceMs',
      );
    }
  }

  /** The time an object must have been stored for before it may be deleted. */
  get horizonMs(): number {
    return this.deps.settings.orphanGraceMs + 2 * this.deps.settings.clockSkewMs;
  }

  /** Checks the pointer queue's own retention against the topics' and schedules the sweeps. */
  start(): void {
    void this.#checkPointerRetention();
    this.#schedule();
  }

  /** Stops scheduling; waits up to 5 s for a sweep in progress (it stops before its next delete). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#running) await raceTimeout(this.#running, 5000);
  }

  /** Sweeps every topic this broker sweeps, one after the other (a sweep already running is joined). */
  sweep(): Promise<TopicSweep[]> {
    this.#running ??= this.#sweepAll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.sweep().finally(() => this.#schedule());
    }, this.deps.settings.intervalMs);
    this.#timer.unref();
  }

  async #sweepAll(): Promise<TopicSweep[]> {
    const out: TopicSweep[] = [];
    for (const topic of this.deps.topics()) {
      if (this.#stopped) break;
      if (!this.deps.sweeps(topic.name)) continue;
      try {
        out.push(await this.sweepTopic(topic));
      } catch (e) {
        this.deps.log.error({ topic: topic.name, err: errorMessage(e) }, 'retention sweep of topic failed');
      }
    }
    return out;
  }

  async sweepTopic(topic: TopicConfig): Promise<TopicSweep> {
    const { storage, pointers, metrics } = this.deps;
    const now = this.#now();
    const name = topic.name;
    const configured = topic.retention ?? this.deps.retentionOf?.(name);
    const retention = configured ?? {};
    const objects = await listBatchObjects(storage, name);
    const expired = expiredObjects(objects, retention, now);
    const pointersTrimmed =
      configured === undefined
        ? 0
        : await trimPointers(pointers, name, (p) => pointerExpired(p, expired, retention, now));
    const markers = await listOrphanMarkers(storage, name);
    const settled = objects.filter((o) => o.storedAt !== undefined && now - o.storedAt > this.horizonMs);
    const live = await livePointers(pointers, name, this.horizonMs);
    const unreachable = await live.unreachable(settled);
    const plan = planDeletions({ objects, unreachable, expired, markers, live });
    if (this.#stopped) {
      const none: string[] = [];
      return {
        topic: name,
        pointersTrimmed,
        retentionDeleted: none,
        orphansDeleted: none,
        orphansWaiting: none,
        uploadsAborted: none,
      };
    }
    await this.#delete(plan.retention);
    metrics.retained(name, plan.retention.length, bytes(plan.retention));
    await this.#delete(plan.orphans);
    metrics.collected(name, plan.orphans.length, bytes(plan.orphans));
    metrics.orphans(name, plan.waiting.length, bytes(plan.waiting));
    await this.#deleteMarkers(objects, plan, markers, now);
    const uploadsAborted = await abortAbandonedUploads(storage, name, now, this.horizonMs);
    metrics.collected(name, uploadsAborted.length, 0);
    const report = {
      topic: name,
      pointersTrimmed,
      retentionDeleted: plan.retention.map((o) => o.key),
      orphansDeleted: plan.orphans.map((o) => o.key),
      orphansWaiting: plan.waiting.map((o) => o.key),
      uploadsAborted,
    };
    if (
      pointersTrimmed +
        report.retentionDeleted.length +
        report.orphansDeleted.length +
        uploadsAborted.length >
      0
    ) {
      this.deps.log.info(
        {
          topic: name,
          pointersTrimmed,
          retentionDeleted: report.retentionDeleted.length,
          orphansDeleted: report.orphansDeleted.length,
          uploadsAborted: uploadsAborted.length,
        },
        'retention sweep deleted objects',
      );
    }
    return report;
  }

  async #delete(objects: readonly BatchObject[]): Promise<void> {
    for (let i = 0; i < objects.length; i += DELETE_BATCH) {
      await this.deps.storage.delete(objects.slice(i, i + DELETE_BATCH).map((o) => o.key));
    }
  }

  /** Markers of deleted objects, and settled markers whose object is gone (a hedge loser deleted at once). */
  async #deleteMarkers(
    objects: readonly BatchObject[],
    plan: { retention: BatchObject[]; orphans: BatchObject[] },
    markers: ReadonlyMap<string, number | undefined>,
    now: number,
  ): Promise<void> {
    const present = new Set(objects.map((o) => o.key));
    const gone = new Set([...plan.retention, ...plan.orphans].map((o) => o.key));
    const stale = [...markers].filter(
      ([key, at]) => gone.has(key) || (!present.has(key) && at !== undefined && now - at > this.horizonMs),
    );
    for (let i = 0; i < stale.length; i += DELETE_BATCH) {
      await this.deps.storage.delete(stale.slice(i, i + DELETE_BATCH).map(([key]) => orphanMetaKey(key)));
    }
  }

  /** Kafka keeps pointers by its own `retention.ms`: say when it does not match the topics'. */
  async #checkPointerRetention(): Promise<void> {
    const { pointers, log } = this.deps;
    if (!pointers.pointerRetentionMs) return;
    for (const topic of this.deps.topics()) {
      const ms = (topic.retention ?? this.deps.retentionOf?.(topic.name))?.ms;
      if (ms === undefined) continue;
      try {
        const pointerMs = await pointers.pointerRetentionMs(topic.name);
        if (pointerMs === undefined || pointerMs > ms) {
          log.warn(
            { topic: topic.name, retentionMs: ms, pointerRetentionMs: pointerMs ?? 'forever' },
            `the ${pointers.adapter} pointer topic of "${topic.name}" keeps pointers longer than topics[].retention.ms: objects are deleted only once their pointers expired, so they are kept as long as the pointers; set the pointer topic's retention.ms to at most ${ms}`,
          );
        } else if (pointerMs < ms) {
          log.warn(
            { topic: topic.name, retentionMs: ms, pointerRetentionMs: pointerMs },
            `the ${pointers.adapter} pointer topic of "${topic.name}" drops pointers after ${pointerMs} ms, before topics[].retention.ms (${ms} ms): consumers cannot read batches older than that although their objects are kept`,
          );
        }
      } catch (e) {
        log.warn({ topic: topic.name, err: errorMessage(e) }, 'cannot read the pointer topic retention');
      }
    }
  }
}

function bytes(objects: readonly BatchObject[]): number {
  return objects.reduce((n, o) => n + o.size, 0);
}
