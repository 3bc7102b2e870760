import { createRequire } from 'node:module';
import { CorruptDataError, errorMessage } from '../errors.js';
import { CodecUnavailableError } from '../zstd.js';

/**
 * Snappy as Kafka clients write it: the Java client wraps raw snappy blocks in xerial's framing
 * (an 8-byte magic, two version words, then big-endian length-prefixed raw blocks); librdkafka
 * may write one raw snappy block. Both are read. Each raw block starts with its uncompressed
 * length (a varint), which is checked against the limit before the block is decoded, so output
 * is bounded.
 */

type Snappy = typeof import('snappy');
let snappy: Snappy | undefined;

/**
 * The native snappy binding, loaded on first use: only Kafka batches compressed with snappy need
 * it, so a platform without a prebuilt binary still loads `@barge/core` and reads everything else.
 */
function native(): Snappy {
  if (snappy) return snappy;
  try {
    snappy = createRequire(import.meta.url)('snappy') as Snappy;
    return snappy;
  } catch (e) {
    throw new CodecUnavailableError(
      4,
      `Kafka record batch uses snappy but the snappy package cannot load here: ${errorMessage(e)}`,
    );
  }
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
/** xerial's default block size (32 KiB of input per raw block). */
const XERIAL_BLOCK_BYTES = 32 * 1024;

export function isXerialSnappy(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, 8).equals(XERIAL_MAGIC);
}

/** Decompresses xerial-framed or raw snappy into at most `maxBytes` bytes; `CorruptDataError` if not. */
export function snappyDecompressBounded(data: Buffer, maxBytes: number, where: string): Buffer {
  if (!isXerialSnappy(data)) return rawBlock(data, maxBytes, where);
  const parts: Buffer[] = [];
  let total = 0;
  let p = XERIAL_HEADER_BYTES;
  while (p < data.length) {
    if (data.length - p < 4) throw new CorruptDataError(`${where}: truncated xerial snappy block length`);
    const n = data.readUInt32BE(p);
    p += 4;
    if (n > data.length - p) {
      throw new CorruptDataError(`${where}: xerial snappy block of ${n} bytes runs past the end`);
    }
    const out = rawBlock(data.subarray(p, p + n), maxBytes - total, where);
    parts.push(out);
    total += out.length;
    p += n;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** The uncompressed length a raw snappy block declares in its preamble (unsigned varint, ≤ 32 bits). */
function declaredLength(block: Buffer, where: string): number {
  let u = 0;
  for (let k = 0; k < 5; k++) {
    if (k >= block.length) break;
    const byte = block[k]!;
    u += (byte & 0x7f) * 2 ** (7 * k);
    if (byte < 0x80) return u;
  }
  throw new CorruptDataError(`${where}: snappy block has no valid length preamble`);
}

function rawBlock(block: Buffer, maxBytes: number, where: string): Buffer {
  const declared = declaredLength(block, where);
  if (declared > maxBytes) {
    throw new CorruptDataError(
      `${where}: snappy data declares ${declared} bytes, above the limit of ${Math.max(0, maxBytes)} left`,
    );
  }
  let out: Buffer;
  try {
    out = native().uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (e) {
    throw new CorruptDataError(`${where}: snappy data does not decompress: ${errorMessage(e)}`, { cause: e });
  }
  if (out.length !== declared) {
    throw new CorruptDataError(
      `${where}: snappy block decompressed to ${out.length} bytes; it declares ${declared}`,
    );
  }
  return out;
}

/** Snappy in xerial's framing, as Kafka's Java client writes it (and every client reads). */
export function snappyCompressXerial(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // oldest compatible version
  parts.push(header);
  for (let off = 0; off < data.length; off += XERIAL_BLOCK_BYTES) {
    const block = native().compressSync(data.subarray(off, Math.min(off + XERIAL_BLOCK_BYTES, data.length)));
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}
