import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './harness.js';

const run = promisify(execFile);

/** Why Go clients cannot be built here, or undefined when `go` is on the PATH. */
export function goMissing(): string | undefined {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `go is not on the PATH (${r.error?.message ?? r.stderr})` : undefined;
}

/**
 * Builds the Go program in `test/kafka-clients/<name>` (its go.mod and go.sum pin every module;
 * only the Go module proxy is needed) into `.cache/kafka-clients/`, keyed by a hash of its
 * sources, so a rerun with unchanged sources reuses the binary. Resolves with the binary's path.
 */
export async function buildGoClient(name: string): Promise<string> {
  const src = join(repoRoot, 'test', 'kafka-clients', name);
  const hash = createHash('sha256');
  for (const f of readdirSync(src).sort()) {
    if (f.endsWith('.go') || f === 'go.mod' || f === 'go.sum')
      hash.update(f).update(readFileSync(join(src, f)));
  }
  const dir = join(repoRoot, '.cache', 'kafka-clients');
  const bin = join(dir, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  await mkdir(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    await run('go', ['build', '-mod=mod', '-buildvcs=false', '-o', tmp, '.'], {
      cwd: src,
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    await rename(tmp, bin);
  } finally {
    await rm(tmp, { force: true });
  }
  return bin;
}
