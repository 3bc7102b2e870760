/**
 * Produce throughput and cost of a cluster of N `barge broker` processes (S3 storage on moto,
 * Kafka pointers on the shared test Kafka), producers in this process bootstrapped with every
 * broker's address. Figures and how to read them: docs/benchmarks.md ("Cluster").
 *
 *   scripts/services.sh start s3 kafka
 *   npx tsc -b packages/cli test
 *   BENCH_BROKERS=3 node test/dist/bench/cluster-bench.js          # 3 brokers, one cluster
 *   BENCH_CLUSTER=off node test/dist/bench/cluster-bench.js        # 1 broker, no cluster section
 *
 * Knobs: BENCH_BROKERS (1, 2 or 3; default 1), BENCH_CLUSTER (`on`: every broker has
 * `cluster: { id }` and publishes each write partition's pointers in Kafka transactions under a
 * fenced transactional id; `off`: one broker without a cluster section, plain idempotent
 * publication; default on), BENCH_SIZES (value bytes, default `1024,100`), BENCH_SECONDS
 * (measured seconds per size, default 8, after 2 s of warm-up), BENCH_PRODUCERS (default 4,
 * acks=durable), BENCH_IN_FLIGHT (~1 MiB sends each producer keeps open, default 16; the load
 * is a closed loop: throughput = bytes in flight / ack latency), BENCH_WRITE_PARTITIONS
 * (default 6, so 1, 2 and 3 brokers own equal shares), BENCH_LATENCY_SECONDS (the unloaded
 * probe first: one send of 10 x 1 KiB at a time, batch.maxDelayMs 20; default 5, 0 skips it),
 * BENCH_JSON (a file each measurement is appended to as one JSON line). Loaded topics: codec
 * none, batch.maxDelayMs 250, batch.maxBytes 8 MiB.
 *
 * CPU seconds of each broker, moto, Kafka and this process come from /proc; batches, pointer
 * publish calls (one Kafka transaction each when clustered) and their latency from the
 * brokers' /metrics, as differences over the measured seconds.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { BrokerConnection, Producer } from '@barge/client';
import { ApiKey } from '@barge/core';
import { assignmentProblem, type ClusterTopic, type Owners } from '../cluster/cluster-harness.js';
import { type BrokerProcess, freePort, startBroker, tempDir, waitFor } from '../harness.js';
import {
  deletePointerTopics,
  freshBucket,
  kafkaBrokers,
  kafkaYaml,
  runId,
  s3Yaml,
} from '../kafka-fixtures.js';
import { type MetricsDelta, metricsDelta, publishQuantile, scrape, total } from './broker-metrics.js';
import { cpuSeconds, pct, produceFor, servicePid, sizeName, values } from './produce-load.js';

const BROKERS = Number(process.env.BENCH_BROKERS ?? 1);
const CLUSTERED = (process.env.BENCH_CLUSTER ?? 'on') !== 'off';
const SIZES = (process.env.BENCH_SIZES ?? '1024,100').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 2;
const IDLE_SECONDS = 5;
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const PRODUCERS = Number(process.env.BENCH_PRODUCERS ?? 4);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 16);
const WRITE_PARTITIONS = Number(process.env.BENCH_WRITE_PARTITIONS ?? 6);
const RUN = runId();
/** The topic of the unloaded latency probe: sends one at a time, batches close after 20 ms. */
const PROBE: ClusterTopic = {
  name: `probe-${RUN}`,
  writePartitions: WRITE_PARTITIONS,
  readPartitions: WRITE_PARTITIONS,
  maxDelayMs: 20,
};

if (![1, 2, 3].includes(BROKERS)) throw new Error(`BENCH_BROKERS must be 1, 2 or 3, not ${BROKERS}`);
if (!CLUSTERED && BROKERS !== 1) throw new Error('BENCH_CLUSTER=off runs one broker (BENCH_BROKERS=1)');

interface BenchBroker {
  id: number;
  process: BrokerProcess;
  admin: string;
}

const topicOf = (size: number): ClusterTopic => ({
  name: `s${size}-${RUN}`,
  writePartitions: WRITE_PARTITIONS,
  readPartitions: WRITE_PARTITIONS,
  maxDelayMs: 250,
});

