/**
 * A per-key lock between processes on one machine, for conditional puts: a lock file created
 * atomically with `link` (which fails with `EEXIST` if it exists), holding the owner's pid,
 * host name and a random nonce. The kernel offers no lock that Node can take and that dies with
 * its process (no `flock`), so a lock left by a dead process is broken explicitly, and only when
 * its owner is certainly dead: same host, and `kill(pid, 0)` answers `ESRCH`. A live owner, even
 * one paused for minutes (SIGSTOP), keeps its lock: waiters time out with `TransientError` rather
 * than break it, so two writers can never be inside the critical section at once.
 *
 * Breaking is serialized per dead lock: the breaker first creates `<lock>.break-<nonce>` with
 * `O_EXCL`, so of several waiters that judged the same lock dead exactly one removes it, and it
 * checks again under that claim that the lock file still holds the dead nonce (a newer lock has
 * another nonce and is left alone).
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { TransientError } from '@barge/core';
import { isCode } from './files.js';

/** Lock files contain a backslash, which no key can: they are never listed as objects. */
const LOCK_PREFIX = '.barge-lock\\';
/** Matches the temp-file prefix, so a staging file orphaned by a crash is swept like a temp file. */
const STAGING_PREFIX = '.barge\\';
const DEFAULT_WAIT_MS = 10_000;

export interface KeyLockOptions {
  /** How long to wait for a live owner before giving up with `TransientError`. Default 10 s. */
  waitMs?: number;
}

/** The lock file of the object file `file` (in the same directory; the name hashed to fit any key). */
export function lockPathOf(file: string): string {
  const digest = createHash('sha256').update(path.basename(file)).digest('hex').slice(0, 40);
  return path.join(path.dirname(file), `${LOCK_PREFIX}${digest}`);
}

/** Runs `fn` holding the lock of `file`, whose directory must exist. */
export async function withKeyLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: KeyLockOptions = {},
): Promise<T> {
  const lock = lockPathOf(file);
  const release = await acquire(lock, options.waitMs ?? DEFAULT_WAIT_MS);
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function acquire(lock: string, waitMs: number): Promise<() => Promise<void>> {
  const content = `${process.pid} ${hostname()} ${randomBytes(12).toString('hex')}\n`;
  const staging = path.join(
    path.dirname(lock),
    `${STAGING_PREFIX}${randomBytes(8).toString('hex')}.lock.tmp`,
  );
  await writeFile(staging, content, { flag: 'wx' });
  const deadline = Date.now() + waitMs;
  let delay = 1;
  try {
    for (;;) {
      try {
        await link(staging, lock);
        return () => unlink(lock).catch(() => {});
      } catch (e) {
        if (!isCode(e, 'EEXIST')) throw e;
      }
      const holder = await readHolder(lock);
      if (holder && isDeadOwner(holder)) {
        await breakDeadLock(lock, holder);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new TransientError(
          `lock ${lock} is held by ${holder ? `process ${holder.pid} on ${holder.host}` : 'another process'} for more than ${waitMs} ms; if that process is gone, delete the file`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 50);
    }
  } finally {
    await unlink(staging).catch(() => {});
  }
}

interface Holder {
  pid: number;
  host: string;
  raw: string;
}

async function readHolder(lock: string): Promise<Holder | undefined> {
  let raw: string;
  try {
    raw = await readFile(lock, 'utf8');
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined; // released meanwhile
    throw e;
  }
  const [pid, host] = raw.trim().split(' ');
  return { pid: Number(pid), host: host ?? '', raw };
}

function isDeadOwner(h: Holder): boolean {
  if (h.host !== hostname() || !Number.isSafeInteger(h.pid) || h.pid <= 0) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return isCode(e, 'ESRCH');
  }
}

/** Removes `lock` if it still holds the dead `holder`'s nonce; a no-op if another breaker is at it. */
async function breakDeadLock(lock: string, holder: Holder): Promise<void> {
  const nonce = holder.raw.trim().split(' ')[2] ?? '';
  const claim = `${lock}.break-${nonce}`;
  try {
    await (await open(claim, 'wx')).close();
  } catch (e) {
    if (isCode(e, 'EEXIST')) return; // another waiter is breaking this lock
    throw e;
  }
  try {
    if ((await readHolder(lock))?.raw === holder.raw) await unlink(lock);
  } finally {
    await unlink(claim).catch(() => {});
  }
}
