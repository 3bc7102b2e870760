import { BargeError, type BargeErrorCode } from '../errors.js';

/**
 * Error codes carried in every response header (u16). `0` is success. Codes are never reused or
 * renumbered; a receiver that meets a code it does not know treats it as permanent.
 * `docs/protocol.md` lists them with what a client should do about each.
 */
export const ErrorCode = {
  NONE: 0,
  /** An unexpected failure inside the broker; retrying may help. */
  UNKNOWN_SERVER_ERROR: 1,
  /** The api version is not supported (see ApiVersions). */
  UNSUPPORTED_VERSION: 2,
  /** The api key is unknown to this broker. */
  UNKNOWN_API: 3,
  /** The request body is malformed or a field is out of range. */
  INVALID_REQUEST: 4,
  /** The frame is above the broker's `limits.maxFrameBytes`; the connection is closed after this response. */
  FRAME_TOO_LARGE: 5,
  /** The broker has `limits.maxConnections` connections; the connection is closed after this response. */
  TOO_MANY_CONNECTIONS: 6,
  /** The broker is shutting down; retry on another broker or later. */
  SHUTTING_DOWN: 7,
  /** The broker's in-flight byte budget is exhausted; retry with backoff. */
  THROTTLED: 8,
  /** The produce request's `timeoutMs` passed before the ack was ready. The data may still be stored. */
  REQUEST_TIMED_OUT: 9,
  UNKNOWN_TOPIC: 10,
  /** The topic name is not 1-200 characters of A-Z a-z 0-9 . _ - */
  INVALID_TOPIC: 11,
  /** CreateTopic for an existing topic (without ifNotExists, or with different settings). */
  TOPIC_ALREADY_EXISTS: 12,
  /** A write or read partition outside the topic's range. */
  INVALID_PARTITION: 13,
  /** Topic settings out of range, or they conflict with the pointer queue. */
  INVALID_CONFIG: 14,
  /** CreateTopic when the broker already has `limits.maxTopics` topics. */
  TOO_MANY_TOPICS: 15,
  /** A chunk or request above the broker's limits. */
  MESSAGE_TOO_LARGE: 20,
  /** More messages in one request than `limits.maxMessagesPerRequest`. */
  TOO_MANY_MESSAGES: 21,
  /** A chunk's CRC-32 does not match its bytes. */
  CORRUPT_CHUNK: 22,
  /** A chunk names a codec id the broker does not know. */
  UNSUPPORTED_CODEC: 23,
  /** Object storage failed or is unreachable; the data was not acknowledged. Retry. */
  STORAGE_UNAVAILABLE: 24,
  /** The pointer queue failed or is unreachable; the data was not acknowledged. Retry. */
  POINTER_QUEUE_UNAVAILABLE: 25,
  /** Object storage refused the write permanently (credentials, permissions, missing bucket). */
  STORAGE_ERROR: 26,
  /** Cluster: this broker does not own the write partition (now); nothing was acknowledged. Refresh Metadata and send to the owner. */
  NOT_OWNER: 27,
  /** The member id is unknown (never joined, left, or its session timed out). Join again. */
  UNKNOWN_MEMBER: 30,
  /** The group rebalanced and the member no longer owns a partition it named. Refresh the assignment (Heartbeat) and retry. */
  REBALANCE_IN_PROGRESS: 31,
  /** An offset outside the partition's retained range. */
  OFFSET_OUT_OF_RANGE: 32,
  /** The group name is invalid. */
  INVALID_GROUP: 33,
  /** ResetOffsets on a group that has members: stop them (or wait for their sessions to time out) first. */
  GROUP_NOT_EMPTY: 34,
  /** DescribeGroup: the group has neither members nor committed offsets. */
  UNKNOWN_GROUP: 35,
  /** ReadObject: no object under this key. */
  OBJECT_NOT_FOUND: 40,
  /** ReadObject: the key is outside the broker's batch key space. */
  ACCESS_DENIED: 41,
  /** SaslAuthenticate: wrong credentials (an unknown user is not told apart). The connection is closed after this response. */
  SASL_AUTHENTICATION_FAILED: 50,
  /** SaslHandshake: the mechanism is not enabled on this broker (or on this listener); the message lists those that are. */
  UNSUPPORTED_SASL_MECHANISM: 51,
  /** A request other than ApiVersions, SaslHandshake or SaslAuthenticate before the connection authenticated; nothing was done. */
  AUTHENTICATION_REQUIRED: 52,
  /** The principal has no ACL allowing the operation on the resource (or one denies it); nothing was done. */
  AUTHORIZATION_FAILED: 53,
  /** A per-principal quota (`security.quotas`): too many connections on this broker, or topics created. */
  QUOTA_EXCEEDED: 54,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCode = (typeof ErrorCode)[ErrorCodeName];

interface ErrorCodeInfo {
  name: ErrorCodeName;
  /** Retrying the same request (after backoff, possibly on another broker) may succeed. */
  retryable: boolean;
  /** The core error class family the client maps the code to. */
  kind: BargeErrorCode;
}

const info = (name: ErrorCodeName, retryable: boolean, kind: BargeErrorCode): ErrorCodeInfo => ({
  name,
  retryable,
  kind,
});

export const ERROR_CODE_INFO: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  0: info('NONE', false, 'PERMANENT'),
  1: info('UNKNOWN_SERVER_ERROR', true, 'TRANSIENT'),
  2: info('UNSUPPORTED_VERSION', false, 'INVALID_INPUT'),
  3: info('UNKNOWN_API', false, 'INVALID_INPUT'),
  4: info('INVALID_REQUEST', false, 'INVALID_INPUT'),
  5: info('FRAME_TOO_LARGE', false, 'INVALID_INPUT'),
  6: info('TOO_MANY_CONNECTIONS', true, 'TRANSIENT'),
  7: info('SHUTTING_DOWN', true, 'TRANSIENT'),
  8: info('THROTTLED', true, 'TRANSIENT'),
  9: info('REQUEST_TIMED_OUT', true, 'TRANSIENT'),
  10: info('UNKNOWN_TOPIC', false, 'NOT_FOUND'),
  11: info('INVALID_TOPIC', false, 'INVALID_INPUT'),
  12: info('TOPIC_ALREADY_EXISTS', false, 'CONFIG'),
  13: info('INVALID_PARTITION', false, 'INVALID_INPUT'),
  14: info('INVALID_CONFIG', false, 'CONFIG'),
  15: info('TOO_MANY_TOPICS', false, 'CONFIG'),
  20: info('MESSAGE_TOO_LARGE', false, 'INVALID_INPUT'),
  21: info('TOO_MANY_MESSAGES', false, 'INVALID_INPUT'),
  22: info('CORRUPT_CHUNK', false, 'CORRUPT'),
  23: info('UNSUPPORTED_CODEC', false, 'INVALID_INPUT'),
  24: info('STORAGE_UNAVAILABLE', true, 'TRANSIENT'),
  25: info('POINTER_QUEUE_UNAVAILABLE', true, 'TRANSIENT'),
  26: info('STORAGE_ERROR', false, 'PERMANENT'),
  27: info('NOT_OWNER', true, 'NOT_OWNER'),
  30: info('UNKNOWN_MEMBER', false, 'REBALANCE'),
  31: info('REBALANCE_IN_PROGRESS', false, 'REBALANCE'),
  32: info('OFFSET_OUT_OF_RANGE', false, 'INVALID_INPUT'),
  33: info('INVALID_GROUP', false, 'INVALID_INPUT'),
  34: info('GROUP_NOT_EMPTY', false, 'GROUP_NOT_EMPTY'),
  35: info('UNKNOWN_GROUP', false, 'NOT_FOUND'),
  40: info('OBJECT_NOT_FOUND', false, 'NOT_FOUND'),
  41: info('ACCESS_DENIED', false, 'AUTH'),
  50: info('SASL_AUTHENTICATION_FAILED', false, 'AUTH'),
  51: info('UNSUPPORTED_SASL_MECHANISM', false, 'AUTH'),
  52: info('AUTHENTICATION_REQUIRED', false, 'AUTH'),
  53: info('AUTHORIZATION_FAILED', false, 'AUTH'),
  54: info('QUOTA_EXCEEDED', false, 'PERMANENT'),
};

