/**
 * Consume throughput and CPU, on the embedded default (local storage, embedded pointer queue)
 * with the real `barge broker` process. A benchmark, not a test:
 * `npm run build && node test/dist/bench/consume-bench.js [--sizes 100,1024,65536] [--mb 256]`.
 *
 * Per message size: one broker produces `--mb` MB through a durable `Producer` (default
 * options) into a 4-partition topic, then each consumer variant reads all of it with a fresh
 * group, `--runs` rounds interleaved, medians reported. A consumer runs in its own process
 * (`consume-worker.js`, default `Consumer` options) through the broker's read proxy (`proxy`)
 * or from local storage directly (`direct`, pointers still through the broker). The broker is
 * restarted on the same data for each consume, so its CPU time (from /proc) is that read's.
 *
 * `--roots A,B` runs the brokers and workers of other checkouts (repository roots with built
 * dist directories) on the same data: an A/B of two builds in one run. `--prof DIR` writes CPU
 * profiles (`--cpu-prof`) of each broker and consumer there.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Producer, type ProducerMessage } from '@barge/client';
import { repoRoot, tempDir } from '../harness.js';

const MB = 1e6;

interface Broker {
  readonly address: string;
  readonly pid: number;
  stop(): Promise<void>;
}

interface Consumed {
  messages: number;
  valueBytes: number;
  seconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}

interface Cell extends Consumed {
  brokerCpuSeconds: number;
}

/** User + system CPU seconds of process `pid` so far (fields 14 and 15 of /proc/PID/stat, in ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function nodeArgs(prof: string | undefined, name: string): string[] {
  return prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

/** `barge broker` of the checkout at `root`, on a free port. */
async function startBroker(root: string, config: string, prof?: string, name = 'broker'): Promise<Broker> {
  const bin = join(root, 'packages', 'cli', 'dist', 'bin.js');
  const child = spawn(
    process.execPath,
    [...nodeArgs(prof, name), bin, 'broker', '--listen', '127.0.0.1:0', '--config', config],
    { env: { ...process.env, BARGE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let logs = '';
  const address = await new Promise<string>((ok, fail) => {
    const onData = (d: Buffer) => {
      logs += d.toString();
      const m = /listening on (\S+:\d+)/.exec(logs);
      if (m?.[1]) ok(m[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => fail(new Error(`broker exited before listening:\n${logs}`)));
  });
  return {
    address,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs the consume worker of the checkout at `root`; resolves with what it measured. */
function consume(root: string, args: string[], prof?: string, name = 'consumer'): Promise<Consumed> {
  const worker = join(root, 'test', 'dist', 'bench', 'consume-worker.js');
  const child = spawn(process.execPath, [...nodeArgs(prof, name), worker, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((ok, fail) =>
    child.on('exit', (code) => {
      if (code !== 0) fail(new Error(`consume worker exited with ${code}: ${out}`));
      else ok(JSON.parse(out.trim().split('\n').pop()!) as Consumed);
    }),
  );
}

async function produce(address: string, size: number, totalMb: number): Promise<number> {
  const producer = new Producer({ brokers: [address] });
  await producer.connect();
  const value = Buffer.alloc(size, 0x61);
  const perSend = Math.max(1, Math.floor((256 * 1024) / size));
  const messages: ProducerMessage[] = Array.from({ length: perSend }, () => ({ value }));
  const total = Math.ceil((totalMb * MB) / size / perSend) * perSend;
  const inFlight = new Set<Promise<unknown>>();
  for (let sent = 0; sent < total; sent += perSend) {
    const p = producer.send({ topic: 'bench', messages }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    while (inFlight.size >= 32) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return total;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1024,65536' },
    mb: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'proxy,direct' },
    handlers: { type: 'string', default: 'message' },
    roots: { type: 'string', default: repoRoot },
    prof: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const roots = values.roots.split(',').map((r) => resolve(r));
const modes = values.modes.split(',');
const handlers = values.handlers.split(',');
const runs = Number(values.runs);
const prof = values.prof && resolve(values.prof);
const variants = roots.flatMap((root) =>
  modes.flatMap((mode) => handlers.map((handler) => ({ root, mode, handler }))),
);
const label = (v: (typeof variants)[number]) => `${basename(v.root)} ${v.mode} ${v.handler}`;
const cells = new Map<string, Cell[]>();
const startedAt = new Date();
const loadAtStart = loadavg()[0]!.toFixed(1);

for (const size of sizes) {
  const dir = await tempDir('barge-consume-bench-');
  try {
    const config = join(dir.path, 'barge.yaml');
    await writeFile(
      config,
      [
        `broker: { dataDir: ${JSON.stringify(join(dir.path, 'data'))} }`,
        'topics:',
        '  - { name: bench, writePartitions: 4, readPartitions: 4 }',
        '',
      ].join('\n'),
    );
    const producing = await startBroker(roots[0]!, config);
    const total = await produce(producing.address, size, Number(values.mb)).finally(() => producing.stop());
    for (let round = 0; round < runs; round++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + round) % variants.length]!;
        const name = `${size}-${basename(v.root)}-${v.mode}-${v.handler}-r${round}`;
        const broker = await startBroker(v.root, config, prof, `broker-${name}`);
        try {
          const cpuAtStart = await cpuSeconds(broker.pid);
          const got = await consume(
            v.root,
            [
              `--broker=${broker.address}`,
              `--group=g-${name}`,
              `--messages=${total}`,
              `--mode=${v.mode}`,
              `--objects=${join(dir.path, 'data', 'objects')}`,
              `--handler=${v.handler}`,
            ],
            prof,
            `consumer-${name}`,
          );
          const cell = { ...got, brokerCpuSeconds: (await cpuSeconds(broker.pid)) - cpuAtStart };
          const key = `${size}/${label(v)}`;
          cells.set(key, [...(cells.get(key) ?? []), cell]);
          console.error(
            `${size} B ${label(v)} round ${round + 1}: ${(got.valueBytes / MB / got.seconds).toFixed(0)} MB/s, consumer CPU ${(got.cpuUserSeconds + got.cpuSystemSeconds).toFixed(2)} s, broker CPU ${cell.brokerCpuSeconds.toFixed(2)} s (load ${loadavg()[0]!.toFixed(1)})`,
          );
        } finally {
          await broker.stop();
        }
      }
    }
  } finally {
    await dir.remove();
  }
}

console.log(
  `${startedAt.toISOString()}, ${runs} rounds of ${values.mb} MB per cell, load average ${loadAtStart} at start, ${loadavg()[0]!.toFixed(1)} at end. Medians.\n`,
);
console.log('| size | variant | MB/s | msgs/s | consumer CPU s/GB | broker CPU s/GB |');
console.log('| ---: | --- | ---: | ---: | ---: | ---: |');
for (const size of sizes) {
  for (const v of variants) {
    const cs = cells.get(`${size}/${label(v)}`) ?? [];
    if (cs.length === 0) continue;
    const gb = (c: Cell) => c.valueBytes / 1e9;
    const mbps = median(cs.map((c) => c.valueBytes / MB / c.seconds));
    const rate = median(cs.map((c) => c.messages / c.seconds));
    const ccpu = median(cs.map((c) => (c.cpuUserSeconds + c.cpuSystemSeconds) / gb(c)));
    const bcpu = median(cs.map((c) => c.brokerCpuSeconds / gb(c)));
    console.log(
      `| ${size} | ${label(v)} | ${mbps.toFixed(0)} | ${Math.round(rate).toLocaleString('en-US')} | ${ccpu.toFixed(1)} | ${bcpu.toFixed(1)} |`,
    );
  }
}
