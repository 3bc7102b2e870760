import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './harness.js';

const run = promisify(execFile);

/** The librdkafka test client: `python` runs `script` (test/kafka-clients/librdkafka/client.py). */
export interface LibrdkafkaClient {
  readonly python: string;
  readonly script: string;
}

/** Why the librdkafka client cannot run here, or undefined when `python3` is on the PATH. */
export function pythonMissing(): string | undefined {
  const r = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0
    ? `python3 is not on the PATH (${r.error?.message ?? r.stderr})`
    : undefined;
}

/**
 * Makes a virtualenv in `.cache/kafka-clients/` with the packages that
 * `test/kafka-clients/librdkafka/requirements.txt` pins (confluent-kafka, whose wheel bundles
 * librdkafka; only the Python package registry is needed). It is keyed by a hash of that file
 * and of the Python version, so a rerun reuses it and a changed pin makes a new one (older ones
 * are removed). The venv is built under a temporary name and renamed when complete, so a run
 * killed halfway leaves nothing that looks usable.
 */
export async function librdkafkaClient(): Promise<LibrdkafkaClient> {
  const src = join(repoRoot, 'test', 'kafka-clients', 'librdkafka');
  const requirements = join(src, 'requirements.txt');
  const version = spawnSync('python3', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const hash = createHash('sha256').update(version).update(readFileSync(requirements));
  const dir = join(repoRoot, '.cache', 'kafka-clients');
  const name = `librdkafka-venv-${hash.digest('hex').slice(0, 16)}`;
  const venv = join(dir, name);
  const client = { python: join(venv, 'bin', 'python'), script: join(src, 'client.py') };
  if (existsSync(client.python)) return client;
  await mkdir(dir, { recursive: true });
  const tmp = `${venv}.${process.pid}.tmp`;
  try {
    const options = { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 };
    await run('python3', ['-m', 'venv', tmp], options);
    await run(
      join(tmp, 'bin', 'python'),
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', requirements],
      options,
    );
    for (const old of readdirSync(dir)) {
      if (old.startsWith('librdkafka-venv-') && !old.endsWith('.tmp')) {
        await rm(join(dir, old), { recursive: true, force: true });
      }
    }
    await rename(tmp, venv);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return client;
}
