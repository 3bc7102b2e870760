import { randomBytes } from 'node:crypto';
import type { BigIntStats, Dirent } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  bodyParts,
  InvalidInputError,
  isConditionalPut,
  type ListOptions,
  type ListPage,
  mapLimit,
  NotFoundError,
  type ObjectInfo,
  type ObjectStorage,
  PermanentError,
  type PutOptions,
  type PutResult,
  type StorageCapabilities,
  TransientError,
} from '@barge/core';
import { commitConditionally } from './conditional.js';
import { DirSyncer } from './dir-sync.js';
import { mapFsError } from './errors.js';
import { etagOf, fsyncDir, isCode, isDirectory, readExactly, uniqueMtimeSeconds, writeAll } from './files.js';
import { KnownDirs } from './known-dirs.js';
import { ReadHandles } from './read-handles.js';
import { walkKeys } from './walk.js';

export interface LocalStorageOptions {
  /** Directory the objects live under; created on open. Relative paths resolve against the working directory. */
  root: string;
  /**
   * `createLocalStorage` deletes temp files left by crashed writers that are older than this
   * (ms). Default 15 minutes, so writes in flight in another process are left alone; `false`
   * skips the sweep.
   */
  sweepTempFilesOlderThanMs?: number | false;
  /**
   * Read handles kept open for the files read last (`ReadHandles`), so ranged reads of one object
   * skip opening and closing it. Default 64; 0 opens and closes a file for every read.
   */
  openReadHandles?: number;
}

/**
 * Temp files are named `.barge\<pid>-<random>.tmp`. A backslash can never be part of a key
 * (`validateKey` rejects it), so no temp file can be mistaken for an object.
 */
const TEMP_PREFIX = '.barge\\';
const DEFAULT_SWEEP_AGE_MS = 15 * 60 * 1000;
const DEFAULT_LIST_LIMIT = 1000;
const DEFAULT_READ_HANDLES = 64;
const OPEN_RETRIES = 10;
/** Per-process part of temp-file names; a counter makes them unique within the process. */
const TEMP_TAG = `${process.pid}-${randomBytes(6).toString('hex')}`;
let tempCounter = 0;

