/** The targets of issue 14, checked against one run's cells (pure: no I/O). */
import { type Cell, type CompareRun, isBarge, type SystemId } from './types.js';

const MIB = 1024 * 1024;

export interface TargetCheck {
  /** Which target, e.g. "produce >= 1.5x Kafka Java producer (msgs/s)". */
  target: string;
  size: number;
  system: SystemId;
  /** Measured figure (a ratio, ms, s/GB or MiB) and the bound it must meet; null when not measured. */
  value: number | null;
  bound: number | null;
  /** How to print `value`: 'ratio' (1.23x), 'ms', 's/GB', 'MiB'. */
  unit: 'ratio' | 'ms' | 's/GB' | 'MiB';
  /** null: could not be checked (a cell missing or failed). */
  met: boolean | null;
}

export const TARGETS = {
  produce: 'produce msgs/s >= 1.5x Kafka Java producer',
  consume: 'consume MB/s (through the broker) >= 1.2x ConsumerPerformance',
  direct: 'consume MB/s straight from storage >= through the broker',
  cpu: 'broker CPU s/GB produced <= Kafka (1 KiB and above)',
  latency: 'p99 durable ack at half the peak rate <= batch.maxDelayMs + 50 ms',
  rss: 'broker peak RSS <= upload.inFlightBytes + 150 MiB',
} as const;

const find = (cells: readonly Cell[], system: SystemId, size: number) =>
  cells.find((c) => c.system === system && c.size === size && c.error === undefined);

function check(
  target: string,
  cell: Cell,
  value: number | null | undefined,
  bound: number | null | undefined,
  unit: TargetCheck['unit'],
  atMost: boolean,
): TargetCheck {
  const v = value ?? null;
  const b = bound ?? null;
  const ok = v === null || b === null || !Number.isFinite(v) ? null : atMost ? v <= b : v >= b;
  return { target, size: cell.size, system: cell.system, value: v, bound: b, unit, met: ok };
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? null : a / b;

/** The highest peak RSS any phase of a Barge cell reported (VmHWM never falls within one process). */
export function cellPeakRssMiB(c: Cell): number | null {
  const all = [c.produce, c.consume, c.consumeDirect, c.halfRate]
    .map((m) => m?.brokerPeakRssMiB)
    .filter((x): x is number => typeof x === 'number');
  return all.length === 0 ? null : Math.max(...all);
}

export function evaluateTargets(run: CompareRun): TargetCheck[] {
  const out: TargetCheck[] = [];
  const { maxDelayMs, inFlightBytes } = run.settings.barge;
  const bargeCells = run.cells.filter((c) => isBarge(c.system));
  for (const size of run.settings.sizes) {
    const java = find(run.cells, 'kafka-java', size);
    for (const system of run.settings.systems.filter(isBarge)) {
      const cell = bargeCells.find((c) => c.system === system && c.size === size);
      if (!cell) continue;
      const ok = cell.error === undefined;
      out.push(
        check(
          TARGETS.produce,
          cell,
          ok ? ratio(cell.produce?.messagesPerSecond, java?.produce?.messagesPerSecond) : null,
          1.5,
          'ratio',
          false,
        ),
        check(
          TARGETS.consume,
          cell,
          ok ? ratio(cell.consume?.mbPerSecond, java?.consume?.mbPerSecond) : null,
          1.2,
          'ratio',
          false,
        ),
        check(
          TARGETS.direct,
          cell,
          ok ? ratio(cell.consumeDirect?.mbPerSecond, cell.consume?.mbPerSecond) : null,
          1,
          'ratio',
          false,
        ),
      );
      if (size >= 1024) {
        out.push(
          check(
            TARGETS.cpu,
            cell,
            ok ? cell.produce?.brokerCpuSecondsPerGB : null,
            java?.produce?.brokerCpuSecondsPerGB,
            's/GB',
            true,
          ),
        );
      }
      if (system === 'barge-embedded') {
        out.push(
          check(TARGETS.latency, cell, ok ? cell.halfRate?.ackMs?.p99 : null, maxDelayMs + 50, 'ms', true),
        );
      }
      out.push(
        check(TARGETS.rss, cell, ok ? cellPeakRssMiB(cell) : null, inFlightBytes / MIB + 150, 'MiB', true),
      );
    }
  }
  return out;
}
