import {
  type BargeErrorCode,
  BrokerResponseError,
  bargeErrorCode,
  ErrorCode,
  errorMessage,
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

// Errors may come from an adapter with its own copy of @barge/core: they are recognised by their
// `code` (`bargeErrorCode`), never by class.

/** The error code for a failure of a storage call. */
export function storageErrorCode(e: unknown): ErrorCode {
  if (e instanceof RequestError) return e.errorCode;
  switch (bargeErrorCode(e)) {
    case 'NOT_FOUND':
      return ErrorCode.OBJECT_NOT_FOUND;
    case 'AUTH':
    case 'PERMANENT':
    case 'CONFIG':
      return ErrorCode.STORAGE_ERROR;
    case 'INVALID_INPUT':
      return ErrorCode.INVALID_REQUEST;
    default:
      return ErrorCode.STORAGE_UNAVAILABLE;
  }
}

/** Protocol codes for Barge error codes that mean the same whatever the call. */
const REQUEST_CODES: Partial<Record<BargeErrorCode, ErrorCode>> = {
  REBALANCE: ErrorCode.REBALANCE_IN_PROGRESS,
  NOT_FOUND: ErrorCode.UNKNOWN_TOPIC,
  CONFIG: ErrorCode.INVALID_CONFIG,
  INVALID_INPUT: ErrorCode.INVALID_REQUEST,
  GROUP_NOT_EMPTY: ErrorCode.GROUP_NOT_EMPTY,
  NOT_OWNER: ErrorCode.NOT_OWNER,
};

/** The error code for a failure of a pointer-queue call. */
export function pointerErrorCode(e: unknown): ErrorCode {
  if (e instanceof RequestError) return e.errorCode;
  const code = bargeErrorCode(e);
  if (code === undefined || code === 'TRANSIENT') return ErrorCode.POINTER_QUEUE_UNAVAILABLE;
  return REQUEST_CODES[code] ?? ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** Generic mapping for request handlers. */
export function errorCodeOf(e: unknown): ErrorCode {
  if (e instanceof RequestError) return e.errorCode;
  if (e instanceof BrokerResponseError) return e.errorCode as ErrorCode;
  const code = bargeErrorCode(e);
  if (code === 'CORRUPT') return ErrorCode.CORRUPT_CHUNK;
  return (code && REQUEST_CODES[code]) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
}

export { errorMessage };
