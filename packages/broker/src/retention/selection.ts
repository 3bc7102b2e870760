import type { BatchPointer, TopicConfig } from '@barge/core';
import type { BatchObject } from './batch-objects.js';
import type { LivePointers } from './live-pointers.js';

export type Retention = NonNullable<TopicConfig['retention']>;

/**
 * The objects a topic's retention no longer keeps: stored more than `ms` ago, or beyond the
 * newest `bytes` of the topic. Objects whose store does not say when they were written count as
 * the newest. Selection alone deletes nothing; see `RetentionSweeper`.
 */
export function expiredObjects(
  objects: readonly BatchObject[],
  retention: Retention,
  now: number,
): Set<string> {
  const out = new Set<string>();
  if (retention.ms !== undefined) {
    for (const o of objects) if (o.storedAt !== undefined && now - o.storedAt > retention.ms) out.add(o.key);
  }
  if (retention.bytes !== undefined) {
    const newestFirst = [...objects].sort(
      (a, b) =>
        (b.storedAt ?? Number.POSITIVE_INFINITY) - (a.storedAt ?? Number.POSITIVE_INFINITY) ||
        (a.key < b.key ? 1 : -1),
    );
    let kept = 0;
    for (const o of newestFirst) {
      kept += o.size;
      if (kept > retention.bytes) out.add(o.key);
    }
  }
  return out;
}

/** Whether the pointer queue's retention applied by the broker (embedded queue) drops `pointer`. */
export function pointerExpired(
  pointer: BatchPointer,
  expired: ReadonlySet<string>,
  retention: Retention,
  now: number,
): boolean {
  if (expired.has(pointer.storage.key)) return true;
  return retention.ms !== undefined && now - pointer.createdAt > retention.ms;
}

export interface SweepPlan {
  /** Unreachable objects retention selected: delete. */
  readonly retention: BatchObject[];
  /** Unreachable orphans: delete. */
  readonly orphans: BatchObject[];
  /** Orphans known but not deletable yet (too young, or a live pointer may still reach them). */
  readonly waiting: BatchObject[];
}

export interface PlanInput {
  readonly objects: readonly BatchObject[];
  /** Settled objects no live pointer reaches. */
  readonly unreachable: ReadonlySet<string>;
  readonly expired: ReadonlySet<string>;
  readonly markers: ReadonlyMap<string, unknown>;
  readonly live: LivePointers;
}

/**
 * An orphan is an object that has a marker, or that no live pointer references while a live
 * pointer of its write partition has the same or a smaller sequence (a hedge loser, a batch
 * stored before a crash whose successors were published). Anything else unreferenced whose
 * retention has not come may be a batch whose pointer expired from the queue: it is kept.
 */
export function planDeletions(input: PlanInput): SweepPlan {
  const plan: SweepPlan = { retention: [], orphans: [], waiting: [] };
  for (const o of input.objects) {
    const unreachable = input.unreachable.has(o.key);
    const min = input.live.minLiveSequence(o.writePartition);
    const orphan = input.markers.has(o.key) || (unreachable && min !== undefined && o.sequence >= min);
    if (orphan) (unreachable ? plan.orphans : plan.waiting).push(o);
    else if (unreachable && input.expired.has(o.key)) plan.retention.push(o);
  }
  return plan;
}
