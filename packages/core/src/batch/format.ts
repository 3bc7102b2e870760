import { CorruptDataError, InvalidInputError } from '../errors.js';

/**
 * Layout constants of batch object format v1. `docs/format.md` is the normative description;
 * the offsets below are relative to the start of the object (header) or of one index entry.
 */

/** "BRGB" */
export const BATCH_MAGIC = 0x42524742;
export const BATCH_FORMAT_VERSION = 1;

/** Magic, version, flags and header length: enough to learn how many bytes the header has. */
export const HEADER_PREAMBLE_BYTES = 12;
/** Fixed part of the header, before the topic name. */
export const HEADER_FIXED_BYTES = 72;
/** Trailing CRC-32 of the header. */
export const HEADER_CRC_BYTES = 4;
/** Index entry size written by v1 writers; readers accept larger entries and ignore the tail. */
export const INDEX_ENTRY_BYTES = 64;
/** Smallest possible header: fixed part, a 1-byte topic, no chunks, CRC. */
export const MIN_HEADER_BYTES = HEADER_FIXED_BYTES + 1 + HEADER_CRC_BYTES;
/** Default largest header a reader accepts (16 MiB ≈ 260,000 chunks). */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024;
export const MAX_TOPIC_BYTES = 0xffff;
export const MAX_U32 = 0xffffffff;

/** Header field offsets. */
export const H = {
  magic: 0,
  version: 4,
  flags: 6,
  headerLength: 8,
  writePartition: 12,
  sequence: 16,
  createdAt: 24,
  minTimestamp: 32,
  maxTimestamp: 40,
  messageCount: 48,
  chunkCount: 52,
  payloadLength: 56,
  brokerId: 64,
  indexEntryLength: 68,
  topicLength: 70,
  topic: 72,
} as const;

/** Index entry field offsets. */
export const E = {
  offset: 0,
  length: 8,
  codec: 12,
  flags: 13,
  reserved: 14,
  firstMessageIndex: 16,
  messageCount: 20,
  uncompressedLength: 24,
  crc32: 28,
  producerId: 32,
  baseSequence: 40,
  minTimestamp: 48,
  maxTimestamp: 56,
} as const;

const TWO_32 = 0x100000000;

/** Writes a non-negative safe integer as u64. */
export function writeU64(buf: Buffer, off: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeUInt32BE(hi, off);
  buf.writeUInt32BE(v - hi * TWO_32, off + 4);
}

/** Writes a safe integer as i64 (two's complement). */
export function writeI64(buf: Buffer, off: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi, off);
  buf.writeUInt32BE(v - hi * TWO_32, off + 4);
}

/** Reads a u64 that must be a safe integer; `CorruptDataError` naming `what` otherwise. */
export function readU64(buf: Buffer, off: number, what: string): number {
  const hi = buf.readUInt32BE(off);
  if (hi > 0x1fffff) throw new CorruptDataError(`${what} is above 2^53-1`);
  return hi * TWO_32 + buf.readUInt32BE(off + 4);
}

/** Reads an i64 that must be a safe integer; `CorruptDataError` naming `what` otherwise. */
export function readI64(buf: Buffer, off: number, what: string): number {
  const v = buf.readInt32BE(off) * TWO_32 + buf.readUInt32BE(off + 4);
  if (!Number.isSafeInteger(v)) throw new CorruptDataError(`${what} is outside ±(2^53-1)`);
  return v;
}

export function checkUint(v: unknown, max: number, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new InvalidInputError(`${what} must be an integer in [0, ${max}], got ${String(v)}`);
  }
}

export function checkSafeInt(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new InvalidInputError(`${what} must be a safe integer, got ${String(v)}`);
  }
}
