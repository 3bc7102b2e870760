/**
 * Throughput of the production path on this machine: a `barge broker` process with S3 storage
 * (moto) and Kafka pointers (the shared test Kafka), producers and consumers in this process.
 * Figures go into docs/deploy.md ("Sizing"). They are loopback figures against emulators on a
 * shared 2-core VM: moto (Python) and Kafka compete with the broker and the load generator for
 * the same two cores, so they are a floor for one broker, not a capacity plan.
 *
 *   scripts/services.sh start s3 kafka
 *   npx tsc -b test && node test/dist/bench/kafka-s3-bench.js
 *   BENCH_SECONDS=10 node test/dist/bench/kafka-s3-bench.js
 *
 * Per scenario: produce for BENCH_SECONDS (default 8) with acks=durable (BENCH_PRODUCERS
 * producers, default 4, each with up to 16 sends of ~1 MiB in flight), then read the topic from the beginning with one consumer
 * reading Kafka and S3 directly, and one reading through the broker (its groups and read proxy).
 * CPU seconds of the broker, moto and Kafka processes come from /proc.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Consumer, Producer } from '@barge/client';
import type { CodecName } from '@barge/core';
import { KafkaPointerQueue } from '@barge/pointers-kafka';
import { startBroker, tempDir, waitFor } from '../harness.js';
import {
  deletePointerTopics,
  freshBucket,
  kafkaBrokers,
  kafkaQueueOptions,
  kafkaYaml,
  runId,
  s3Yaml,
} from '../kafka-fixtures.js';
import { cpuSeconds, pct, produceFor, servicePid, sizeName, values } from './produce-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
/** Producers (one connection each), each with up to 16 sends of ~1 MiB in flight. */
const PRODUCERS = Number(process.env.BENCH_PRODUCERS ?? 4);
const RUN = runId();

interface Scenario {
  name: string;
  size: number;
  codec: CodecName;
  /** batch.maxDelayMs of the topic (default 250). */
  maxDelayMs?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'small', size: 100, codec: 'none' },
  { name: 'small-lz4', size: 100, codec: 'lz4' },
  { name: 'kib', size: 1024, codec: 'none' },
  { name: 'kib-lz4', size: 1024, codec: 'lz4' },
  { name: 'kib-fast', size: 1024, codec: 'none', maxDelayMs: 20 },
  { name: 'large', size: 64 * 1024, codec: 'none' },
];

