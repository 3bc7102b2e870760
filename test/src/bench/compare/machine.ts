/** What the run ran on: machine, runtimes, and process figures read from /proc. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Machine } from './types.js';

/** Kafka's jars as `scripts/services.sh install kafka` leaves them. */
export function kafkaVersionOf(libs: string): string {
  const jar = readdirSync(libs).find((f) => /^kafka-clients-.+\.jar$/.test(f));
  return jar?.slice('kafka-clients-'.length, -'.jar'.length) ?? 'unknown';
}

function javaVersion(): string {
  try {
    // `java -version` writes to stderr; execFileSync returns stdout, so merge them.
    const out = execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8' });
    return (
      out
        .split('\n')
        .find((l) => l.trim() !== '')
        ?.trim() ?? 'unknown'
    );
  } catch {
    return 'not found';
  }
}

export function machine(kafkaLibs: string): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    java: javaVersion(),
    kafka: kafkaVersionOf(kafkaLibs),
  };
}

export const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** The high-water mark of a process's resident set (VmHWM), in MiB; null if it is gone. */
export function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return null;
  }
}