/** Starts the brokers; if one fails to start, stops those that did and throws its error. */
async function startBrokers(dir: string, bucket: string): Promise<BenchBroker[]> {
  const kafka = kafkaBrokers();
  const started = await Promise.allSettled(
    Array.from({ length: BROKERS }, async (_, i) => {
      const id = i + 1;
      const config = join(dir, `broker-${id}.yaml`);
      await writeFile(
        config,
        [
          `broker: { id: ${id}, dataDir: ${JSON.stringify(join(dir, `data-${id}`))} }`,
          ...s3Yaml(bucket),
          ...kafkaYaml(kafka, RUN),
          ...(CLUSTERED ? [`cluster: { id: bench-${RUN} }`] : []),
          'topics:',
          ...[...SIZES.map(topicOf), PROBE].map(
            (t) =>
              `  - { name: ${t.name}, writePartitions: ${t.writePartitions}, readPartitions: ${t.readPartitions}, compression: none, batch: { maxDelayMs: ${t.maxDelayMs} } }`,
          ),
          '',
        ].join('\n'),
      );
      const admin = `127.0.0.1:${await freePort()}`;
      return { id, process: await startBroker(['--config', config, '--admin', admin]), admin };
    }),
  );
  const brokers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(brokers.map((b) => b.process.stop()));
    throw failed.reason;
  }
  return brokers;
}

/** Owners of every write partition as broker `address` answers Metadata v2. */
async function ownersAt(address: string, topics: readonly ClusterTopic[]): Promise<Owners> {
  const connection = new BrokerConnection(address, { clientId: 'cluster-bench', requestTimeoutMs: 5000 });
  try {
    await connection.connect();
    const response = await connection.request(ApiKey.Metadata, { topics: topics.map((t) => t.name) });
    return Object.fromEntries(topics.map((t, i) => [t.name, response.cluster?.owners[i] ?? []]));
  } finally {
    await connection.close();
  }
}

