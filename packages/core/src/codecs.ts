import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { compressFrame, compressSync, decompressFrameSync, uncompressSync } from 'lz4-napi';
import type { CodecName } from './config.js';
import { CorruptDataError, errorMessage, InvalidInputError } from './errors.js';
import { zstdCompress, zstdCompressAsync, zstdDecompressBounded } from './zstd.js';

/**
 * Chunk codecs. The numeric id is what the batch format and the protocol carry; the name is what
 * configuration uses. Ids are never reused; a reader that meets an id it does not know rejects
 * that chunk (`UnsupportedCodecError`) and can still read the others.
 */
export const CODEC = { none: 0, gzip: 1, lz4: 2, zstd: 3, kafka: 4 } as const satisfies Record<
  ChunkCodecName,
  number
>;
export type CodecId = (typeof CODEC)[ChunkCodecName];

/**
 * Every chunk codec: the configuration names (`CodecName`, what producers compress with) and
 * `kafka`, whose chunks hold Kafka v2 record batches as a Kafka producer sent them
 * (`kafkaChunkFromRecords`); it is never a producer's compression setting.
 */
export type ChunkCodecName = CodecName | 'kafka';

const NAMES: readonly ChunkCodecName[] = ['none', 'gzip', 'lz4', 'zstd', 'kafka'];
const CONFIG_NAMES: readonly CodecName[] = ['none', 'gzip', 'lz4', 'zstd'];

/** Largest uncompressed chunk a reader accepts by default (256 MiB). */
export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024;

export function isCodecId(id: number): id is CodecId {
  return id === 0 || id === 1 || id === 2 || id === 3 || id === 4;
}

/**
 * The codec id for a configuration name; throws `InvalidInputError` for an unknown name (and for
 * `kafka`, which is not a compression setting).
 */
export function codecId(name: CodecName | string): CodecId {
  const id = (CODEC as Record<string, CodecId | undefined>)[name];
  if (id === undefined || !Object.hasOwn(CODEC, name) || id === CODEC.kafka) {
    throw new InvalidInputError(
      `unknown codec ${JSON.stringify(name)}; expected one of ${CONFIG_NAMES.join(', ')}`,
    );
  }
  return id;
}

/** The name of a codec id; throws `UnsupportedCodecError` for an unknown id. */
export function codecName(id: number): ChunkCodecName {
  const name = NAMES[id];
  if (name === undefined || !Number.isInteger(id)) throw new UnsupportedCodecError(id);
  return name;
}

/** A chunk uses a codec id this reader does not implement (written by a newer producer). */
export class UnsupportedCodecError extends CorruptDataError {
  constructor(readonly codec: number) {
    super(`unsupported codec id ${codec}; this reader knows ${NAMES.map((n, i) => `${i}=${n}`).join(', ')}`);
  }
}

export interface CompressOptions {
  /** gzip level 0-9 (default 6, zlib's default). */
  gzipLevel?: number;
  /** zstd level 1-22 (default 1, `ZSTD_DEFAULT_LEVEL`). */
  zstdLevel?: number;
}

/** Compresses `data` with `codec`. `none` returns `data` itself (no copy). */
export function compress(codec: CodecId | CodecName, data: Buffer, options: CompressOptions = {}): Buffer {
  const id = typeof codec === 'string' ? codecId(codec) : codec;
  switch (id) {
    case CODEC.none:
      return data;
    case CODEC.gzip:
      return zlib.gzipSync(data, { level: options.gzipLevel ?? zlib.constants.Z_DEFAULT_COMPRESSION });
    case CODEC.lz4:
      return lz4CompressFrame(data);
    case CODEC.zstd:
      return zstdCompress(data, options.zstdLevel);
    case CODEC.kafka:
      throw kafkaNotCompressed();
    default:
      throw new InvalidInputError(`unknown codec id ${String(id)}`);
  }
}

const gzipAsync = promisify(zlib.gzip);

function kafkaNotCompressed(): InvalidInputError {
  return new InvalidInputError(
    'codec kafka (4) is not a compression: a kafka chunk is built from Kafka record batches (kafkaChunkFromRecords)',
  );
}

