/** The shape of `barge bench ... --json FILE` output, for programs that read it. */
export type { BrokerStats } from './bench/broker-stats.js';
export type { Percentiles } from './bench/histogram.js';
export type { TimelinePoint } from './bench/meter.js';
export type { BenchSummary } from './bench/summary.js';
