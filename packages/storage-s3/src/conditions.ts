import {
  isBargeError,
  PreconditionFailedError,
  type PutOptions,
  putConditionLabel,
  quotedEtag,
} from '@barge/core';

/** The S3 request fields of a conditional put (PutObject and CompleteMultipartUpload take both). */
export function conditionFields(o: PutOptions): { IfNoneMatch?: string; IfMatch?: string } {
  if (o.ifNoneMatch !== undefined) return { IfNoneMatch: o.ifNoneMatch };
  if (o.ifMatch !== undefined) return { IfMatch: quotedEtag(o.ifMatch) };
  return {};
}

/**
 * The `PreconditionFailedError` of a conditional put that S3 refused, or undefined for other
 * failures: 412 PreconditionFailed (the condition does not hold), 404 NoSuchKey (`ifMatch` on a
 * missing object) and 409 ConditionalRequestConflict (a concurrent conditional write won).
 */
export function conditionFailure(
  e: unknown,
  options: PutOptions,
  key: string,
  target: string,
): PreconditionFailedError | undefined {
  if (options.ifNoneMatch === undefined && options.ifMatch === undefined) return undefined;
  // putMultipart reports S3's answer as a core error whose cause is the SDK error.
  const sdk = isBargeError(e) && e.cause !== undefined ? e.cause : e;
  const err = sdk as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const name = err?.Code ?? err?.name ?? '';
  const status = err?.$metadata?.httpStatusCode;
  const missing = options.ifMatch !== undefined && (name === 'NoSuchKey' || name === 'NotFound');
  if (status !== 412 && name !== 'PreconditionFailed' && name !== 'ConditionalRequestConflict' && !missing) {
    return undefined;
  }
  const why = missing ? 'the object does not exist' : `${name || 'PreconditionFailed'} (HTTP ${status})`;
  return new PreconditionFailedError(`s3 put ${target} ${putConditionLabel(options)}: ${why}`, key, {
    cause: e,
  });
}