/**
 * `compress` on libuv's thread pool, so a producer's event loop is not blocked for the tens of
 * milliseconds a large gzip chunk takes. For lz4 it uses lz4-napi's frame encoder (standard
 * frames, FLG 0x60, full blocks, read by the block fast path). It costs about the same CPU as
 * `compress` for lz4 and somewhat more for gzip (`docs/benchmarks.md`).
 */
export async function compressAsync(
  codec: CodecId | CodecName,
  data: Buffer,
  options: CompressOptions = {},
): Promise<Buffer> {
  const id = typeof codec === 'string' ? codecId(codec) : codec;
  switch (id) {
    case CODEC.none:
      return data;
    case CODEC.gzip:
      return gzipAsync(data, { level: options.gzipLevel ?? zlib.constants.Z_DEFAULT_COMPRESSION });
    case CODEC.lz4:
      return compressFrame(data);
    case CODEC.zstd:
      return zstdCompressAsync(data, options.zstdLevel);
    case CODEC.kafka:
      throw kafkaNotCompressed();
    default:
      throw new InvalidInputError(`unknown codec id ${String(id)}`);
  }
}

/**
 * Decompresses one chunk. `expectedLength` is the uncompressed length the chunk's metadata
 * promises: it is checked against `maxUncompressedBytes` before anything is allocated, the
 * decoders never produce more than that many bytes, and a result of a different length is
 * corrupt. Every failure is a `CorruptDataError`, except zstd on a runtime without it
 * (`CodecUnavailableError`: the data is fine, the runtime is too old). `none` returns `data`
 * itself (no copy). `kafka` throws `InvalidInputError`: its chunks hold Kafka record batches,
 * which `openChunk` decodes batch by batch.
 */
export function decompress(
  codec: number,
  data: Buffer,
  expectedLength: number,
  maxUncompressedBytes = DEFAULT_MAX_UNCOMPRESSED_BYTES,
): Buffer {
  if (!Number.isSafeInteger(expectedLength) || expectedLength < 0) {
    throw new CorruptDataError(`uncompressed length ${expectedLength} is not a non-negative integer`);
  }
  if (expectedLength > maxUncompressedBytes) {
    throw new CorruptDataError(
      `uncompressed length ${expectedLength} exceeds the limit of ${maxUncompressedBytes} bytes`,
    );
  }
  let out: Buffer;
  switch (codec) {
    case CODEC.none:
      out = data;
      break;
    case CODEC.gzip:
      out = gunzipBounded(data, expectedLength);
      break;
    case CODEC.lz4:
      out = lz4DecompressBounded(data, expectedLength, maxUncompressedBytes);
      break;
    case CODEC.zstd:
      out = zstdDecompressBounded(data, expectedLength);
      break;
    case CODEC.kafka:
      // Kafka record batches, not Barge records: `openChunk` decodes them (KafkaChunkReader).
      throw new InvalidInputError(
        'a kafka chunk holds Kafka record batches, not Barge records; read it with openChunk or decodeChunk',
      );
    default:
      throw new UnsupportedCodecError(codec);
  }
  if (out.length !== expectedLength) {
    throw new CorruptDataError(
      `${codecLabel(codec)} chunk decompressed to ${out.length} bytes; its metadata says ${expectedLength}`,
    );
  }
  return out;
}

function codecLabel(codec: number): string {
  return NAMES[codec] ?? `codec ${codec}`;
}

const GZIP_MAX_CHUNK = 4 * 1024 * 1024;

function gunzipBounded(data: Buffer, expectedLength: number): Buffer {
  // Node's zlib rejects bytes after the last gzip member unless they are zeros; the chunk CRC covers them anyway.
  // maxOutputLength must be >= 1; one byte more than expected is enough to detect "too long".
  try {
    // One output buffer of the expected size (at most 4 MiB) instead of zlib's 16 KiB pieces:
    // ~40% faster, and a hostile claim still allocates at most 4 MiB up front.
    const chunkSize = Math.min(Math.max(expectedLength + 1, zlib.constants.Z_MIN_CHUNK), GZIP_MAX_CHUNK);
    return zlib.gunzipSync(data, { maxOutputLength: expectedLength + 1, chunkSize });
  } catch (e) {
    throw new CorruptDataError(`gzip chunk does not decompress: ${errorMessage(e)}`, { cause: e });
  }
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] as const;
/** Frame descriptor checksum byte (xxh32(FLG, BD) >> 8) for FLG 0x60 and BD 0x40, 0x50, 0x60, 0x70. */
const LZ4_HC: Record<number, number> = { 64: 0x82, 80: 0xfb, 96: 0x51, 112: 0x73 };
const LZ4_STORED = 0x80000000;

