/**
 * End-to-end produce throughput and broker memory, on the embedded default (local storage,
 * embedded pointer queue) with the real `barge broker` process. A benchmark, not a test:
 * `npm run build && node test/dist/bench/broker-bench.js [--window ...]`. Prints markdown tables.
 *
 * Default mode: throughput at 100 B, 1 KiB and 64 KiB (durable acks), and an overload row.
 * Knobs: BENCH_MB (data per run, default 256), BENCH_OVERLOAD_MB (default 1024).
 *
 * `--window`: one producer with default options against the same producer with each fixed
 * `maxInFlight` of `--tuned`, side by side in one process run, `--runs` rounds interleaved (the
 * order of the variants rotates every round, after one untimed warm-up per size), medians
 * reported. The application keeps `--outstanding-mib` of sends in flight (default: the
 * producer's 64 MiB buffer), so the producer's window and back-pressure set the pace, not the
 * application.
 *
 * `--validation`: the broker with `limits.validateChunks` on against off, per codec
 * (`--codecs`, default none,gzip,lz4) and message size (`--sizes`), `--runs` rounds interleaved
 * (order rotating), medians: producer throughput and the broker process's CPU time per GB
 * produced (user + system, from /proc). Values are text that compresses about 3:1, not one byte
 * repeated, so decompression costs what it would with real data.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Producer, type ProducerMessage, type ProducerOptions } from '@barge/client';
import { startBroker, tempDir } from '../harness.js';

const MB = 1e6;
const MiB = 1024 * 1024;
const SIZES = [100, 1024, 64 * 1024];

type Acks = 'durable' | 'received';
type Tuning = Pick<ProducerOptions, 'maxInFlight' | 'lingerMs' | 'maxChunkBytes' | 'compression'>;

interface Run {
  size: number;
  acks: Acks;
  totalMb: number;
  producer: Tuning;
  /** Bytes of `send` calls the application keeps unanswered. */
  outstandingBytes: number;
  extraConfig?: string;
  /** The message value; default `size` bytes of 'a'. */
  value?: Buffer;
}

