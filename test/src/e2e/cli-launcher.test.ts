import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, constants, cp, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, tempDir } from '../harness.js';

const cliDir = join(repoRoot, 'packages', 'cli');
const launcher = join(cliDir, 'bin', 'barge.js');

interface Manifest {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
}
const readJson = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;

/** Runs `node [nodeArgs] script args` and collects its output. */
function run(nodeArgs: string[], script: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Node flags that make the launcher see another Node.js version. */
const pretendNode = (version: string) => [
  '--import',
  `data:text/javascript,Object.defineProperty(process,"version",{value:${JSON.stringify(version)}})`,
];

describe('the barge launcher (packages/cli/bin/barge.js, what npm links as `barge`)', () => {
  let manifest: Manifest;
  before(async () => {
    manifest = await readJson<Manifest>(join(cliDir, 'package.json'));
  });

  it('is the bin in package.json and in package-lock.json (npm ci links from the lockfile), and is executable', async () => {
    assert.deepEqual(manifest.bin, { barge: 'bin/barge.js' });
    const lock = await readJson<{ packages: Record<string, { bin?: Record<string, string> }> }>(
      join(repoRoot, 'package-lock.json'),
    );
    assert.deepEqual(
      lock.packages['packages/cli']?.bin,
      manifest.bin,
      'package-lock.json still links the old bin: run `npm install --package-lock-only`',
    );
    await access(launcher, constants.X_OK);
  });

  it('declares the same supported Node.js lines in every package', async () => {
    const root = await readJson<Manifest>(join(repoRoot, 'package.json'));
    for (const pkg of [
      'broker',
      'cli',
      'client',
      'core',
      'pointers-embedded',
      'pointers-kafka',
      'storage-azure',
      'storage-gcs',
      'storage-local',
      'storage-s3',
      'testkit',
    ]) {
      const m = await readJson<Manifest>(join(repoRoot, 'packages', pkg, 'package.json'));
      assert.equal(m.engines.node, root.engines.node, pkg);
    }
  });

  it('runs the built CLI on this Node.js', async () => {
    const r = await run([], launcher, ['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), manifest.version);
  });

  for (const old of ['v18.20.4', 'v20.18.3', 'v16.20.2']) {
    it(`refuses Node.js ${old} with a message naming the supported lines`, async () => {
      const r = await run(pretendNode(old), launcher, ['--version']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        `barge: Node.js ${old} is too old; barge needs Node.js ${manifest.engines.node} (supported LTS lines). Install a current LTS release and try again.\n`,
      );
    });
  }

  it('says to run `npm run build` when the CLI is not built yet', async () => {
    const dir = await tempDir('barge-launcher-');
    after(() => dir.remove());
    const copy = join(dir.path, 'packages', 'cli');
    await mkdir(join(copy, 'bin'), { recursive: true });
    await cp(launcher, join(copy, 'bin', 'barge.js'));
    await cp(join(cliDir, 'package.json'), join(copy, 'package.json'));
    const r = await run([], join(copy, 'bin', 'barge.js'), ['--help']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the CLI is not built yet .*Run `npm run build` at the repository root/);
  });
});
