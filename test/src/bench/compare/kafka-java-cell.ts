/**
 * One cell of Kafka's own perf tools against the test Kafka: `ProducerPerformance` (acks=all,
 * linger.ms=5, batch.size=1 MiB, no compression, as fast as it can) into a fresh 4-partition
 * topic, then `ConsumerPerformance` reading it back. The tools run from the jars
 * `scripts/services.sh install kafka` fetched; Kafka's CPU comes from /proc around each tool.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConsumerPerformance, parseProducerPerformance } from './java-perf-parse.js';
import { createTopic, deleteTopics } from './kafka-admin.js';
import { loadAverage, peakRssMiB } from './machine.js';
import { runProcess } from './run-process.js';
import { type ServicePids, sampleCpu } from './service-cpu.js';
import type { Cell } from './types.js';

const MIB = 1024 * 1024;
export const JAVA_PRODUCER_PROPS: Record<string, string> = {
  acks: 'all',
  'linger.ms': '5',
  'batch.size': '1048576',
  'compression.type': 'none',
};

export interface KafkaCellContext {
  run: string;
  kafkaBrokers: readonly string[];
  pids: ServicePids;
  log: (line: string) => void;
  timeoutMs: number;
}

/** Fails with what to run when the tools jar is not there (older installs fetched only the broker). */
export function checkToolsJar(libs: string): void {
  const ok = existsSync(libs) && readdirSync(libs).some((f) => /^kafka-tools-\d.*\.jar$/.test(f));
  if (!ok) {
    throw new Error(
      `no kafka-tools jar in ${libs}: run scripts/services.sh install kafka (scripts/kafka/pom.xml lists it)`,
    );
  }
}

export async function runKafkaJavaCell(
  libs: string,
  size: number,
  messages: number,
  ctx: KafkaCellContext,
): Promise<Cell> {
  const cell: Cell = {
    system: 'kafka-java',
    size,
    startedAt: new Date().toISOString(),
    loadAverage: loadAverage(),
  };
  const topic = `barge.compare.${ctx.run}.java-${size}B`;
  const java = (tool: string, args: string[]) =>
    runProcess('java', ['-Xmx512m', '-cp', join(libs, '*'), `org.apache.kafka.tools.${tool}`, ...args], {
      timeoutMs: ctx.timeoutMs,
    });
  try {
    await createTopic(ctx.kafkaBrokers, topic, 4);
    ctx.log(`kafka-java ${size} B: ProducerPerformance`);
    const props = { 'bootstrap.servers': ctx.kafkaBrokers.join(','), ...JAVA_PRODUCER_PROPS };
    let cpu = sampleCpu(ctx.pids, ['kafka']);
    const produced = await java('ProducerPerformance', [
      '--topic',
      topic,
      '--num-records',
      String(messages),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--producer-props',
      ...Object.entries(props).map(([k, v]) => `${k}=${v}`),
    ]);
    const bytes = messages * size;
    const kafkaCpu = cpu.perGB(bytes).kafka ?? null;
    const p = parseProducerPerformance(produced.stdout);
    const s = p.summary;
    cell.produce = {
      messages: s.records,
      bytes: s.records * size,
      seconds: s.records / s.recordsPerSecond,
      messagesPerSecond: s.recordsPerSecond,
      mbPerSecond: (s.recordsPerSecond * size) / 1e6,
      ackMs: { p50: s.p50Ms, p99: s.p99Ms, p999: s.p999Ms, max: s.maxLatencyMs, avg: s.avgLatencyMs },
      brokerCpuSecondsPerGB: kafkaCpu,
      brokerPeakRssMiB: peakRssMiB(ctx.pids.kafka),
      serviceCpuSecondsPerGB: {},
      raw: { stdout: produced.stdout, parsed: p, wallSeconds: produced.seconds },
    };

    ctx.log(`kafka-java ${size} B: ConsumerPerformance`);
    cpu = sampleCpu(ctx.pids, ['kafka']);
    const consumed = await java('ConsumerPerformance', [
      '--bootstrap-server',
      ctx.kafkaBrokers.join(','),
      '--topic',
      topic,
      '--messages',
      String(messages),
      '--group',
      `${topic}.perf`,
      '--timeout',
      '60000',
    ]);
    const c = parseConsumerPerformance(consumed.stdout);
    if (c.warning !== null) throw new Error(`ConsumerPerformance: ${c.warning}`);
    // Without the group join (rebalance.time.ms), as the Barge consumers count from their first batch.
    cell.consume = {
      messages: c.messages,
      bytes: c.mib * MIB,
      seconds: c.fetchMs / 1000,
      messagesPerSecond: c.fetchMessagesPerSecond,
      mbPerSecond: (c.fetchMibPerSecond * MIB) / 1e6,
      brokerCpuSecondsPerGB: cpu.perGB(c.mib * MIB).kafka ?? null,
      brokerPeakRssMiB: peakRssMiB(ctx.pids.kafka),
      raw: { stdout: consumed.stdout, parsed: c, wallSeconds: consumed.seconds },
    };
  } catch (e) {
    cell.error = e instanceof Error ? e.message : String(e);
    ctx.log(`kafka-java ${size} B failed: ${cell.error}`);
  } finally {
    await deleteTopics(ctx.kafkaBrokers, topic);
  }
  return cell;
}
