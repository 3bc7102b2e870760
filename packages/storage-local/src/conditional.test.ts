import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guardStorage, type ObjectStorage, TransientError } from '@barge/core';
import { createLocalStorage } from './index.js';
import { lockPathOf, withKeyLock } from './key-lock.js';

const PROCESSES = 4;
const INCREMENTS = 15;

/** A child process doing `INCREMENTS` compare-and-swap increments of `key` under `root`. */
function incrementer(root: string, key: string, startAt: number): Promise<number> {
  const index = new URL('./index.js', import.meta.url).href;
  const script = `
    const { guardStorage } = await import('@barge/core');
    const { createLocalStorage } = await import(${JSON.stringify(index)});
    const s = guardStorage(await createLocalStorage({ root: ${JSON.stringify(root)}, sweepTempFilesOlderThanMs: false }));
    let conflicts = 0;
    // Every process starts at the same moment, so that their increments overlap (a race).
    while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < ${INCREMENTS}; i++) {
      for (;;) {
        const { version } = await s.head(${JSON.stringify(key)});
        const n = Number((await s.get(${JSON.stringify(key)})).toString());
        try { await s.put(${JSON.stringify(key)}, Buffer.from(String(n + 1)), { ifMatch: version }); break; }
        catch (e) { if (e.code !== 'PRECONDITION_FAILED') throw e; conflicts++; }
      }
    }
    process.stdout.write(String(conflicts));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.dirname(fileURLToPath(import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(Number(out)) : reject(new Error(`incrementer exited ${code}`)),
    );
  });
}

/** The pid of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0']);
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid as number));
  });
}

describe('local conditional puts across processes', () => {
  let root: string;
  let storage: ObjectStorage;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'barge-local-cas-'));
    storage = guardStorage(await createLocalStorage({ root }));
  });
  after(async () => {
    await storage.close();
    await rm(root, { recursive: true, force: true });
  });

  it(`${PROCESSES} processes incrementing one counter with ifMatch lose no update`, async () => {
    await storage.put('counter', Buffer.from('0'), { ifNoneMatch: '*' });
    // Past the time the processes take to start, even on a loaded machine.
    const startAt = Date.now() + 3_000;
    const conflicts = await Promise.all(
      Array.from({ length: PROCESSES }, () => incrementer(root, 'counter', startAt)),
    );
    assert.equal(Number((await storage.get('counter')).toString()), PROCESSES * INCREMENTS);
    assert.ok(
      conflicts.reduce((a, b) => a + b, 0) > 0,
      'the processes raced (some compare-and-swap was refused)',
    );
    assert.deepEqual(
      (await readdir(root)).filter((n) => n !== 'counter'),
      [],
      'no lock or temp file is left',
    );
  });

  it('breaks the lock of a process that died holding it', async () => {
    await writeFile(lockPathOf(path.join(root, 'orphaned')), `${await deadPid()} ${hostname()} deadbeef\n`);
    const started = Date.now();
    await storage.put('orphaned', Buffer.from('x'), { ifNoneMatch: '*' });
    assert.ok(Date.now() - started < 2000, 'the dead lock was broken at once');
    assert.deepEqual(
      await readdir(root).then((n) => n.filter((x) => x.includes('orphaned') || x.includes('lock'))),
      ['orphaned'],
    );
  });

  it('never breaks the lock of a live process: waiters give up with TransientError', async () => {
    const file = path.join(root, 'held');
    const lock = lockPathOf(file);
    // A live owner (this process), e.g. one paused by SIGSTOP: its lock must not be taken over.
    await writeFile(lock, `${process.pid} ${hostname()} cafebabe\n`);
    try {
      await assert.rejects(
        withKeyLock(file, async () => assert.fail('entered a lock held by a live process'), { waitMs: 300 }),
        (e: unknown) => e instanceof TransientError && e.message.includes(`process ${process.pid}`),
      );
    } finally {
      await rm(lock, { force: true });
    }
  });
});
