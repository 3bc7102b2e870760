import { randomBytes } from 'node:crypto';
import type { BigIntStats, Dirent } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import {
  AuthError,
  BargeError,
  bodyParts,
  InvalidInputError,
  type ListOptions,
  type ListPage,
  MAX_KEY_BYTES,
  mapLimit,
  NotFoundError,
  type ObjectInfo,
  type ObjectStorage,
  PermanentError,
  type PutOptions,
  type PutResult,
  TransientError,
  validateKey,
  validatePrefix,
  validateRange,
} from '@barge/core';

export interface LocalStorageOptions {
  /** Directory the objects live under; created on open. Relative paths resolve against the working directory. */
  root: string;
  /**
   * `createLocalStorage` deletes temp files left by crashed writers that are older than this
   * (ms). Default 15 minutes, so writes in flight in another process are left alone; `false`
   * skips the sweep.
   */
  sweepTempFilesOlderThanMs?: number | false;
}

/**
 * Temp files are named `.barge\<pid>-<random>.tmp`. A backslash can never be part of a key
 * (`validateKey` rejects it), so no temp file can be mistaken for an object.
 */
const TEMP_PREFIX = '.barge\\';
/** Characters that can never be part of a key: names containing them are not objects. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are exactly what is excluded
const NOT_A_KEY_SEGMENT = /[\u0000-\u001f\u007f\\]/;
const DEFAULT_SWEEP_AGE_MS = 15 * 60 * 1000;
const DEFAULT_LIST_LIMIT = 1000;
/** Most buffers one `writev` call takes (IOV_MAX on Linux and macOS). */
const IOV_MAX = 1024;
const OPEN_RETRIES = 10;
/** Operations for which a missing path means a missing object. */
const READ_OPS = new Set(['get', 'getRange', 'head', 'read']);

/**
 * `ObjectStorage` on a local directory (`node:fs`). Key `a/b/c` is the file `<root>/a/b/c`.
 *
 * - `put` writes a temp file in the target's directory with vectored writes, fsyncs it, renames
 *   it over the target and fsyncs the directory (and any directory it had to create): readers
 *   see the old or the new file, never a partial one, and a completed put survives a crash.
 * - Reads open the file and read at positions; a reader that opened the old file keeps reading
 *   the old bytes while it is replaced.
 * - `listPage` walks only the directories that can hold keys with the prefix, in UTF-8 byte
 *   order of the full key (a directory `d` sorts as `d/`), so `a-b` < `a/b` < `a0`.
 * - `delete` unlinks and removes directories left empty, up to the root; a concurrent `put` into
 *   a removed directory recreates it and retries.
 *
 * A key cannot be both an object and a prefix directory (`a/b` and `a/b/c`): such a `put`
 * rejects with `PermanentError` (`nestedKeys: false` in the contract suite). A key segment
 * longer than the file system's name limit (255 bytes on most) rejects with `InvalidInputError`.
 *
 * Errors: missing → `NotFoundError`; `EACCES`/`EPERM` → `AuthError`; `ENOSPC`, `EDQUOT`,
 * `EMFILE`, `ENFILE`, `EAGAIN`, `EBUSY`, `EINTR`, `EIO` and unknown codes → `TransientError`
 * (retention or another process may free space or handles); `EROFS`, `ELOOP`, `EFBIG`,
 * `EXDEV`, `EINVAL` and key/directory conflicts → `PermanentError`.
 *
 * Keys are checked with `validateKey` and the resolved path must stay inside the root. Symbolic
 * links placed inside the root by someone else are followed by reads and writes and are not
 * listed: guarding against symlink escapes is out of scope (do not let untrusted users write
 * into the root).
 */
export class LocalStorage implements ObjectStorage {
  readonly adapter = 'local';
  /** Absolute path of the root directory. */
  readonly location: string;
  private readonly root: string;
  private closed = false;

