import { crc32 } from '../crc.js';
import { CorruptDataError, InvalidInputError } from '../errors.js';
import { isWellFormedString } from '../message.js';
import type { BatchPointer } from '../pointer.js';
import { type ChunkMeta, chunkMetaProblem, hex, validateChunkMeta } from './chunk.js';
import { UnsupportedVersionError } from './errors.js';
import {
  BATCH_FORMAT_VERSION,
  BATCH_MAGIC,
  checkSafeInt,
  checkUint,
  DEFAULT_MAX_HEADER_BYTES,
  E,
  H,
  HEADER_CRC_BYTES,
  HEADER_FIXED_BYTES,
  HEADER_PREAMBLE_BYTES,
  INDEX_ENTRY_BYTES,
  MAX_TOPIC_BYTES,
  MAX_U32,
  MIN_HEADER_BYTES,
  readI64,
  readU64,
  writeI64,
  writeU64,
} from './format.js';

/** Identity of a batch: what the broker knows before any chunk arrives. */
export interface BatchTarget {
  readonly topic: string;
  readonly writePartition: number;
  /** Batch sequence within the write partition. */
  readonly sequence: number;
  readonly brokerId: number;
}

export interface BatchInfo extends BatchTarget {
  /** When the broker closed the batch, ms since the epoch. */
  readonly createdAt: number;
  readonly chunks: readonly ChunkMeta[];
}

/** One chunk as listed in a batch header. */
export interface ChunkEntry extends ChunkMeta {
  /** Position of the chunk in the batch, 0-based. */
  readonly index: number;
  /** Byte offset of the chunk from the start of the object. */
  readonly offset: number;
  /** Batch-wide index of the chunk's first message. */
  readonly firstMessageIndex: number;
  /** Entry flags; 0 in v1, ignored by v1 readers. */
  readonly flags: number;
}

/** A decoded batch header. */
export interface BatchHeader extends BatchTarget {
  readonly version: number;
  readonly flags: number;
  /** Header bytes, including magic and trailing CRC: chunks start here. */
  readonly headerLength: number;
  readonly createdAt: number;
  /** Smallest and largest message timestamps; both 0 when the batch has no messages. */
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
  readonly messageCount: number;
  readonly chunkCount: number;
  /** Sum of chunk lengths. */
  readonly payloadLength: number;
  /** `headerLength + payloadLength`. */
  readonly objectSize: number;
  readonly indexEntryLength: number;
  readonly chunks: readonly ChunkEntry[];
  /** CRC-32 of bytes [0, headerLength - 4), as stored in the header's last 4 bytes. */
  readonly headerCrc: number;
}

export interface HeaderDecodeOptions {
  /** Largest header accepted (default 16 MiB); a larger header length is a `CorruptDataError`. */
  maxHeaderBytes?: number;
}

/** Header length for a topic of `topicBytes` UTF-8 bytes and `chunkCount` chunks. */
export function batchHeaderLength(topicBytes: number, chunkCount: number): number {
  return HEADER_FIXED_BYTES + topicBytes + chunkCount * INDEX_ENTRY_BYTES + HEADER_CRC_BYTES;
}

function checkTarget(t: BatchTarget): number {
  if (typeof t.topic !== 'string' || t.topic.length === 0 || !isWellFormedString(t.topic)) {
    throw new InvalidInputError(
      `batch topic must be a non-empty, well-formed string, got ${JSON.stringify(t.topic)}`,
    );
  }
  const topicBytes = Buffer.byteLength(t.topic, 'utf8');
  if (topicBytes > MAX_TOPIC_BYTES) {
    throw new InvalidInputError(`batch topic is ${topicBytes} bytes; at most ${MAX_TOPIC_BYTES} are allowed`);
  }
  checkUint(t.writePartition, MAX_U32, 'writePartition');
  checkUint(t.sequence, Number.MAX_SAFE_INTEGER, 'sequence');
  checkUint(t.brokerId, MAX_U32, 'brokerId');
  return topicBytes;
}

/**
 * Broker side: the batch header for `info.chunks`, computed from chunk metadata only (the chunk
 * bytes are never touched). The object body is `[header, ...chunkBuffers]` in the same order.
 * Throws `InvalidInputError` for invalid metadata or totals out of range.
 */
