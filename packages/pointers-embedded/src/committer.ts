import { errorMessage, PermanentError } from '@barge/core';

/** What the committer needs from the database: transactions and making the log durable. */
export interface CommitTarget {
  /** Runs `fn` in one write transaction and commits it (without waiting for the disk). */
  transaction(fn: () => void): void;
  /** Runs `fn` in a savepoint of the current transaction: if it throws, only its writes roll back. */
  savepoint<T>(fn: () => T): T;
  /** Makes every transaction committed so far durable (fdatasync of the write-ahead log). */
  sync(): Promise<void>;
  /** False once SQLite has rolled the whole transaction back on its own (e.g. after SQLITE_FULL). */
  inTransaction(): boolean;
}

interface Job<T> {
  run: () => T;
  resolve: (value: T) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit on one SQLite connection. Writes queued with `enqueue` while the log's fsync runs
 * are applied together in the next transaction (each in its own savepoint, in queue order), and
 * that transaction's fsync then resolves all of them: a job's promise resolves only once its
 * writes are durable. A job that throws rejects alone (its savepoint rolls back); a transaction
 * or fsync that fails rejects every job of the group, none reported durable.
 *
 * `durable()` is for writes made directly in their own transaction: it resolves after an fsync
 * that started after the call.
 *
 * After a failed fsync the log's state on disk is unknown (the kernel may have dropped the
 * pages it could not write), so every later write fails with `PermanentError` until the queue is
 * reopened, which recovers from what the file really holds.
 */
export class GroupCommitter {
  #queue: Job<unknown>[] = [];
  #scheduled = false;
  /** The fsync running now, and the one queued behind it for callers that came during it. */
  #current: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #broken: Error | undefined;

  constructor(private readonly target: CommitTarget) {}

  /** Runs `run` in the next group transaction; resolves with its result once durable. */
  enqueue<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#broken) {
        reject(this.#broken);
        return;
      }
      this.#queue.push({ run, resolve, reject } as Job<unknown>);
      this.#kick();
    });
  }

  /** Resolves after an fsync of the log that started after this call. */
  durable(): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#current === undefined) return this.#startSync();
    this.#next ??= this.#current.then(noop, noop).then(() => this.#startSync());
    return this.#next;
  }

  /** Resolves when nothing is queued and no fsync runs (before the database is closed). */
  async settle(): Promise<void> {
    while (this.#queue.length > 0 || this.#scheduled || this.#current || this.#next) {
      await (this.#current?.then(noop, noop) ?? new Promise<void>((r) => setImmediate(r)));
    }
  }

  /** Rejects what is still queued (the queue is closing). */
  abort(reason: Error): void {
    for (const job of this.#queue.splice(0)) job.reject(reason);
  }

  #kick(): void {
    if (this.#scheduled || this.#current !== undefined || this.#queue.length === 0) return;
    this.#scheduled = true;
    // The rest of this turn of the event loop (every request already read) joins the group.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const jobs = this.#queue.splice(0);
    if (jobs.length === 0) return;
    const done: { job: Job<unknown>; value: unknown }[] = [];
    try {
      this.target.transaction(() => {
        for (const job of jobs) {
          try {
            done.push({ job, value: this.target.savepoint(job.run) });
          } catch (e) {
            // Some errors make SQLite roll back the whole transaction: the group fails.
            if (!this.target.inTransaction()) throw e;
            job.reject(e);
          }
        }
      });
    } catch (e) {
      // Jobs rejected already keep their own error (a promise settles once).
      for (const job of jobs) job.reject(e);
      this.#kick();
      return;
    }
    if (done.length === 0) {
      this.#kick();
      return;
    }
    try {
      await this.durable();
    } catch (e) {
      for (const d of done) d.job.reject(e);
      return;
    }
    for (const d of done) d.job.resolve(d.value);
  }

  #startSync(): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    const p = this.target.sync().then(
      () => {},
      (e: unknown) => {
        this.#broken = new PermanentError(
          `embedded pointer queue: fsync of the write-ahead log failed (${errorMessage(e)}); what is on disk is unknown, so writes are refused until the queue is reopened`,
          { cause: e },
        );
        this.abort(this.#broken);
        throw this.#broken;
      },
    );
    this.#current = p;
    this.#next = undefined;
    const settled = () => {
      if (this.#current === p) this.#current = undefined;
      this.#kick();
    };
    p.then(settled, settled);
    return p;
  }
}

function noop(): void {}
