/**
 * One value size under the profiler: a `barge broker` (embedded default config, admin endpoint
 * on a free port) started with `--cpu-prof`, `barge bench produce` against it, SIGTERM (the
 * broker's graceful stop ends in `process.exit`, and Node writes the profile on that exit too),
 * then optionally a second profiled broker on the same data for `barge bench consume`.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startBroker, tempDir } from '../harness.js';
import { BARGE, configYaml, TOPIC } from './compare/barge-cell.js';
import { type BenchSummary, readBenchSummary } from './compare/bench-summary.js';
import { runProcess } from './compare/run-process.js';

export type Workload = 'produce' | 'consume';

export interface ProfiledRun {
  workload: Workload;
  size: number;
  /** The broker's main thread's `.cpuprofile`. */
  profile: string;
  /** Profiles of the broker's worker threads (the embedded queue's fsync thread). */
  threads: string[];
  /**
   * When the bench ran, in microseconds back from the broker's exit (`fromEndUs` > `toEndUs`),
   * as profile-window.ts's `lastWindow` takes them. The profile ends a little before the exit
   * (while Node writes it), so the window lands up to that much late: into the stop, never
   * before the bench.
   */
  window: { fromEndUs: number; toEndUs: number };
  summary: BenchSummary;
}

export interface RunContext {
  /** Where this size's profiles and bench JSON go (emptied first). */
  work: string;
  messages: number;
  consume: boolean;
  log: (line: string) => void;
  timeoutMs: number;
}

/**
 * The broker's profiles, the main thread's first. Node names them
 * `CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile`; the main thread's id is 0.
 */
async function writtenProfiles(dir: string): Promise<[string, ...string[]]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const isMain = (f: string) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f);
  const main = files.filter(isMain);
  if (main.length !== 1) {
    throw new Error(`expected one main-thread .cpuprofile in ${dir}, found: ${files.join(', ') || 'none'}`);
  }
  return [join(dir, main[0]!), ...files.filter((f) => !isMain(f)).map((f) => join(dir, f))];
}

export async function profileSize(size: number, ctx: RunContext): Promise<ProfiledRun[]> {
  const dir = await tempDir('barge-profile-');
  await rm(ctx.work, { recursive: true, force: true });
  try {
    const admin = `127.0.0.1:${await freePort()}`;
    const config = join(dir.path, 'barge.yaml');
    await writeFile(config, configYaml('barge-embedded', join(dir.path, 'data'), admin, []));

    const profiled = async (workload: Workload, args: string[]): Promise<ProfiledRun> => {
      const profDir = join(ctx.work, `${workload}-cpuprofile`);
      await mkdir(profDir, { recursive: true });
      const profiling = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
      const broker = await startBroker(['--config', config], {}, dir.path, profiling);
      const json = join(ctx.work, `${workload}.json`);
      let began = 0;
      let ended = 0;
      try {
        ctx.log(`${size} B: ${workload} (broker at ${broker.address}, profile in ${profDir})`);
        const common = ['--broker', broker.address, '--admin', `http://${admin}`, '--quiet', '--json', json];
        began = performance.now();
        await runProcess(process.execPath, [BARGE, 'bench', workload, ...common, ...args], {
          timeoutMs: ctx.timeoutMs,
        });
        ended = performance.now();
      } finally {
        const code = await broker.stop();
        if (code !== 0) ctx.log(`${size} B: broker exited with ${code} after ${workload}`);
      }
      const exited = performance.now();
      const [profile, ...threads] = await writtenProfiles(profDir);
      const window = { fromEndUs: (exited - began) * 1000, toEndUs: (exited - ended) * 1000 };
      return { workload, size, profile, threads, window, summary: await readBenchSummary(json) };
    };

    const produceArgs = ['--topic', TOPIC, '--size', String(size), '--key-size', '0', '--acks', 'durable'];
    const produced = await profiled('produce', [...produceArgs, '--count', String(ctx.messages)]);
    if (!ctx.consume) return [produced];
    const count = String(produced.summary.messages);
    const consumed = await profiled('consume', ['--topic', TOPIC, '--count', count, '--idle', '60']);
    if (consumed.summary.messages < produced.summary.messages) {
      throw new Error(`consumed ${consumed.summary.messages} of ${produced.summary.messages} messages`);
    }
    return [produced, consumed];
  } finally {
    await dir.remove();
  }
}
