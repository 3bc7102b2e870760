import { errorMessage, hasErrorCode, isBargeError, type TopicConfig } from '@barge/core';
import type { Logger } from 'pino';
import { raceTimeout } from './race-timeout.js';
import type { TopicRegistry } from './topics.js';

/**
 * At start, makes sure the pointer queue has a topic for every configured topic. A queue that is
 * down or slow (5 s) does not stop the broker: pointer publication retries later. Only a
 * permanent Barge error (e.g. a topic the queue refuses) is thrown.
 */
export async function ensurePointerTopics(
  registry: TopicRegistry,
  topics: readonly TopicConfig[],
  log: Logger,
): Promise<void> {
  const all = topics.map((t) =>
    registry.ensurePointerTopic(t).then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  const results = await raceTimeout(Promise.all(all), 5000);
  if (results === 'timeout') {
    log.error('pointer queue did not answer within 5 s at start; pointer publication will retry');
    return;
  }
  results.forEach((e, i) => {
    if (e === undefined) return;
    // Failures that are not Barge errors (network, driver) or are transient: retried later.
    if (hasErrorCode(e, 'TRANSIENT') || !isBargeError(e)) {
      log.error(
        { topic: topics[i]?.name, err: errorMessage(e) },
        'pointer queue unavailable at start; pointer publication will retry',
      );
      return;
    }
    throw e;
  });
}