export interface Lz4FrameInfo {
  /** Largest number of bytes the frame can decompress to (data blocks × block maximum size). */
  maxOutputBytes: number;
  /** Content size from the frame descriptor, when the writer recorded it. */
  contentSize?: number;
  /** Block maximum size from the frame descriptor. */
  blockMaxSize: number;
  /** Blocks decode independently of one another. */
  independent: boolean;
  /** Each data block: start of its data, its stored size, and whether it is stored uncompressed. */
  blocks: { start: number; size: number; stored: boolean }[];
}

/**
 * Walks an LZ4 frame's block headers (no decompression) and returns an upper bound of its output
 * size. Throws `CorruptDataError` unless `data` is exactly one well-formed LZ4 frame (LZ4 frame
 * format 1.6: magic, descriptor, blocks, end mark, optional content checksum), so the native
 * decoder is only ever handed input whose output is bounded.
 */
export function inspectLz4Frame(data: Buffer): Lz4FrameInfo {
  const bad = (why: string): never => {
    throw new CorruptDataError(`lz4 chunk is not a valid LZ4 frame: ${why}`);
  };
  const n = data.length;
  if (n < 7) bad(`${n} bytes is shorter than a frame header`);
  if (data.readUInt32LE(0) !== LZ4_MAGIC) bad('bad magic number');
  const flg = data[4]!;
  const bd = data[5]!;
  if (flg >>> 6 !== 1) bad(`unsupported frame version ${flg >>> 6}`);
  if (flg & 0x02 || bd & 0x8f) bad('reserved descriptor bits are set');
  const blockChecksum = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  if (flg & 0x01) bad('frames that need a dictionary are not supported');
  const blockMaxSize = LZ4_BLOCK_MAX[(bd >>> 4) & 7]!;
  if (blockMaxSize === 0) bad(`reserved block size id ${(bd >>> 4) & 7}`);
  let pos = 6;
  let contentSize: number | undefined;
  if (hasContentSize) {
    if (pos + 8 > n) bad('truncated content size');
    const hi = data.readUInt32LE(pos + 4);
    if (hi > 0x1fffff) bad('content size above 2^53');
    contentSize = hi * 0x100000000 + data.readUInt32LE(pos);
    pos += 8;
  }
  pos += 1; // header checksum: covered by the chunk's CRC-32
  const blocks: Lz4FrameInfo['blocks'] = [];
  let maxOutputBytes = 0;
  for (;;) {
    if (pos + 4 > n) bad('truncated block header');
    const word = data.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    const stored = word >>> 31 === 1;
    if (size > blockMaxSize) bad(`block of ${size} bytes exceeds the frame's block maximum ${blockMaxSize}`);
    if (pos + size + (blockChecksum ? 4 : 0) > n) bad('truncated block');
    blocks.push({ start: pos, size, stored });
    pos += size + (blockChecksum ? 4 : 0);
    maxOutputBytes += stored ? size : blockMaxSize;
  }
  if (contentChecksum) pos += 4;
  if (pos !== n) bad(pos > n ? 'truncated content checksum' : `${n - pos} bytes after the end of the frame`);
  const info: Lz4FrameInfo = {
    maxOutputBytes,
    blockMaxSize,
    independent: (flg & 0x20) !== 0,
    blocks,
  };
  if (contentSize !== undefined) info.contentSize = contentSize;
  return info;
}

/**
 * Compresses `data` into one LZ4 frame (FLG 0x60: version 1, independent blocks, no checksums,
 * no content size; block maximum 64 KiB to 4 MiB by input size). Every block but the last is
 * full. Blocks come from lz4-napi's block compressor, which is about twice as fast as its frame
 * API; the result is a standard frame that any LZ4 frame decoder (and the `lz4` CLI) reads.
 */
