/**
 * Pieces the Kafka + S3 benchmarks share: log-like message values, CPU seconds of processes from
 * /proc, and a timed produce load (acks=durable, a window of ~1 MiB sends per producer).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Producer, ProducerMessage } from '@barge/client';
import { repoRoot } from '../harness.js';
import { prng } from '../workload.js';

export const sizeName = (n: number) => (n === 100 ? '100 B' : n === 1024 ? '1 KiB' : `${n / 1024} KiB`);

const WORDS = ['GET', 'POST', 'user', 'order', 'status', 'ok', 'error', 'timeout', 'region', 'eu-west-1'];

/** Log-line-like values (compressible about like real logs), 256 of them per size. */
export function values(size: number): Buffer[] {
  const r = prng(size);
  return Array.from({ length: 256 }, () => {
    let s = `{"ts":${1_790_000_000_000 + Math.floor(r() * 1e9)},"id":"${Math.floor(r() * 1e12).toString(36)}","msg":"`;
    while (s.length < size) s += `${WORDS[Math.floor(r() * WORDS.length)]} `;
    return Buffer.from(s.slice(0, size));
  });
}

/** CPU seconds (user + system) of a process, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The pid of a test service of `scripts/services.sh` (`s3` is moto, `kafka` the test Kafka). */
export function servicePid(name: string): number | undefined {
  const cache = process.env.BARGE_SERVICES_CACHE || join(repoRoot, '.cache', 'services');
  try {
    return Number(readFileSync(join(cache, 'run', `${name}.pid`), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The `p`th percentile of `xs` (nearest rank). */
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

export interface ProduceLoad<K extends string> {
  /** Connected producers; each keeps up to `inFlight` sends open. */
  producers: readonly Producer[];
  topic: string;
  /** Value size in bytes (keys are 16 bytes, 4096 distinct ones). */
  size: number;
  seconds: number;
  /** Processes whose CPU seconds over the run are reported, by name. */
  pids: Record<K, number | undefined>;
  /** Sends open per producer (default 16). */
  inFlight?: number;
}

export interface ProduceResult<K extends string> {
  acked: number;
  /** Key + value bytes acknowledged. */
  bytes: number;
  /** Milliseconds from `send` to its acknowledgement, one per send. */
  latencies: number[];
  secs: number;
  /** CPU seconds of each process of `pids` over the run. */
  cpu: Record<K, number>;
  /** CPU seconds of this process (the load generator) over the run. */
  loadgen: number;
}

/** Sends ~1 MiB batches of `size`-byte messages from every producer until `seconds` have passed. */
export async function produceFor<K extends string>(load: ProduceLoad<K>): Promise<ProduceResult<K>> {
  const { producers, topic, size, seconds, pids } = load;
  const inFlight = load.inFlight ?? 16;
  const pool = values(size);
  const per = Math.max(1, Math.min(2000, Math.floor((1024 * 1024) / (size + 16))));
  const entries = Object.entries(pids) as [K, number | undefined][];
  const cpu0 = new Map(entries.map(([k, p]) => [k, cpuSeconds(p)]));
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let acked = 0;
  let bytes = 0;
  const latencies: number[] = [];
  await Promise.all(
    producers.map(async (producer, pi) => {
      let n = pi * 1_000_000;
      const pending = new Set<Promise<void>>();
      while (performance.now() < deadline) {
        while (pending.size >= inFlight) await Promise.race(pending);
        const messages: ProducerMessage[] = [];
        let b = 0;
        for (let i = 0; i < per; i++, n++) {
          const key = Buffer.from(`k${(n % 4096).toString(16).padStart(15, '0')}`);
          const value = pool[n % pool.length]!;
          messages.push({ key, value });
          b += key.length + value.length;
        }
        const sent = performance.now();
        const p: Promise<void> = producer.send({ topic, messages }).then(() => {
          acked += messages.length;
          bytes += b;
          latencies.push(performance.now() - sent);
        });
        const tracked = p.finally(() => pending.delete(tracked));
        pending.add(tracked);
      }
      await Promise.all(pending);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(self0);
  const cpu = Object.fromEntries(entries.map(([k, p]) => [k, cpuSeconds(p) - (cpu0.get(k) ?? 0)])) as Record<
    K,
    number
  >;
  return { acked, bytes, latencies, secs, cpu, loadgen: (self.user + self.system) / 1e6 };
}
