/** Command-line options of `test/bench/profile`. */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../harness.js';
import { parseSize } from './compare/options.js';

export interface ProfileOptions {
  sizes: number[];
  /** Payload MB (10^6 bytes) produced per size. */
  mb: number;
  /** Sizes at which to also profile the broker while `barge bench consume` reads what was produced. */
  consumeSizes: number[];
  /** Where flame-produce-<size>.svg (and flame-consume-<size>.svg) go. */
  svgDir: string;
  /** Where the raw .cpuprofile files and bench JSON summaries are kept. */
  work: string;
  /** The markdown tables, also printed to stdout. */
  tables: string;
  top: number;
}

export const USAGE = `Usage: test/bench/profile [options]

Profiles the broker (node --cpu-prof) under \`barge bench produce\` (default client settings,
durable acks, 4 partitions, embedded default config), one fresh broker per value size, and
optionally under \`barge bench consume\` of the same messages (a second broker process on the
same data, so each profile holds one workload). Writes a flame graph per size and workload and
prints the top self-time tables (by function and by package) as markdown.

  --sizes LIST          value sizes in bytes or with KiB (default 1KiB,64KiB)
  --mb N                payload MB (10^6 B) produced per size (default 256)
  --consume             also profile the broker while consuming, at every size
  --consume-sizes LIST  ... or only at these sizes (e.g. 1KiB)
  --svg-dir DIR         flame graphs go here (default docs/bench)
  --work DIR            .cpuprofile files and bench JSON (default .cache/bench-profile)
  --tables FILE         the markdown tables (default <work>/profile-tables.md)
  --top N               rows per table (default 15)
  --help
`;

export function parseProfileOptions(argv: readonly string[]): ProfileOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '1KiB,64KiB' },
      mb: { type: 'string', default: '256' },
      consume: { type: 'boolean', default: false },
      'consume-sizes': { type: 'string' },
      'svg-dir': { type: 'string', default: join(repoRoot, 'docs', 'bench') },
      work: { type: 'string', default: join(repoRoot, '.cache', 'bench-profile') },
      tables: { type: 'string' },
      top: { type: 'string', default: '15' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const mb = Number(values.mb);
  if (!(mb > 0)) throw new Error(`--mb must be a positive number (got "${values.mb}")`);
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw new Error(`--top must be a positive whole number`);
  const sizes = values.sizes.split(',').map(parseSize);
  const consumeSizes = values['consume-sizes']?.split(',').map(parseSize) ?? (values.consume ? sizes : []);
  for (const c of consumeSizes) {
    if (!sizes.includes(c)) throw new Error(`--consume-sizes: ${c} is not one of --sizes`);
  }
  return {
    sizes,
    mb,
    consumeSizes,
    svgDir: values['svg-dir'],
    work: values.work,
    tables: values.tables ?? join(values.work, 'profile-tables.md'),
    top,
  };
}
