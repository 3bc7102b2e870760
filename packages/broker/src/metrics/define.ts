import { Counter, exponentialBuckets, Gauge, Histogram, type Registry } from 'prom-client';

/** 1 KiB to 64 MiB, times 4. */
export const BYTE_BUCKETS = exponentialBuckets(1024, 4, 9);
/** 1 to about a million (messages), times 4. */
export const COUNT_BUCKETS = exponentialBuckets(1, 4, 11);
/** 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Makers of metrics registered on `registry`, so `BrokerMetrics` declares each in a line or two. */
export function metricsOn(registry: Registry) {
  const registers = [registry];
  return {
    counter: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers }),
    gauge: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers }),
    histogram: <L extends string = never>(
      name: string,
      help: string,
      buckets: readonly number[],
      labelNames: readonly L[] = [],
    ) => new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers }),
  };
}
