import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';

/**
 * prom-client's process and Node.js metrics (CPU, memory, heap, event-loop lag, GC, handles,
 * file descriptors), collected once per process: each collection starts an event-loop monitor
 * and a GC observer that are never stopped, so a process with many brokers (tests) shares one
 * set, registered in every broker's registry.
 */
let shared: Registry | undefined;

export function registerProcessMetrics(registry: Registry): void {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
    // process_resident_memory_bytes is the RSS at scrape time; benchmarks need the peak between scrapes.
    new Gauge({
      name: 'barge_process_max_resident_memory_bytes',
      help: 'Peak resident memory of the process since it started, in bytes (getrusage maxrss)',
      registers: [shared],
      collect() {
        this.set(process.resourceUsage().maxRSS * 1024);
      },
    });
  }
  // At run time the array holds the metric objects themselves (prom-client's types say otherwise).
  for (const metric of shared.getMetricsAsArray() as unknown as Metric[]) registry.registerMetric(metric);
}

/** The version of this broker package (its package.json), read once. */
export const BROKER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

type BuildLabel = 'version' | 'node_version' | 'broker_id' | 'storage' | 'pointers';

/** `barge_build_info`: always 1; the labels say which build runs, on which Node.js, with which adapters. */
export class BuildInfo {
  readonly gauge: Gauge<BuildLabel>;

  constructor(registry: Registry) {
    this.gauge = new Gauge({
      name: 'barge_build_info',
      help: 'Always 1; labels: broker version, Node.js version, broker id, storage and pointer queue adapters',
      labelNames: ['version', 'node_version', 'broker_id', 'storage', 'pointers'],
      registers: [registry],
    });
    this.set({ brokerId: undefined, storage: '', pointers: '' });
  }

  /** One series, with the broker's id and adapters once it has them. */
  set(of: { brokerId: number | undefined; storage: string; pointers: string }): void {
    this.gauge.reset();
    this.gauge.set(
      {
        version: BROKER_VERSION,
        node_version: process.version,
        broker_id: of.brokerId === undefined ? '' : String(of.brokerId),
        storage: of.storage,
        pointers: of.pointers,
      },
      1,
    );
  }
}
