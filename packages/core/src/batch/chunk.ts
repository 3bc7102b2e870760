import {
  CODEC,
  type CodecId,
  codecId,
  compress,
  compressAsync,
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
} from '../codecs.js';
import type { CodecName } from '../config.js';
import { crc32 } from '../crc.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import { KAFKA_BATCH_HEADER_BYTES } from '../kafka-batch/header.js';
import {
  type EncodedRecords,
  encodeRecords,
  type Message,
  RECORD_OVERHEAD_BYTES,
  recordsSize,
} from '../message.js';
import { requireZstd, zstdLevel } from '../zstd.js';
import { checkSafeInt, checkUint, MAX_U32 } from './format.js';

/**
 * What the broker needs to know about one chunk to put it in a batch without opening it. The
 * producer computes it (`encodeChunk`) and sends it with the chunk in the produce request.
 */
export interface ChunkMeta {
  /** Codec id (`CODEC`); the broker rejects ids it does not know (UNSUPPORTED_CODEC), as readers do. */
  readonly codec: number;
  /** Stored (compressed) bytes. */
  readonly length: number;
  readonly messageCount: number;
  /** Bytes of the records once decompressed. */
  readonly uncompressedLength: number;
  /** CRC-32 of the stored bytes, unsigned. */
  readonly crc32: number;
  readonly producerId: number;
  /** Producer sequence number of the chunk's first message; message i has `baseSequence + i`. */
  readonly baseSequence: number;
  /** Smallest and largest message timestamp, ms; both 0 when the chunk has no messages. */
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
}

export interface EncodedChunk {
  bytes: Buffer;
  meta: ChunkMeta;
}

export interface EncodeChunkOptions {
  /** Default 0. A non-negative safe integer. */
  producerId?: number;
  /** Default 0. `baseSequence + messages.length - 1` must be a safe integer. */
  baseSequence?: number;
  /** Timestamp for messages that have none; default `Date.now()`. */
  timestamp?: number;
  /** gzip level 0-9 (default 6). */
  gzipLevel?: number;
  /** zstd level 1-22 (default 1). zstd needs a runtime whose zlib has it (Node.js >= 22.15). */
  zstdLevel?: number;
  /** Largest uncompressed chunk accepted (default 256 MiB, the readers' default limit). */
  maxUncompressedBytes?: number;
}

/**
 * Producer side: encodes `messages` as records and compresses them once with `codec`. The
 * result's `bytes` go into the produce request as they are; `meta` goes with them.
 * Throws `InvalidInputError` for a message or option that cannot be encoded, and
 * `CodecUnavailableError` for zstd on a runtime without it (before encoding anything).
 */
export function encodeChunk(
  messages: readonly Message[],
  codec: CodecName | CodecId,
  options: EncodeChunkOptions = {},
): EncodedChunk {
  const p = prepareChunk(messages, codec, options);
  const levels = { gzipLevel: options.gzipLevel, zstdLevel: options.zstdLevel };
  return finishChunk(p, compress(p.codec, p.records.bytes, levels));
}

/**
 * `encodeChunk` with the compression done on libuv's thread pool (`compressAsync`): the event
 * loop stays free, and lz4 is faster. Record encoding and the CRC still run on the caller's
 * thread. The output is a valid chunk like `encodeChunk`'s, though not necessarily the same bytes.
 */
export async function encodeChunkAsync(
  messages: readonly Message[],
  codec: CodecName | CodecId,
  options: EncodeChunkOptions = {},
): Promise<EncodedChunk> {
  const p = prepareChunk(messages, codec, options);
  const levels = { gzipLevel: options.gzipLevel, zstdLevel: options.zstdLevel };
  return finishChunk(p, await compressAsync(p.codec, p.records.bytes, levels));
}

interface PreparedChunk {
  codec: CodecId;
  producerId: number;
  baseSequence: number;
  count: number;
  records: EncodedRecords;
}

function prepareChunk(
  messages: readonly Message[],
  codec: CodecName | CodecId,
  options: EncodeChunkOptions,
): PreparedChunk {
  const id = typeof codec === 'string' ? codecId(codec) : codec;
  if (id === CODEC.kafka) {
    throw new InvalidInputError(
      'a kafka chunk is built from Kafka record batches (kafkaChunkFromRecords), not encoded from messages',
    );
  }
  if (id !== CODEC.none && id !== CODEC.gzip && id !== CODEC.lz4 && id !== CODEC.zstd) {
    throw new InvalidInputError(`unknown codec id ${String(codec)}`);
  }
  if (id === CODEC.zstd) {
    requireZstd('cannot encode a chunk with zstd (codec 3):');
    zstdLevel(options.zstdLevel);
  }
  const producerId = options.producerId ?? 0;
  const baseSequence = options.baseSequence ?? 0;
  checkUint(producerId, Number.MAX_SAFE_INTEGER, 'producerId');
  checkUint(baseSequence, Number.MAX_SAFE_INTEGER, 'baseSequence');
  const size = recordsSize(messages);
  if (messages.length > MAX_U32) throw new InvalidInputError(`a chunk holds at most ${MAX_U32} messages`);
  if (baseSequence + Math.max(messages.length - 1, 0) > Number.MAX_SAFE_INTEGER) {
    throw new InvalidInputError(`baseSequence ${baseSequence} + ${messages.length} messages passes 2^53-1`);
  }
  const max = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  if (size > max || size > MAX_U32) {
    throw new InvalidInputError(
      `chunk records are ${size} bytes; at most ${Math.min(max, MAX_U32)} are allowed`,
    );
  }
  const records = encodeRecords(messages, options.timestamp ?? Date.now(), size);
  return { codec: id, producerId, baseSequence, count: messages.length, records };
}

