/**
 * The README's quick start on a fresh clone, line by line as README.md has it: `git clone` of
 * the repository's committed HEAD (uncommitted changes are not in it), `npm ci` from npm's
 * cache, `npm start` in the background, then every line of the "In another terminal" block
 * through `sh`, so `npx barge` is found the way a user's shell finds it.
 *
 * Install time: `npm ci` builds better-sqlite3 from source (about 2.5 minutes here). When that
 * package's install script is the only one in the lockfile and this checkout holds a build of
 * the same version, the clone installs with `--ignore-scripts` and gets a copy of that build
 * (the same Node.js runs both). BARGE_QUICKSTART_FULL_INSTALL=1 always runs the full `npm ci`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { access, copyFile, mkdir, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, repoRoot, tempDir, waitFor } from '../harness.js';
import { codeBlocks, withoutComment } from './readme-blocks.js';

const NATIVE = 'better-sqlite3';
const NATIVE_BUILD = join('node_modules', NATIVE, 'build', 'Release', 'better_sqlite3.node');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a user's fresh shell: none of npm's variables of the running `npm test`. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|BARGE_)/i.test(k) || k === 'INIT_CWD' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  // No bin directory of this checkout on the PATH: `npx barge` must find the clone's own.
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes('node_modules/.bin'))
    .join(delimiter);
  // Never ask a registry (npx would fetch a package named like a missing bin); no turbo telemetry.
  return { ...env, npm_config_offline: 'true', TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...extra };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** True when skipping install scripts skips only better-sqlite3's, and this checkout has its build. */
