/**
 * Where a process spent its CPU: the top functions and files by self time in a V8 CPU profile
 * (`node --cpu-prof --cpu-prof-dir DIR ...` writes one `.cpuprofile` per process on exit).
 * `node test/dist/bench/profile-summary.js FILE.cpuprofile [--top 30] [--by function|file|package]`
 * prints a markdown table: self time in ms and as a share of the profile's samples.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The parts of V8's `.cpuprofile` JSON read here. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  /** Microseconds before each sample (the first is from `startTime`). */
  timeDeltas: number[];
}

export type Grouping = 'function' | 'file' | 'package';

export interface SelfTime {
  name: string;
  /** Self time in milliseconds. */
  ms: number;
  /** Share of all samples' time, 0..1. */
  share: number;
}

/** `(garbage collector)`, `(program)`, `(idle)` and `(root)` stay as V8 names them. */
function keyOf(frame: CpuProfile['nodes'][number]['callFrame'], by: Grouping): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') return frame.functionName || '(anonymous)';
  const file = shortPath(url);
  if (by === 'file') return file;
  if (by === 'package') return packageOf(url);
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

/** `packages/broker/dist/x.js`, `node_modules/pino/lib/x.js`, `node:net`, or the path as given. */
export function shortPath(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  const pk = url.lastIndexOf('/packages/');
  if (pk >= 0) return url.slice(pk + 1);
  return url;
}

/** `@barge/broker`, a dependency's name, `node:internal` for Node's own modules. */
export function packageOf(url: string): string {
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const pk = /\/packages\/([^/]+)\//.exec(url);
  return pk ? `@barge/${pk[1]}` : url;
}

/** Self time per function (or file, or package), largest first. */
export function selfTimes(profile: CpuProfile, by: Grouping = 'function'): SelfTime[] {
  const keyById = new Map<number, string>();
  for (const n of profile.nodes) keyById.set(n.id, keyOf(n.callFrame, by));
  const us = new Map<string, number>();
  let total = 0;
  // The delta before sample i+1 is the time spent in sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const key = keyById.get(profile.samples[i]!) ?? '(unknown)';
    us.set(key, (us.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...us.entries()]
    .map(([name, t]) => ({ name, ms: t / 1000, share: total > 0 ? t / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

/** Share of the profile spent outside `(idle)`: the part the percentages of a busy process are about. */
export function markdownTable(rows: readonly SelfTime[], top: number): string {
  const busy = rows.filter((r) => r.name !== '(idle)').reduce((s, r) => s + r.share, 0);
  const lines = ['| self ms | % of samples | % of busy | where |', '| ---: | ---: | ---: | --- |'];
  for (const r of rows.slice(0, top)) {
    const ofBusy = r.name === '(idle)' || busy === 0 ? '' : `${((r.share / busy) * 100).toFixed(1)}`;
    lines.push(`| ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)} | ${ofBusy} | ${r.name} |`);
  }
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' }, by: { type: 'string', default: 'function' } },
  });
  const by = values.by as Grouping;
  if (positionals.length === 0 || !['function', 'file', 'package'].includes(by)) {
    console.error('usage: profile-summary FILE.cpuprofile... [--top N] [--by function|file|package]');
    process.exitCode = 2;
    return;
  }
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    console.log(`\n${file} (by ${by})\n`);
    console.log(markdownTable(selfTimes(profile, by), Number(values.top)));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
