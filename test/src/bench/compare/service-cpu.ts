/** CPU time of the shared test services (Kafka's JVM, moto) over one measured phase, from /proc. */
import { cpuSeconds, servicePid } from '../produce-load.js';

export type ServiceName = 'kafka' | 'moto';

export interface ServicePids {
  kafka: number | undefined;
  moto: number | undefined;
}

/** The pids in `scripts/services.sh`'s pid files (`s3` is moto). */
export function servicePids(): ServicePids {
  return { kafka: servicePid('kafka'), moto: servicePid('s3') };
}

export interface CpuSample {
  /** CPU seconds each service used since the sample was taken. */
  seconds(): Partial<Record<ServiceName, number>>;
  /** The same per GB (10^9 bytes) of `bytes`. */
  perGB(bytes: number): Partial<Record<ServiceName, number>>;
}

export function sampleCpu(pids: ServicePids, which: readonly ServiceName[]): CpuSample {
  const before = new Map(which.map((n) => [n, cpuSeconds(pids[n])]));
  const seconds = () => {
    const out: Partial<Record<ServiceName, number>> = {};
    for (const n of which) {
      const used = cpuSeconds(pids[n]) - (before.get(n) ?? Number.NaN);
      if (Number.isFinite(used)) out[n] = Math.round(used * 100) / 100;
    }
    return out;
  };
  return {
    seconds,
    perGB(bytes) {
      const out: Partial<Record<ServiceName, number>> = {};
      for (const [n, s] of Object.entries(seconds()) as [ServiceName, number][]) {
        out[n] = Math.round((s / (bytes / 1e9)) * 100) / 100;
      }
      return out;
    },
  };
}
