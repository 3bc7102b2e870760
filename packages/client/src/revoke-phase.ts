import { errorMessage } from '@barge/core';
import type { DeliveryLoop } from './delivery-loop.js';
import type { Logger } from './logger.js';
import type { Subscription, Subscriptions } from './subscriptions.js';

export interface RevokePhaseDeps {
  readonly subscriptions: Subscriptions;
  readonly delivery: DeliveryLoop;
  /** Commits every owned partition's processed position; undefined when auto-commit is off. */
  readonly commit: (() => Promise<void>) | undefined;
  readonly log: Logger;
}

/**
 * The group's revoke phase for `partitions` of `sub` (they move to another member): nothing more
 * of them is delivered, the message or batch the application holds is finished, and what was
 * processed is committed (with auto-commit) before the new owner starts at it.
 */
export async function givePartitionsUp(
  deps: RevokePhaseDeps,
  sub: Subscription,
  partitions: readonly number[],
): Promise<void> {
  const scopes = new Set<string>();
  for (const p of partitions) {
    const cursor = deps.subscriptions.existingCursor(sub.topic, p);
    if (!cursor) continue;
    cursor.draining();
    scopes.add(cursor.scope);
  }
  await deps.delivery.idle(scopes);
  await deps.commit?.().catch((e) =>
    deps.log.warn(`commit before giving up partitions of ${sub.topic} failed`, {
      partitions,
      error: errorMessage(e),
    }),
  );
  deps.subscriptions.released(sub, partitions);
  deps.log.info(`released partitions of ${sub.topic} to the group`, { partitions });
}