export function encodeBatchHeader(info: BatchInfo): Buffer {
  const topicBytes = checkTarget(info);
  checkSafeInt(info.createdAt, 'createdAt');
  const chunks = info.chunks;
  if (!Array.isArray(chunks)) throw new InvalidInputError('chunks must be an array');
  const headerLength = batchHeaderLength(topicBytes, chunks.length);
  if (headerLength > MAX_U32) throw new InvalidInputError(`${chunks.length} chunks make a header too large`);
  const buf = Buffer.allocUnsafe(headerLength);
  buf.writeUInt32BE(BATCH_MAGIC, H.magic);
  buf.writeUInt16BE(BATCH_FORMAT_VERSION, H.version);
  buf.writeUInt16BE(0, H.flags);
  buf.writeUInt32BE(headerLength, H.headerLength);
  buf.writeUInt32BE(info.writePartition, H.writePartition);
  writeU64(buf, H.sequence, info.sequence);
  writeI64(buf, H.createdAt, info.createdAt);
  buf.writeUInt32BE(info.brokerId, H.brokerId);
  buf.writeUInt16BE(INDEX_ENTRY_BYTES, H.indexEntryLength);
  buf.writeUInt16BE(topicBytes, H.topicLength);
  buf.write(info.topic, H.topic, 'utf8');

  let offset = headerLength;
  let messages = 0;
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  let p = H.topic + topicBytes;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    validateChunkMeta(c, i);
    writeU64(buf, p + E.offset, offset);
    buf.writeUInt32BE(c.length, p + E.length);
    buf[p + E.codec] = c.codec;
    buf[p + E.flags] = 0;
    buf.writeUInt16BE(0, p + E.reserved);
    buf.writeUInt32BE(messages, p + E.firstMessageIndex);
    buf.writeUInt32BE(c.messageCount, p + E.messageCount);
    buf.writeUInt32BE(c.uncompressedLength, p + E.uncompressedLength);
    buf.writeUInt32BE(c.crc32, p + E.crc32);
    writeU64(buf, p + E.producerId, c.producerId);
    writeU64(buf, p + E.baseSequence, c.baseSequence);
    writeI64(buf, p + E.minTimestamp, c.minTimestamp);
    writeI64(buf, p + E.maxTimestamp, c.maxTimestamp);
    offset += c.length;
    messages += c.messageCount;
    if (c.messageCount > 0) {
      if (c.minTimestamp < minTs) minTs = c.minTimestamp;
      if (c.maxTimestamp > maxTs) maxTs = c.maxTimestamp;
    }
    p += INDEX_ENTRY_BYTES;
  }
  if (messages > MAX_U32)
    throw new InvalidInputError(`a batch holds at most ${MAX_U32} messages, got ${messages}`);
  if (offset > Number.MAX_SAFE_INTEGER) throw new InvalidInputError('batch object size passes 2^53-1');
  if (messages === 0) {
    minTs = 0;
    maxTs = 0;
  }
  writeI64(buf, H.minTimestamp, minTs);
  writeI64(buf, H.maxTimestamp, maxTs);
  buf.writeUInt32BE(messages, H.messageCount);
  buf.writeUInt32BE(chunks.length, H.chunkCount);
  writeU64(buf, H.payloadLength, offset - headerLength);
  buf.writeUInt32BE(crc32(buf.subarray(0, headerLength - HEADER_CRC_BYTES)), headerLength - HEADER_CRC_BYTES);
  return buf;
}

/** A batch ready to upload: `body` is `[header, ...chunks]`, to be written in that order. */
export interface EncodedBatch extends BatchTarget {
  readonly header: Buffer;
  readonly body: readonly Buffer[];
  readonly headerLength: number;
  readonly objectSize: number;
  readonly messageCount: number;
  readonly chunkCount: number;
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
  readonly createdAt: number;
  readonly headerCrc: number;
}

/**
 * Broker side: collects chunks for one batch by reference and builds the header when the batch
 * closes. Tracks the totals the close policy needs (`objectSize`, `messageCount`).
 */
export class BatchBuilder {
  /** The chunks' bytes in order; a chunk added with `addParts` takes several entries. */
  private readonly chunks: Buffer[] = [];
  private readonly metas: ChunkMeta[] = [];
  private readonly topicBytes: number;
  private payload = 0;
  private messages = 0;

  constructor(readonly target: BatchTarget) {
    this.topicBytes = checkTarget(target);
  }

