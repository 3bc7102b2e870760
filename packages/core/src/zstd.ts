import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { CorruptDataError, errorMessage, InvalidInputError, PermanentError } from './errors.js';

/**
 * zstd (codec 3) through Node's own zlib, which has it from Node 22.15 / 23.8. Detected by a
 * feature test, not a version test; on an older runtime every call here throws
 * `CodecUnavailableError`. The functions are typed here because @types/node 20 lacks them.
 */
interface ZstdOptions {
  params?: Record<number, number>;
  maxOutputLength?: number;
  chunkSize?: number;
  pledgedSrcSize?: number;
}
interface ZstdZlib {
  zstdCompressSync(data: Buffer, options?: ZstdOptions): Buffer;
  zstdCompress(data: Buffer, options: ZstdOptions, cb: (e: Error | null, out: Buffer) => void): void;
  zstdDecompressSync(data: Buffer, options?: ZstdOptions): Buffer;
  createZstdDecompress(options?: ZstdOptions): Transform;
}
const z = zlib as unknown as Partial<ZstdZlib>;
const constants = zlib.constants as unknown as Record<string, number | undefined>;

/** The first Node.js releases whose zlib has zstd. */
export const ZSTD_MIN_NODE = '22.15 (or 23.8)';

/** zstd level when none is given. Level 1 compressed ~1.5x faster than 3 for a 1.5% larger chunk (docs/benchmarks.md). */
export const ZSTD_DEFAULT_LEVEL = 1;

/** True when this runtime's zlib can compress and decompress zstd. */
export function zstdAvailable(): boolean {
  return (
    typeof z.zstdCompressSync === 'function' &&
    typeof z.zstdCompress === 'function' &&
    typeof z.zstdDecompressSync === 'function' &&
    typeof z.createZstdDecompress === 'function'
  );
}

/**
 * A chunk or a producer uses a codec this runtime cannot handle. The data is not damaged: the
 * reader is too old. Not retryable, and deliberately not a `CorruptDataError`, so a consumer
 * that skips damaged data stops here instead of skipping data it could read after an upgrade.
 */
export class CodecUnavailableError extends PermanentError {
  readonly codecUnavailable = true;
  constructor(
    readonly codec: number,
    message: string,
  ) {
    super(message);
  }
}

/** True for a `CodecUnavailableError` of any copy of `@barge/core`. */
export function isCodecUnavailable(e: unknown): e is CodecUnavailableError {
  return e instanceof PermanentError && (e as { codecUnavailable?: unknown }).codecUnavailable === true;
}

/** Throws `CodecUnavailableError` unless this runtime has zstd; `what` starts the message. */
export function requireZstd(what = 'chunk uses zstd (codec 3) but'): ZstdZlib {
  if (!zstdAvailable()) {
    throw new CodecUnavailableError(
      3,
      `${what} this Node.js ${process.version} has no zstd in zlib; use Node.js >= ${ZSTD_MIN_NODE}`,
    );
  }
  return z as ZstdZlib;
}

/** Checks a zstd level: an integer from 1 to 22. */
export function zstdLevel(level: number | undefined): number {
  const l = level ?? ZSTD_DEFAULT_LEVEL;
  if (!Number.isInteger(l) || l < 1 || l > 22) {
    throw new InvalidInputError(`zstd level must be an integer from 1 to 22, got ${level}`);
  }
  return l;
}

function compressOptions(data: Buffer, level: number | undefined): ZstdOptions {
  // The content size goes into the frame header, so readers can check it before decoding, and
  // zstd sizes the window to the content.
  return { params: { [constants.ZSTD_c_compressionLevel!]: zstdLevel(level) }, pledgedSrcSize: data.length };
}

/** One zstd frame holding `data`, with its content size. */
export function zstdCompress(data: Buffer, level?: number): Buffer {
  const zl = requireZstd('cannot compress with zstd (codec 3):');
  return zl.zstdCompressSync(data, compressOptions(data, level));
}

/** `zstdCompress` on libuv's thread pool. */
export function zstdCompressAsync(data: Buffer, level?: number): Promise<Buffer> {
  const zl = requireZstd('cannot compress with zstd (codec 3):');
  const options = compressOptions(data, level);
  return new Promise((resolve, reject) =>
    zl.zstdCompress(data, options, (e, out) => (e ? reject(e) : resolve(out))),
  );
}

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX = 128 * 1024;
/** Largest window a reader accepts for any chunk (what zstd -19 uses on large input); above it, twice the content. */
export const ZSTD_MAX_WINDOW = 8 * 1024 * 1024;

/**
 * The largest window accepted for a chunk of `expectedLength` bytes. A writer that knows the
 * content size sizes the window to it, rounded up to a power of two (up to twice the content),
 * so decoder memory stays in proportion to the chunk, as the output buffer does.
 */
function maxZstdWindow(expectedLength: number): number {
  return Math.max(ZSTD_MAX_WINDOW, 2 * expectedLength);
}

export interface ZstdFrameInfo {
  windowSize: number;
  contentSize?: number;
  /** Largest output the blocks can produce: raw and RLE sizes, the block maximum for compressed ones. */
  maxOutputBytes: number;
}

