import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './harness.js';

/** The Kafka 4.x jars `scripts/services.sh install kafka` put in the services cache, if any. */
export function kafkaLibs(): string | undefined {
  const cache = process.env.BARGE_SERVICES_CACHE || join(repoRoot, '.cache', 'services');
  if (!existsSync(cache)) return undefined;
  const dir = readdirSync(cache)
    .filter((d) => /^kafka-4\./.test(d) && existsSync(join(cache, d, 'libs', '.complete')))
    .sort()
    .at(-1);
  return dir ? join(cache, dir, 'libs') : undefined;
}

/** Runs one of Kafka's Java tools (e.g. `org.apache.kafka.tools.ConsoleProducer`); resolves with its stdout. */
export function javaTool(
  libs: string,
  mainClass: string,
  args: readonly string[],
  stdin = '',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', join(libs, '*'), mainClass, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${mainClass} exited with ${code}:\n${err}\n${out}`));
    });
    child.stdin.end(stdin);
  });
}
