import { InvalidInputError } from '../errors.js';
import { type Bytes, type Message, recordsSize } from '../message.js';
import { compressKafkaRecords } from './compression.js';
import { crc32c } from './crc32c.js';
import {
  KAFKA_BATCH,
  KAFKA_BATCH_HEADER_BYTES,
  KAFKA_BATCH_LOG_OVERHEAD,
  KAFKA_COMPRESSION,
  KAFKA_MAGIC,
  type KafkaCompressionId,
  type KafkaCompressionName,
} from './header.js';
import { varintSize, varlongSize, writeVarint, writeVarlong } from './varint.js';

export interface EncodeKafkaBatchOptions {
  /** Default 0. */
  baseOffset?: number;
  /** Default -1 (none). */
  partitionLeaderEpoch?: number;
  /** Default `none`. zstd needs a runtime that has it. */
  compression?: KafkaCompressionName | KafkaCompressionId;
  /** Timestamp for messages that have none; default `Date.now()`. */
  timestamp?: number;
  /** Defaults -1, -1, -1: not idempotent. */
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Sets the transactional attribute bit. */
  isTransactional?: boolean;
}

const MAX_I32 = 0x7fffffff;

/**
 * Builds one v2 record batch (CreateTime) from Barge messages (`Message`, or `DecodedMessage`s
 * read from a chunk): record i gets offsetDelta i, the batch's baseTimestamp is the first
 * message's timestamp and maxTimestamp the largest, and the CRC-32C is set. Throws
 * `InvalidInputError` for an empty list or a message or option that cannot be encoded.
 */
export function encodeKafkaBatch(
  messages: readonly Message[],
  options: EncodeKafkaBatchOptions = {},
): Buffer {
  recordsSize(messages); // validates every message the way Barge producers do
  if (messages.length === 0) throw new InvalidInputError('a record batch needs at least one message');
  if (messages.length > MAX_I32)
    throw new InvalidInputError(`a record batch holds at most ${MAX_I32} records`);
  const compression =
    typeof options.compression === 'string'
      ? KAFKA_COMPRESSION[options.compression]
      : (options.compression ?? 0);
  if (!Object.values(KAFKA_COMPRESSION).includes(compression)) {
    throw new InvalidInputError(`unknown Kafka compression ${String(options.compression)}`);
  }
  const now = options.timestamp ?? Date.now();
  const timestamps = messages.map((m) => m.timestamp ?? now);
  const baseTimestamp = timestamps[0]!;
  let maxTimestamp = baseTimestamp;
  for (const t of timestamps) if (t > maxTimestamp) maxTimestamp = t;

  const keyOf = (m: Message) => (m.key === null || m.key === undefined ? null : toBuffer(m.key));
  let size = 0;
  const sizes: number[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const body = recordBodySize(m, keyOf(m), timestamps[i]! - baseTimestamp, i);
    sizes.push(body);
    size += varintSize(body) + body;
  }
  const records = Buffer.allocUnsafe(size);
  let p = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    p = writeVarint(records, p, sizes[i]!);
    records[p++] = 0; // attributes
    p = writeVarlong(records, p, timestamps[i]! - baseTimestamp);
    p = writeVarint(records, p, i);
    p = writeBytes(records, p, keyOf(m));
    p = writeBytes(records, p, toBuffer(m.value));
    const headers = m.headers ?? [];
    p = writeVarint(records, p, headers.length);
    for (const h of headers) {
      p = writeBytes(records, p, Buffer.from(h.name, 'utf8'));
      p = writeBytes(records, p, toBuffer(h.value));
    }
  }
  const body = compressKafkaRecords(compression, records);
  const batch = Buffer.allocUnsafe(KAFKA_BATCH_HEADER_BYTES + body.length);
  batch.writeBigInt64BE(BigInt(int('baseOffset', options.baseOffset ?? 0, 0)), KAFKA_BATCH.baseOffset);
  batch.writeInt32BE(batch.length - KAFKA_BATCH_LOG_OVERHEAD, KAFKA_BATCH.batchLength);
  batch.writeInt32BE(int('partitionLeaderEpoch', options.partitionLeaderEpoch ?? -1, -1, MAX_I32), 12);
  batch.writeInt8(KAFKA_MAGIC, KAFKA_BATCH.magic);
  batch.writeInt16BE(compression | (options.isTransactional ? 0x10 : 0), KAFKA_BATCH.attributes);
  batch.writeInt32BE(messages.length - 1, KAFKA_BATCH.lastOffsetDelta);
  batch.writeBigInt64BE(BigInt(baseTimestamp), KAFKA_BATCH.baseTimestamp);
  batch.writeBigInt64BE(BigInt(maxTimestamp), KAFKA_BATCH.maxTimestamp);
  batch.writeBigInt64BE(BigInt(int('producerId', options.producerId ?? -1, -1)), KAFKA_BATCH.producerId);
  batch.writeInt16BE(
    int('producerEpoch', options.producerEpoch ?? -1, -1, 0x7fff),
    KAFKA_BATCH.producerEpoch,
  );
  batch.writeInt32BE(int('baseSequence', options.baseSequence ?? -1, -1, MAX_I32), KAFKA_BATCH.baseSequence);
  batch.writeInt32BE(messages.length, KAFKA_BATCH.recordsCount);
  body.copy(batch, KAFKA_BATCH.records);
  batch.writeUInt32BE(crc32c(batch, 0, KAFKA_BATCH.attributes, batch.length), KAFKA_BATCH.crc);
  return batch;
}

function int(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidInputError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
  return v;
}

function toBuffer(v: Bytes): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length);
}

function recordBodySize(m: Message, key: Buffer | null, delta: number, i: number): number {
  let n = 1 + varlongSize(delta) + varintSize(i) + bytesSize(key) + bytesSize(toBuffer(m.value));
  const headers = m.headers ?? [];
  n += varintSize(headers.length);
  for (const h of headers) n += bytesSize(Buffer.from(h.name, 'utf8')) + bytesSize(toBuffer(h.value));
  if (n > MAX_I32) throw new InvalidInputError(`message ${i} is too large for a record batch`);
  return n;
}

function bytesSize(b: Buffer | null): number {
  return b === null ? 1 : varintSize(b.length) + b.length;
}

function writeBytes(out: Buffer, p: number, b: Buffer | null): number {
  if (b === null) return writeVarint(out, p, -1);
  p = writeVarint(out, p, b.length);
  b.copy(out, p);
  return p + b.length;
}
