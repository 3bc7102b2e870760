/** Runs one measuring process (a `barge bench`, a Java perf tool, the kafkajs script) to its end. */
import { spawn } from 'node:child_process';
import { repoRoot } from '../../harness.js';

export interface Finished {
  stdout: string;
  stderr: string;
  /** Wall seconds from spawn to exit. */
  seconds: number;
}

/** Spawns `command args`, and resolves when it exits 0; rejects with its stderr otherwise or on timeout. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<Finished> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const name = `${command.split('/').at(-1)} ${args.slice(0, 4).join(' ')}`;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not finish in ${options.timeoutMs / 1000} s\n${tail(stderr)}`));
    }, options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ stdout, stderr, seconds });
      else reject(new Error(`${name} exited with ${code ?? signal}\n${tail(stderr || stdout)}`));
    });
  });
}

const tail = (s: string) => s.split('\n').slice(-30).join('\n');