function finishChunk(p: PreparedChunk, bytes: Buffer): EncodedChunk {
  if (bytes.length > MAX_U32) throw new InvalidInputError(`compressed chunk is ${bytes.length} bytes`);
  return {
    bytes,
    meta: {
      codec: p.codec,
      length: bytes.length,
      messageCount: p.count,
      uncompressedLength: p.records.bytes.length,
      crc32: crc32(bytes),
      producerId: p.producerId,
      baseSequence: p.baseSequence,
      minTimestamp: p.records.minTimestamp,
      maxTimestamp: p.records.maxTimestamp,
    },
  };
}

/**
 * Checks that `meta` is structurally valid (integer ranges, counts that fit the lengths, safe
 * sequence numbers, ordered timestamps). The broker calls it on metadata from a produce
 * request; throws `InvalidInputError` naming the field (`chunk` names the chunk: a label or an index).
 */
export function validateChunkMeta(meta: ChunkMeta, chunk: string | number = 'chunk'): void {
  const where = typeof chunk === 'number' ? `chunk ${chunk}` : chunk;
  if (typeof meta !== 'object' || meta === null)
    throw new InvalidInputError(`${where} metadata must be an object`);
  // One cheap pass; names are only formatted when something is wrong (the broker calls this per chunk).
  if (
    !isUint(meta.codec, 0xff) ||
    !isUint(meta.length, MAX_U32) ||
    !isUint(meta.messageCount, MAX_U32) ||
    !isUint(meta.uncompressedLength, MAX_U32) ||
    !isUint(meta.crc32, MAX_U32) ||
    !isUint(meta.producerId, Number.MAX_SAFE_INTEGER) ||
    !isUint(meta.baseSequence, Number.MAX_SAFE_INTEGER) ||
    !Number.isSafeInteger(meta.minTimestamp) ||
    !Number.isSafeInteger(meta.maxTimestamp)
  ) {
    checkUint(meta.codec, 0xff, `${where}.codec`);
    checkUint(meta.length, MAX_U32, `${where}.length`);
    checkUint(meta.messageCount, MAX_U32, `${where}.messageCount`);
    checkUint(meta.uncompressedLength, MAX_U32, `${where}.uncompressedLength`);
    checkUint(meta.crc32, MAX_U32, `${where}.crc32`);
    checkUint(meta.producerId, Number.MAX_SAFE_INTEGER, `${where}.producerId`);
    checkUint(meta.baseSequence, Number.MAX_SAFE_INTEGER, `${where}.baseSequence`);
    checkSafeInt(meta.minTimestamp, `${where}.minTimestamp`);
    checkSafeInt(meta.maxTimestamp, `${where}.maxTimestamp`);
  }
  const problem = chunkMetaProblem(meta);
  if (problem) throw new InvalidInputError(`${where}: ${problem}`);
}

function isUint(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/** Cross-field checks shared by `validateChunkMeta` and the header decoder. */
export function chunkMetaProblem(meta: ChunkMeta): string | undefined {
  if (meta.baseSequence + Math.max(meta.messageCount - 1, 0) > Number.MAX_SAFE_INTEGER) {
    return `baseSequence ${meta.baseSequence} + ${meta.messageCount} messages passes 2^53-1`;
  }
  if (meta.codec === CODEC.kafka) {
    // Record batches may be compressed inside, so the count is not bounded by the length.
    if (meta.length !== meta.uncompressedLength) {
      return `kafka chunk has length ${meta.length} but uncompressedLength ${meta.uncompressedLength}`;
    }
    if (meta.messageCount > 0 && meta.length < KAFKA_BATCH_HEADER_BYTES) {
      return `kafka chunk of ${meta.length} bytes cannot hold a record batch`;
    }
  } else if (meta.messageCount * RECORD_OVERHEAD_BYTES > meta.uncompressedLength) {
    return `${meta.messageCount} messages cannot fit in ${meta.uncompressedLength} uncompressed bytes`;
  }
  if (meta.codec === CODEC.none && meta.length !== meta.uncompressedLength) {
    return `uncompressed chunk has length ${meta.length} but uncompressedLength ${meta.uncompressedLength}`;
  }
  if (meta.messageCount === 0) {
    if (meta.minTimestamp !== 0 || meta.maxTimestamp !== 0) return 'an empty chunk must have timestamps 0';
  } else if (meta.minTimestamp > meta.maxTimestamp) {
    return `minTimestamp ${meta.minTimestamp} is after maxTimestamp ${meta.maxTimestamp}`;
  }
  return undefined;
}

/** Checks stored chunk bytes against their metadata (length and CRC-32); `CorruptDataError` if not. */
export function verifyChunk(bytes: Buffer, meta: ChunkMeta, where = 'chunk'): void {
  if (bytes.length !== meta.length) {
    throw new CorruptDataError(`${where} is ${bytes.length} bytes; its metadata says ${meta.length}`);
  }
  const crc = crc32(bytes);
  if (crc !== meta.crc32) {
    throw new CorruptDataError(
      `${where} checksum mismatch: CRC-32 of the bytes is ${hex(crc)}, metadata says ${hex(meta.crc32)}`,
    );
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
