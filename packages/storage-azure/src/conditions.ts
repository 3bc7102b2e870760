import { PreconditionFailedError, type PutOptions, putConditionLabel, quotedEtag } from '@barge/core';
import { azureErrorCode, azureStatus } from './errors.js';

/** The access conditions of a conditional put (Put Blob and Put Block List take both). */
export function accessConditions(o: PutOptions): { conditions?: { ifNoneMatch?: string; ifMatch?: string } } {
  if (o.ifNoneMatch !== undefined) return { conditions: { ifNoneMatch: '*' } };
  if (o.ifMatch !== undefined) return { conditions: { ifMatch: quotedEtag(o.ifMatch) } };
  return {};
}

/** Codes of a refused condition: 412 ConditionNotMet, and 409 BlobAlreadyExists for `If-None-Match: *`. */
const CONDITION_CODES = new Set(['ConditionNotMet', 'BlobAlreadyExists', 'TargetConditionNotMet']);

/**
 * The `PreconditionFailedError` of a conditional put that Azure refused, or undefined for other
 * failures (a 404 for `ifMatch` means the blob does not exist: the condition fails too).
 */
export function conditionFailure(
  e: unknown,
  options: PutOptions,
  key: string,
  target: string,
): PreconditionFailedError | undefined {
  if (options.ifNoneMatch === undefined && options.ifMatch === undefined) return undefined;
  const status = azureStatus(e);
  const code = azureErrorCode(e) ?? '';
  const missing =
    options.ifMatch !== undefined &&
    (code === 'BlobNotFound' || (status === 404 && code !== 'ContainerNotFound'));
  if (status !== 412 && !CONDITION_CODES.has(code) && !missing) return undefined;
  const why = missing ? 'the blob does not exist' : `${code || 'condition not met'} (HTTP ${status})`;
  return new PreconditionFailedError(`azure put ${target} ${putConditionLabel(options)}: ${why}`, key, {
    cause: e,
  });
}
