/**
 * End-to-end produce throughput and broker memory, on the embedded default (local storage,
 * embedded pointer queue) with the real `barge broker` process. A benchmark, not a test:
 * `npm run build && node test/dist/bench/broker-bench.js`. Prints a markdown table.
 *
 * Knobs: BENCH_MB (data per run, default 256), BENCH_OVERLOAD_MB (default 1024).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Producer, type ProducerMessage } from '@barge/client';
import { startBroker, tempDir } from '../harness.js';

const MB = 1e6;
const dataMb = Number(process.env.BENCH_MB ?? 256);
const overloadMb = Number(process.env.BENCH_OVERLOAD_MB ?? 1024);

interface Row {
  scenario: string;
  size: number;
  acks: string;
  messages: number;
  seconds: number;
  brokerPeakRssMb: number;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function run(
  scenario: string,
  size: number,
  acks: 'durable' | 'received',
  totalMb: number,
  extraConfig = '',
): Promise<Row> {
  const dir = await tempDir('barge-bench-');
  const config = join(dir.path, 'barge.yaml');
  await writeFile(
    config,
    [
      `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
      extraConfig,
      'topics:',
      '  - { name: bench, writePartitions: 4, readPartitions: 4, batch: { maxBytes: 8MiB, maxDelayMs: 50 } }',
      '',
    ].join('\n'),
  );
  const broker = await startBroker(['--config', config]);
  const producer = new Producer({ brokers: [broker.address], acks, lingerMs: 5, maxChunkBytes: 1024 * 1024 });
  await producer.connect();
  const value = Buffer.alloc(size, 0x61);
  const perSend = Math.max(1, Math.floor((256 * 1024) / size));
  const messages: ProducerMessage[] = Array.from({ length: perSend }, () => ({ value }));
  const total = Math.ceil((totalMb * MB) / size);
  const started = process.hrtime.bigint();
  const inFlight = new Set<Promise<unknown>>();
  for (let sent = 0; sent < total; sent += perSend) {
    const p = producer.send({ topic: 'bench', messages }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    while (inFlight.size >= 32) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await producer.flush();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect();
  const rss = await peakRss(broker.child.pid as number);
  await broker.stop();
  await dir.remove();
  return {
    scenario,
    size,
    acks,
    messages: Math.ceil(total / perSend) * perSend,
    seconds,
    brokerPeakRssMb: rss,
  };
}

const rows: Row[] = [];
for (const size of [100, 1024, 64 * 1024]) {
  rows.push(await run('throughput', size, 'durable', dataMb));
}
// Overload: acks=received lets producers outrun storage; the in-flight budget must hold memory.
rows.push(
  await run(
    'overload, inFlightBytes 64MiB',
    64 * 1024,
    'received',
    overloadMb,
    'upload: { inFlightBytes: 64MiB }',
  ),
);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  '| scenario | message size | acks | messages | seconds | MB/s | messages/s | broker peak RSS (MiB) |',
);
console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const mbps = (r.messages * r.size) / MB / r.seconds;
  console.log(
    `| ${r.scenario} | ${r.size} B | ${r.acks} | ${fmt(r.messages)} | ${r.seconds.toFixed(2)} | ${mbps.toFixed(0)} | ${fmt(r.messages / r.seconds)} | ${r.brokerPeakRssMb.toFixed(0)} |`,
  );
}
