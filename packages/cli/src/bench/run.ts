import { randomBytes } from 'node:crypto';
import type { ConsumedMessage, ProducerMessage } from '@barge/client';
import { firstShutdownSignal } from '../shutdown.js';
import { BrokerProbe } from './broker-stats.js';
import { BenchConsumer } from './consume-run.js';
import { Meter } from './meter.js';
import type { BenchOptions } from './options.js';
import { Payload } from './payload.js';
import { connectProducers, disconnectAll, produce } from './produce-run.js';
import { ProgressLine } from './progress-line.js';
import { type BenchSummary, buildSummary } from './summary.js';
import { type PreparedTopic, prepareTopic } from './topic.js';

/** What a run measured: the summary, and the end-to-end p99 per timeline point (for the chart). */
export interface BenchResult {
  readonly summary: BenchSummary;
  readonly endToEndTimeline: readonly (number | null)[];
}

/**
 * One `barge bench` run: prepares the topic, scrapes the broker's /metrics before and after,
 * runs the kind's load with a live progress line, and summarises.
 */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const topic = await prepareTopic(o.broker, o.topic, o.partitions, o.kind !== 'consume');
  const probe = await BrokerProbe.start(o.admin);
  if ('error' in probe) process.stderr.write(`barge bench: ${probe.error}\n`);
  const startedAt = new Date();
  const meter = new Meter();
  const run = o.kind === 'produce' ? produceRun : o.kind === 'consume' ? consumeRun : endToEndRun;
  // Ctrl-C stops the load and still reports what was measured; a second one ends the process.
  const stop = new AbortController();
  void firstShutdownSignal().then((signal) => {
    process.stderr.write(`\n${signal}: stopping, then reporting what was measured (again to exit at once)\n`);
    stop.abort();
  });
  const seconds = await run(o, topic, meter, stop.signal);
  const broker = 'error' in probe ? null : await probe.stop(meter.bytes);
  return {
    summary: buildSummary({ options: o, topic: topic.info, meter, seconds, broker, startedAt }),
    endToEndTimeline: meter.endToEndTimeline,
  };
}

type Run = (o: BenchOptions, topic: PreparedTopic, meter: Meter, stop: AbortSignal) => Promise<number>;

const produceRun: Run = async (o, _topic, meter, stop) => {
  const producers = await connectProducers(o);
  const payload = new Payload(o.messageBytes, o.keyBytes);
  meter.start();
  const progress = new ProgressLine('produce', meter, o.quiet);
  const started = performance.now();
  try {
    await produce(producers, o, { payload, meter, stop });
    return (performance.now() - started) / 1000;
  } finally {
    progress.stop();
    await disconnectAll(producers);
  }
};

const consumeRun: Run = async (o, topic, meter, stop) => {
  const consumer = await BenchConsumer.start(o, topic.info.readPartitions, meter, { stop });
  const progress = new ProgressLine('consume', meter, o.quiet);
  try {
    await consumer.finished();
    return consumer.seconds();
  } finally {
    progress.stop();
    await consumer.stop();
  }
};

/**
 * Producers and a consumer at once. Each value starts with the time it was sent (float64 ms
 * since the epoch) and this run's nonce: the consumer counts only the run's messages and
 * records each one's send-to-consume latency. The consumer starts at the topic's end.
 */
const endToEndRun: Run = async (o, topic, meter, stop) => {
  const nonce = randomBytes(8);
  const payload = new Payload(o.messageBytes, o.keyBytes);
  const stamped = (n: number): ProducerMessage[] => {
    const at = performance.timeOrigin + performance.now();
    return Array.from({ length: n }, (_, i) => {
      const value = payload.valueCopy(i);
      value.writeDoubleLE(at, 0);
      nonce.copy(value, 8);
      return { ...payload.message(i), value };
    });
  };
  const accept = (m: ConsumedMessage): boolean => {
    if (m.value.length < 16 || m.value.compare(nonce, 0, 8, 8, 16) !== 0) return false;
    meter.endToEndLatency(performance.timeOrigin + performance.now() - m.value.readDoubleLE(0));
    return true;
  };
  const consumer = await BenchConsumer.start(o, topic.info.readPartitions, meter, {
    startAt: topic.ends,
    accept,
    stop,
  });
  let producers: Awaited<ReturnType<typeof connectProducers>> = [];
  let progress: ProgressLine | undefined;
  try {
    producers = await connectProducers(o);
    meter.start();
    progress = new ProgressLine('e2e', meter, o.quiet);
    const started = performance.now();
    let acked = 0;
    const sink = {
      ackLatency: (ms: number) => meter.ackLatency(ms),
      moved: (n: number) => {
        acked += n;
      },
    };
    await produce(producers, o, { payload, meter: sink, source: stamped, stop });
    consumer.expect(acked);
    await consumer.finished();
    return Math.max(1e-3, (consumer.lastMessageAt - started) / 1000);
  } finally {
    progress?.stop();
    await disconnectAll(producers);
    await consumer.stop();
  }
};
