/** One kafkajs cell: kafkajs-load.js produces into a fresh topic, then a second process reads it back. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTopic, deleteTopics } from './kafka-admin.js';
import type { KafkaCellContext } from './kafka-java-cell.js';
import { loadAverage, peakRssMiB } from './machine.js';
import { runProcess } from './run-process.js';
import { sampleCpu } from './service-cpu.js';
import type { Cell, Quantiles } from './types.js';

export const KAFKAJS_SETTINGS = { batchMessages: 1000, inFlight: 4, acks: -1 } as const;
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'kafkajs-load.js');

interface Loaded {
  messages: number;
  bytes: number;
  seconds: number;
  ackMs?: Quantiles;
}

export async function runKafkajsCell(size: number, messages: number, ctx: KafkaCellContext): Promise<Cell> {
  const cell: Cell = {
    system: 'kafkajs',
    size,
    startedAt: new Date().toISOString(),
    loadAverage: loadAverage(),
  };
  const topic = `barge.compare.${ctx.run}.kafkajs-${size}B`;
  const load = async (mode: 'produce' | 'consume'): Promise<Loaded> => {
    ctx.log(`kafkajs ${size} B: ${mode}`);
    const args = { brokers: ctx.kafkaBrokers, topic, size, messages, ...KAFKAJS_SETTINGS };
    const done = await runProcess(process.execPath, [SCRIPT, mode, JSON.stringify(args)], {
      timeoutMs: ctx.timeoutMs,
      env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    });
    return JSON.parse(done.stdout) as Loaded;
  };
  try {
    await createTopic(ctx.kafkaBrokers, topic, 4);
    let cpu = sampleCpu(ctx.pids, ['kafka']);
    const p = await load('produce');
    cell.produce = {
      messages: p.messages,
      bytes: p.bytes,
      seconds: p.seconds,
      messagesPerSecond: p.messages / p.seconds,
      mbPerSecond: p.bytes / 1e6 / p.seconds,
      ackMs: p.ackMs ?? null,
      brokerCpuSecondsPerGB: cpu.perGB(p.bytes).kafka ?? null,
      brokerPeakRssMiB: peakRssMiB(ctx.pids.kafka),
      serviceCpuSecondsPerGB: {},
      raw: p,
    };
    cpu = sampleCpu(ctx.pids, ['kafka']);
    const c = await load('consume');
    if (c.messages < p.messages)
      throw new Error(`consumed ${c.messages} of ${p.messages} messages (idle 60 s)`);
    cell.consume = {
      messages: c.messages,
      bytes: c.bytes,
      seconds: c.seconds,
      messagesPerSecond: c.messages / c.seconds,
      mbPerSecond: c.bytes / 1e6 / c.seconds,
      brokerCpuSecondsPerGB: cpu.perGB(c.bytes).kafka ?? null,
      brokerPeakRssMiB: peakRssMiB(ctx.pids.kafka),
      raw: c,
    };
  } catch (e) {
    cell.error = e instanceof Error ? e.message : String(e);
    ctx.log(`kafkajs ${size} B failed: ${cell.error}`);
  } finally {
    await deleteTopics(ctx.kafkaBrokers, topic);
  }
  return cell;
}