async function main(): Promise<void> {
  const brokers = kafkaBrokers();
  const dir = await tempDir('barge-bench-kafka-s3-');
  const bucket = await freshBucket('barge-bench');
  const config = join(dir.path, 'barge.yaml');
  await writeFile(
    config,
    [
      `broker: { id: 41, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
      ...s3Yaml(bucket.name),
      ...kafkaYaml(brokers, RUN),
      'topics:',
      ...SCENARIOS.map(
        (s) =>
          `  - { name: ${s.name}-${RUN}, writePartitions: 4, readPartitions: 4, compression: ${s.codec}, batch: { maxDelayMs: ${s.maxDelayMs ?? 250} } }`,
      ),
      '',
    ].join('\n'),
  );
  const broker = await startBroker(['--config', config]);
  const pids = { broker: broker.child.pid, moto: servicePid('s3'), kafka: servicePid('kafka') };
  const rows: string[] = [];
  const readRows: string[] = [];
  const latencyRows: string[] = [];
  const started = new Date();
  const load0 = loadavg()[0]!;
  try {
    for (const s of SCENARIOS) {
      const topic = `${s.name}-${RUN}`;
      const producers = Array.from(
        { length: PRODUCERS },
        () => new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 5 }),
      );
      await Promise.all(producers.map((p) => p.connect()));
      const { acked, bytes, latencies, secs, cpu, loadgen } = await produceFor({
        producers,
        topic,
        size: s.size,
        seconds: SECONDS,
        pids,
      });
      await Promise.all(producers.map((p) => p.disconnect()));
      rows.push(
        `| ${sizeName(s.size)} | ${s.codec} | ${s.maxDelayMs ?? 250} | ${Math.round(acked / secs).toLocaleString('en-US')} | ${(bytes / 1e6 / secs).toFixed(1)} | ${Math.round(pct(latencies, 50))} / ${Math.round(pct(latencies, 99))} | ${(cpu.broker / secs).toFixed(2)} | ${(cpu.moto / secs).toFixed(2)} | ${(cpu.kafka / secs).toFixed(2)} | ${(loadgen / secs).toFixed(2)} | ${(bytes / 1e6 / cpu.broker).toFixed(0)} |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);

      // Read it back: directly from Kafka + S3, and through the broker.
      for (const mode of ['direct', 'broker'] as const) {
        const queue = mode === 'direct' ? new KafkaPointerQueue(kafkaQueueOptions(brokers, RUN)) : undefined;
        const storage = mode === 'direct' ? bucket.storage() : undefined;
        const consumer = new Consumer({
          groupId: `bench-${mode}-${topic}`,
          ...(queue && storage ? { pointers: queue, storage } : { brokers: [broker.address] }),
          autoCommitIntervalMs: 1000,
          maxPollRecords: 64,
        });
        let got = 0;
        let gotBytes = 0;
        // From the first batch on (group join time excluded).
        let r0 = 0;
        const bcpu0 = cpuSeconds(pids.broker);
        await consumer.connect();
        await consumer.subscribe({ topic });
        await consumer.run({
          eachBatch: async ({ batch }) => {
            if (r0 === 0) r0 = performance.now();
            for (const m of batch.messages) gotBytes += m.value.length + (m.key?.length ?? 0);
            got += batch.messages.length;
          },
        });
        await waitFor(`${mode} consumer to read ${acked}`, () => got >= acked, 300_000, 20);
        const rsecs = (performance.now() - r0) / 1000;
        const bcpu = cpuSeconds(pids.broker) - bcpu0;
        await consumer.disconnect();
        await Promise.allSettled([queue?.close(), storage?.close()]);
        readRows.push(
          `| ${sizeName(s.size)} | ${s.codec} | ${s.maxDelayMs ?? 250} | ${mode === 'direct' ? 'Kafka + S3 directly' : 'through the broker'} | ${Math.round(got / rsecs).toLocaleString('en-US')} | ${(gotBytes / 1e6 / rsecs).toFixed(1)} | ${(bcpu / rsecs).toFixed(2)} |`,
        );
        process.stderr.write(`${readRows.at(-1)}\n`);
      }
    }
    // Ack latency without load: one producer, one send of 10 x 1 KiB at a time.
    for (const s of SCENARIOS.filter((x) => x.size === 1024 && x.codec === 'none')) {
      const topic = `${s.name}-${RUN}`;
      const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 0 });
      await producer.connect();
      const pool = values(1024);
      const latencies: number[] = [];
      const end = performance.now() + Math.min(SECONDS, 5) * 1000;
      for (let n = 0; performance.now() < end; n++) {
        const messages = Array.from({ length: 10 }, (_, i) => ({
          key: null,
          value: pool[(n + i) % pool.length]!,
        }));
        const t0 = performance.now();
        await producer.send({ topic, messages });
        latencies.push(performance.now() - t0);
      }
      await producer.disconnect();
      latencyRows.push(
        `| ${s.maxDelayMs ?? 250} | ${latencies.length} | ${Math.round(pct(latencies, 50))} | ${Math.round(pct(latencies, 99))} |`,
      );
      process.stderr.write(`${latencyRows.at(-1)}\n`);
    }
  } finally {
    await broker.stop();
    await dir.remove();
    await bucket.remove().catch((e: unknown) => process.stderr.write(`bucket cleanup: ${String(e)}\n`));
    await deletePointerTopics(brokers, kafkaQueueOptions(brokers, RUN).topicPrefix);
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    [
      `Run ${started.toISOString()}, ${cpus().length} x ${cpu}, Node ${process.version}, load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end; ${SECONDS} s per scenario, ${PRODUCERS} producers (acks=durable, up to 16 sends of ~1 MiB in flight each), 4 write / 4 read partitions, batch.maxBytes 8 MiB.`,
      '',
      '| message | codec | batch.maxDelayMs | msgs/s | MB/s | send latency p50 / p99 ms | broker CPU | moto CPU | Kafka CPU | load generator CPU | MB per broker CPU s |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      '| message | codec | batch.maxDelayMs | consumer | msgs/s | MB/s | broker CPU |',
      '| --- | --- | ---: | --- | ---: | ---: | ---: |',
      ...readRows,
      '',
      '| batch.maxDelayMs | sends (one at a time) | durable ack p50 ms | p99 ms |',
      '| ---: | ---: | ---: | ---: |',
      ...latencyRows,
      '',
    ].join('\n'),
  );
}

await main();