async function canReuseNativeBuild(clone: string): Promise<boolean> {
  if (process.env.BARGE_QUICKSTART_FULL_INSTALL === '1') return false;
  const lock = JSON.parse(await readFile(join(clone, 'package-lock.json'), 'utf8')) as {
    packages: Record<
      string,
      { hasInstallScript?: boolean; version?: string; scripts?: Record<string, string> }
    >;
  };
  const scripted = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript);
  if (scripted.length !== 1 || scripted[0]?.[0] !== `node_modules/${NATIVE}`) return false;
  const manifests = [
    join(clone, 'package.json'),
    ...Object.keys(lock.packages)
      .filter((k) => k !== '' && !k.includes('node_modules'))
      .map((k) => join(clone, k, 'package.json')),
  ];
  for (const m of manifests) {
    const scripts =
      (JSON.parse(await readFile(m, 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
    if (['preinstall', 'install', 'postinstall', 'prepare'].some((s) => s in scripts)) return false;
  }
  const ours = JSON.parse(await readFile(join(repoRoot, 'node_modules', NATIVE, 'package.json'), 'utf8')) as {
    version: string;
  };
  if (ours.version !== lock.packages[`node_modules/${NATIVE}`]?.version) return false;
  return access(join(repoRoot, NATIVE_BUILD)).then(
    () => true,
    () => false,
  );
}

/** `npm ci`, offline from npm's cache (online only for what the cache lacks). */
async function install(clone: string, env: NodeJS.ProcessEnv): Promise<string> {
  const reuse = await canReuseNativeBuild(clone);
  const flags = ['--no-audit', '--no-fund', ...(reuse ? ['--ignore-scripts'] : [])];
  const installEnv = { ...env, npm_config_offline: undefined };
  let r = await run('npm', ['ci', '--offline', ...flags], clone, installEnv, 600_000);
  if (r.code !== 0) r = await run('npm', ['ci', '--prefer-offline', ...flags], clone, installEnv, 600_000);
  assert.equal(r.code, 0, `npm ci failed:\n${r.stdout}\n${r.stderr}`);
  if (reuse) {
    await mkdir(join(clone, NATIVE_BUILD, '..'), { recursive: true });
    await copyFile(join(repoRoot, NATIVE_BUILD), join(clone, NATIVE_BUILD));
  }
  return reuse ? `npm ci --ignore-scripts + this checkout's ${NATIVE} build` : 'npm ci';
}

/** What each quick-start line must print; every line of the README needs one. */
const EXPECTED: { command: RegExp; check(r: Run): void }[] = [
  { command: /^npx barge topics create logs /, check: (r) => assert.match(r.stdout, /^created logs /) },
  {
    command: /\| npx barge produce --topic logs$/,
    check: (r) => assert.match(r.stderr, /produced 2 messages to logs/),
  },
  {
    command: /^npx barge consume --topic logs .*--max-messages 2/,
    check: (r) => assert.deepEqual(r.stdout.trim().split('\n').sort(), ['hello', 'world']),
  },
  {
    command: /^npx barge topics describe logs$/,
    check: (r) => assert.match(r.stdout, /read partition 0: offsets/),
  },
  {
    command: /^npx barge inspect --topic logs --latest/,
    check: (r) => {
      assert.match(r.stdout, /^object topics\/logs\/\d+\//);
      assert.match(r.stdout, /batch format v1: topic logs/);
      assert.match(r.stdout, /value="(hello|world)"/);
    },
  },
];

describe('README quick start on a fresh clone (tests the committed HEAD)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let clone: string;
  let broker: ChildProcess | undefined;
  let brokerExited: Promise<number | null> | undefined;
  let brokerOut = '';

  before(async () => {
    dir = await tempDir('barge-quickstart-');
    clone = join(dir.path, 'barge');
  });
  after(async () => {
    // Whatever is left of `npm start`'s process group (npm, sh, the broker).
    if (broker?.pid !== undefined && broker.exitCode === null) {
      try {
        process.kill(-broker.pid, 'SIGKILL');
      } catch {}
      await brokerExited;
    }
    await dir?.remove();
  });

  it('clones, installs, starts, and runs every line of the quick start verbatim', async () => {
    const started = Date.now();
    const times: string[] = [];
    const lap = (what: string) => times.push(`${what} ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const blocks = (await codeBlocks('README.md')).filter(
      (b) => b.section === 'Quick start' && b.lang === 'sh',
    );
    assert.equal(blocks.length, 2, 'the quick start has a setup block and an "in another terminal" block');
    const [setup, terminal] = blocks.map((b) => b.code.split('\n').map(withoutComment).filter(Boolean)) as [
      string[],
      string[],
    ];
    assert.deepEqual(setup, ['npm ci && npm start', 'npm test'], 'the setup block this test runs');

    const cloned = await run('git', ['clone', '--quiet', repoRoot, clone], dir.path, process.env, 120_000);
    assert.equal(cloned.code, 0, cloned.stderr);
    const port = await freePort();
    const env = userEnv({ BARGE_LISTEN: `127.0.0.1:${port}`, BARGE_BROKER: `127.0.0.1:${port}` });
    lap('cloned');
    const how = await install(clone, env);
    lap(`installed (${how})`);

    // `npm start` as in a terminal: its own process group, stopped with Ctrl-C (SIGINT to the group).
    broker = spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = broker;
    brokerExited = new Promise((r) => child.on('exit', (code) => r(code)));
    child.stdout?.on('data', (d: Buffer) => {
      brokerOut += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      brokerOut += d.toString();
    });
    await waitFor(
      '`npm start` to build and say where the broker listens',
      async () => {
        if (child.exitCode !== null)
          throw new Error(`npm start exited with ${child.exitCode}:\n${brokerOut}`);
        return brokerOut.includes(`listening on 127.0.0.1:${port}`);
      },
      540_000,
      250,
    );
    lap('npm start listening');

    for (const line of terminal) {
      const expected = EXPECTED.find((e) => e.command.test(line));
      assert.ok(expected, `no expectation for the quick-start line: ${line}`);
      const r = await run('sh', ['-c', line], clone, env, 120_000);
      assert.equal(r.code, 0, `${line}\nexit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      expected.check(r);
    }
    lap('quick start ran');

    process.kill(-(child.pid as number), 'SIGINT');
    await waitFor(
      'npm start to stop after Ctrl-C',
      () => child.exitCode !== null || child.signalCode !== null,
      60_000,
    );
    assert.match(brokerOut, /barge broker stopped/);
    lap('stopped');
    // Shows up in the test report: how long a fresh clone takes here.
    console.log(`quick start: ${times.join(', ')}`);
  });
});
