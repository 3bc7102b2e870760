import { loadavg } from 'node:os';
import type { TopicInfo } from '@barge/core';
import { formatTable } from '../text-table.js';
import type { BrokerStats } from './broker-stats.js';
import type { Percentiles } from './histogram.js';
import type { Meter, TimelinePoint } from './meter.js';
import { type BenchKind, type BenchOptions, settingsOf } from './options.js';

/** The JSON summary of one run: the contract with test/bench/compare (notes: bench-json.md). */
export interface BenchSummary {
  kind: BenchKind;
  topic: string;
  messageBytes: number;
  keyBytes: number;
  codec: string;
  acks: string;
  producers: number;
  messages: number;
  bytes: number;
  seconds: number;
  messagesPerSecond: number;
  mbPerSecond: number;
  ackLatencyMs: Percentiles | null;
  endToEndMs: Percentiles | null;
  broker: BrokerStats | null;
  timeline: TimelinePoint[];
  settings: Record<string, unknown>;
  startedAt: string;
  loadAverage: [number, number, number];
}

export function buildSummary(run: {
  options: BenchOptions;
  topic: TopicInfo;
  meter: Meter;
  seconds: number;
  broker: BrokerStats | null;
  startedAt: Date;
}): BenchSummary {
  const { options: o, meter, seconds } = run;
  const [l1, l5, l15] = loadavg();
  const consumed = o.kind === 'consume' && meter.messages > 0;
  return {
    kind: o.kind,
    topic: o.topic,
    // consume reads what is there: the sizes it saw, on average.
    messageBytes: consumed ? Math.round((meter.bytes - meter.keyBytes) / meter.messages) : o.messageBytes,
    keyBytes: consumed ? Math.round(meter.keyBytes / meter.messages) : o.keyBytes,
    codec: o.codec ?? run.topic.compression,
    acks: o.acks,
    producers: o.kind === 'consume' ? 0 : o.producers,
    messages: meter.messages,
    bytes: meter.bytes,
    seconds: round(seconds, 3),
    messagesPerSecond: Math.round(meter.messages / seconds),
    mbPerSecond: round(meter.bytes / 1e6 / seconds, 3),
    ackLatencyMs: o.kind === 'consume' ? null : meter.ack.summary(),
    endToEndMs: o.kind === 'e2e' ? meter.endToEnd.summary() : null,
    broker: run.broker,
    timeline: meter.timeline,
    settings: {
      ...settingsOf(o),
      writePartitions: run.topic.writePartitions,
      readPartitions: run.topic.readPartitions,
      topicBatch: run.topic.batch,
    },
    startedAt: run.startedAt.toISOString(),
    loadAverage: [round(l1 ?? 0, 2), round(l5 ?? 0, 2), round(l15 ?? 0, 2)],
  };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const latency = (p: Percentiles | null) =>
  p === null
    ? 'n/a'
    : `p50 ${fmt(p.p50, 1)}  p99 ${fmt(p.p99, 1)}  p99.9 ${fmt(p.p999, 1)}  max ${fmt(p.max, 1)}`;

/** The human summary: one figure per line. */
export function formatSummary(s: BenchSummary): string {
  const rows: string[][] = [
    [
      'bench',
      s.kind === 'consume'
        ? `consume ${s.topic}: values of ${fmt(s.messageBytes)} B, keys of ${fmt(s.keyBytes)} B on average, codec=${s.codec}`
        : `${s.kind} ${s.topic}: ${fmt(s.messageBytes)} B values, ${fmt(s.keyBytes)} B keys, acks=${s.acks}, codec=${s.codec}, ${s.producers} producer(s)`,
    ],
    ['messages', `${fmt(s.messages)} in ${fmt(s.seconds, 2)} s`],
    ['throughput', `${fmt(s.messagesPerSecond)} msgs/s, ${fmt(s.mbPerSecond, 1)} MB/s`],
  ];
  if (s.kind !== 'consume') rows.push(['ack latency ms', latency(s.ackLatencyMs)]);
  if (s.kind === 'e2e') rows.push(['end-to-end ms', latency(s.endToEndMs)]);
  const b = s.broker;
  if (b) {
    rows.push(
      ['broker CPU', `${fmt(b.cpuSeconds, 2)} s (${fmt(b.cpuSecondsPerGB, 1)} s/GB)`],
      ['broker peak RSS', `${fmt(b.peakRssMiB)} MiB`],
      ['objects written', `${fmt(b.objectsWritten)} (${fmt(b.bytesPerObject)} bytes each)`],
      ['storage requests', `${fmt(b.storageRequests)} (${fmt(b.storageRequestsPerGB)} per GB)`],
    );
  } else {
    rows.push(['broker', 'n/a (admin endpoint not reachable: --admin)']);
  }
  rows.push(['load average', s.loadAverage.join(' ')]);
  return formatTable(rows);
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
