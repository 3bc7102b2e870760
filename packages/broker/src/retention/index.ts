import type { Broker } from '../broker.js';
import { sweepMetrics } from './sweep-metrics.js';
import { RetentionSweeper } from './sweeper.js';

export { RetentionSweeper, type SweeperDeps, type TopicSweep } from './sweeper.js';

/** The sweeper of a broker: its storage, queue, topics and metrics; `sweeps` says which topics are its. */
export function brokerSweeper(
  broker: Pick<Broker, 'storage' | 'pointers' | 'topics' | 'metrics' | 'log' | 'config'>,
  sweeps: (topic: string) => boolean,
  { pointerRetryBudgetMs }: { pointerRetryBudgetMs: number },
): RetentionSweeper {
  return new RetentionSweeper({
    storage: broker.storage,
    pointers: broker.pointers,
    topics: () => broker.topics.list(),
    retentionOf: (name) => broker.config.topics.find((t) => t.name === name)?.retention,
    sweeps,
    settings: broker.config.retention,
    pointerRetryBudgetMs,
    metrics: sweepMetrics(broker.metrics),
    log: broker.log,
  });
}
