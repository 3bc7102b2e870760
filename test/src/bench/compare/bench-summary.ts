/**
 * The JSON summary `barge bench produce|consume ... --json FILE` writes (the contract in
 * docs/benchmarks.md), read back and turned into the comparison's measures.
 */
import { readFile } from 'node:fs/promises';
import type { BenchSummary, Percentiles } from '@barge/cli';
import type { ConsumeMeasure, ProduceMeasure, Quantiles } from './types.js';

export type { BenchSummary } from '@barge/cli';

const NUMBERS = ['messages', 'bytes', 'seconds', 'messagesPerSecond', 'mbPerSecond'] as const;

export async function readBenchSummary(file: string): Promise<BenchSummary> {
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file}: not a JSON object`);
  const s = parsed as Record<string, unknown>;
  for (const k of NUMBERS) {
    if (typeof s[k] !== 'number')
      throw new Error(`${file}: "${k}" is not a number (got ${JSON.stringify(s[k])})`);
  }
  return parsed as BenchSummary;
}

const quantiles = (q: Percentiles | null | undefined): Quantiles | null =>
  q ? { p50: q.p50, p99: q.p99, p999: q.p999, max: q.max } : null;

export function produceMeasure(
  s: BenchSummary,
  services: ProduceMeasure['serviceCpuSecondsPerGB'],
): ProduceMeasure {
  return {
    messages: s.messages,
    bytes: s.bytes,
    seconds: s.seconds,
    messagesPerSecond: s.messagesPerSecond,
    mbPerSecond: s.mbPerSecond,
    ackMs: quantiles(s.ackLatencyMs),
    brokerCpuSecondsPerGB: s.broker?.cpuSecondsPerGB ?? null,
    brokerPeakRssMiB: s.broker?.peakRssMiB ?? null,
    serviceCpuSecondsPerGB: services,
    ...(typeof s.settings.rate === 'number' && s.settings.rate > 0 ? { rate: s.settings.rate } : {}),
    raw: s,
  };
}

export function consumeMeasure(s: BenchSummary): ConsumeMeasure {
  return {
    messages: s.messages,
    bytes: s.bytes,
    seconds: s.seconds,
    messagesPerSecond: s.messagesPerSecond,
    mbPerSecond: s.mbPerSecond,
    brokerCpuSecondsPerGB: s.broker?.cpuSecondsPerGB ?? null,
    brokerPeakRssMiB: s.broker?.peakRssMiB ?? null,
    raw: s,
  };
}