export function lz4CompressFrame(data: Buffer): Buffer {
  const bd =
    data.length <= 0x10000 ? 0x40 : data.length <= 0x40000 ? 0x50 : data.length <= 0x100000 ? 0x60 : 0x70;
  const blockMax = LZ4_BLOCK_MAX[bd >>> 4]!;
  const parts: Buffer[] = [];
  const stored: boolean[] = [];
  let total = 7 + 4;
  for (let off = 0; off < data.length; off += blockMax) {
    const slice = data.subarray(off, Math.min(off + blockMax, data.length));
    // compressSync prepends the uncompressed size (4 bytes, little-endian) to a raw LZ4 block.
    const block = compressSync(slice).subarray(4);
    const raw = block.length >= slice.length;
    parts.push(raw ? slice : block);
    stored.push(raw);
    total += 4 + (raw ? slice.length : block.length);
  }
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(LZ4_MAGIC, 0);
  out[4] = 0x60;
  out[5] = bd;
  out[6] = LZ4_HC[bd]!;
  let pos = 7;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    out.writeUInt32LE(stored[i] ? (part.length | LZ4_STORED) >>> 0 : part.length, pos);
    out.set(part, pos + 4);
    pos += 4 + part.length;
  }
  out.writeUInt32LE(0, pos);
  return out;
}

function lz4DecompressBounded(data: Buffer, expectedLength: number, maxUncompressedBytes: number): Buffer {
  const info = inspectLz4Frame(data);
  checkLz4Bounds(info, expectedLength, maxUncompressedBytes);
  const fast = lz4DecodeFullBlocks(data, info, expectedLength);
  if (fast !== undefined) return fast;
  try {
    return decompressFrameSync(data);
  } catch (e) {
    throw new CorruptDataError(`lz4 chunk does not decompress: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * Refuses (`CorruptDataError`) a frame that cannot hold `expectedLength` bytes, or whose worst
 * case output is above `maxUncompressedBytes`: what `decompress` checks before decoding.
 */
export function checkLz4Bounds(
  info: Lz4FrameInfo,
  expectedLength: number,
  maxUncompressedBytes: number,
): void {
  if (info.contentSize !== undefined && info.contentSize !== expectedLength) {
    throw new CorruptDataError(
      `lz4 frame declares ${info.contentSize} content bytes; the chunk metadata says ${expectedLength}`,
    );
  }
  if (info.maxOutputBytes < expectedLength) {
    throw new CorruptDataError(
      `lz4 frame can hold at most ${info.maxOutputBytes} bytes; the chunk metadata says ${expectedLength}`,
    );
  }
  // A frame of many small blocks could expand far beyond expectedLength (each block up to its
  // maximum size); refuse frames whose worst case is above the reader's limit.
  if (info.maxOutputBytes > maxUncompressedBytes) {
    throw new CorruptDataError(
      `lz4 frame could expand to ${info.maxOutputBytes} bytes, above the limit of ${maxUncompressedBytes}`,
    );
  }
}

/**
 * Fast path for frames whose blocks are independent and full (all but the last hold exactly the
 * block maximum): each block's output size is then known, so each is decoded with the block
 * decoder into a buffer of exactly that size. Returns `undefined` for any other frame (linked
 * blocks, short blocks), which then goes to the general frame decoder.
 */
function lz4DecodeFullBlocks(data: Buffer, info: Lz4FrameInfo, expectedLength: number): Buffer | undefined {
  const { blocks, blockMaxSize } = info;
  if (!info.independent) return undefined;
  if (blocks.length !== Math.ceil(expectedLength / blockMaxSize)) return undefined;
  const outs: Buffer[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    const size = Math.min(blockMaxSize, expectedLength - i * blockMaxSize);
    let out: Buffer;
    if (b.stored) {
      if (b.size !== size) return undefined;
      out = data.subarray(b.start, b.start + b.size);
    } else {
      const input = Buffer.allocUnsafe(4 + b.size);
      input.writeUInt32LE(size, 0);
      data.copy(input, 4, b.start, b.start + b.size);
      try {
        out = uncompressSync(input);
      } catch {
        return undefined;
      }
      if (out.length !== size) return undefined;
    }
    outs.push(out);
  }
  if (outs.length === 1) return outs[0];
  return Buffer.concat(outs, expectedLength);
}
