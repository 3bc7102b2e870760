import { Counter, Gauge, type Registry } from 'prom-client';
import type { BrokerMetrics } from '../metrics.js';
import type { SweepMetrics } from './sweeper.js';

type Kind = 'counter' | 'gauge';

/**
 * The sweeper's report into the broker's Prometheus metrics, found by name on its registry
 * (`metrics.ts` defines them; one is registered here only if it is missing). A `topic` label is
 * set where the metric has one.
 */
export function sweepMetrics(m: BrokerMetrics): SweepMetrics {
  const retainedObjects = metric(m.registry, 'barge_retention_deleted_objects_total', 'counter');
  const retainedBytes = metric(m.registry, 'barge_retention_deleted_bytes_total', 'counter');
  const collectedObjects = metric(m.registry, 'barge_orphans_collected_objects_total', 'counter');
  const collectedBytes = metric(m.registry, 'barge_orphans_collected_bytes_total', 'counter');
  const orphanObjects = metric(m.registry, 'barge_orphan_objects', 'gauge');
  const orphanBytes = metric(m.registry, 'barge_orphan_bytes', 'gauge');
  return {
    retained(topic, objects, bytes) {
      retainedObjects(topic, objects);
      retainedBytes(topic, bytes);
    },
    collected(topic, objects, bytes) {
      collectedObjects(topic, objects);
      collectedBytes(topic, bytes);
    },
    orphans(topic, objects, bytes) {
      orphanObjects(topic, objects);
      orphanBytes(topic, bytes);
    },
  };
}

/** Adds to a counter or sets a gauge, for one topic. */
function metric(registry: Registry, name: string, kind: Kind): (topic: string, value: number) => void {
  const found = registry.getSingleMetric(name) as Counter | Gauge | undefined;
  const m =
    found ??
    (kind === 'counter'
      ? new Counter({ name, help: name, labelNames: ['topic'], registers: [registry] })
      : new Gauge({ name, help: name, labelNames: ['topic'], registers: [registry] }));
  const labelled = ((m as unknown as { labelNames?: string[] }).labelNames ?? []).includes('topic');
  return (topic, value) => {
    const labels = labelled ? { topic } : {};
    if (m instanceof Gauge) m.set(labels, value);
    else m.inc(labels, value);
  };
}