  /**
   * Appends a chunk (kept by reference, never copied). Validates `meta` and that `bytes` has
   * `meta.length` bytes; CRC verification of the bytes is the caller's (`verifyChunk`), done where
   * the chunk is received. Throws `InvalidInputError`.
   */
  add(bytes: Buffer, meta: ChunkMeta): void {
    validateChunkMeta(meta, this.metas.length);
    if (!Buffer.isBuffer(bytes) || bytes.length !== meta.length) {
      throw new InvalidInputError(`chunk bytes are ${bytes?.length} long; metadata says ${meta.length}`);
    }
    if (this.messages + meta.messageCount > MAX_U32) {
      throw new InvalidInputError(`a batch holds at most ${MAX_U32} messages`);
    }
    this.chunks.push(bytes);
    this.metas.push(meta);
    this.payload += meta.length;
    this.messages += meta.messageCount;
  }

  /**
   * `add` for a chunk held as several pieces (views of the socket reads it arrived in), stored
   * one after another without being joined. Throws `InvalidInputError`.
   */
  addParts(parts: readonly Buffer[], meta: ChunkMeta): void {
    validateChunkMeta(meta, this.metas.length);
    let length = 0;
    for (const p of parts) {
      if (!Buffer.isBuffer(p)) throw new InvalidInputError('chunk pieces must be Buffers');
      length += p.length;
    }
    if (length !== meta.length) {
      throw new InvalidInputError(`chunk bytes are ${length} long; metadata says ${meta.length}`);
    }
    if (this.messages + meta.messageCount > MAX_U32) {
      throw new InvalidInputError(`a batch holds at most ${MAX_U32} messages`);
    }
    for (const p of parts) this.chunks.push(p);
    this.metas.push(meta);
    this.payload += meta.length;
    this.messages += meta.messageCount;
  }

  get chunkCount(): number {
    return this.metas.length;
  }

  get messageCount(): number {
    return this.messages;
  }

  get payloadLength(): number {
    return this.payload;
  }

  /** Size of the object if it were built now. */
  get objectSize(): number {
    return batchHeaderLength(this.topicBytes, this.metas.length) + this.payload;
  }

  /** Object size after adding a chunk of `length` bytes. */
  objectSizeWith(length: number): number {
    return batchHeaderLength(this.topicBytes, this.metas.length + 1) + this.payload + length;
  }

  build(createdAt: number = Date.now()): EncodedBatch {
    const header = encodeBatchHeader({ ...this.target, createdAt, chunks: this.metas });
    let minTimestamp = 0;
    let maxTimestamp = 0;
    if (this.messages > 0) {
      minTimestamp = readI64(header, H.minTimestamp, 'minTimestamp');
      maxTimestamp = readI64(header, H.maxTimestamp, 'maxTimestamp');
    }
    return {
      topic: this.target.topic,
      writePartition: this.target.writePartition,
      sequence: this.target.sequence,
      brokerId: this.target.brokerId,
      header,
      body: [header, ...this.chunks],
      headerLength: header.length,
      objectSize: header.length + this.payload,
      messageCount: this.messages,
      chunkCount: this.metas.length,
      minTimestamp,
      maxTimestamp,
      createdAt,
      headerCrc: header.readUInt32BE(header.length - HEADER_CRC_BYTES),
    };
  }
}

/** The pointer for a stored batch. */
export function batchPointer(
  batch: EncodedBatch,
  storage: { adapter: string; location: string; key: string },
): BatchPointer {
  return {
    v: 1,
    topic: batch.topic,
    writePartition: batch.writePartition,
    sequence: batch.sequence,
    brokerId: batch.brokerId,
    storage: { adapter: storage.adapter, location: storage.location, key: storage.key },
    objectSize: batch.objectSize,
    headerLength: batch.headerLength,
    messageCount: batch.messageCount,
    chunkCount: batch.chunkCount,
    firstTimestamp: batch.minTimestamp,
    lastTimestamp: batch.maxTimestamp,
    createdAt: batch.createdAt,
    headerCrc: batch.headerCrc,
  };
}

function corrupt(why: string): never {
  throw new CorruptDataError(`batch header: ${why}`);
}

/**
 * Reader side, step 1: from the first `HEADER_PREAMBLE_BYTES` (12) bytes of an object, the
 * length of its header. Then fetch `[0, headerLength)` and call `decodeBatchHeader`. Checks
 * magic, version and that the length is within `[MIN_HEADER_BYTES, maxHeaderBytes]`.
 */
