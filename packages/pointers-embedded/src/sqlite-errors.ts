import { BargeError, CorruptDataError, errorMessage, PermanentError, TransientError } from '@barge/core';

/** SQLite result codes (primary, so extended ones like `SQLITE_IOERR_WRITE` too) that may clear up. */
const TRANSIENT_SQLITE_CODES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_PROTOCOL',
];

/**
 * Maps a SQLite (or other) failure onto the core error classes. The message leads with the
 * SQLite code and text (`SQLITE_FULL: database or disk is full (embedded pointer queue: publish
 * to orders)`), so whoever sees it, producers included, learns the cause.
 */
export function mapSqliteError(e: unknown, what: string): BargeError {
  if (e instanceof BargeError) return e;
  const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : '';
  const message = code
    ? `${code}: ${errorMessage(e)} (embedded pointer queue: ${what})`
    : `embedded pointer queue: ${what} failed: ${errorMessage(e)}`;
  if (TRANSIENT_SQLITE_CODES.some((c) => code === c || code.startsWith(`${c}_`))) {
    return new TransientError(message, { cause: e });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new CorruptDataError(message, { cause: e });
  }
  return new PermanentError(message, { cause: e });
}