interface Measured {
  messages: number;
  seconds: number;
  brokerPeakRssMb: number;
  /** CPU time of the broker process, user + system. */
  brokerCpuSeconds: number;
  /** Produce requests acknowledged (the producer's `batch_acked` events). */
  requests: number;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** User + system CPU seconds of process `pid` so far (fields 14 and 15 of /proc/PID/stat, in ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Starts a broker on a fresh data directory, produces `totalMb` through one producer, stops it. */
async function measure(run: Run): Promise<Measured> {
  const dir = await tempDir('barge-bench-');
  const config = join(dir.path, 'barge.yaml');
  await writeFile(
    config,
    [
      `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
      run.extraConfig ?? '',
      'topics:',
      '  - { name: bench, writePartitions: 4, readPartitions: 4, batch: { maxBytes: 8MiB, maxDelayMs: 50 } }',
      '',
    ].join('\n'),
  );
  const broker = await startBroker(['--config', config]);
  try {
    const producer = new Producer({ brokers: [broker.address], acks: run.acks, ...run.producer });
    let requests = 0;
    producer.on(producer.events.BATCH_ACKED, () => requests++);
    await producer.connect();
    const value = run.value ?? Buffer.alloc(run.size, 0x61);
    const cpuAtStart = await cpuSeconds(broker.child.pid as number);
    const perSend = Math.max(1, Math.floor((256 * 1024) / run.size));
    const messages: ProducerMessage[] = Array.from({ length: perSend }, () => ({ value }));
    const maxSends = Math.max(1, Math.floor(run.outstandingBytes / (perSend * run.size)));
    const total = Math.ceil((run.totalMb * MB) / run.size);
    const started = process.hrtime.bigint();
    const inFlight = new Set<Promise<unknown>>();
    for (let sent = 0; sent < total; sent += perSend) {
      const p = producer.send({ topic: 'bench', messages }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= maxSends) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await producer.flush();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await producer.disconnect();
    const brokerPeakRssMb = await peakRss(broker.child.pid as number);
    const brokerCpuSeconds = (await cpuSeconds(broker.child.pid as number)) - cpuAtStart;
    const sentMessages = Math.ceil(total / perSend) * perSend;
    return { messages: sentMessages, seconds, brokerPeakRssMb, brokerCpuSeconds, requests };
  } finally {
    await broker.stop();
    await dir.remove();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sizeName = (size: number) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const load = () => loadavg()[0]!.toFixed(1);

/** The original table: the bench's own settings (32 sends of 256 KiB in flight), and overload. */
async function throughputTable(): Promise<void> {
  const dataMb = Number(process.env.BENCH_MB ?? 256);
  const overloadMb = Number(process.env.BENCH_OVERLOAD_MB ?? 1024);
  const tuning: Tuning = { lingerMs: 5, maxChunkBytes: MiB };
  const rows: { scenario: string; run: Run; m: Measured }[] = [];
  for (const size of SIZES) {
    const run: Run = { size, acks: 'durable', totalMb: dataMb, producer: tuning, outstandingBytes: 8 * MiB };
    rows.push({ scenario: 'throughput', run, m: await measure(run) });
  }
  // Overload: acks=received lets producers outrun storage; the in-flight budget must hold memory.
  const overload: Run = {
    size: 64 * 1024,
    acks: 'received',
    totalMb: overloadMb,
    producer: tuning,
    outstandingBytes: 8 * MiB,
    extraConfig: 'upload: { inFlightBytes: 64MiB }',
  };
  rows.push({ scenario: 'overload, inFlightBytes 64MiB', run: overload, m: await measure(overload) });

  console.log(
    '| scenario | message size | acks | messages | seconds | MB/s | messages/s | broker peak RSS (MiB) |',
  );
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const { scenario, run, m } of rows) {
    const mbps = (m.messages * run.size) / MB / m.seconds;
    console.log(
      `| ${scenario} | ${run.size} B | ${run.acks} | ${fmt(m.messages)} | ${m.seconds.toFixed(2)} | ${mbps.toFixed(0)} | ${fmt(m.messages / m.seconds)} | ${m.brokerPeakRssMb.toFixed(0)} |`,
    );
  }
}

/** A producer configuration of the window comparison: the defaults, or one fixed `maxInFlight`. */
interface Variant {
  readonly name: string;
  readonly producer: Tuning;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Default options against fixed `maxInFlight` values, interleaved, in one process run. */
async function windowTable(args: {
  sizes: number[];
  tuned: number[];
  runs: number;
  mb: number;
  outstandingMib: number;
}) {
  const variants: Variant[] = [
    { name: 'default', producer: {} },
    ...args.tuned.map((n) => ({ name: `maxInFlight ${n}`, producer: { maxInFlight: n } })),
  ];
  const rates = new Map<string, number[]>(); // `${size}/${variant}` → messages/s per round
  const startedAt = new Date();
  const loadAtStart = load();
  // Untimed, once per size: the first cell of a size in a fresh process ran slower, whichever
  // setting it had (it was always the first setting of the first round).
  for (const size of args.sizes) {
    const outstandingBytes = args.outstandingMib * MiB;
    await measure({ size, acks: 'durable', totalMb: Math.min(args.mb, 128), producer: {}, outstandingBytes });
  }
  for (let round = 0; round < args.runs; round++) {
    for (const size of args.sizes) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + round) % variants.length]!;
        const m = await measure({
          size,
          acks: 'durable',
          totalMb: args.mb,
          producer: v.producer,
          outstandingBytes: args.outstandingMib * MiB,
        });
        const key = `${size}/${v.name}`;
        rates.set(key, [...(rates.get(key) ?? []), m.messages / m.seconds]);
        console.error(
          `round ${round + 1}/${args.runs} ${sizeName(size)} ${v.name}: ${fmt(m.messages / m.seconds)} msgs/s, ${((m.messages * size) / MB / m.seconds).toFixed(0)} MB/s, ${fmt(m.requests)} requests of ${((m.messages * size) / m.requests / MiB).toFixed(2)} MiB (load ${load()})`,
        );
      }
    }
  }
  console.log(
    `${startedAt.toISOString()}, ${args.runs} rounds of ${args.mb} MB per cell, ${args.outstandingMib} MiB of sends outstanding, load average ${loadAtStart} at start, ${load()} at end. Medians; MB/s in parentheses.\n`,
  );
  const tunedNames = variants.slice(1).map((v) => v.name);
  console.log(
    `| message size | default | ${tunedNames.join(' | ')} | best tuned | default / best | default / best, per round |`,
  );
  console.log(`| --- | ${variants.map(() => '---:').join(' | ')} | --- | ---: | ---: |`);
  for (const size of args.sizes) {
    const perRound = (name: string) => rates.get(`${size}/${name}`)!;
    const med = variants.map((v) => median(perRound(v.name)));
    const cell = (r: number) => `${fmt(r)} (${((r * size) / MB).toFixed(0)})`;
    const tuned = med.slice(1);
    const best = Math.max(...tuned);
    const bestName = tunedNames[tuned.indexOf(best)]!;
    // Rounds are seconds apart and the machine's load drifts: the same ratio per round shows the noise.
    const defaults = perRound('default');
    const ratios = perRound(bestName).map((b, r) => defaults[r]! / b);
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    console.log(
      `| ${sizeName(size)} | ${med.map(cell).join(' | ')} | ${bestName} | ${pct(med[0]! / best)} | ${pct(Math.min(...ratios))}-${pct(Math.max(...ratios))} |`,
    );
  }
}

/** Text of `size` bytes that gzip compresses about 3:1 (words from a small vocabulary, seeded). */
function textValue(size: number): Buffer {
  const words = ['order', 'shipped', 'customer', 'id', 'amount', 'EUR', 'status', 'ok', 'retry', 'eu-west'];
  let seed = 42;
  let s = '';
  while (s.length < size) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    s += `${words[seed % words.length]}=${(seed >>> 8) % 10_000} `;
  }
  return Buffer.from(s.slice(0, size));
}

/** `limits.validateChunks` on against off, per codec and size, interleaved, in one process run. */
async function validationTable(args: { sizes: number[]; codecs: string[]; runs: number; mb: number }) {
  const modes = [true, false];
  const cells = new Map<string, Measured[]>(); // `${codec}/${size}/${on}`
  const startedAt = new Date();
  const loadAtStart = load();
  const runFor = (codec: string, size: number, on: boolean, totalMb: number): Run => ({
    size,
    acks: 'durable',
    totalMb,
    producer: { lingerMs: 5, maxChunkBytes: MiB, compression: codec as Tuning['compression'] },
    outstandingBytes: 8 * MiB,
    extraConfig: `limits: { validateChunks: ${on} }`,
    value: textValue(size),
  });
  for (const size of args.sizes) await measure(runFor('none', size, true, Math.min(args.mb, 64)));
  for (let round = 0; round < args.runs; round++) {
    for (const codec of args.codecs) {
      for (const size of args.sizes) {
        for (let i = 0; i < modes.length; i++) {
          const on = modes[(i + round) % modes.length]!;
          const m = await measure(runFor(codec, size, on, args.mb));
          const key = `${codec}/${size}/${on}`;
          cells.set(key, [...(cells.get(key) ?? []), m]);
          console.error(
            `round ${round + 1}/${args.runs} ${codec} ${sizeName(size)} validation ${on ? 'on' : 'off'}: ${fmt(m.messages / m.seconds)} msgs/s, broker CPU ${m.brokerCpuSeconds.toFixed(2)} s (load ${load()})`,
          );
        }
      }
    }
  }
  console.log(
    `${startedAt.toISOString()}, ${args.runs} rounds of ${args.mb} MB per cell, durable acks, load average ${loadAtStart} at start, ${load()} at end. Medians.\n`,
  );
  console.log(
    '| codec | message size | messages/s on | messages/s off | on / off | broker CPU s per GB on | off | on / off |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const codec of args.codecs) {
    for (const size of args.sizes) {
      const rate = (on: boolean) =>
        median(cells.get(`${codec}/${size}/${on}`)!.map((m) => m.messages / m.seconds));
      const cpu = (on: boolean) =>
        median(
          cells.get(`${codec}/${size}/${on}`)!.map((m) => m.brokerCpuSeconds / ((m.messages * size) / 1e9)),
        );
      const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
      console.log(
        `| ${codec} | ${sizeName(size)} | ${fmt(rate(true))} | ${fmt(rate(false))} | ${pct(rate(true) / rate(false))} | ${cpu(true).toFixed(1)} | ${cpu(false).toFixed(1)} | ${pct(cpu(true) / cpu(false))} |`,
      );
    }
  }
}

const { values } = parseArgs({
  options: {
    window: { type: 'boolean', default: false },
    validation: { type: 'boolean', default: false },
    codecs: { type: 'string', default: 'none,gzip,lz4' },
    sizes: { type: 'string', default: SIZES.join(',') },
    tuned: { type: 'string', default: '16,32,64,128' },
    runs: { type: 'string', default: '3' },
    mb: { type: 'string', default: '256' },
    'outstanding-mib': { type: 'string', default: '64' },
  },
});
const numbers = (s: string) => s.split(',').map(Number);
if (values.window) {
  await windowTable({
    sizes: numbers(values.sizes),
    tuned: numbers(values.tuned),
    runs: Number(values.runs),
    mb: Number(values.mb),
    outstandingMib: Number(values['outstanding-mib']),
  });
} else if (values.validation) {
  await validationTable({
    sizes: numbers(values.sizes),
    codecs: values.codecs.split(','),
    runs: Number(values.runs),
    mb: Number(values.mb),
  });
} else {
  await throughputTable();
}
