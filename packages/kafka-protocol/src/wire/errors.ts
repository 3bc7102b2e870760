/**
 * Why a Kafka message could not be decoded or encoded:
 * - `TRUNCATED`: the input ends before the field does (a length or count says more bytes follow).
 * - `INVALID`: the bytes are malformed (a null where the version forbids it, a varint too long, a
 *   tagged field whose size does not match its contents) or a value cannot be encoded.
 * - `UNSUPPORTED_VERSION`: the message has no such version in its schema.
 */
export type KafkaProtocolErrorCode = 'TRUNCATED' | 'INVALID' | 'UNSUPPORTED_VERSION';

/**
 * A Kafka wire-format error. The message names the Kafka message, its version and the field
 * (e.g. `ProduceRequest v9: topicData.partitionData.records: needs 1024 bytes, 10 left`). Never
 * retryable: the same bytes fail the same way.
 */
export class KafkaProtocolError extends Error {
  readonly retryable = false;

  constructor(
    readonly code: KafkaProtocolErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'KafkaProtocolError';
  }
}

/** Prefixes an error thrown while decoding or encoding `message` at `version` with both. */
export function inMessage(e: unknown, message: string, version: number): KafkaProtocolError {
  const where = `${message} v${version}`;
  if (e instanceof KafkaProtocolError)
    return new KafkaProtocolError(e.code, `${where}: ${e.message}`, { cause: e });
  // A wrong JavaScript type in a field (a number where a bigint belongs, a string for a Buffer).
  if (e instanceof RangeError || e instanceof TypeError) {
    return new KafkaProtocolError('INVALID', `${where}: ${e.message}`, { cause: e });
  }
  return new KafkaProtocolError('INVALID', `${where}: ${String(e)}`, { cause: e });
}

export function unsupportedVersion(
  message: string,
  version: number,
  min: number,
  max: number,
): KafkaProtocolError {
  return new KafkaProtocolError(
    'UNSUPPORTED_VERSION',
    `${message} v${version} is not supported (schema versions ${min}-${max})`,
  );
}

/** A null value for a field whose version does not allow null (encode side). */
export function nullNotAllowed(field: string, version: number): KafkaProtocolError {
  return new KafkaProtocolError('INVALID', `${field}: null is not allowed in v${version}`);
}
