import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (this file is compiled to test/dist/harness.js). */
export const repoRoot = resolve(here, '..', '..');
export const cliBin = join(repoRoot, 'packages', 'cli', 'dist', 'bin.js');
/** The committed launcher npm links as `barge`: brokers start through it, as users start them (it sets the broker's V8 flags). */
export const launcherBin = join(repoRoot, 'packages', 'cli', 'bin', 'barge.js');

export async function tempDir(prefix = 'barge-e2e-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `barge ARGS` to completion, feeding `stdin` if given. */
export function runCli(
  args: readonly string[],
  options: { stdin?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliBin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`barge ${args.join(' ')} did not finish in ${options.timeoutMs ?? 120_000} ms\n${err}`),
      );
    }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly logs: () => string;
  /** SIGTERM and wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/**
 * Starts `barge broker` in a child process on a free port and waits until it says where it
 * listens. Extra args (e.g. `--config FILE`) are passed through; `cwd` is its working directory;
 * `nodeArgs` go to Node itself (e.g. `--cpu-prof`, which NODE_OPTIONS does not accept).
 */
export async function startBroker(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd: string = repoRoot,
  nodeArgs: readonly string[] = [],
): Promise<BrokerProcess> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, launcherBin, 'broker', '--listen', '127.0.0.1:0', ...args],
    {
      cwd,
      env: { ...process.env, BARGE_LOG_LEVEL: process.env.BARGE_LOG_LEVEL ?? 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let logs = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const address = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start in 60 s:\n${logs}`)), 60_000);
    const onData = (d: Buffer) => {
      logs += d.toString();
      const m = /listening on (\S+:\d+)/.exec(logs);
      if (m?.[1]) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening:\n${logs}`));
    });
  });
  return {
    child,
    address,
    logs: () => logs,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** Spawns `barge ARGS` and returns the child, collecting stdout as it arrives. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [cliBin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => Buffer.concat(out), stderr: () => err, exited };
}
