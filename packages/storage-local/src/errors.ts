import {
  AuthError,
  BargeError,
  InvalidInputError,
  NotFoundError,
  PermanentError,
  TransientError,
} from '@barge/core';
import { errnoCode } from './files.js';

/** Operations for which a missing path means a missing object. */
const READ_OPS = new Set(['get', 'getRange', 'head', 'read']);

/**
 * Maps a file-system error of `op` on `key` under `root` onto the core errors (see the errors
 * table of `LocalStorage`). `what` replaces the default subject of the message.
 */
export function mapFsError(e: unknown, op: string, key: string, root: string, what?: string): Error {
  if (e instanceof BargeError) return e;
  const code = errnoCode(e);
  if (code === undefined) return e instanceof Error ? e : new TransientError(`${op}: ${String(e)}`);
  const subject = what ?? `${op} ${JSON.stringify(key)} in ${root}`;
  const options = { cause: e };
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EISDIR':
      if (READ_OPS.has(op))
        return new NotFoundError(`object ${JSON.stringify(key)} not found in ${root}`, options);
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

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
