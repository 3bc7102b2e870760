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

const AUTH_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'InsufficientAccountPermissions',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
  'AccountIsDisabled',
  'KeyBasedAuthenticationNotPermitted',
]);

/** Azure error codes worth retrying; connection failures and timeouts are core's `isConnectionBroken`. */
const TRANSIENT_CODES = new Set([
  'InternalError',
  'OperationTimedOut',
  'ServerBusy',
  'IncompleteBody',
  'Md5Mismatch',
  'Crc64Mismatch',
  'REQUEST_SEND_ERROR',
]);

interface AzureErrorShape {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  details?: { errorCode?: string };
}

export interface AzureErrorContext {
  op: string;
  container: string;
  account?: string;
  key?: string;
}

/** The storage error code (`BlobNotFound`, `ContainerNotFound`, ...) of a `RestError`, if any. */
export function azureErrorCode(e: unknown): string | undefined {
  const err = (typeof e === 'object' && e !== null ? e : {}) as AzureErrorShape;
  return err.details?.errorCode ?? err.code;
}

export function azureStatus(e: unknown): number | undefined {
  return (e as AzureErrorShape | undefined)?.statusCode;
}

/** Maps an `@azure/storage-blob` error to a core error naming the operation, container and blob. */
export function mapAzureError(e: unknown, ctx: AzureErrorContext): Error {
  if (e instanceof BargeError) return e;
  const err = (typeof e === 'object' && e !== null ? e : {}) as AzureErrorShape;
  const status = err.statusCode;
  const code = azureErrorCode(e) ?? '';
  const target = `${ctx.account ? `${ctx.account}/` : ''}${ctx.container}${ctx.key === undefined ? '' : `/${ctx.key}`}`;
  const msg = `azure ${ctx.op} ${target}: ${code || err.name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${firstLine(err.message ?? String(e))}`;
  if (code === 'ContainerNotFound') {
    return new PermanentError(
      `azure ${ctx.op}: container "${ctx.container}" does not exist (ContainerNotFound)`,
      {
        cause: e,
      },
    );
  }
  if (code === 'BlobNotFound' || status === 404) {
    return new NotFoundError(`azure ${ctx.op}: ${target} not found`, { cause: e });
  }
  if (
    AUTH_CODES.has(code) ||
    status === 401 ||
    status === 403 ||
    err.name === 'CredentialUnavailableError' ||
    err.name === 'AuthenticationError'
  ) {
    return new AuthError(`${msg} (check the credentials and the Storage Blob Data role)`, { cause: e });
  }
  if (
    TRANSIENT_CODES.has(code) ||
    isRetryableHttpStatus(status) ||
    // The pipeline's own per-try timeout aborts the request (callers' aborts never reach here).
    err.name === 'AbortError' ||
    isConnectionBroken(e)
  ) {
    return new TransientError(msg, { cause: e });
  }
  return new PermanentError(msg, { cause: e });
}
