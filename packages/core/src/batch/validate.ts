import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { decompressFrame, uncompress } from 'lz4-napi';
import {
  CODEC,
  checkLz4Bounds,
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
  inspectLz4Frame,
  type Lz4FrameInfo,
  UnsupportedCodecError,
} from '../codecs.js';
import { CorruptDataError, errorMessage } from '../errors.js';
import { checkKafkaChunkContent } from '../kafka-batch/chunk.js';
import { createZstdDecompressStream, inspectZstdFrame, requireZstd } from '../zstd.js';
import type { ChunkMeta } from './chunk.js';
import { RecordWalker } from './record-walker.js';

export interface ChunkContentOptions {
  /** Largest uncompressed chunk accepted (default 256 MiB, the readers' default limit). */
  maxUncompressedBytes?: number;
}

/** Largest piece of gzip output held at once while a chunk is checked. */
const GZIP_PIECE_BYTES = 256 * 1024;

/**
 * Broker side: checks that a chunk's content is what its metadata says, so that a reader will
 * be able to decode it: the bytes decompress to exactly `uncompressedLength` bytes (never more
 * than that is produced, nor more than `maxUncompressedBytes` declared), and they are exactly
 * `messageCount` well-formed records (`RecordWalker`). Nothing decompressed is kept: the
 * records are checked as the decompressor produces them, in pieces of at most 256 KiB for gzip
 * and of one LZ4 block (at most 4 MiB) for lz4, and dropped. (LZ4 frames with checksums, which
 * Barge's producers do not write, are decoded whole.)
 *
 * A `kafka` chunk (Kafka record batches) is checked synchronously without decompressing:
 * framing, each batch's CRC-32C, and metadata that matches the batch headers
 * (`checkKafkaChunkContent`).
 *
 * Expects metadata that passed `validateChunkMeta` and bytes that passed `verifyChunk`.
 * `none` is checked synchronously (returns `undefined`, or throws); gzip and lz4 decompress on
 * libuv's thread pool and return a promise. Every failure is a `CorruptDataError` whose message
 * starts with `where` and names the record or field and the declared and actual values.
 */
export function checkChunkContent(
  bytes: Buffer,
  meta: ChunkMeta,
  where = 'chunk',
  options: ChunkContentOptions = {},
): Promise<void> | undefined {
  const max = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  if (meta.uncompressedLength > max) {
    throw new CorruptDataError(
      `${where}: uncompressed length ${meta.uncompressedLength} exceeds the limit of ${max} bytes`,
    );
  }
  switch (meta.codec) {
    case CODEC.none: {
      const walker = new RecordWalker(meta, where);
      walker.push(bytes);
      walker.end();
      return undefined;
    }
    case CODEC.gzip:
      return walkStream(bytes, new RecordWalker(meta, where), where, 'gzip', (chunkSize) =>
        zlib.createGunzip({ chunkSize }),
      );
    case CODEC.lz4:
      return walkLz4(bytes, meta, where, max);
    case CODEC.kafka:
      checkKafkaChunkContent(bytes, meta, where);
      return undefined;
    case CODEC.zstd:
      return walkZstd(bytes, meta, where);
    default:
      throw new UnsupportedCodecError(meta.codec);
  }
}

/**
 * zstd: the frame's structure first (one frame, no dictionary, content size and window within
 * the declared length), then the stream like gzip. On a runtime without zstd it throws
 * `CodecUnavailableError` (the broker answers UNSUPPORTED_CODEC): it cannot check the chunk.
 */
function walkZstd(bytes: Buffer, meta: ChunkMeta, where: string): Promise<void> {
  try {
    requireZstd();
    inspectZstdFrame(bytes, meta.uncompressedLength);
  } catch (e) {
    if (e instanceof Error) e.message = `${where}: ${e.message}`;
    throw e;
  }
  return walkStream(bytes, new RecordWalker(meta, where), where, 'zstd', (chunkSize) =>
    createZstdDecompressStream(meta.uncompressedLength, chunkSize),
  );
}

/** Decompresses with a zlib stream (thread pool) in pieces of at most 256 KiB, walking each piece. */
function walkStream(
  bytes: Buffer,
  walker: RecordWalker,
  where: string,
  codec: 'gzip' | 'zstd',
  open: (chunkSize: number) => Transform,
): Promise<void> {
  const declared = walker.declared;
  // One byte more than declared, so a longer output shows in the same piece.
  const chunkSize = Math.min(Math.max(declared + 1, zlib.constants.Z_MIN_CHUNK), GZIP_PIECE_BYTES);
  return new Promise((resolve, reject) => {
    const gunzip = open(chunkSize);
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      gunzip.destroy();
      reject(e);
    };
    gunzip.on('data', (piece: Buffer) => {
      if (failed) return;
      if (piece.length > declared - walker.received) {
        fail(
          new CorruptDataError(
            `${where}: ${codec} data decompresses to more than the ${declared} bytes the metadata declares`,
          ),
        );
        return;
      }
      try {
        walker.push(piece);
      } catch (e) {
        fail(e);
      }
    });
    gunzip.on('error', (e) =>
      fail(
        new CorruptDataError(`${where}: ${codec} data does not decompress: ${errorMessage(e)}`, { cause: e }),
      ),
    );
    gunzip.on('end', () => {
      if (failed) return;
      try {
        sizeMatches(walker, codec, where);
        walker.end();
        resolve();
      } catch (e) {
        fail(e);
      }
    });
    gunzip.end(bytes);
  });
}