export function headerLengthFromPreamble(buf: Buffer, options: HeaderDecodeOptions = {}): number {
  if (!Buffer.isBuffer(buf)) throw new InvalidInputError('batch header must be a Buffer');
  if (buf.length < HEADER_PREAMBLE_BYTES) {
    corrupt(`truncated: ${buf.length} bytes, the preamble alone is ${HEADER_PREAMBLE_BYTES}`);
  }
  const magic = buf.readUInt32BE(H.magic);
  if (magic !== BATCH_MAGIC) corrupt(`bad magic ${hex(magic)}, expected ${hex(BATCH_MAGIC)} ("BRGB")`);
  const version = buf.readUInt16BE(H.version);
  if (version !== BATCH_FORMAT_VERSION) throw new UnsupportedVersionError(version, [BATCH_FORMAT_VERSION]);
  const headerLength = buf.readUInt32BE(H.headerLength);
  const max = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (headerLength < MIN_HEADER_BYTES) corrupt(`header length ${headerLength} is below ${MIN_HEADER_BYTES}`);
  if (headerLength > max) corrupt(`header length ${headerLength} exceeds the limit of ${max} bytes`);
  return headerLength;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reader side, step 2: decodes and verifies a batch header from a prefix of the object (at
 * least `headerLength` bytes; the whole object works too). Verifies the header CRC and every
 * structural invariant (counts, contiguous offsets and message indexes, totals, timestamps).
 * Throws `CorruptDataError` (`UnsupportedVersionError` for another format version).
 */
export function decodeBatchHeader(prefix: Buffer, options: HeaderDecodeOptions = {}): BatchHeader {
  const headerLength = headerLengthFromPreamble(prefix, options);
  if (prefix.length < headerLength) corrupt(`truncated: ${prefix.length} of ${headerLength} bytes`);
  const crcAt = headerLength - HEADER_CRC_BYTES;
  const headerCrc = prefix.readUInt32BE(crcAt);
  const actual = crc32(prefix.subarray(0, crcAt));
  if (actual !== headerCrc)
    corrupt(`checksum mismatch: CRC-32 is ${hex(actual)}, header says ${hex(headerCrc)}`);

  const flags = prefix.readUInt16BE(H.flags);
  const writePartition = prefix.readUInt32BE(H.writePartition);
  const sequence = readU64(prefix, H.sequence, 'batch header: sequence');
  const createdAt = readI64(prefix, H.createdAt, 'batch header: createdAt');
  const minTimestamp = readI64(prefix, H.minTimestamp, 'batch header: minTimestamp');
  const maxTimestamp = readI64(prefix, H.maxTimestamp, 'batch header: maxTimestamp');
  const messageCount = prefix.readUInt32BE(H.messageCount);
  const chunkCount = prefix.readUInt32BE(H.chunkCount);
  const payloadLength = readU64(prefix, H.payloadLength, 'batch header: payloadLength');
  const brokerId = prefix.readUInt32BE(H.brokerId);
  const entryLength = prefix.readUInt16BE(H.indexEntryLength);
  const topicLength = prefix.readUInt16BE(H.topicLength);
  if (entryLength < INDEX_ENTRY_BYTES)
    corrupt(`index entry length ${entryLength} is below ${INDEX_ENTRY_BYTES}`);
  if (topicLength === 0) corrupt('empty topic name');
  const indexStart = H.topic + topicLength;
  // Compare before multiplying out anything large: chunkCount must fit in the bytes at hand.
  if (chunkCount > (crcAt - indexStart) / entryLength) {
    corrupt(
      `${chunkCount} index entries of ${entryLength} bytes and a ${topicLength}-byte topic do not fit in ${headerLength} bytes`,
    );
  }
  let topic: string;
  try {
    topic = fatalUtf8.decode(prefix.subarray(H.topic, indexStart));
  } catch {
    corrupt('topic name is not valid UTF-8');
  }
  const objectSize = headerLength + payloadLength;
  if (!Number.isSafeInteger(objectSize)) corrupt('object size passes 2^53-1');

  const chunks: ChunkEntry[] = [];
  let offset = headerLength;
  let messages = 0;
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  let p = indexStart;
  for (let i = 0; i < chunkCount; i++) {
    const where = `batch header: chunk ${i}`;
    const entry: ChunkEntry = {
      index: i,
      offset: readU64(prefix, p + E.offset, `${where} offset`),
      length: prefix.readUInt32BE(p + E.length),
      codec: prefix[p + E.codec]!,
      flags: prefix[p + E.flags]!,
      firstMessageIndex: prefix.readUInt32BE(p + E.firstMessageIndex),
      messageCount: prefix.readUInt32BE(p + E.messageCount),
      uncompressedLength: prefix.readUInt32BE(p + E.uncompressedLength),
      crc32: prefix.readUInt32BE(p + E.crc32),
      producerId: readU64(prefix, p + E.producerId, `${where} producerId`),
      baseSequence: readU64(prefix, p + E.baseSequence, `${where} baseSequence`),
      minTimestamp: readI64(prefix, p + E.minTimestamp, `${where} minTimestamp`),
      maxTimestamp: readI64(prefix, p + E.maxTimestamp, `${where} maxTimestamp`),
    };
    if (entry.offset !== offset) {
      corrupt(`chunk ${i} starts at ${entry.offset}; the previous chunks end at ${offset}`);
    }
    if (entry.firstMessageIndex !== messages) {
      corrupt(
        `chunk ${i} starts at message ${entry.firstMessageIndex}; the previous chunks hold ${messages}`,
      );
    }
    const problem = chunkMetaProblem(entry);
    if (problem) corrupt(`chunk ${i}: ${problem}`);
    offset += entry.length;
    messages += entry.messageCount;
    if (offset > objectSize) corrupt(`chunk ${i} ends at ${offset}, past the object size ${objectSize}`);
    if (messages > messageCount) corrupt(`chunks hold more than the header's ${messageCount} messages`);
    if (entry.messageCount > 0) {
      if (entry.minTimestamp < minTs) minTs = entry.minTimestamp;
      if (entry.maxTimestamp > maxTs) maxTs = entry.maxTimestamp;
    }
    chunks.push(entry);
    p += entryLength;
  }
  if (offset !== objectSize)
    corrupt(`chunks end at ${offset}; header length + payload length is ${objectSize}`);
  if (messages !== messageCount) corrupt(`chunks hold ${messages} messages; the header says ${messageCount}`);
  if (messages === 0) {
    minTs = 0;
    maxTs = 0;
  }
  if (minTs !== minTimestamp || maxTs !== maxTimestamp) {
    corrupt(`timestamps [${minTimestamp}, ${maxTimestamp}] differ from the chunks' [${minTs}, ${maxTs}]`);
  }
  return {
    version: BATCH_FORMAT_VERSION,
    flags,
    headerLength,
    topic,
    writePartition,
    sequence,
    brokerId,
    createdAt,
    minTimestamp,
    maxTimestamp,
    messageCount,
    chunkCount,
    payloadLength,
    objectSize,
    indexEntryLength: entryLength,
    chunks,
    headerCrc,
  };
}

/**
 * Checks that a decoded header is the batch `pointer` points to (topic, partition, sequence,
 * broker, sizes, counts, timestamps, header CRC). Throws `CorruptDataError` naming the field.
 */
export function checkHeaderMatchesPointer(header: BatchHeader, pointer: BatchPointer): void {
  const pairs: [string, unknown, unknown][] = [
    ['headerCrc', header.headerCrc, pointer.headerCrc],
    ['topic', header.topic, pointer.topic],
    ['writePartition', header.writePartition, pointer.writePartition],
    ['sequence', header.sequence, pointer.sequence],
    ['brokerId', header.brokerId, pointer.brokerId],
    ['headerLength', header.headerLength, pointer.headerLength],
    ['objectSize', header.objectSize, pointer.objectSize],
    ['messageCount', header.messageCount, pointer.messageCount],
    ['chunkCount', header.chunkCount, pointer.chunkCount],
    ['firstTimestamp', header.minTimestamp, pointer.firstTimestamp],
    ['lastTimestamp', header.maxTimestamp, pointer.lastTimestamp],
    ['createdAt', header.createdAt, pointer.createdAt],
  ];
  for (const [field, inHeader, inPointer] of pairs) {
    if (inHeader !== inPointer) {
      throw new CorruptDataError(
        `batch ${pointer.storage.key}: header ${field} ${JSON.stringify(inHeader)} does not match the pointer's ${JSON.stringify(inPointer)}`,
      );
    }
  }
}