  constructor(options: LocalStorageOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new InvalidInputError('LocalStorage: options.root must be a non-empty directory path');
    }
    this.root = path.resolve(options.root);
    this.location = this.root;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<PutResult> {
    this.checkOpen();
    validateKey(key);
    const parts = checkBody(body);
    const signal = options.signal;
    signal?.throwIfAborted();
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    const tmp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
    let fh: FileHandle | undefined;
    let createdDirs: string[] = [];
    try {
      ({ fh, createdDirs } = await this.createTemp(dir, tmp, key));
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
        await rename(tmp, file);
      } catch (e) {
        if (isCode(e, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) {
          throw new PermanentError(
            `put ${JSON.stringify(key)}: other keys start with "${key}/" in ${this.root}; local storage cannot hold a key that is also a prefix directory of other keys`,
            { cause: e },
          );
        }
        throw e;
      }
      // Make the rename, and every directory entry created for it, durable.
      for (const d of [dir, ...createdDirs]) await fsyncDir(d);
      return { size, etag: etagOf(st) };
    } catch (e) {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      throw this.mapError(e, 'put', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    this.checkOpen();
    validateKey(key);
    const fh = await this.openObject(key);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.notFound(key);
      return await readExactly(fh, 0, st.size, key);
    } catch (e) {
      throw this.mapError(e, 'get', key);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    validateKey(key);
    validateRange(offset, length);
    const fh = await this.openObject(key);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.notFound(key);
      if (offset >= st.size || length === 0) return Buffer.alloc(0);
      return await readExactly(fh, offset, Math.min(st.size - offset, length), key);
    } catch (e) {
      throw this.mapError(e, 'getRange', key);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    this.checkOpen();
    validateKey(key);
    const info = await this.statKey(key);
    if (!info) throw this.notFound(key);
    return info;
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.checkOpen();
    if (!Array.isArray(keys)) throw new InvalidInputError('delete: keys must be an array of keys');
    for (const k of keys) validateKey(k);
    const dirs = new Set<string>();
    await mapLimit([...new Set(keys)], 64, async (key) => {
      const file = this.pathOf(key);
      try {
        await unlink(file);
        dirs.add(path.dirname(file));
      } catch (e) {
        // Missing, below an object, or a prefix directory rather than an object: nothing to delete.
        if (isCode(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return;
        if (isCode(e, 'EPERM') && (await isDirectory(file))) return;
        throw this.mapError(e, 'delete', key);
      }
    });
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await this.pruneEmptyDirs(d);
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.checkOpen();
    validatePrefix(prefix);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidInputError(`listPage: limit must be a positive integer, got ${limit}`);
    }
    const { startAfter } = options;
    if (startAfter !== undefined && typeof startAfter !== 'string') {
      throw new InvalidInputError(`listPage: startAfter must be a string, got ${typeof startAfter}`);
    }
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut >= 0 ? prefix.slice(0, cut + 1) : '';
    const after = startAfter ? Buffer.from(startAfter, 'utf8') : undefined;
    const objects: ObjectInfo[] = [];
    let more = false;
    try {
      for await (const key of this.walk(this.pathOf(dirKey), dirKey, prefix, after)) {
        if (objects.length >= limit) {
          more = true;
          break;
        }
        const info = await this.statKey(key);
        if (info) objects.push(info);
      }
    } catch (e) {
      throw this.mapError(e, 'listPage', prefix);
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
    this.checkOpen();
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
      throw this.mapError(e, 'sweepTempFiles', '');
    }
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Creates the root directory. */
  async init(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      if (!(await stat(this.root)).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw this.mapError(e, 'open', '', `cannot use ${this.root} as the storage root`);
    }
  }

  // ------------------------------------------------------------------------------ internals

  private checkOpen(): void {
    if (this.closed) throw new PermanentError(`local storage at ${this.root} is closed`);
  }

  /** The file of a validated key (or of a prefix directory ending in `/`), checked to stay inside the root. */
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

  private async openObject(key: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(key), 'r');
    } catch (e) {
      throw this.mapError(e, 'read', key);
    }
  }

  /** `ObjectInfo` of a key, or undefined if it is missing or not a file. */
  private async statKey(key: string): Promise<ObjectInfo | undefined> {
    let st: BigIntStats;
    try {
      st = await stat(this.pathOf(key), { bigint: true });
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw this.mapError(e, 'head', key);
    }
    if (!st.isFile()) return undefined;
    return {
      key,
      size: Number(st.size),
      etag: etagOf(st),
      lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
    };
  }

  private async createTemp(
    dir: string,
    tmp: string,
    key: string,
  ): Promise<{ fh: FileHandle; createdDirs: string[] }> {
    const createdDirs: string[] = [];
    for (let attempt = 0; ; attempt++) {
      let first: string | undefined;
      try {
        first = await mkdir(dir, { recursive: true });
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
      if (first !== undefined) {
        // Each directory created needs its parent's entry made durable.
        for (let d = dir; ; d = path.dirname(d)) {
          createdDirs.push(path.dirname(d));
          if (d === first || d === this.root || d === path.dirname(d)) break;
        }
      }
      try {
        return { fh: await open(tmp, 'wx'), createdDirs };
      } catch (e) {
        // A concurrent delete removed the (empty) directory between mkdir and open: again.
        if (isCode(e, 'ENOENT') && attempt < OPEN_RETRIES) continue;
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
    }
  }

  /**
   * Keys under `dirPath` (whose key prefix is `keyPrefix`) that start with `prefix` and sort
   * after `after`, in UTF-8 byte order of the full key. A directory `d` sorts as `d/`, which is
   * where every key below it sorts, so a depth-first walk in that order yields sorted keys.
   * Directories that cannot hold a matching key are not read.
   */
  private async *walk(
    dirPath: string,
    keyPrefix: string,
    prefix: string,
    after: Buffer | undefined,
  ): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(dirPath, { withFileTypes: true });
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return;
      throw e;
    }
    const items: { name: string; full: string; dir: boolean; sortKey: Buffer }[] = [];
    for (const d of entries) {
      if (NOT_A_KEY_SEGMENT.test(d.name)) continue; // temp files and foreign junk
      const dir = d.isDirectory();
      if (!dir && !d.isFile()) continue;
      const full = keyPrefix + d.name;
      const group = dir ? `${full}/` : full;
      if (dir ? !(group.startsWith(prefix) || prefix.startsWith(group)) : !full.startsWith(prefix)) continue;
      const sortKey = Buffer.from(group, 'utf8');
      if (!dir && sortKey.length > MAX_KEY_BYTES) continue;
      if (after) {
        const c = Buffer.compare(sortKey, after);
        // A file at or before `after` is out; so is a directory sorting before it unless
        // `after` lies inside it.
        if (dir ? c < 0 && !startsWith(after, sortKey) : c <= 0) continue;
      }
      items.push({ name: d.name, full, dir, sortKey });
    }
    items.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const item of items) {
      if (item.dir) yield* this.walk(path.join(dirPath, item.name), `${item.full}/`, prefix, after);
      else yield item.full;
    }
  }

  private mapError(e: unknown, op: string, key: string, what?: string): Error {
    if (e instanceof BargeError) return e;
    const code = errnoCode(e);
    if (code === undefined) return e instanceof Error ? e : new TransientError(`${op}: ${String(e)}`);
    const subject = what ?? `${op} ${JSON.stringify(key)} in ${this.root}`;
    const options = { cause: e };
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'EISDIR':
        if (READ_OPS.has(op))
          return new NotFoundError(`object ${JSON.stringify(key)} not found in ${this.root}`, options);
        return new TransientError(`${subject}: ${code} (${errorText(e)})`, options);
      case 'EACCES':
      case 'EPERM':
        return new AuthError(`${subject}: permission denied (${code})`, options);
      case 'ENAMETOOLONG':
        return new InvalidInputError(
          `${subject}: a key segment is longer than the file system allows (${code}); most allow 255 bytes per segment`,
          options,
        );
      case 'EROFS':
      case 'ELOOP':
      case 'EFBIG':
      case 'EXDEV':
      case 'EINVAL':
        return new PermanentError(`${subject}: ${code} (${errorText(e)})`, options);
      default:
        return new TransientError(`${subject}: ${code} (${errorText(e)})`, options);
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

// ---------------------------------------------------------------------------------- helpers

function checkBody(body: Buffer | readonly Buffer[]): readonly Buffer[] {
  if (!Buffer.isBuffer(body) && !Array.isArray(body)) {
    throw new InvalidInputError('put: body must be a Buffer or an array of Buffers');
  }
  const parts = bodyParts(body);
  for (const [i, p] of parts.entries()) {
    if (!(p instanceof Uint8Array)) throw new InvalidInputError(`put: body part ${i} is not a Buffer`);
  }
  return parts;
}

/** Writes every part in order with `writev`, resuming after partial writes. Returns the byte count. */
async function writeAll(
  fh: FileHandle,
  parts: readonly Buffer[],
  signal: AbortSignal | undefined,
): Promise<number> {
  let pending = parts.filter((p) => p.length > 0);
  let position = 0;
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const batch = pending.slice(0, IOV_MAX);
    const { bytesWritten } = await fh.writev(batch, position);
    if (bytesWritten <= 0) throw new TransientError('put: the file system accepted no bytes');
    position += bytesWritten;
    let n = bytesWritten;
    let done = 0;
    while (done < batch.length && n >= (batch[done] as Buffer).length) {
      n -= (batch[done] as Buffer).length;
      done++;
    }
    pending = pending.slice(done);
    if (n > 0) pending[0] = (pending[0] as Buffer).subarray(n);
  }
  return position;
}

async function readExactly(fh: FileHandle, position: number, length: number, key: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) {
      throw new TransientError(
        `read ${JSON.stringify(key)}: the file ended after ${position + off} bytes, ${length - off} short of what was expected`,
      );
    }
    off += bytesRead;
  }
  return buf;
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some platforms and file systems cannot fsync a directory; the rename is then as durable as they make it.
    if (!isCode(e, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP', 'EACCES')) throw e;
  } finally {
    await fh?.close().catch(() => {});
  }
}

let lastMtimeMicros = 0;
/**
 * A modification time unique to this process (microsecond steps, never repeating), so that the
 * etag (inode, mtime, size) changes on every put even when the kernel's clock tick is coarse and
 * an inode number is reused.
 */
function uniqueMtimeSeconds(): number {
  lastMtimeMicros = Math.max(Date.now() * 1000, lastMtimeMicros + 1);
  return lastMtimeMicros / 1e6;
}

function etagOf(st: BigIntStats): string {
  return `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}-${st.size.toString(16)}`;
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.subarray(0, prefix.length).equals(prefix);
}

function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

function isCode(e: unknown, ...codes: string[]): boolean {
  const code = errnoCode(e);
  return code !== undefined && codes.includes(code);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}