/**
 * Walks one zstd frame (RFC 8878 §3.1.1) without decompressing: header, block headers, checksum.
 * Throws `CorruptDataError` unless `data` is exactly one frame that needs no dictionary, whose
 * content size (when present) is `expectedLength`, whose window is at most
 * max(8 MiB, 2 × `expectedLength`), and whose blocks can hold `expectedLength` bytes.
 */
export function inspectZstdFrame(data: Buffer, expectedLength: number): ZstdFrameInfo {
  const bad = (why: string): never => {
    throw new CorruptDataError(`zstd chunk is not a valid zstd frame: ${why}`);
  };
  const n = data.length;
  if (n < 6) bad(`${n} bytes is shorter than a frame header`);
  if (data.readUInt32LE(0) !== ZSTD_MAGIC) bad('bad magic number (skippable frames are not accepted)');
  const fhd = data[4]!;
  const fcsFlag = fhd >>> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  if (fhd & 0x08) bad('reserved descriptor bit is set');
  const checksum = (fhd & 0x04) !== 0;
  const didBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  let pos = 5;
  let windowSize = 0;
  if (!singleSegment) {
    const wd = data[pos++]!;
    const base = 2 ** (10 + (wd >>> 3));
    windowSize = base + (base / 8) * (wd & 7);
  }
  if (pos + didBytes + fcsBytes > n) bad('truncated frame header');
  if (didBytes > 0 && data.readUIntLE(pos, didBytes) !== 0)
    bad('frames that need a dictionary are not supported');
  pos += didBytes;
  let contentSize: number | undefined;
  if (fcsBytes === 8) {
    const hi = data.readUInt32LE(pos + 4);
    if (hi > 0x1fffff) bad('content size above 2^53');
    contentSize = hi * 0x100000000 + data.readUInt32LE(pos);
  } else if (fcsBytes > 0) {
    contentSize = data.readUIntLE(pos, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
  }
  pos += fcsBytes;
  if (singleSegment) windowSize = contentSize!;
  if (contentSize !== undefined && contentSize !== expectedLength) {
    bad(`it declares ${contentSize} content bytes; the chunk metadata says ${expectedLength}`);
  }
  if (windowSize > maxZstdWindow(expectedLength)) {
    bad(`window of ${windowSize} bytes is above max(8 MiB, twice the ${expectedLength} bytes declared)`);
  }
  const blockMax = Math.min(windowSize, ZSTD_BLOCK_MAX);
  let maxOutputBytes = 0;
  for (let last = false; !last; ) {
    if (pos + 3 > n) bad('truncated block header');
    const h = data.readUIntLE(pos, 3);
    pos += 3;
    last = (h & 1) === 1;
    const type = (h >>> 1) & 3;
    const size = h >>> 3;
    if (type === 3) bad('reserved block type');
    if (size > ZSTD_BLOCK_MAX) bad(`block of ${size} bytes is above the 128 KiB block maximum`);
    if (type === 2 && size > blockMax)
      bad(`compressed block of ${size} bytes is above the frame's block maximum`);
    const stored = type === 1 ? 1 : size;
    if (pos + stored > n) bad('truncated block');
    pos += stored;
    maxOutputBytes += type === 2 ? blockMax : size;
  }
  if (checksum) pos += 4;
  if (pos !== n) bad(pos > n ? 'truncated content checksum' : `${n - pos} bytes after the end of the frame`);
  if (maxOutputBytes < expectedLength) {
    bad(`its blocks can hold at most ${maxOutputBytes} bytes; the chunk metadata says ${expectedLength}`);
  }
  const info: ZstdFrameInfo = { windowSize, maxOutputBytes };
  if (contentSize !== undefined) info.contentSize = contentSize;
  return info;
}

/** Decoder options that cap its output at `expectedLength + 1` bytes and its window at what `inspectZstdFrame` allows. */
export function zstdDecodeOptions(expectedLength: number, chunkSize: number): ZstdOptions {
  const window = maxZstdWindow(expectedLength);
  const windowLogMax = Math.min(31, Math.max(10, Math.ceil(Math.log2(window))));
  return {
    maxOutputLength: expectedLength + 1,
    chunkSize,
    params: { [constants.ZSTD_d_windowLogMax!]: windowLogMax },
  };
}

const MIN_CHUNK = zlib.constants.Z_MIN_CHUNK;

/**
 * Decompresses one zstd chunk of `expectedLength` bytes: the frame is walked first
 * (`inspectZstdFrame`), and the decoder never produces more than `expectedLength + 1` bytes.
 * Throws `CodecUnavailableError` on a runtime without zstd, `CorruptDataError` for bad data.
 */
export function zstdDecompressBounded(data: Buffer, expectedLength: number): Buffer {
  const zl = requireZstd();
  inspectZstdFrame(data, expectedLength);
  try {
    const chunkSize = Math.min(Math.max(expectedLength + 1, MIN_CHUNK), 4 * 1024 * 1024);
    return zl.zstdDecompressSync(data, zstdDecodeOptions(expectedLength, chunkSize));
  } catch (e) {
    throw new CorruptDataError(`zstd chunk does not decompress: ${errorMessage(e)}`, { cause: e });
  }
}

/** A streaming zstd decoder (thread pool) for the broker's content check, bounded like `zstdDecompressBounded`. */
export function createZstdDecompressStream(expectedLength: number, chunkSize: number): Transform {
  return requireZstd().createZstdDecompress(zstdDecodeOptions(expectedLength, chunkSize));
}
