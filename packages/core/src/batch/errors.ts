import { CorruptDataError } from '../errors.js';

/**
 * The object is a Barge batch (its magic matches) but of a format version this reader does not
 * implement. It is a `CorruptDataError` for callers that only ask "can I read this?"; callers
 * that want to tell "upgrade the reader" from "bad bytes" check for this class.
 */
export class UnsupportedVersionError extends CorruptDataError {
  constructor(
    readonly version: number,
    readonly supported: readonly number[],
  ) {
    super(
      `batch format version ${version} is not supported; this reader reads version ${supported.join(', ')}`,
    );
  }
}
