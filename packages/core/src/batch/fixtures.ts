/**
 * Helpers for tests of the batch format (core's own and other packages'): a small sample batch,
 * and a header encoder with knobs a v1 writer does not have (larger index entries, extension
 * bytes, another version) to exercise readers' forward compatibility. Not exported from the
 * package index.
 */
import { crc32 } from '../crc.js';
import type { Message } from '../message.js';
import { type EncodedChunk, encodeChunk } from './chunk.js';
import {
  E,
  H,
  HEADER_CRC_BYTES,
  HEADER_FIXED_BYTES,
  INDEX_ENTRY_BYTES,
  writeI64,
  writeU64,
} from './format.js';
import { BatchBuilder, type BatchInfo, type EncodedBatch } from './header.js';

export const SAMPLE_TARGET = { topic: 'orders.eu', writePartition: 3, sequence: 42, brokerId: 7 } as const;

export function sampleChunks(): EncodedChunk[] {
  const t0 = 1_700_000_000_000;
  const none: Message[] = [
    { key: 'user-1', value: 'hello', headers: [{ name: 'trace', value: 'abc' }], timestamp: t0 },
    { key: null, value: '', timestamp: t0 + 5 },
    {
      key: '',
      value: 'ünïcødé \u{1f600}',
      headers: [{ name: 'é', value: Buffer.from([0, 1, 2]) }],
      timestamp: t0 + 1,
    },
  ];
  const gzip: Message[] = Array.from({ length: 20 }, (_, i) => ({
    key: `k${i % 3}`,
    value: `gzip message ${i} `.repeat(i + 1),
    timestamp: t0 + 100 + i,
  }));
  const lz4: Message[] = Array.from({ length: 10 }, (_, i) => ({
    value: `lz4 ${i} `.repeat(10),
    timestamp: t0 - i,
  }));
  return [
    encodeChunk(none, 'none', { producerId: 11, baseSequence: 0 }),
    encodeChunk(gzip, 'gzip', { producerId: 12, baseSequence: 1000 }),
    encodeChunk([], 'none', { producerId: 13, baseSequence: 5 }),
    encodeChunk(lz4, 'lz4', { producerId: 11, baseSequence: 3 }),
  ];
}

export function sampleBatch(chunks: EncodedChunk[] = sampleChunks()): {
  batch: EncodedBatch;
  object: Buffer;
} {
  const b = new BatchBuilder(SAMPLE_TARGET);
  for (const c of chunks) b.add(c.bytes, c.meta);
  const batch = b.build(1_700_000_001_000);
  return { batch, object: Buffer.concat(batch.body) };
}

export interface HeaderVariant {
  /** Index entry size; bytes after v1's 64 are filled with `fill`. */
  entryLength?: number;
  /** Bytes between the index and the header CRC. */
  extension?: Buffer;
  version?: number;
  flags?: number;
  fill?: number;
  /** Overrides per chunk entry field, e.g. `{ 1: { codec: 9 } }`. */
  entries?: Record<number, Partial<Record<keyof typeof E, number>>>;
}

/** A header like `encodeBatchHeader` writes, with the variations above; CRC always valid. */
export function encodeHeaderVariant(info: BatchInfo, v: HeaderVariant = {}): Buffer {
  const entryLength = v.entryLength ?? INDEX_ENTRY_BYTES;
  const ext = v.extension ?? Buffer.alloc(0);
  const topic = Buffer.from(info.topic, 'utf8');
  const n = info.chunks.length;
  const headerLength = HEADER_FIXED_BYTES + topic.length + n * entryLength + ext.length + HEADER_CRC_BYTES;
  const buf = Buffer.alloc(headerLength, v.fill ?? 0);
  buf.write('BRGB', H.magic, 'latin1');
  buf.writeUInt16BE(v.version ?? 1, H.version);
  buf.writeUInt16BE(v.flags ?? 0, H.flags);
  buf.writeUInt32BE(headerLength, H.headerLength);
  buf.writeUInt32BE(info.writePartition, H.writePartition);
  writeU64(buf, H.sequence, info.sequence);
  writeI64(buf, H.createdAt, info.createdAt);
  const nonEmpty = info.chunks.filter((c) => c.messageCount > 0);
  writeI64(buf, H.minTimestamp, nonEmpty.length ? Math.min(...nonEmpty.map((c) => c.minTimestamp)) : 0);
  writeI64(buf, H.maxTimestamp, nonEmpty.length ? Math.max(...nonEmpty.map((c) => c.maxTimestamp)) : 0);
  buf.writeUInt32BE(info.chunks.reduce((s, c) => s + c.messageCount, 0) % 2 ** 32, H.messageCount);
  buf.writeUInt32BE(n, H.chunkCount);
  writeU64(
    buf,
    H.payloadLength,
    info.chunks.reduce((s, c) => s + c.length, 0),
  );
  buf.writeUInt32BE(info.brokerId, H.brokerId);
  buf.writeUInt16BE(entryLength, H.indexEntryLength);
  buf.writeUInt16BE(topic.length, H.topicLength);
  topic.copy(buf, H.topic);
  let p = H.topic + topic.length;
  let offset = headerLength;
  let first = 0;
  info.chunks.forEach((c, i) => {
    const o = v.entries?.[i] ?? {};
    writeU64(buf, p + E.offset, o.offset ?? offset);
    buf.writeUInt32BE(o.length ?? c.length, p + E.length);
    buf[p + E.codec] = o.codec ?? c.codec;
    buf[p + E.flags] = o.flags ?? 0;
    buf.writeUInt16BE(o.reserved ?? 0, p + E.reserved);
    buf.writeUInt32BE(o.firstMessageIndex ?? first % 2 ** 32, p + E.firstMessageIndex);
    buf.writeUInt32BE(o.messageCount ?? c.messageCount, p + E.messageCount);
    buf.writeUInt32BE(o.uncompressedLength ?? c.uncompressedLength, p + E.uncompressedLength);
    buf.writeUInt32BE(o.crc32 ?? c.crc32, p + E.crc32);
    writeU64(buf, p + E.producerId, o.producerId ?? c.producerId);
    writeU64(buf, p + E.baseSequence, o.baseSequence ?? c.baseSequence);
    writeI64(buf, p + E.minTimestamp, o.minTimestamp ?? c.minTimestamp);
    writeI64(buf, p + E.maxTimestamp, o.maxTimestamp ?? c.maxTimestamp);
    offset += c.length;
    first += c.messageCount;
    p += entryLength;
  });
  ext.copy(buf, p);
  buf.writeUInt32BE(crc32(buf.subarray(0, headerLength - HEADER_CRC_BYTES)), headerLength - HEADER_CRC_BYTES);
  return buf;
}

/**
 * Recomputes the header CRC of `object` in place (after a test changed header bytes), for a
 * header of `h` bytes (default: the length the header states).
 */
export function fixHeaderCrc(object: Buffer, h = object.readUInt32BE(H.headerLength)): Buffer {
  object.writeUInt32BE(crc32(object.subarray(0, h - HEADER_CRC_BYTES)), h - HEADER_CRC_BYTES);
  return object;
}
