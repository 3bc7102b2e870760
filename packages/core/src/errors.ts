/**
 * Core error classes. Every adapter maps its SDK's errors onto these at its boundary, so the
 * broker's retry policy reads `retryable` and `code` and never inspects SDK errors.
 */
export type BargeErrorCode =
  | 'NOT_FOUND'
  | 'TRANSIENT'
  | 'PERMANENT'
  | 'AUTH'
  | 'INVALID_INPUT'
  | 'CORRUPT'
  | 'CONFIG'
  | 'REBALANCE';

export abstract class BargeError extends Error {
  abstract readonly code: BargeErrorCode;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The object, topic, group or partition does not exist. */
export class NotFoundError extends BargeError {
  static readonly code = 'NOT_FOUND';
  readonly code = NotFoundError.code;
  readonly retryable = false;
}

/** A failure that may succeed if retried: timeouts, throttling, 5xx, connection resets. */
export class TransientError extends BargeError {
  static readonly code = 'TRANSIENT';
  readonly code = TransientError.code;
  readonly retryable = true;
}

/** A failure that will not succeed if retried as is (4xx other than auth, missing bucket). */
export class PermanentError extends BargeError {
  static readonly code = 'PERMANENT';
  readonly code = PermanentError.code;
  readonly retryable = false;
}

/** Credentials are missing, invalid or lack a permission. */
export class AuthError extends BargeError {
  static readonly code = 'AUTH';
  readonly code = AuthError.code;
  readonly retryable = false;
}

/** The caller passed something invalid (a bad key, a negative offset, a malformed frame). */
export class InvalidInputError extends BargeError {
  static readonly code = 'INVALID_INPUT';
  readonly code = InvalidInputError.code;
  readonly retryable = false;
}

/** Stored or received bytes fail a checksum or structural check: never returned as data. */
export class CorruptDataError extends BargeError {
  static readonly code = 'CORRUPT';
  readonly code = CorruptDataError.code;
  readonly retryable = false;
}

/** Configuration is invalid. `path` names the offending field, e.g. `topics[0].batch.maxBytes`. */
export class ConfigError extends BargeError {
  static readonly code = 'CONFIG';
  readonly code = ConfigError.code;
  readonly retryable = false;
  constructor(
    message: string,
    readonly path: string = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A consumer-group member acted on a partition it no longer owns (the group rebalanced, or the
 * member was removed after missing its session timeout). Poll again to get the new assignment;
 * uncommitted progress on lost partitions is redelivered to their new owner.
 */
export class GroupRebalanceError extends BargeError {
  static readonly code = 'REBALANCE';
  readonly code = GroupRebalanceError.code;
  readonly retryable = false;
}

/** Storage-flavoured aliases, as named in the architecture document. */
export { PermanentError as PermanentStorageError, TransientError as TransientStorageError };

export function isBargeError(e: unknown): e is BargeError {
  return e instanceof BargeError;
}

/** True if retrying the failed operation may help. Unknown errors are treated as transient. */
export function isRetryable(e: unknown): boolean {
  return e instanceof BargeError ? e.retryable : true;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
