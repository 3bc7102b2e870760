import { closeSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The syncing thread: `fdatasync` (or `fsync`) of a descriptor per message, answered in order.
 * Its own thread, not libuv's pool, so the log's sync never queues behind the object storage's
 * file writes and fsyncs, which keep the pool's four threads busy under load.
 */
const SYNC_THREAD = `
const { parentPort } = require('node:worker_threads');
const { fdatasyncSync, fsyncSync } = require('node:fs');
parentPort.on('message', ({ fd, full }) => {
  try {
    (full ? fsyncSync : fdatasyncSync)(fd);
    parentPort.postMessage({});
  } catch (e) {
    parentPort.postMessage({ error: { message: e.message, code: e.code } });
  }
});
`;

/**
 * The write-ahead log of a SQLite database in WAL mode, fsynced by us instead of by SQLite.
 *
 * The connection runs with `synchronous=NORMAL`: a commit writes its frames to the log (into the
 * page cache) without waiting for the disk, and SQLite itself still syncs the log before a
 * checkpoint and the database after one. `sync()` then makes every commit written so far durable
 * with one `fdatasync` on a thread of its own, off the event loop; an acknowledged write is thus
 * exactly as durable as with `synchronous=FULL`. (fsync acts on the file, not on the descriptor,
 * so our own descriptor covers the connection's writes; the log keeps its inode while the
 * connection is open, which holds the file exclusively.) The first `sync()` also fsyncs the
 * directory, so that the log file's own entry (SQLite creates the file, and with `NORMAL` it
 * would sync the directory only at the first checkpoint) survives a power cut.
 */
export class WalFile {
  #fd: number | undefined;
  #dirSynced = false;
  #worker: Worker | undefined;
  /** Answers of the syncing thread come in request order. */
  readonly #waiting: ((error?: Error) => void)[] = [];

  constructor(readonly path: string) {}

  /** fdatasync of the log; opens it at the first call (it exists once anything was committed). */
  async sync(): Promise<void> {
    this.#fd ??= openSync(this.path, 'r');
    await this.#onThread(this.#fd, false);
    if (this.#dirSynced) return;
    const dir = openSync(dirname(this.path), 'r');
    try {
      await this.#onThread(dir, true);
      this.#dirSynced = true;
    } finally {
      closeSync(dir);
    }
  }

  #onThread(fd: number, full: boolean): Promise<void> {
    if (this.#worker === undefined) {
      const worker = new Worker(SYNC_THREAD, { eval: true });
      worker.unref();
      worker.on('message', (m: { error?: { message: string; code?: string } }) => {
        const error = m.error && Object.assign(new Error(m.error.message), { code: m.error.code });
        this.#waiting.shift()?.(error);
      });
      const fail = (e: Error) => {
        for (const settle of this.#waiting.splice(0)) settle(e);
        if (this.#worker === worker) this.#worker = undefined;
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the log's syncing thread exited (code ${code})`)));
      this.#worker = worker;
    }
    const worker = this.#worker;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push((error) => (error ? reject(error) : resolve()));
      worker.postMessage({ fd, full });
    });
  }

  /** Synchronous fsync of the log and its directory if it exists (at open: what a crash left behind is made durable). */
  syncNowIfPresent(): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return;
      throw e;
    }
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** Call when no `sync()` is running. */
  close(): void {
    void this.#worker?.terminate();
    this.#worker = undefined;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
