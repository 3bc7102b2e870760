/**
 * A static SVG flame graph of a V8 CPU profile (`node --cpu-prof`):
 * `node test/dist/bench/flamegraph.js FILE.cpuprofile OUT.svg [--title TEXT]`.
 * Root at the bottom, width proportional to the time sampled in a frame and all it called, identical
 * stacks merged, `(idle)` left out of the total, frames under 0.1% dropped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { renderFlameSvg } from './flamegraph-svg.js';
import { buildTree, idleTime, layout, type TreeProfile } from './flamegraph-tree.js';

export const MIN_SHARE = 0.001;

/** `notes`: extra lines under the title (the workload, the measured rate). */
export function flameGraphSvg(profile: TreeProfile, title: string, notes: readonly string[] = []): string {
  const root = buildTree(profile);
  const idle = idleTime(profile);
  const { rects, dropped } = layout(root, MIN_SHARE);
  const all = root.total + idle;
  const seconds = (us: number) => `${(us / 1e6).toFixed(2)} s`;
  const idlePct = all > 0 ? ((idle / all) * 100).toFixed(1) : '0';
  return renderFlameSvg(rects, {
    title,
    subtitle: [
      ...notes,
      `${seconds(root.total)} busy of ${seconds(all)} sampled; width = share of the busy time ` +
        '(each sample weighted by its interval) in a frame and all it called. ' +
        `(idle) left out of the total: ${seconds(idle)}, ${idlePct}% of the profile.`,
      `Identical stacks merged, siblings in alphabetical order; ${dropped} frames under ${MIN_SHARE * 100}% ` +
        'of the busy time (and all they called) dropped. Hover a frame for its name, time and share.',
    ],
  });
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { title: { type: 'string' } },
  });
  const [input, output] = positionals;
  if (!input || !output) {
    console.error('usage: flamegraph FILE.cpuprofile OUT.svg [--title TEXT]');
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(readFileSync(input, 'utf8')) as TreeProfile;
  writeFileSync(output, flameGraphSvg(profile, values.title ?? basename(input)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
