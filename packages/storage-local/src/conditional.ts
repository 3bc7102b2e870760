import { link, rename, stat, unlink } from 'node:fs/promises';
import { PermanentError, PreconditionFailedError, type PutOptions } from '@barge/core';
import { etagOf, isCode, isDirectory } from './files.js';
import { withKeyLock } from './key-lock.js';

/**
 * Moves the written temp file `tmp` to `file` only if the put's condition holds, under the
 * key's lock (`withKeyLock`), so the check and the move are one step for every conditional put
 * of the key, in any process on the machine.
 *
 * - `ifNoneMatch: '*'`: `link(tmp, file)`, which the kernel refuses with `EEXIST` when `file`
 *   exists, so it never replaces an object, even one written meanwhile by an unconditional put.
 * - `ifMatch`: the current file's version (its etag: inode, nanosecond mtime and size) must equal
 *   the expected one; then `rename` replaces it. Every put writes a new inode while the old file
 *   still exists, so a replacement always has another inode than what it replaces, and mtimes
 *   are unique per process (`uniqueMtimeSeconds`): a version does not come back.
 *
 * Unconditional puts and deletes do not take the lock: one racing a conditional put of the same
 * key may be overwritten by it (keys written with conditions should be written only that way).
 */
export async function commitConditionally(
  tmp: string,
  file: string,
  key: string,
  root: string,
  options: PutOptions,
): Promise<void> {
  await withKeyLock(file, async () => {
    if (options.ifNoneMatch === '*') {
      try {
        await link(tmp, file);
      } catch (e) {
        if (!isCode(e, 'EEXIST')) throw e;
        if (await isDirectory(file)) {
          throw new PermanentError(
            `put ${JSON.stringify(key)}: other keys start with "${key}/" in ${root}; local storage cannot hold a key that is also a prefix directory of other keys`,
            { cause: e },
          );
        }
        throw new PreconditionFailedError(
          `put ${JSON.stringify(key)} if none match: the object already exists in ${root}`,
          key,
          { cause: e },
        );
      }
      await unlink(tmp);
      return;
    }
    let current: string | undefined;
    try {
      const st = await stat(file, { bigint: true });
      if (st.isFile()) current = etagOf(st);
    } catch (e) {
      if (!isCode(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
    if (current !== options.ifMatch) {
      throw new PreconditionFailedError(
        `put ${JSON.stringify(key)} if match ${JSON.stringify(options.ifMatch)}: ${current === undefined ? 'the object does not exist' : `the object's version is ${JSON.stringify(current)}`} in ${root}`,
        key,
      );
    }
    await rename(tmp, file);
  });
}
