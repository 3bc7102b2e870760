import type { Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';

/** Handles closed after this long unused, so a file deleted by another process frees its space. */
const IDLE_MS = 5_000;

interface Cached {
  readonly fh: FileHandle;
  readonly stats: Stats;
  /** Reads running on it: it is closed once dropped and the last of them ends. */
  users: number;
  dropped: boolean;
  lastUsed: number;
}

/** Whether `a` and `b` describe the same file, unchanged: device, inode, size and modification time. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * Open read handles of the files read last (at most `max`, least recently used closed first, and
 * any unused for 5 s), so repeated reads of one object (the read proxy serving its ranges) cost
 * a `stat` and a read instead of open, `fstat`, read and close; a first read costs what it did
 * without the cache (the close comes later). A read through a kept handle first `stat`s the
 * path: a file replaced, changed or deleted since it was opened (by this process or another) is
 * opened afresh or reported missing, exactly as without the cache.
 */
export class ReadHandles {
  readonly #max: number;
  /** In order of last use, oldest first. */
  readonly #open = new Map<string, Cached>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  /** Open handles now (for tests). */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Runs `read` with a handle of `file` and the file's stats. Throws what `stat` or `open`
   * throws (`ENOENT` for a missing file); `read` is not called for a path that is not a file:
   * `notAFile` is thrown instead.
   */
  async read<T>(
    file: string,
    notAFile: () => Error,
    read: (fh: FileHandle, stats: Stats) => Promise<T>,
  ): Promise<T> {
    if (this.#max <= 0) return this.#readOnce(file, notAFile, read);
    let cached = this.#open.get(file);
    if (cached) {
      cached.users++; // not closed under this read, whatever happens meanwhile
      if (!(await this.#unchanged(file, cached))) {
        this.#release(cached);
        cached = undefined;
      } else if (this.#open.get(file) === cached) {
        this.#open.delete(file); // moved to the newest end
        this.#open.set(file, cached);
      }
    }
    if (!cached) cached = await this.#openFile(file, notAFile);
    cached.lastUsed = Date.now();
    try {
      return await read(cached.fh, cached.stats);
    } finally {
      this.#release(cached);
    }
  }

  /** Closes the handle of `file`, if open (after an overwrite or delete through this process). */
  forget(file: string): void {
    const cached = this.#open.get(file);
    if (cached) this.#drop(file, cached);
  }

  /** Closes every handle (those in use once their reads end). */
  close(): void {
    for (const [file, cached] of this.#open) this.#drop(file, cached);
  }

  /**
   * Whether the path still names the file `cached` holds, unchanged; if not, the handle is dropped.
   * A failing `stat` (the path is gone) drops it, releases this read's use and throws.
   */
  async #unchanged(file: string, cached: Cached): Promise<boolean> {
    let now: Stats;
    try {
      now = await stat(file);
    } catch (e) {
      if (this.#open.get(file) === cached) this.#drop(file, cached);
      this.#release(cached);
      throw e;
    }
    if (sameFile(cached.stats, now)) return true;
    if (this.#open.get(file) === cached) this.#drop(file, cached);
    return false;
  }

  /** Opens `file` for one read (`users` 1), kept unless another read opened it meanwhile. */
  async #openFile(file: string, notAFile: () => Error): Promise<Cached> {
    const fh = await open(file, 'r');
    let stats: Stats;
    try {
      stats = await fh.stat();
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    if (!stats.isFile()) {
      await fh.close().catch(() => {});
      throw notAFile();
    }
    const cached: Cached = { fh, stats, users: 1, dropped: false, lastUsed: 0 };
    if (this.#open.has(file))
      cached.dropped = true; // closed after this read
    else this.#add(file, cached);
    return cached;
  }

  /** One read is done with `cached`: a dropped handle closes with the last of them. */
  #release(cached: Cached): void {
    cached.users--;
    if (cached.dropped && cached.users === 0) void cached.fh.close().catch(() => {});
  }

  async #readOnce<T>(
    file: string,
    notAFile: () => Error,
    read: (fh: FileHandle, stats: Stats) => Promise<T>,
  ): Promise<T> {
    const fh = await open(file, 'r');
    try {
      const stats = await fh.stat();
      if (!stats.isFile()) throw notAFile();
      return await read(fh, stats);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  #add(file: string, cached: Cached): void {
    this.#open.set(file, cached);
    for (const [oldest, c] of this.#open) {
      if (this.#open.size <= this.#max) break;
      this.#drop(oldest, c);
    }
    this.#sweeper ??= setInterval(() => this.#closeIdle(), IDLE_MS).unref();
  }

  #closeIdle(): void {
    const before = Date.now() - IDLE_MS;
    for (const [file, c] of this.#open) {
      if (c.lastUsed > before) break;
      if (c.users === 0) this.#drop(file, c);
    }
  }

  #drop(file: string, cached: Cached): void {
    this.#open.delete(file);
    cached.dropped = true;
    if (cached.users === 0) void cached.fh.close().catch(() => {});
    if (this.#open.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
