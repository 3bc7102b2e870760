import { CorruptDataError, InvalidInputError } from '../errors.js';
import { crc32c } from './crc32c.js';

/**
 * Kafka v2 record batches (magic 2, Kafka >= 0.11): the header's layout, framing and checksum.
 * All integers big-endian. Byte offsets from the start of the batch:
 *
 *     0 baseOffset i64 | 8 batchLength i32 (bytes after this field) | 12 partitionLeaderEpoch i32
 *     | 16 magic i8 | 17 crc u32 (CRC-32C of bytes 21..end) | 21 attributes i16 | 23 lastOffsetDelta i32
 *     | 27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16
 *     | 53 baseSequence i32 | 57 recordsCount i32 | 61 records (compressed as the attributes say)
 */
export const KAFKA_BATCH = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
  records: 61,
} as const;

/** Header bytes before the records. */
export const KAFKA_BATCH_HEADER_BYTES = 61;
/** Bytes before `batchLength` counts: baseOffset and batchLength itself. */
export const KAFKA_BATCH_LOG_OVERHEAD = 12;
export const KAFKA_MAGIC = 2;

/** Compression ids in attribute bits 0-2. */
export const KAFKA_COMPRESSION = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type KafkaCompressionName = keyof typeof KAFKA_COMPRESSION;
export type KafkaCompressionId = (typeof KAFKA_COMPRESSION)[KafkaCompressionName];
export const KAFKA_COMPRESSION_NAMES: readonly KafkaCompressionName[] = [
  'none',
  'gzip',
  'snappy',
  'lz4',
  'zstd',
];

const ATTR_COMPRESSION = 0x07;
const ATTR_LOG_APPEND_TIME = 0x08;
const ATTR_TRANSACTIONAL = 0x10;
const ATTR_CONTROL = 0x20;

/** A decoded v2 record batch header. 64-bit fields are numbers: values outside ±2^53 are refused. */
export interface KafkaBatchHeader {
  readonly baseOffset: number;
  /** Bytes after the batchLength field: the batch is `12 + batchLength` bytes. */
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  /** CRC-32C as stored, unsigned. */
  readonly crc: number;
  readonly attributes: number;
  readonly compression: KafkaCompressionId;
  /** Attribute bit 3: the broker's append time, carried in `maxTimestamp` (records' deltas are ignored). */
  readonly logAppendTime: boolean;
  readonly isTransactional: boolean;
  /** Attribute bit 5: a control batch (transaction markers), which readers skip. */
  readonly isControl: boolean;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  /** -1 when the producer is not idempotent. */
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

/** One record batch inside a larger buffer: `bytes` is a view of exactly its `12 + batchLength` bytes. */
export interface KafkaBatchView {
  readonly header: KafkaBatchHeader;
  readonly bytes: Buffer;
  /** Position of the batch in the buffer it was split from. */
  readonly position: number;
}

/**
 * The magic byte says an older message format (v0/v1 message sets) or an unknown one. Kafka
 * answers UNSUPPORTED_FOR_MESSAGE_FORMAT; a `CorruptDataError` for callers that only ask "can I
 * read this?".
 */
export class UnsupportedKafkaMagicError extends CorruptDataError {
  constructor(
    readonly magic: number,
    where: string,
  ) {
    super(`${where}: record batch magic ${magic} is not supported; only v2 record batches (magic 2) are`);
  }
}

function i64(b: Buffer, p: number, field: string, where: string): number {
  const hi = b.readInt32BE(p);
  const lo = b.readUInt32BE(p + 4);
  if (hi >= 0x200000 || hi < -0x200000) {
    throw new CorruptDataError(`${where}: ${field} does not fit a JavaScript safe integer`);
  }
  return hi * 0x100000000 + lo;
}

/**
 * Reads the header of the batch at `p` in `b` (which must hold its 61 header bytes) and checks
 * what can be checked without the records: magic 2, a batchLength that covers the header, a
 * known compression id, a non-negative recordsCount, and 64-bit fields within safe integers.
 */
export function readKafkaBatchHeader(b: Buffer, p = 0, where = 'record batch'): KafkaBatchHeader {
  if (b.length - p < KAFKA_BATCH_HEADER_BYTES) {
    throw new CorruptDataError(`${where}: ${b.length - p} bytes is shorter than a v2 batch header (61)`);
  }
  const magic = b.readInt8(p + KAFKA_BATCH.magic);
  if (magic !== KAFKA_MAGIC) throw new UnsupportedKafkaMagicError(magic, where);
  const batchLength = b.readInt32BE(p + KAFKA_BATCH.batchLength);
  if (batchLength < KAFKA_BATCH_HEADER_BYTES - KAFKA_BATCH_LOG_OVERHEAD) {
    throw new CorruptDataError(`${where}: batchLength ${batchLength} is shorter than the v2 header`);
  }
  const attributes = b.readInt16BE(p + KAFKA_BATCH.attributes);
  const compression = attributes & ATTR_COMPRESSION;
  if (compression > KAFKA_COMPRESSION.zstd) {
    throw new CorruptDataError(`${where}: unknown compression id ${compression} in the attributes`);
  }
  const recordsCount = b.readInt32BE(p + KAFKA_BATCH.recordsCount);
  if (recordsCount < 0) throw new CorruptDataError(`${where}: recordsCount ${recordsCount} is negative`);
  const lastOffsetDelta = b.readInt32BE(p + KAFKA_BATCH.lastOffsetDelta);
  if (lastOffsetDelta < 0 && recordsCount > 0) {
    throw new CorruptDataError(`${where}: lastOffsetDelta ${lastOffsetDelta} is negative`);
  }
  return {
    baseOffset: i64(b, p + KAFKA_BATCH.baseOffset, 'baseOffset', where),
    batchLength,
    partitionLeaderEpoch: b.readInt32BE(p + KAFKA_BATCH.partitionLeaderEpoch),
    magic,
    crc: b.readUInt32BE(p + KAFKA_BATCH.crc),
    attributes,
    compression: compression as KafkaCompressionId,
    logAppendTime: (attributes & ATTR_LOG_APPEND_TIME) !== 0,
    isTransactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTR_CONTROL) !== 0,
    lastOffsetDelta,
    baseTimestamp: i64(b, p + KAFKA_BATCH.baseTimestamp, 'baseTimestamp', where),
    maxTimestamp: i64(b, p + KAFKA_BATCH.maxTimestamp, 'maxTimestamp', where),
    producerId: i64(b, p + KAFKA_BATCH.producerId, 'producerId', where),
    producerEpoch: b.readInt16BE(p + KAFKA_BATCH.producerEpoch),
    baseSequence: b.readInt32BE(p + KAFKA_BATCH.baseSequence),
    recordsCount,
  };
}

