import {
  AuthError,
  BargeError,
  firstLine,
  isConnectionBroken,
  isRetryableHttpStatus,
  NotFoundError,
  PermanentError,
  TransientError,
} from '@barge/core';

interface GcsErrorShape {
  name?: string;
  code?: number | string;
  status?: number;
  message?: string;
  response?: { status?: number; statusCode?: number };
  errors?: { reason?: string; message?: string }[];
}

export interface GcsErrorContext {
  op: string;
  bucket: string;
  key?: string;
}

/** The HTTP status of a `@google-cloud/storage` (ApiError) or gaxios error, if it has one. */
export function httpStatus(e: unknown): number | undefined {
  const err = (typeof e === 'object' && e !== null ? e : {}) as GcsErrorShape;
  if (typeof err.code === 'number') return err.code;
  if (typeof err.code === 'string' && /^\d{3}$/.test(err.code)) return Number(err.code);
  return err.status ?? err.response?.status ?? err.response?.statusCode;
}

/** The client's "resumable session lost bytes it already sent; start a new upload" error. */
export function isLostResumableSession(e: unknown): boolean {
  const msg = (e as { message?: unknown })?.message;
  return e instanceof RangeError && typeof msg === 'string' && /Initiate a new upload/i.test(msg);
}

/** node-fetch's "no response (or no complete body) within `timeout`", which the client does not retry. */
export function isFetchTimeout(e: unknown): boolean {
  const err = e as { type?: unknown; message?: unknown };
  if (err?.type === 'body-timeout' || err?.type === 'request-timeout') return true;
  // gaxios (resumable uploads) wraps it in a GaxiosError and keeps only the message.
  return (
    typeof err?.message === 'string' &&
    /^(Response timeout while trying to fetch|network timeout at)/.test(err.message)
  );
}

/** Maps a `@google-cloud/storage` error to a core error naming the operation, bucket and key. */
export function mapGcsError(e: unknown, ctx: GcsErrorContext): Error {
  if (e instanceof BargeError) return e;
  const err = (typeof e === 'object' && e !== null ? e : {}) as GcsErrorShape;
  if (err.name === 'AbortError') return e as Error;
  const status = httpStatus(e);
  const code = typeof err.code === 'string' ? err.code : '';
  const reason = err.errors?.[0]?.reason ?? '';
  const target = ctx.key === undefined ? `gs://${ctx.bucket}` : `gs://${ctx.bucket}/${ctx.key}`;
  const msg = `gcs ${ctx.op} ${target}: ${status ? `HTTP ${status} ` : ''}${code ? `${code} ` : ''}${firstLine(err.message ?? String(e))}`;
  if (status === 404) return new NotFoundError(`gcs ${ctx.op}: ${target} not found`, { cause: e });
  if (status === 401 || status === 403) {
    return new AuthError(`${msg} (check the credentials and the bucket's IAM roles)`, { cause: e });
  }
  if (
    isRetryableHttpStatus(status) ||
    code === 'CONTENT_DOWNLOAD_MISMATCH' ||
    code === 'FILE_NO_UPLOAD' ||
    isLostResumableSession(e) ||
    isConnectionBroken(e) ||
    reason === 'rateLimitExceeded' ||
    reason === 'backendError'
  ) {
    return new TransientError(msg, { cause: e });
  }
  if (/Could not load the default credentials|invalid_grant|unauthorized_client/i.test(err.message ?? '')) {
    return new AuthError(msg, { cause: e });
  }
  return new PermanentError(msg, { cause: e });
}
