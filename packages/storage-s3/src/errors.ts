import {
  AuthError,
  BargeError,
  isConnectionBroken,
  isRetryableHttpStatus,
  NotFoundError,
  PermanentError,
  TransientError,
} from '@barge/core';

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'AllAccessDisabled',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'CredentialsProviderError',
  'AccountProblem',
  'InvalidSecurity',
]);

/** S3 error codes worth retrying; connection failures and timeouts are core's `isConnectionBroken`. */
const TRANSIENT_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'RequestTimeoutException',
  'OperationAborted',
  'RequestTimeTooSkewed',
  'BadDigest',
  'IncompleteBody',
  'XAmzContentSHA256Mismatch',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export interface S3ErrorContext {
  op: string;
  bucket: string;
  /** The stored key (with prefix), when the operation concerns one object. */
  key?: string;
}

/** True for an abort caused by the caller's `AbortSignal`. */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || (e as SdkErrorShape).code === 'ABORT_ERR');
}

/** Maps an SDK, network or stream error to a core error naming the operation, bucket and key. */
export function mapS3Error(e: unknown, ctx: S3ErrorContext): Error {
  if (e instanceof BargeError) return e;
  if (isAbortError(e)) return e as Error;
  const err = (typeof e === 'object' && e !== null ? e : {}) as SdkErrorShape;
  const name = err.Code ?? err.name ?? '';
  const code = err.code ?? '';
  const status = err.$metadata?.httpStatusCode;
  const target = ctx.key === undefined ? `s3://${ctx.bucket}` : `s3://${ctx.bucket}/${ctx.key}`;
  const detail = `${name || code || 'error'}${status ? ` (HTTP ${status})` : ''}: ${err.message ?? String(e)}`;
  const msg = `s3 ${ctx.op} ${target}: ${detail}`;

  if (name === 'NoSuchBucket') {
    return new PermanentError(`s3 ${ctx.op}: bucket "${ctx.bucket}" does not exist (NoSuchBucket)`, {
      cause: e,
    });
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchUpload')) {
    return new NotFoundError(`s3 ${ctx.op}: ${target} not found`, { cause: e });
  }
  if (AUTH_CODES.has(name) || status === 401 || status === 403) {
    return new AuthError(`${msg} (check the credentials and the IAM policy)`, { cause: e });
  }
  if (
    TRANSIENT_CODES.has(name) ||
    isRetryableHttpStatus(status) ||
    err.$retryable !== undefined ||
    isConnectionBroken(e)
  ) {
    return new TransientError(msg, { cause: e });
  }
  return new PermanentError(msg, { cause: e });
}