/**
 * Splits `records` (a Produce request's records for one partition, or a `kafka` chunk) into its
 * record batches, back to back. Checks framing only (each header, each batch within the
 * buffer, nothing left over), not the CRC-32C (`checkRecordBatch`). A truncated trailing batch
 * is a `CorruptDataError`, as is an empty buffer; an older message format is an
 * `UnsupportedKafkaMagicError`. The views share `records`' memory.
 */
export function splitRecordBatches(records: Buffer, where = 'records'): KafkaBatchView[] {
  if (records.length === 0) throw new CorruptDataError(`${where}: no record batch`);
  const out: KafkaBatchView[] = [];
  let p = 0;
  while (p < records.length) {
    const at = `${where}: batch ${out.length} (byte ${p})`;
    const left = records.length - p;
    if (
      left < KAFKA_BATCH.magic + 1 ||
      (left < KAFKA_BATCH_HEADER_BYTES && records[p + KAFKA_BATCH.magic] === KAFKA_MAGIC)
    ) {
      throw new CorruptDataError(`${at}: ${left} trailing bytes are a truncated batch`);
    }
    const header = readKafkaBatchHeader(records, p, at);
    const size = KAFKA_BATCH_LOG_OVERHEAD + header.batchLength;
    if (size > records.length - p) {
      throw new CorruptDataError(`${at}: batch of ${size} bytes is truncated to ${records.length - p} bytes`);
    }
    out.push({ header, bytes: records.subarray(p, p + size), position: p });
    p += size;
  }
  return out;
}

/**
 * The broker's check of one batch: its CRC-32C (over attributes to the end) matches the header.
 * Framing was checked by `splitRecordBatches`. Never decompresses. `CorruptDataError` if not.
 */
export function checkRecordBatch(view: KafkaBatchView, where = 'record batch'): void {
  const b = view.bytes;
  const actual = crc32c(b, 0, KAFKA_BATCH.attributes, b.length);
  if (actual !== view.header.crc) {
    throw new CorruptDataError(
      `${where}: CRC-32C of the batch is ${hex(actual)}, its header says ${hex(view.header.crc)}`,
    );
  }
}

/** Writes `offset` as the batch's baseOffset, in place (outside the CRC-32C). */
export function setBaseOffset(batch: Buffer, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidInputError(`baseOffset ${offset} is not a non-negative safe integer`);
  }
  batch.writeBigInt64BE(BigInt(offset), KAFKA_BATCH.baseOffset);
}

/** Writes `epoch` as the batch's partitionLeaderEpoch, in place (outside the CRC-32C). */
export function setPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < -1 || epoch > 0x7fffffff) {
    throw new InvalidInputError(`partitionLeaderEpoch ${epoch} is not an int32 of at least -1`);
  }
  batch.writeInt32BE(epoch, KAFKA_BATCH.partitionLeaderEpoch);
}

/** Smallest and largest record timestamps the header vouches for (see `docs/format.md`, codec kafka). */
export function kafkaBatchTimeRange(h: KafkaBatchHeader): { min: number; max: number } {
  if (h.logAppendTime) return { min: h.maxTimestamp, max: h.maxTimestamp };
  return { min: Math.min(h.baseTimestamp, h.maxTimestamp), max: Math.max(h.baseTimestamp, h.maxTimestamp) };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