export function isKnownErrorCode(code: number): code is ErrorCode {
  return Object.hasOwn(ERROR_CODE_INFO, code);
}

/** The code's name, or `UNKNOWN_ERROR_<n>` for a code this build does not know. */
export function errorCodeName(code: number): string {
  return isKnownErrorCode(code) ? ERROR_CODE_INFO[code].name : `UNKNOWN_ERROR_${code}`;
}

/** True when the client should retry the request. Unknown codes are not retried. */
export function isRetryableErrorCode(code: number): boolean {
  return isKnownErrorCode(code) ? ERROR_CODE_INFO[code].retryable : false;
}

/**
 * A non-zero error code received from the broker. `retryable` tells producers whether to retry
 * (a negative ack) or give up; `code` maps onto the core error families.
 */
export class BrokerResponseError extends BargeError {
  readonly code: BargeErrorCode;
  readonly retryable: boolean;
  readonly errorName: string;

  constructor(
    readonly errorCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    const name = errorCodeName(errorCode);
    super(message ? `${name}: ${message}` : name, options);
    this.errorName = name;
    this.retryable = isRetryableErrorCode(errorCode);
    this.code = isKnownErrorCode(errorCode) ? ERROR_CODE_INFO[errorCode].kind : 'PERMANENT';
  }
}
