/**
 * `test/bench/profile`: where the broker's CPU goes under `barge bench produce` (and consume),
 * as flame graphs (docs/bench/flame-<workload>-<size>.svg) and top self-time tables in markdown.
 * Options: profile-options.ts.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../harness.js';
import { loadAverage } from './compare/machine.js';
import { flameGraphSvg } from './flamegraph.js';
import { parseProfileOptions, USAGE } from './profile-options.js';
import { type ProfiledRun, profileSize } from './profile-run.js';
import { markdownTable, selfTimes } from './profile-summary.js';
import { lastWindow, type TimedProfile } from './profile-window.js';

const sizeLabel = (size: number) => (size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`);

function rateLine(run: ProfiledRun): string {
  const s = run.summary;
  const cpu = s.broker ? `, broker CPU ${s.broker.cpuSecondsPerGB.toFixed(1)} s/GB` : '';
  return (
    `${s.messages} messages of ${sizeLabel(run.size)} in ${s.seconds.toFixed(1)} s: ` +
    `${Math.round(s.messagesPerSecond)} msgs/s, ${s.mbPerSecond.toFixed(1)} MB/s${cpu}`
  );
}

/** A path inside the repository relative to it, any other as it is. */
const shown = (path: string) => (path.startsWith(`${repoRoot}/`) ? relative(repoRoot, path) : path);

/** A profile cut to the bench's run: the broker's start and stop left out. */
async function benchSamples(file: string, run: ProfiledRun): Promise<TimedProfile> {
  const full = JSON.parse(await readFile(file, 'utf8')) as TimedProfile;
  return lastWindow(full, run.window.fromEndUs, run.window.toEndUs);
}

async function threadsLine(run: ProfiledRun): Promise<string> {
  const busy = await Promise.all(
    run.threads.map(async (file) => {
      const rows = selfTimes(await benchSamples(file, run));
      const ms = rows.filter((r) => r.name !== '(idle)').reduce((s, r) => s + r.ms, 0);
      return `\`${shown(file)}\` ${ms.toFixed(0)} ms busy`;
    }),
  );
  return busy.length === 0 ? '' : ` Worker threads over the same time: ${busy.join('; ')}.`;
}

async function report(run: ProfiledRun, svgDir: string, top: number, when: string): Promise<string> {
  const profile = await benchSamples(run.profile, run);
  const seconds = ((run.window.fromEndUs - run.window.toEndUs) / 1e6).toFixed(1);
  const svg = join(svgDir, `flame-${run.workload}-${run.size}.svg`);
  const title = `Barge broker CPU during bench ${run.workload}, ${sizeLabel(run.size)} values`;
  const setting =
    'embedded default config, 4 partitions, default client settings' +
    (run.workload === 'produce' ? ', acks durable' : ', through the broker');
  const notes = [
    `${setting}; ${rateLine(run)}`,
    `Main thread, the ${seconds} s the bench process ran (broker start and stop left out); ${when}`,
  ];
  await writeFile(svg, flameGraphSvg(profile, title, notes));
  return [
    `### ${run.workload}, ${sizeLabel(run.size)}`,
    '',
    `${rateLine(run)}. Broker main thread over the ${seconds} s the bench process ran. ` +
      `Flame graph: \`${shown(svg)}\`; profile: \`${shown(run.profile)}\`.${await threadsLine(run)}`,
    '',
    `Top ${top} by function (self time):`,
    '',
    markdownTable(selfTimes(profile, 'function'), top),
    '',
    `Top ${top} by package (self time):`,
    '',
    markdownTable(selfTimes(profile, 'package'), top),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseProfileOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const log = (line: string) => process.stderr.write(`profile: ${line}\n`);
  await mkdir(options.svgDir, { recursive: true });
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, load ${loadAverage()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
  const sections = [
    '## Broker CPU profiles',
    '',
    `\`test/bench/profile ${process.argv.slice(2).join(' ')}\`, ${when}. Self time per function and ` +
      'per package; "% of busy" leaves `(idle)` out.',
    '',
  ];
  for (const size of options.sizes) {
    const runs = await profileSize(size, {
      work: join(options.work, `${size}B`),
      messages: Math.max(1, Math.round((options.mb * 1e6) / size)),
      consume: options.consumeSizes.includes(size),
      log,
      timeoutMs: 15 * 60_000,
    });
    for (const run of runs) {
      const section = await report(run, options.svgDir, options.top, when);
      process.stdout.write(`${section}\n`);
      sections.push(section);
    }
  }
  await mkdir(dirname(options.tables), { recursive: true });
  await writeFile(options.tables, sections.join('\n'));
  log(`tables in ${options.tables}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`profile: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