/** LZ4 frame flags: block checksums, content checksum. */
const LZ4_CHECKSUMS = 0x14;
/** Linked blocks may refer back this far into the output before them. */
const LZ4_WINDOW = 64 * 1024;

async function walkLz4(bytes: Buffer, meta: ChunkMeta, where: string, max: number): Promise<void> {
  const declared = meta.uncompressedLength;
  let info: Lz4FrameInfo;
  try {
    info = inspectLz4Frame(bytes);
    checkLz4Bounds(info, declared, max);
  } catch (e) {
    if (e instanceof CorruptDataError) e.message = `${where}: ${e.message}`;
    throw e;
  }
  const walker = new RecordWalker(meta, where);
  if ((bytes[4]! & LZ4_CHECKSUMS) === 0) await walkLz4Blocks(bytes, info, walker, where);
  else await walkLz4Frame(bytes, info, walker, where);
  sizeMatches(walker, 'lz4', where);
  walker.end();
}

/**
 * Decodes block by block, each into a buffer no larger than what the declared length leaves
 * (so a frame that expands further fails in the decoder), walks it and drops it. Linked blocks
 * get the previous 64 KiB of output as their dictionary.
 */
async function walkLz4Blocks(bytes: Buffer, info: Lz4FrameInfo, walker: RecordWalker, where: string) {
  let window: Buffer | undefined;
  for (let i = 0; i < info.blocks.length; i++) {
    const b = info.blocks[i]!;
    const room = Math.min(info.blockMaxSize, walker.declared - walker.received);
    let out: Buffer;
    if (b.stored) {
      if (b.size > room) throw longer(where, walker.declared);
      out = bytes.subarray(b.start, b.start + b.size);
    } else {
      const input = Buffer.allocUnsafe(4 + b.size);
      input.writeUInt32LE(room, 0);
      bytes.copy(input, 4, b.start, b.start + b.size);
      try {
        out = await uncompress(input, info.independent ? undefined : window);
      } catch (e) {
        throw new CorruptDataError(
          `${where}: lz4 block ${i} does not decompress into the ${room} bytes the declared length leaves: ${errorMessage(e)}`,
          { cause: e },
        );
      }
    }
    walker.push(out);
    if (!info.independent) window = lastBytes(window, out, LZ4_WINDOW);
  }
}

/**
 * Frames with checksums (which only the frame decoder verifies) are decoded whole, and only
 * when their blocks cannot expand past the declared length by a block or more: every block but
 * the last full, as frame encoders write them.
 */
async function walkLz4Frame(bytes: Buffer, info: Lz4FrameInfo, walker: RecordWalker, where: string) {
  if (info.maxOutputBytes >= walker.declared + info.blockMaxSize) {
    throw new CorruptDataError(
      `${where}: lz4 frame with checksums can expand to ${info.maxOutputBytes} bytes, a block or more past the ${walker.declared} the metadata declares`,
    );
  }
  let out: Buffer;
  try {
    out = await decompressFrame(bytes);
  } catch (e) {
    throw new CorruptDataError(`${where}: lz4 data does not decompress: ${errorMessage(e)}`, { cause: e });
  }
  if (out.length > walker.declared) throw longer(where, walker.declared);
  walker.push(out);
}

/** The last `n` bytes of `a` followed by `b`. */
function lastBytes(a: Buffer | undefined, b: Buffer, n: number): Buffer {
  if (b.length >= n || a === undefined) return Buffer.from(b.subarray(Math.max(0, b.length - n)));
  const keep = Math.min(a.length, n - b.length);
  return Buffer.concat([a.subarray(a.length - keep), b]);
}

function longer(where: string, declared: number): CorruptDataError {
  return new CorruptDataError(
    `${where}: lz4 data decompresses to more than the ${declared} bytes the metadata declares`,
  );
}

function sizeMatches(walker: RecordWalker, codec: string, where: string): void {
  if (walker.received !== walker.declared) {
    throw new CorruptDataError(
      `${where}: ${codec} data decompresses to ${walker.received} bytes; the metadata declares ${walker.declared}`,
    );
  }
}