/** Waits until every broker answers the same owners and every write partition has a live one. */
async function waitAssigned(
  brokers: readonly BenchBroker[],
  topics: readonly ClusterTopic[],
): Promise<Owners> {
  const live = brokers.map((b) => b.id);
  let last = 'no answer yet';
  try {
    return await waitFor(
      'a settled assignment',
      async () => {
        const views = await Promise.all(
          brokers.map((b) => ownersAt(b.process.address, topics).catch((e) => e)),
        );
        last = assignmentProblem(views, live, topics) ?? '';
        return last === '' ? (views[0] as Owners) : undefined;
      },
      90_000,
      200,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${last}`);
  }
}

interface Measurement {
  brokers: number;
  clustered: boolean;
  size: number;
  secs: number;
  msgsPerSec: number;
  mbPerSec: number;
  latencyP50: number;
  latencyP99: number;
  brokerCpu: number[];
  motoCpu: number;
  kafkaCpu: number;
  loadgenCpu: number;
  /** Everything the brokers' /metrics counted over the measured seconds, summed over brokers. */
  metrics: MetricsDelta;
  /** Messages each broker accepted per second (from its /metrics). */
  brokerMsgsPerSec: number[];
  load: [number, number];
}

async function measure(brokers: readonly BenchBroker[], size: number): Promise<Measurement> {
  const topic = topicOf(size).name;
  const producers = Array.from(
    { length: PRODUCERS },
    () => new Producer({ brokers: brokers.map((b) => b.process.address), acks: 'durable', lingerMs: 5 }),
  );
  await Promise.all(producers.map((p) => p.connect()));
  try {
    const pids: Record<string, number | undefined> = { moto: servicePid('s3'), kafka: servicePid('kafka') };
    for (const b of brokers) pids[`broker${b.id}`] = b.process.child.pid;
    await produceFor({ producers, topic, size, seconds: WARMUP_SECONDS, pids, inFlight: IN_FLIGHT });
    const load0 = loadavg()[0]!;
    const before = await Promise.all(brokers.map((b) => scrape(b.admin)));
    const r = await produceFor({ producers, topic, size, seconds: SECONDS, pids, inFlight: IN_FLIGHT });
    const after = await Promise.all(brokers.map((b) => scrape(b.admin)));
    const perBroker = brokers.map((_, i) => metricsDelta([before[i]!], [after[i]!]));
    return {
      brokers: BROKERS,
      clustered: CLUSTERED,
      size,
      secs: r.secs,
      msgsPerSec: r.acked / r.secs,
      mbPerSec: r.bytes / 1e6 / r.secs,
      latencyP50: pct(r.latencies, 50),
      latencyP99: pct(r.latencies, 99),
      brokerCpu: brokers.map((b) => r.cpu[`broker${b.id}`] ?? Number.NaN),
      motoCpu: r.cpu.moto ?? Number.NaN,
      kafkaCpu: r.cpu.kafka ?? Number.NaN,
      loadgenCpu: r.loadgen,
      metrics: metricsDelta(before, after),
      brokerMsgsPerSec: perBroker.map((d) => total(d, 'barge_produce_messages_total') / r.secs),
      load: [load0, loadavg()[0]!],
    };
  } finally {
    await Promise.all(producers.map((p) => p.disconnect()));
  }
}

const f = (x: number, digits = 2) => x.toFixed(digits);
const int = (x: number) => Math.round(x).toLocaleString('en-US');

function throughputRow(m: Measurement): string {
  const cpuSum = m.brokerCpu.reduce((a, b) => a + b, 0);
  const mb = m.mbPerSec * m.secs;
  const cells = [
    `${m.brokers}${m.clustered ? '' : ' (no cluster)'}`,
    sizeName(m.size),
    int(m.msgsPerSec),
    f(m.mbPerSec, 1),
    `${Math.round(m.latencyP50)} / ${Math.round(m.latencyP99)}`,
    m.brokerCpu.map((c) => f(c / m.secs)).join(' + '),
    f(cpuSum / m.secs),
    f(m.motoCpu / m.secs),
    f(m.kafkaCpu / m.secs),
    f(m.loadgenCpu / m.secs),
    f(mb / cpuSum, 1),
    m.brokerMsgsPerSec.map(int).join(' / '),
    `${f(m.load[0], 1)} → ${f(m.load[1], 1)}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

function pointerRow(m: Measurement): string {
  const d = m.metrics;
  const rate = (name: string) => total(d, name) / m.secs;
  const uploads = d.get('barge_upload_seconds_count') ?? 0;
  const uploadMs = uploads > 0 ? ((d.get('barge_upload_seconds_sum') ?? 0) / uploads) * 1000 : Number.NaN;
  const calls = d.get('barge_pointer_publish_seconds_count') ?? 0;
  const meanMs = calls > 0 ? ((d.get('barge_pointer_publish_seconds_sum') ?? 0) / calls) * 1000 : Number.NaN;
  const errors = [...d.entries()]
    .filter(([k, v]) => v > 0 && /^barge_(request_errors|batches_failed|pointer_publish_failures)/.test(k))
    .map(([k, v]) => `${k.replace(/^barge_/, '')}=${v}`);
  const cells = [
    `${m.brokers}${m.clustered ? '' : ' (no cluster)'}`,
    sizeName(m.size),
    f(rate('barge_batches_uploaded_total'), 1),
    f(rate('barge_upload_bytes_total') / Math.max(1, rate('barge_batches_uploaded_total')) / 1e6, 2),
    f(calls / m.secs, 1),
    f(calls / m.secs / WRITE_PARTITIONS, 2),
    f(rate('barge_batches_uploaded_total') / Math.max(1e-9, calls / m.secs), 2),
    f(uploadMs, 0),
    `${f(meanMs, 1)} / ≤${publishQuantile(d, 0.5) * 1000} / ≤${publishQuantile(d, 0.99) * 1000}`,
    int(d.get('barge_upload_hedges_total{event="started"}') ?? 0),
    errors.length > 0 ? errors.join(', ') : 'none',
  ];
  return `| ${cells.join(' | ')} |`;
}

interface Probe {
  sends: number;
  p50: number;
  p99: number;
  publishCalls: number;
  publishMeanMs: number;
}

/**
 * Durable ack latency without load: one producer, one send of 10 x 1 KiB at a time, to the
 * probe topic (batches close 20 ms after their first chunk), and the pointer publish latency the
 * brokers measured meanwhile.
 */
async function probeLatency(brokers: readonly BenchBroker[]): Promise<Probe> {
  const producer = new Producer({
    brokers: brokers.map((b) => b.process.address),
    acks: 'durable',
    lingerMs: 0,
  });
  await producer.connect();
  try {
    const pool = values(1024);
    const send = (n: number) =>
      producer.send({
        topic: PROBE.name,
        messages: Array.from({ length: 10 }, (_, i) => ({
          key: `k${n}`,
          value: pool[(n + i) % pool.length]!,
        })),
      });
    for (let n = 0; n < 2 * WRITE_PARTITIONS; n++) await send(n);
    const before = await Promise.all(brokers.map((b) => scrape(b.admin)));
    const latencies: number[] = [];
    const end = performance.now() + LATENCY_SECONDS * 1000;
    for (let n = 0; performance.now() < end; n++) {
      const t0 = performance.now();
      await send(n);
      latencies.push(performance.now() - t0);
    }
    const d = metricsDelta(before, await Promise.all(brokers.map((b) => scrape(b.admin))));
    const calls = d.get('barge_pointer_publish_seconds_count') ?? 0;
    return {
      sends: latencies.length,
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      publishCalls: calls,
      publishMeanMs: ((d.get('barge_pointer_publish_seconds_sum') ?? 0) / Math.max(1, calls)) * 1000,
    };
  } finally {
    await producer.disconnect();
  }
}

/** CPU (cores) each broker and Kafka use over `seconds` without load: membership heartbeats and the like. */
async function idleCpu(
  brokers: readonly BenchBroker[],
  seconds: number,
): Promise<{ brokers: number[]; kafka: number }> {
  const pids = [...brokers.map((b) => b.process.child.pid), servicePid('kafka')];
  const cpu0 = pids.map(cpuSeconds);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = pids.map((p, i) => (cpuSeconds(p) - cpu0[i]!) / seconds);
  return { brokers: used.slice(0, -1), kafka: used.at(-1)! };
}

/** Distinct warning and error messages (pino level >= 40) of a broker's log, with their counts. */
function logProblems(logs: string): string[] {
  const counts = new Map<string, number>();
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { level?: number; msg?: string };
    if ((entry.level ?? 0) < 40) continue;
    const key = `level ${entry.level}: ${entry.msg}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([msg, n]) => `  ${n} x ${msg}`);
}

async function main(): Promise<void> {
  const dir = await tempDir('barge-bench-cluster-');
  const bucket = await freshBucket('barge-bench');
  const started = new Date();
  const load0 = loadavg()[0]!;
  const measurements: Measurement[] = [];
  let brokers: BenchBroker[] = [];
  let idle = { brokers: [] as number[], kafka: Number.NaN };
  let probe: Probe | undefined;
  try {
    brokers = await startBrokers(dir.path, bucket.name);
    const owners = await waitAssigned(brokers, [...SIZES.map(topicOf), PROBE]);
    process.stderr.write(`owners: ${JSON.stringify(Object.values(owners))}\n`);
    idle = await idleCpu(brokers, IDLE_SECONDS);
    if (LATENCY_SECONDS > 0) {
      probe = await probeLatency(brokers);
      process.stderr.write(`unloaded: ${JSON.stringify(probe)}\n`);
      if (process.env.BENCH_JSON)
        await appendFile(
          process.env.BENCH_JSON,
          `${JSON.stringify({ probe, brokers: BROKERS, clustered: CLUSTERED, started: started.toISOString() })}\n`,
        );
    }
    for (const size of SIZES) {
      const m = await measure(brokers, size);
      measurements.push(m);
      process.stderr.write(`${throughputRow(m)}\n${pointerRow(m)}\n`);
      if (process.env.BENCH_JSON)
        await appendFile(
          process.env.BENCH_JSON,
          `${JSON.stringify({ ...m, metrics: Object.fromEntries(m.metrics), idle, started: started.toISOString() })}\n`,
        );
    }
  } finally {
    for (const b of brokers) {
      const code = await b.process.stop();
      const problems = logProblems(b.process.logs());
      if (code !== 0 || problems.length > 0)
        process.stderr.write(
          `broker ${b.id} exited ${code}; warnings and errors it logged:\n${problems.join('\n')}\n`,
        );
    }
    await dir.remove();
    await bucket.remove().catch((e: unknown) => process.stderr.write(`bucket cleanup: ${String(e)}\n`));
    await deletePointerTopics(kafkaBrokers(), `barge.e2e.${RUN}.`);
  }
  process.stdout.write(
    [
      `Run ${started.toISOString()}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, load average ${f(load0, 1)} at start, ${f(loadavg()[0]!, 1)} at end; ${BROKERS} broker(s), cluster ${CLUSTERED ? 'on' : 'off'}; ${SECONDS} s per size after ${WARMUP_SECONDS} s warm-up, ${PRODUCERS} producers (acks=durable, up to ${IN_FLIGHT} sends of ~1 MiB in flight each), ${WRITE_PARTITIONS} write partitions, codec none, batch.maxDelayMs 250. Idle (${IDLE_SECONDS} s without load, after the assignment settled): broker CPU ${idle.brokers.map((c) => f(c, 3)).join(' + ')}, Kafka CPU ${f(idle.kafka, 3)}.`,
      '',
      '| brokers | message | msgs/s | MB/s | send p50 / p99 ms | broker CPU (each) | broker CPU sum | moto CPU | Kafka CPU | load generator CPU | MB per broker CPU s | msgs/s per broker | load avg |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...measurements.map(throughputRow),
      '',
      '| brokers | message | batches/s (S3 PUTs, pointers) | MB per batch | publish calls/s (transactions when clustered) | per write partition | pointers per call | upload mean ms | publish mean / p50 / p99 ms | hedges | errors |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...measurements.map(pointerRow),
      '',
      ...(probe
        ? [
            `Unloaded (one send of 10 x 1 KiB at a time for ${LATENCY_SECONDS} s, batch.maxDelayMs 20): ${probe.sends} sends, durable ack p50 ${f(probe.p50, 0)} ms, p99 ${f(probe.p99, 0)} ms; ${probe.publishCalls} pointer publish calls, mean ${f(probe.publishMeanMs, 1)} ms.`,
            '',
          ]
        : []),
    ].join('\n'),
  );
}

await main();
