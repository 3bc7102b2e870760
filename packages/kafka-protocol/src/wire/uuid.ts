/**
 * Kafka uuids (topic ids, directory ids) are 16-byte Buffers in the generated messages. Kafka's
 * tools print them in URL-safe base64 without padding (`Uuid.toString()`), as these helpers do.
 */
export function isZeroUuid(v: Buffer): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}

/** Kafka's text form of a uuid: 22 characters of URL-safe base64. */
export function uuidToString(v: Buffer): string {
  return v.toString('base64url');
}

/** Parses Kafka's text form of a uuid (22 characters of URL-safe base64) into 16 bytes. */
export function uuidFromString(s: string): Buffer {
  const v = Buffer.from(s, 'base64url');
  if (v.length !== 16 || v.toString('base64url') !== s) throw new RangeError(`not a Kafka uuid: ${s}`);
  return v;
}

/**
 * The all-zero uuid: the default of uuid fields, shared by every decoded message that lacks one.
 * Never write into it.
 */
export const ZERO_UUID: Buffer = Buffer.alloc(16);

/** The empty default of non-nullable bytes fields (shared; it has no bytes to change). */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);
