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
  | 'REBALANCE'
  | 'GROUP_NOT_EMPTY'
  | 'PRECONDITION_FAILED'
  | 'NOT_OWNER';

/**
 * Marks Barge errors so they are recognised across copies of `@barge/core`: a plugin installed
 * with its own copy (npm nests one when version ranges do not dedupe) throws errors whose classes
 * are not this copy's, so `instanceof` alone would fail silently. `Symbol.for` gives every copy
 * the same brand, and `instanceof` below checks the brand and the `code`.
 */
const BRAND: unique symbol = Symbol.for('barge.error') as never;

export abstract class BargeError extends Error {
  abstract readonly code: BargeErrorCode;
  abstract readonly retryable: boolean;
  readonly [BRAND] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }

  /**
   * `e instanceof NotFoundError` is true for a `NotFoundError` of any copy of `@barge/core`
   * (same brand, same `code`), and `e instanceof BargeError` for any Barge error of any copy.
   * Subclasses that do not declare a `static code` of their own (e.g. `ProtocolError`) keep the
   * ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass `instanceof` asks about.
    const cls = this as unknown as { code?: unknown };
    if (cls === BargeError) return isBranded(value);
    if (Object.hasOwn(cls, 'code')) return isBranded(value) && value.code === cls.code;
    return Function.prototype[Symbol.hasInstance].call(cls, value);
  }
}

const CODES: ReadonlySet<string> = new Set<BargeErrorCode>([
  'NOT_FOUND',
  'TRANSIENT',
  'PERMANENT',
  'AUTH',
  'INVALID_INPUT',
  'CORRUPT',
  'CONFIG',
  'REBALANCE',
  'GROUP_NOT_EMPTY',
  'PRECONDITION_FAILED',
  'NOT_OWNER',
]);

/**
 * A Barge error of any copy of `@barge/core`: it carries the brand, or (copies from before the
 * brand existed) it is an `Error` with a known `code` and a boolean `retryable`.
 */
function isBranded(value: unknown): value is BargeError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { [BRAND]?: unknown; code?: unknown; retryable?: unknown };
  if (typeof v.code !== 'string') return false;
  if (v[BRAND] === true) return true;
  return value instanceof Error && CODES.has(v.code) && typeof v.retryable === 'boolean';
}

/** The Barge error code of `e` (from any copy of `@barge/core`), or undefined. */
export function bargeErrorCode(e: unknown): BargeErrorCode | undefined {
  return isBranded(e) ? e.code : undefined;
}

/** True if `e` is a Barge error (from any copy of `@barge/core`) with one of `codes`. */
export function hasErrorCode(e: unknown, ...codes: BargeErrorCode[]): boolean {
  const code = bargeErrorCode(e);
  return code !== undefined && codes.includes(code);
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

/**
 * An operation that needs a consumer group without members (resetting its offsets) found
 * members in it. Stop the group's consumers, or wait until their sessions time out, and retry.
 */
export class GroupNotEmptyError extends BargeError {
  static readonly code = 'GROUP_NOT_EMPTY';
  readonly code = GroupNotEmptyError.code;
  readonly retryable = false;
}

/**
 * A conditional `put` (`ifNoneMatch: '*'` or `ifMatch`) found the object in another state than
 * the condition asked for: it exists already, is missing, or was replaced since its version was
 * read. Nothing was written by this call. Not retryable as is: read the object again and decide.
 * `key` is the storage key the condition was on.
 */
export class PreconditionFailedError extends BargeError {
  static readonly code = 'PRECONDITION_FAILED';
  readonly code = PreconditionFailedError.code;
  readonly retryable = false;
  constructor(
    message: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * In a cluster, this broker does not own the write partition (any more): another broker was
 * assigned it, or a newer owner fenced this one's pointer publication. Nothing of the request
 * was acknowledged; send it to the owner (`ownerId`, -1 when unknown) after refreshing metadata.
 */
export class NotOwnerError extends BargeError {
  static readonly code = 'NOT_OWNER';
  readonly code = NotOwnerError.code;
  readonly retryable = true;
  constructor(
    message: string,
    readonly ownerId = -1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Storage-flavoured aliases, as named in the architecture document. */
export { PermanentError as PermanentStorageError, TransientError as TransientStorageError };

/** True for a Barge error from any copy of `@barge/core`. */
export function isBargeError(e: unknown): e is BargeError {
  return isBranded(e);
}

/** True if retrying the failed operation may help. Unknown errors are treated as transient. */
export function isRetryable(e: unknown): boolean {
  return isBranded(e) ? e.retryable !== false : true;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
