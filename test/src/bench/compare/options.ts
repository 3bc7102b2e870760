/** Command-line options of `test/bench/compare`. */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../../harness.js';
import { SYSTEMS, type SystemId } from './types.js';

export interface CompareOptions {
  sizes: number[];
  systems: SystemId[];
  /** Payload MB (10^6 bytes) per cell at value sizes of 1 KiB and above. */
  mb: number;
  /** Payload MB per cell below 1 KiB (small values are slow for everyone; fewer keep the run short). */
  smallMb: number;
  /** Directory for compare.json, compare.md and compare.svg. */
  out: string;
  /** Replace the marked section of docs/benchmarks.md and write docs/bench/compare.{json,svg}. */
  writeDoc: boolean;
  quick: boolean;
  /** Measure nothing: render the outputs from this earlier compare.json. */
  fromJson: string | undefined;
}

export const USAGE = `Usage: test/bench/compare [options]

Measures, in one run, produce and consume at each value size for Barge (embedded default; local
storage + Kafka pointers; S3 on moto + Kafka pointers), Kafka's Java ProducerPerformance /
ConsumerPerformance and kafkajs, against the test services (scripts/services.sh start kafka s3).

  --sizes LIST     value sizes in bytes or with KiB (default 100,1KiB,64KiB)
  --systems LIST   any of ${SYSTEMS.join(', ')} (default all)
  --mb N           payload MB (10^6 B) per cell at 1 KiB and above (default 256)
  --small-mb N     payload MB per cell below 1 KiB (default 60% of --mb)
  --quick          tiny smoke run: --mb 4 --small-mb 2 (unless given)
  --out DIR        where compare.json, compare.md and compare.svg go (default .cache/bench-compare)
  --write-doc      also update docs/benchmarks.md (between <!-- compare:begin/end -->) and
                   write docs/bench/compare.json and docs/bench/compare.svg
  --from-json FILE measure nothing: render the outputs (and --write-doc) from an earlier
                   compare.json
  --help
`;

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB)?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: "${s}" (bytes, or a number with KiB or MiB)`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const n = Number(m[1]) * (unit === 'kib' ? 1024 : unit === 'mib' ? 1024 * 1024 : 1);
  if (!Number.isInteger(n) || n < 1) throw new Error(`not a whole number of bytes: "${s}"`);
  return n;
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`${flag} must be a positive number (got "${v}")`);
  return n;
}

export function parseOptions(argv: readonly string[]): CompareOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string' },
      systems: { type: 'string' },
      mb: { type: 'string' },
      'small-mb': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'write-doc': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const systems = (values.systems ?? SYSTEMS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of systems) {
    if (!(SYSTEMS as readonly string[]).includes(s)) {
      throw new Error(`--systems: unknown system "${s}" (known: ${SYSTEMS.join(', ')})`);
    }
  }
  const mb = values.mb !== undefined ? positive('--mb', values.mb) : quick ? 4 : 256;
  const smallMb =
    values['small-mb'] !== undefined
      ? positive('--small-mb', values['small-mb'])
      : quick && values.mb === undefined
        ? 2
        : Math.round(mb * 0.6 * 10) / 10;
  return {
    sizes: (values.sizes ?? '100,1KiB,64KiB').split(',').map(parseSize),
    systems: systems as SystemId[],
    mb,
    smallMb,
    out: values.out ?? join(repoRoot, '.cache', 'bench-compare'),
    writeDoc: values['write-doc'] ?? false,
    quick,
    fromJson: values['from-json'],
  };
}

/** Messages per cell at `size`: the same for every system. */
export function messagesFor(o: Pick<CompareOptions, 'mb' | 'smallMb'>, size: number): number {
  const mb = size < 1024 ? o.smallMb : o.mb;
  return Math.max(1, Math.round((mb * 1e6) / size));
}