function tempName(): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${TEMP_PREFIX}${TEMP_TAG}-${tempCounter.toString(36)}.tmp`;
}

/** A path is a file or a directory, never both; one `delete` call takes any number of keys. */
const LOCAL_CAPABILITIES: StorageCapabilities = Object.freeze({
  etag: true,
  nestedKeys: false,
  maxDeleteBatch: Number.POSITIVE_INFINITY,
  conditionalPut: true,
});

/**
 * `ObjectStorage` on a local directory (`node:fs`). Key `a/b/c` is the file `<root>/a/b/c`.
 *
 * - `put` writes a temp file in the target's directory with vectored writes, fsyncs it, renames
 *   it over the target and fsyncs the directory (and the parent of any directory it had to
 *   create): readers see the old or the new file, never a partial one, and a completed put
 *   survives a crash. Directories are created once (`KnownDirs`), and renames into one
 *   directory that land while its fsync runs share the next fsync (`DirSyncer`).
 * - Reads read at positions from a handle of the file; a reader that opened the old file keeps
 *   reading the old bytes while it is replaced. The handles of the files read last stay open
 *   (`openReadHandles`); each read `stat`s the path first and reopens a file replaced since.
 * - `listPage` walks only the directories that can hold keys with the prefix, in UTF-8 byte
 *   order of the full key (a directory `d` sorts as `d/`), so `a-b` < `a/b` < `a0`.
 * - `delete` unlinks and removes directories left empty, up to the root; a concurrent `put` into
 *   a removed directory recreates it and retries.
 * - Conditional puts check and commit under a per-key lock file (see `commitConditionally` and
 *   `withKeyLock`); the version token is the etag.
 *
 * A key cannot be both an object and a prefix directory (`a/b` and `a/b/c`): such a `put`
 * rejects with `PermanentError` (capability `nestedKeys: false`). A key segment
 * longer than the file system's name limit (255 bytes on most) rejects with `InvalidInputError`.
 *
 * Errors: missing → `NotFoundError`; `EACCES`/`EPERM` → `AuthError`; `ENOSPC`, `EDQUOT`,
 * `EMFILE`, `ENFILE`, `EAGAIN`, `EBUSY`, `EINTR`, `EIO` and unknown codes → `TransientError`
 * (retention or another process may free space or handles); `EROFS`, `ELOOP`, `EFBIG`,
 * `EXDEV`, `EINVAL` and key/directory conflicts → `PermanentError`.
 *
 * Keys, ranges and the closed state are checked by core's `guardStorage` (the plugin's `create`
 * returns a guarded instance); as a second line of defence the resolved path must stay inside
 * the root. Symbolic links placed inside the root by someone else are followed by reads and
 * writes and are not listed: guarding against symlink escapes is out of scope (do not let
 * untrusted users write into the root).
 */
export class LocalStorage implements ObjectStorage {
  readonly adapter = 'local';
  /** Absolute path of the root directory. */
  readonly location: string;
  readonly capabilities = LOCAL_CAPABILITIES;
  private readonly root: string;
  readonly #syncer = new DirSyncer(fsyncDir);
  readonly #dirs: KnownDirs;
  readonly #handles: ReadHandles;

  constructor(options: LocalStorageOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new InvalidInputError('LocalStorage: options.root must be a non-empty directory path');
    }
    this.root = path.resolve(options.root);
    this.location = this.root;
    this.#dirs = new KnownDirs(this.root, this.#syncer);
    const handles = options.openReadHandles ?? DEFAULT_READ_HANDLES;
    if (!Number.isInteger(handles) || handles < 0) {
      throw new InvalidInputError('LocalStorage: options.openReadHandles must be an integer >= 0');
    }
    this.#handles = new ReadHandles(handles);
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<PutResult> {
    const parts = bodyParts(body);
    const signal = options.signal;
    signal?.throwIfAborted();
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    const tmp = path.join(dir, tempName());
    let fh: FileHandle | undefined;
    try {
      fh = await this.createTemp(dir, tmp, key);
      const size = await writeAll(fh, parts, signal);
      const mtime = uniqueMtimeSeconds();
      await fh.utimes(mtime, mtime);
      await fh.sync();
      const st = await fh.stat({ bigint: true });
      if (Number(st.size) !== size) {
        throw new TransientError(
          `put ${JSON.stringify(key)}: wrote ${size} bytes but the file has ${st.size}`,
        );
      }
      await fh.close();
      fh = undefined;
      signal?.throwIfAborted();
      try {
        if (isConditionalPut(options)) await commitConditionally(tmp, file, key, this.root, options);
        else await rename(tmp, file);
        this.#handles.forget(file);
      } catch (e) {
        if (isCode(e, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) {
          throw new PermanentError(
            `put ${JSON.stringify(key)}: other keys start with "${key}/" in ${this.root}; local storage cannot hold a key that is also a prefix directory of other keys`,
            { cause: e },
          );
        }
        throw e;
      }
      // Make the rename durable (one directory fsync shared by the renames that land meanwhile),
      // and the creation of the directories it lives in, if this or a concurrent put made them.
      const created = this.#dirs.durable(dir);
      await (created ? Promise.all([this.#syncer.sync(dir), created]) : this.#syncer.sync(dir));
      const etag = etagOf(st);
      return { size, etag, version: etag };
    } catch (e) {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      throw mapFsError(e, 'put', key, this.root);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await this.#handles.read(
        this.pathOf(key),
        () => this.notFound(key),
        (fh, st) => readExactly(fh, 0, st.size, key),
      );
    } catch (e) {
      throw mapFsError(e, 'get', key, this.root);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    try {
      return await this.#handles.read(
        this.pathOf(key),
        () => this.notFound(key),
        async (fh, st) =>
          offset >= st.size
            ? Buffer.alloc(0)
            : readExactly(fh, offset, Math.min(st.size - offset, length), key),
      );
    } catch (e) {
      throw mapFsError(e, 'getRange', key, this.root);
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    const info = await this.statKey(key);
    if (!info) throw this.notFound(key);
    return info;
  }

  async delete(keys: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    await mapLimit(keys, 64, async (key) => {
      const file = this.pathOf(key);
      try {
        this.#handles.forget(file);
        await unlink(file);
        dirs.add(path.dirname(file));
      } catch (e) {
        // Missing, below an object, or a prefix directory rather than an object: nothing to delete.
        if (isCode(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return;
        if (isCode(e, 'EPERM') && (await isDirectory(file))) return;
        throw mapFsError(e, 'delete', key, this.root);
      }
    });
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await this.pruneEmptyDirs(d);
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const { limit = DEFAULT_LIST_LIMIT, startAfter } = options;
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut >= 0 ? prefix.slice(0, cut + 1) : '';
    const after = startAfter ? Buffer.from(startAfter, 'utf8') : undefined;
    const objects: ObjectInfo[] = [];
    let more = false;
    try {
      for await (const key of walkKeys(this.pathOf(dirKey), dirKey, prefix, after)) {
        if (objects.length >= limit) {
          more = true;
          break;
        }
        const info = await this.statKey(key);
        if (info) objects.push(info);
      }
    } catch (e) {
      throw mapFsError(e, 'listPage', prefix, this.root);
    }
    const last = objects.at(-1);
    return more && last ? { objects, nextStartAfter: last.key } : { objects };
  }

  /**
   * Deletes temp files (from writers that crashed between creating and renaming them) last
   * modified more than `olderThanMs` ago, and directories left empty. Returns how many files it
   * deleted. Temp files never appear in listings, so this only reclaims space.
   */
  async sweepTempFiles(olderThanMs: number = DEFAULT_SWEEP_AGE_MS): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isCode(e, 'ENOENT', 'ENOTDIR')) return;
        throw e;
      }
      for (const d of entries) {
        const p = path.join(dir, d.name);
        if (d.isDirectory()) {
          await visit(p);
        } else if (d.isFile() && d.name.startsWith(TEMP_PREFIX)) {
          try {
            if ((await stat(p)).mtimeMs < cutoff) {
              await unlink(p);
              removed++;
              await this.pruneEmptyDirs(dir);
            }
          } catch (e) {
            if (!isCode(e, 'ENOENT')) throw e;
          }
        }
      }
    };
    try {
      await visit(this.root);
    } catch (e) {
      throw mapFsError(e, 'sweepTempFiles', '', this.root);
    }
    return removed;
  }

  /** Closes the read handles kept open (those in use once their reads end). */
  async close(): Promise<void> {
    this.#handles.close();
  }

  /** Creates the root directory. */
  async init(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      if (!(await stat(this.root)).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw mapFsError(e, 'open', '', this.root, `cannot use ${this.root} as the storage root`);
    }
  }

  // ------------------------------------------------------------------------------ internals

  /** The file of a valid key (or of a prefix directory ending in `/`), checked to stay inside the root. */
  private pathOf(key: string): string {
    const p = key === '' ? this.root : path.resolve(this.root, ...key.split('/').filter((s) => s !== ''));
    if (p !== this.root && !p.startsWith(this.root + path.sep)) {
      throw new InvalidInputError(`key ${JSON.stringify(key)} resolves outside the storage root`);
    }
    return p;
  }

  private notFound(key: string): NotFoundError {
    return new NotFoundError(`object ${JSON.stringify(key)} not found in ${this.root}`);
  }

  /** `ObjectInfo` of a key, or undefined if it is missing or not a file. */
  private async statKey(key: string): Promise<ObjectInfo | undefined> {
    let st: BigIntStats;
    try {
      st = await stat(this.pathOf(key), { bigint: true });
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw mapFsError(e, 'head', key, this.root);
    }
    if (!st.isFile()) return undefined;
    return {
      key,
      size: Number(st.size),
      etag: etagOf(st),
      version: etagOf(st),
      lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
    };
  }

  private async createTemp(dir: string, tmp: string, key: string): Promise<FileHandle> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#dirs.ensure(dir);
      } catch (e) {
        if (isCode(e, 'ENOENT') && attempt < OPEN_RETRIES) continue;
        if (isCode(e, 'ENOTDIR', 'EEXIST')) {
          throw new PermanentError(
            `put ${JSON.stringify(key)}: a prefix of the key is an existing object in ${this.root}; local storage cannot hold keys below an object`,
            { cause: e },
          );
        }
        throw e;
      }
      try {
        return await open(tmp, 'wx');
      } catch (e) {
        // A delete (here or in another process) removed the empty directory: create it again.
        if (isCode(e, 'ENOENT') && attempt < OPEN_RETRIES) {
          this.#dirs.forget(dir);
          continue;
        }
        throw e;
      }
    }
  }

  private async pruneEmptyDirs(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root + path.sep); d = path.dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or gone, or in use): stop; best effort
      }
      this.#dirs.forget(d);
    }
  }
}

/** Creates the root directory, sweeps old temp files (unless disabled) and returns the storage. */
export async function createLocalStorage(options: LocalStorageOptions): Promise<LocalStorage> {
  const storage = new LocalStorage(options);
  await storage.init();
  const age = options.sweepTempFilesOlderThanMs ?? DEFAULT_SWEEP_AGE_MS;
  if (age !== false) await storage.sweepTempFiles(age);
  return storage;
}
