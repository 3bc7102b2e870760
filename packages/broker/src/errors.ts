import {
  AuthError,
  BrokerResponseError,
  ConfigError,
  CorruptDataError,
  ErrorCode,
  errorMessage,
  GroupRebalanceError,
  InvalidInputError,
  NotFoundError,
  PermanentError,
  TransientError,
} from '@barge/core';

/** A failure with the protocol error code to answer it with. */
export class RequestError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RequestError';
  }
}

/** The error code for a failure of a storage call. */
export function storageErrorCode(e: unknown): ErrorCode {
  if (e instanceof RequestError) return e.errorCode;
  if (e instanceof NotFoundError) return ErrorCode.OBJECT_NOT_FOUND;
  if (e instanceof AuthError || e instanceof PermanentError || e instanceof ConfigError)
    return ErrorCode.STORAGE_ERROR;
  if (e instanceof InvalidInputError) return ErrorCode.INVALID_REQUEST;
  return ErrorCode.STORAGE_UNAVAILABLE;
}

/** The error code for a failure of a pointer-queue call. */
export function pointerErrorCode(e: unknown): ErrorCode {
  if (e instanceof RequestError) return e.errorCode;
  if (e instanceof GroupRebalanceError) return ErrorCode.REBALANCE_IN_PROGRESS;
  if (e instanceof NotFoundError) return ErrorCode.UNKNOWN_TOPIC;
  if (e instanceof ConfigError) return ErrorCode.INVALID_CONFIG;
  if (e instanceof InvalidInputError) return ErrorCode.INVALID_REQUEST;
  if (e instanceof TransientError || !(e instanceof Error) || !('retryable' in e)) {
    return ErrorCode.POINTER_QUEUE_UNAVAILABLE;
  }
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** Generic mapping for request handlers. */
export function errorCodeOf(e: unknown): ErrorCode {
  if (e instanceof RequestError) return e.errorCode;
  if (e instanceof BrokerResponseError) return e.errorCode as ErrorCode;
  if (e instanceof GroupRebalanceError) return ErrorCode.REBALANCE_IN_PROGRESS;
  if (e instanceof NotFoundError) return ErrorCode.UNKNOWN_TOPIC;
  if (e instanceof ConfigError) return ErrorCode.INVALID_CONFIG;
  if (e instanceof CorruptDataError) return ErrorCode.CORRUPT_CHUNK;
  if (e instanceof InvalidInputError) return ErrorCode.INVALID_REQUEST;
  if (e instanceof TransientError) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

export { errorMessage };
